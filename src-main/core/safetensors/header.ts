// Parsing and building the JSON header of a safetensors file, with the reference implementation's validation
// rules applied in its order (huggingface/safetensors `read_metadata` + `Metadata::validate`, FORMATS.md §A).

import { DTYPE_BITS, type Dtype, dtypeRank, isDtype } from './dtypes'
import { q, SafetensorsError } from './errors'
import { type JsonObject, JsonParser, JsonSyntaxError, type JsonValue } from './json'

/** The reference reader refuses headers above this many bytes (and its writer never produces one). */
export const MAX_HEADER_SIZE = 100_000_000

export interface TensorInfo {
  name: string
  dtype: Dtype
  shape: number[]
  elementCount: number
  byteLength: number
  /** offsets relative to the data section */
  begin: number
  end: number
  /** absolute file offset of the first byte */
  fileOffset: number
}

export interface SafetensorsHeader {
  headerLength: number
  dataStart: number
  metadata?: Record<string, string>
  /** in data-offset order */
  tensors: TensorInfo[]
  /** the N header bytes verbatim */
  rawJson: Buffer
}

export interface TensorSpec {
  name: string
  dtype: Dtype
  shape: number[]
}

const U64_MAX = (1n << 64n) - 1n
const MAX_SAFE = Number.MAX_SAFE_INTEGER

type Uint = number | bigint

export interface RawEntry {
  name: string
  dtype: Dtype
  shape: Uint[]
  begin: Uint
  end: Uint
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Validates the N header bytes of a file of `fileSize` bytes and returns its tensors in data order.
 * Throws SafetensorsError with the code of the first rule that fails, in the reference reader's order.
 */
export function parseHeader(bytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const headerLength = bytes.length
  const { metadata, tensors, dataEnd, deferred } = parseHeaderJson(bytes, file)
  const expected = BigInt(fileSize) - 8n - BigInt(headerLength)
  if (BigInt(dataEnd) !== expected) {
    throw new SafetensorsError(
      'INCOMPLETE_BUFFER',
      file,
      `The tensors in ${file} cover ${dataEnd} bytes of data but the file holds ${expected} after its header, so the file is truncated or has bytes no tensor owns.`,
    )
  }
  if (deferred) throw deferred
  return finishHeader(bytes, metadata, tensors)
}

/** Everything but the final "file fully covered" check; also used by the writer for a verbatim header. */
export function parseHeaderJson(
  bytes: Uint8Array,
  file: string,
  opts?: { fastPath?: boolean },
): { metadata: Record<string, string> | undefined; tensors: RawEntry[]; dataEnd: Uint; deferred?: SafetensorsError } {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch (err) {
    throw new SafetensorsError('INVALID_HEADER', file, `The header of ${file} is not valid UTF-8.`, undefined, err)
  }
  const scanner = new HeaderScanner(text, file, opts?.fastPath ?? true)
  try {
    scanner.scan()
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err
    throw deser(file, `is not valid JSON (${err.message})`)
  }
  // Like serde (which reads the whole JSON before typing it), syntax errors come first, then the first
  // duplicate key, then the first schema error in document order.
  const dup = scanner.duplicate
  if (dup) {
    if (dup.path.length === 0 && dup.key !== '__metadata__') {
      throw new SafetensorsError(
        'DUPLICATE_TENSOR',
        file,
        `The header of ${file} names tensor ${q(dup.key)} more than once.`,
        dup.key,
      )
    }
    const where = dup.path.length === 0 ? 'at the top level' : `inside ${q(dup.path[0]!)}`
    const tensor = dup.path.length > 0 && dup.path[0] !== '__metadata__' ? dup.path[0] : undefined
    throw deser(file, `has the key ${q(dup.key)} twice ${where}`, tensor)
  }
  if (scanner.schemaError) throw scanner.schemaError
  const entries = scanner.entries
  const { dataEnd, deferred } = walkOffsets(entries, file)
  const metadata = scanner.metadata
  return deferred ? { metadata, tensors: entries, dataEnd, deferred } : { metadata, tensors: entries, dataEnd }
}

const FIELD_DTYPE = 1
const FIELD_SHAPE = 2
const FIELD_OFFSETS = 4

/**
 * Reads the top-level header object. Tensor entries in the canonical form (the three known fields, plain
 * integers, a known dtype) take a fast path with no intermediate objects; anything else is re-read by the
 * generic strict parser and typed by readEntry, so both paths accept and refuse exactly the same inputs.
 */
class HeaderScanner extends JsonParser {
  readonly entries: RawEntry[] = []
  metadata: Record<string, string> | undefined
  schemaError: SafetensorsError | undefined

  constructor(
    text: string,
    private readonly file: string,
    /** false only in tests, to check that both paths judge every input alike */
    private readonly fastPath: boolean,
  ) {
    super(text)
  }

  scan(): void {
    const s = this.s
    this.skipWs()
    if (s.charCodeAt(this.pos) !== 0x7b) {
      this.value(0)
      this.end()
      this.schemaError ??= deser(this.file, 'is not a JSON object')
      return
    }
    this.pos++
    this.skipWs()
    const seen = new Set<string>()
    if (s.charCodeAt(this.pos) === 0x7d) {
      this.pos++
      this.end()
      return
    }
    for (;;) {
      if (s.charCodeAt(this.pos) !== 0x22) this.fail('expected a string key')
      const name = this.string()
      this.skipWs()
      if (s.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':'")
      this.pos++
      this.skipWs()
      this.path[0] = name
      const repeated = seen.has(name)
      if (repeated) {
        this.value(1)
        if (!this.duplicate) this.duplicate = { path: [], key: name }
      } else {
        seen.add(name)
        if (name === '__metadata__') {
          const v = this.value(1)
          if (!this.schemaError) {
            try {
              this.metadata = readMetadata(v, this.file)
            } catch (err) {
              this.schemaError = err as SafetensorsError
            }
          }
        } else {
          const fast = this.fastPath ? this.fastEntry(name) : undefined
          if (fast) this.entries.push(fast)
          else {
            const v = this.value(1)
            if (!this.schemaError) {
              try {
                this.entries.push(readEntry(name, v, this.file))
              } catch (err) {
                this.schemaError = err as SafetensorsError
              }
            }
          }
        }
      }
      this.skipWs()
      const c = s.charCodeAt(this.pos)
      if (c === 0x2c) {
        this.pos++
        this.skipWs()
      } else if (c === 0x7d) {
        this.pos++
        this.end()
        return
      } else this.fail("expected ',' or '}'")
    }
  }

  private end(): void {
    this.skipWs()
    if (this.pos < this.s.length) this.fail('trailing characters after the JSON value')
  }

  /** The canonical tensor entry, or undefined (position restored) for anything the generic path must judge. */
  private fastEntry(name: string): RawEntry | undefined {
    const s = this.s
    const start = this.pos
    if (s.charCodeAt(this.pos) !== 0x7b) return undefined
    this.pos++
    let seen = 0
    let dtype: Dtype | undefined
    let shape: number[] | undefined
    let begin = -1
    let end = -1
    for (;;) {
      this.skipWs()
      if (s.charCodeAt(this.pos) !== 0x22) return this.restore(start)
      let field: number
      if (s.startsWith('"dtype"', this.pos)) field = FIELD_DTYPE
      else if (s.startsWith('"shape"', this.pos)) field = FIELD_SHAPE
      else if (s.startsWith('"data_offsets"', this.pos)) field = FIELD_OFFSETS
      else return this.restore(start)
      if (seen & field) return this.restore(start)
      seen |= field
      this.pos += field === FIELD_OFFSETS ? 14 : 7
      this.skipWs()
      if (s.charCodeAt(this.pos) !== 0x3a) return this.restore(start)
      this.pos++
      this.skipWs()
      if (field === FIELD_DTYPE) {
        if (s.charCodeAt(this.pos) !== 0x22) return this.restore(start)
        const close = s.indexOf('"', this.pos + 1)
        if (close < 0 || close - this.pos > 16) return this.restore(start)
        const d = s.slice(this.pos + 1, close)
        if (!isDtype(d)) return this.restore(start)
        dtype = d
        this.pos = close + 1
      } else {
        const list = this.fastUints()
        if (!list) return this.restore(start)
        if (field === FIELD_SHAPE) shape = list
        else {
          if (list.length !== 2) return this.restore(start)
          begin = list[0]!
          end = list[1]!
        }
      }
      this.skipWs()
      const c = s.charCodeAt(this.pos)
      if (c === 0x2c) {
        this.pos++
        continue
      }
      if (c !== 0x7d || seen !== 7) return this.restore(start)
      this.pos++
      return { name, dtype: dtype!, shape: shape!, begin, end }
    }
  }

  private restore(start: number): undefined {
    this.pos = start
    return undefined
  }

  /** `[n, n, …]` of plain non-negative integers up to 15 digits, else undefined. */
  private fastUints(): number[] | undefined {
    const s = this.s
    if (s.charCodeAt(this.pos) !== 0x5b) return undefined
    this.pos++
    this.skipWs()
    const out: number[] = []
    if (s.charCodeAt(this.pos) === 0x5d) {
      this.pos++
      return out
    }
    for (;;) {
      const from = this.pos
      let i = from
      let v = 0
      let c = s.charCodeAt(i)
      while (c >= 0x30 && c <= 0x39) {
        v = v * 10 + (c - 0x30)
        c = s.charCodeAt(++i)
      }
      const digits = i - from
      if (digits === 0 || digits > 15 || (digits > 1 && s.charCodeAt(from) === 0x30)) return undefined
      if (c === 0x2e || c === 0x65 || c === 0x45) return undefined
      out.push(v)
      this.pos = i
      this.skipWs()
      c = s.charCodeAt(this.pos)
      if (c === 0x2c) {
        this.pos++
        this.skipWs()
      } else if (c === 0x5d) {
        this.pos++
        return out
      } else return undefined
    }
  }
}

function deser(file: string, what: string, tensor?: string): SafetensorsError {
  return new SafetensorsError('INVALID_HEADER_DESERIALIZATION', file, `The header of ${file} ${what}.`, tensor)
}

function readMetadata(v: JsonValue, file: string): Record<string, string> | undefined {
  if (v === null) return undefined // serde reads null as an absent Option
  if (!(v instanceof Map)) throw deser(file, 'has a __metadata__ entry that is not an object of strings')
  const out: Record<string, string> = {}
  for (const [k, val] of v) {
    if (typeof val !== 'string') {
      throw deser(file, `has a non-string value for __metadata__ key ${q(k)} (metadata values must be strings)`)
    }
    setOwn(out, k, val)
  }
  return out
}

/** Defines an own property even for keys like "__proto__" that plain assignment would treat specially. */
export function setOwn(o: Record<string, string>, k: string, v: string): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
  else o[k] = v
}

function readEntry(name: string, v: JsonValue, file: string): RawEntry {
  if (!(v instanceof Map)) throw deser(file, `describes tensor ${q(name)} with something other than an object`, name)
  const obj = v as JsonObject
  const dtype = obj.get('dtype')
  if (dtype === undefined) throw deser(file, `is missing "dtype" for tensor ${q(name)}`, name)
  if (typeof dtype !== 'string') throw deser(file, `has a non-string "dtype" for tensor ${q(name)}`, name)
  if (!isDtype(dtype)) {
    throw new SafetensorsError(
      'UNKNOWN_DTYPE',
      file,
      `Tensor ${q(name)} in ${file} has the unknown dtype ${q(dtype)}.`,
      name,
    )
  }
  const shapeV = obj.get('shape')
  if (shapeV === undefined) throw deser(file, `is missing "shape" for tensor ${q(name)}`, name)
  if (!Array.isArray(shapeV)) throw deser(file, `has a "shape" that is not an array for tensor ${q(name)}`, name)
  const shape: Uint[] = new Array(shapeV.length)
  for (let i = 0; i < shapeV.length; i++) {
    const d = asUint(shapeV[i]!)
    if (d === undefined) {
      throw deser(file, `has a shape entry that is not a non-negative 64-bit integer for tensor ${q(name)}`, name)
    }
    shape[i] = d
  }
  const offV = obj.get('data_offsets')
  if (offV === undefined) throw deser(file, `is missing "data_offsets" for tensor ${q(name)}`, name)
  if (!Array.isArray(offV) || offV.length !== 2) {
    throw deser(file, `has "data_offsets" that are not a [begin, end] pair for tensor ${q(name)}`, name)
  }
  const begin = asUint(offV[0]!)
  const end = asUint(offV[1]!)
  if (begin === undefined || end === undefined) {
    throw deser(file, `has "data_offsets" that are not non-negative 64-bit integers for tensor ${q(name)}`, name)
  }
  return { name, dtype, shape, begin, end }
}

/** A JSON value as serde would read it into a u64/usize: integer literal in [0, 2^64-1], else undefined. */
function asUint(v: JsonValue): Uint | undefined {
  if (typeof v === 'number') return v >= 0 ? v + 0 : undefined // +0 turns -0 into 0
  if (typeof v === 'bigint') return v >= 0n && v <= U64_MAX ? v : undefined
  return undefined // floats (1.0, 1e3), strings, null…: serde refuses them for a usize
}

function cmpUint(a: Uint, b: Uint): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * The reference walk: entries sorted by (begin, end), each must start where the previous ended, its shape·bits
 * must not overflow 64 bits, be a whole number of bytes and equal end−begin. Values this reader cannot hold
 * exactly in a double (> 2^53) that the reference would accept are reported after the walk (deferred).
 */
function walkOffsets(entries: RawEntry[], file: string): { dataEnd: Uint; deferred?: SafetensorsError } {
  entries.sort((a, b) => cmpUint(a.begin, b.begin) || cmpUint(a.end, b.end))
  let start: Uint = 0
  let deferred: SafetensorsError | undefined
  for (const t of entries) {
    const { begin: s, end: e } = t
    if (cmpUint(s, start) !== 0 || e < s) {
      const why =
        e < s
          ? `has data offsets that end (${e}) before they begin (${s})`
          : `begins at data offset ${s} where ${start} was expected, so the data has a gap or an overlap`
      throw new SafetensorsError('INVALID_OFFSET', file, `Tensor ${q(t.name)} in ${file} ${why}.`, t.name)
    }
    start = e
    const bits = DTYPE_BITS[t.dtype]
    let n: Uint = 1
    for (const d of t.shape) {
      if (typeof n === 'number' && typeof d === 'number' && n * d <= MAX_SAFE) n *= d
      else {
        n = BigInt(n) * BigInt(d)
        if (n > U64_MAX) throw overflow(file, t)
      }
    }
    let nbits: Uint
    if (typeof n === 'number' && n * bits <= MAX_SAFE) nbits = n * bits
    else {
      nbits = BigInt(n) * BigInt(bits)
      if (nbits > U64_MAX) throw overflow(file, t)
    }
    const wholeBytes = typeof nbits === 'number' ? nbits % 8 === 0 : nbits % 8n === 0n
    if (!wholeBytes) {
      throw new SafetensorsError(
        'MISALIGNED_SLICE',
        file,
        `Tensor ${q(t.name)} in ${file} holds ${n} ${t.dtype} elements of ${bits} bits, which is not a whole number of bytes.`,
        t.name,
      )
    }
    const size: Uint = typeof nbits === 'number' ? nbits / 8 : nbits / 8n
    const span: Uint = typeof e === 'number' && typeof s === 'number' ? e - s : BigInt(e) - BigInt(s)
    if (cmpUint(span, size) !== 0) {
      throw new SafetensorsError(
        'TENSOR_INVALID_INFO',
        file,
        `Tensor ${q(t.name)} in ${file} is ${t.dtype} [${t.shape.join(', ')}] which needs ${size} bytes, but its data offsets span ${span} bytes.`,
        t.name,
      )
    }
    if (!deferred && (typeof n === 'bigint' || typeof e === 'bigint' || t.shape.some((d) => typeof d === 'bigint'))) {
      deferred = new SafetensorsError(
        'VALIDATION_OVERFLOW',
        file,
        `Tensor ${q(t.name)} in ${file} has a dimension, element count or offset above 2^53, which this reader cannot represent exactly.`,
        t.name,
      )
    }
  }
  return deferred ? { dataEnd: start, deferred } : { dataEnd: start }
}

function overflow(file: string, t: RawEntry): SafetensorsError {
  return new SafetensorsError(
    'VALIDATION_OVERFLOW',
    file,
    `Tensor ${q(t.name)} in ${file} has a shape [${t.shape.join(', ')}] whose size in bits overflows 64 bits.`,
    t.name,
  )
}

/** Turns validated raw entries into TensorInfo (all values are now exact doubles). */
export function finishHeader(
  bytes: Uint8Array,
  metadata: Record<string, string> | undefined,
  entries: RawEntry[],
): SafetensorsHeader {
  const headerLength = bytes.length
  const dataStart = 8 + headerLength
  const tensors: TensorInfo[] = new Array(entries.length)
  for (let i = 0; i < entries.length; i++) {
    const r = entries[i]!
    const begin = r.begin as number
    const end = r.end as number
    const shape = r.shape as number[]
    let elementCount = 1
    for (const d of shape) elementCount *= d
    tensors[i] = {
      name: r.name,
      dtype: r.dtype,
      shape,
      elementCount,
      byteLength: end - begin,
      begin,
      end,
      fileOffset: dataStart + begin,
    }
  }
  // Shares the caller's bytes: the reader allocates them for this header alone.
  const rawJson = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const header: SafetensorsHeader = { headerLength, dataStart, tensors, rawJson }
  if (metadata !== undefined) header.metadata = metadata
  return header
}

export interface BuildHeaderOptions {
  /** 'reference' (default): dtype alignment descending, then name, as the reference writer; 'given': as passed. */
  order?: 'reference' | 'given'
  /**
   * Where `__metadata__` goes: 'first' (default, the reference writer) or 'last' (seen in files written by Python
   * scripts that append it after the tensors, e.g. the shared stories260K-hf model).
   */
  metadataPosition?: 'first' | 'last'
  /** File named in error messages. */
  file?: string
}

/**
 * Builds the header exactly as the reference writer does (FORMATS.md §A): reference order unless order:'given',
 * `__metadata__` first, compact JSON, space-padded so its length is a multiple of 8.
 */
export function buildHeader(
  tensors: TensorSpec[],
  metadata?: Record<string, string>,
  opts?: BuildHeaderOptions,
): { json: Buffer; tensors: TensorInfo[] } {
  const file = opts?.file ?? '(new safetensors file)'
  const seen = new Set<string>()
  const sized = tensors.map((t) => {
    const name = t.name
    if (typeof name !== 'string' || !wellFormed(name)) {
      throw new SafetensorsError('TENSOR_INVALID_INFO', file, `A tensor for ${file} has a name that is not valid text.`)
    }
    if (name === '__metadata__') {
      throw new SafetensorsError(
        'TENSOR_INVALID_INFO',
        file,
        `A tensor for ${file} may not be named "__metadata__", which the format reserves.`,
        name,
      )
    }
    if (seen.has(name)) {
      throw new SafetensorsError('DUPLICATE_TENSOR', file, `Tensor ${q(name)} is given twice for ${file}.`, name)
    }
    seen.add(name)
    if (!isDtype(t.dtype)) {
      throw new SafetensorsError(
        'UNKNOWN_DTYPE',
        file,
        `Tensor ${q(name)} for ${file} has the unknown dtype ${q(String(t.dtype))}.`,
        name,
      )
    }
    if (!Array.isArray(t.shape) || !t.shape.every(isDim)) {
      throw new SafetensorsError(
        'TENSOR_INVALID_INFO',
        file,
        `Tensor ${q(name)} for ${file} has a shape that is not a list of non-negative integers.`,
        name,
      )
    }
    const bits = DTYPE_BITS[t.dtype]
    let count = 1
    for (const d of t.shape) count *= d
    if (!Number.isSafeInteger(count * bits)) {
      throw new SafetensorsError(
        'VALIDATION_OVERFLOW',
        file,
        `Tensor ${q(name)} for ${file} has a shape [${t.shape.join(', ')}] too large to write.`,
        name,
      )
    }
    if ((count * bits) % 8 !== 0) {
      throw new SafetensorsError(
        'MISALIGNED_SLICE',
        file,
        `Tensor ${q(name)} for ${file} holds ${count} ${t.dtype} elements of ${bits} bits, which is not a whole number of bytes.`,
        name,
      )
    }
    return { name, dtype: t.dtype, rank: dtypeRank(t.dtype), shape: [...t.shape], count, bytes: (count * bits) / 8 }
  })
  if ((opts?.order ?? 'reference') === 'reference') {
    // Native string comparison is UTF-16 order, which equals UTF-8 byte order unless a name holds a surrogate.
    const anySurrogate = sized.some((t) => SURROGATE.test(t.name))
    sized.sort(
      anySurrogate
        ? (a, b) => b.rank - a.rank || compareUtf8(a.name, b.name)
        : (a, b) => b.rank - a.rank || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    )
  }

  const parts: string[] = []
  let metadataPart: string | undefined
  if (metadata !== undefined) {
    const kv: string[] = []
    for (const k of Object.keys(metadata)) {
      const v = metadata[k]
      if (typeof v !== 'string' || !wellFormed(k) || !wellFormed(v)) {
        throw new SafetensorsError(
          'INVALID_HEADER_DESERIALIZATION',
          file,
          `The metadata for ${file} has a value for ${q(k)} that is not a string (metadata values must be strings).`,
        )
      }
      kv.push(`${quote(k)}:${quote(v)}`)
    }
    metadataPart = `"__metadata__":{${kv.join(',')}}`
    if (opts?.metadataPosition !== 'last') parts.push(metadataPart)
  }
  let offset = 0
  const placed = sized.map((t) => {
    const begin = offset
    offset += t.bytes
    parts.push(
      `${quote(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${begin},${offset}]}`,
    )
    return { t, begin, end: offset }
  })
  if (metadataPart !== undefined && opts?.metadataPosition === 'last') parts.push(metadataPart)
  const body = Buffer.from(`{${parts.join(',')}}`, 'utf8')
  const padded = Math.ceil(body.length / 8) * 8
  if (padded > MAX_HEADER_SIZE) {
    throw new SafetensorsError(
      'HEADER_TOO_LARGE',
      file,
      `The header for ${file} would be ${padded} bytes, above the format's limit of ${MAX_HEADER_SIZE}.`,
    )
  }
  const json = Buffer.alloc(padded, 0x20)
  body.copy(json)
  const dataStart = 8 + padded
  const infos = placed.map(({ t, begin, end }) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    elementCount: t.count,
    byteLength: end - begin,
    begin,
    end,
    fileOffset: dataStart + begin,
  }))
  return { json, tensors: infos }
}

/** Orders strings by their UTF-8 bytes (= code points), as Rust's String ordering does; UTF-16 order differs. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    // Surrogates (supplementary code points) sort after every BMP unit in code point order.
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000
    return x - y
  }
  return a.length - b.length
}

const SURROGATE = /[\uD800-\uDFFF]/
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what JSON must escape
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/

function isDim(d: number): boolean {
  return Number.isSafeInteger(d) && d >= 0
}

/** False for strings holding a lone UTF-16 surrogate, which has no UTF-8 form. */
function wellFormed(s: string): boolean {
  return !SURROGATE.test(s) || !/\p{Cs}/u.test(s)
}

/** JSON string literal, escaped exactly as serde_json (and JSON.stringify) escape. */
function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`
}

export interface HeaderLayout {
  order: 'reference' | 'given'
  metadataPosition: 'first' | 'last'
}

/**
 * Finds which buildHeader options reproduce a parsed header byte for byte (tensors given in data order), or
 * undefined when none does (other key order, whitespace, escapes or padding): then rewrite with rawHeaderJson.
 */
export function detectHeaderLayout(header: SafetensorsHeader): HeaderLayout | undefined {
  const candidates: HeaderLayout[] = [
    { order: 'reference', metadataPosition: 'first' },
    { order: 'given', metadataPosition: 'first' },
    { order: 'reference', metadataPosition: 'last' },
    { order: 'given', metadataPosition: 'last' },
  ]
  for (const c of candidates) {
    if (header.metadata === undefined && c.metadataPosition === 'last') continue
    let json: Buffer
    try {
      json = buildHeader(header.tensors, header.metadata, c).json
    } catch {
      return undefined
    }
    if (json.equals(header.rawJson)) return c
  }
  return undefined
}
