// The codec's TypeScript face: typed wrappers around the native addon (native/, build/Release/shardpress_codec.node)
// plus whole-tensor helpers that split a tensor into independently decodable chunks on row boundaries.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { ChunkCodecParams, CodecDtype, ErrorMode, Fp8BlockScales, MeasuredChunk } from './types'

export type { ChunkCodecParams, CodecDtype, ErrorMode, ErrorSums, Fp8BlockScales, MeasuredChunk } from './types'

/** Newest chunk bitstream version this build reads and writes (it reads 1–3). Version 3 chunks carry the zlib
 *  CRC-32 of their decoded bytes as their checksum; each chunk header holds the oldest version that decodes it. */
export const CODEC_VERSION = 4

/** Default elements per chunk for whole-tensor helpers (rounded down to whole rows). */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 20

const DTYPE_CODE: Record<CodecDtype, number> = { BF16: 0, F16: 1, F32: 2, F64: 3, F8_E4M3: 4, F8_E5M2: 5 }
const DTYPE_BYTES: Record<CodecDtype, number> = { BF16: 2, F16: 2, F32: 4, F64: 8, F8_E4M3: 1, F8_E5M2: 1 }

/** Bytes per element of a codec dtype. */
export function dtypeBytes(dtype: CodecDtype): number {
  return DTYPE_BYTES[dtype]
}

/** Bytes per decoded element: the dtype's, or 4 when a BF16/F16 chunk decodes to F32 (`outputDtype: 'F32'`). */
export function outputBytes(p: Pick<ChunkCodecParams, 'dtype' | 'outputDtype'>): number {
  return p.outputDtype === 'F32' ? 4 : DTYPE_BYTES[p.dtype]
}

/** A codec failure with a stable code (CORRUPT_CHUNK, TRUNCATED, CHECKSUM_MISMATCH, SIZE_MISMATCH, BAD_PARAMS, …). */
export class CodecError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.name = 'CodecError'
    this.code = code
  }
}

interface NativeParams {
  dtype: number
  lossless: number
  eb: number
  rowLength: number
  firstElement: number
  fp8?: Fp8BlockScales
  fp8Linear?: boolean
  wideOutput?: boolean
}

/** What chunk calls read: bytes in memory, or a mapped file region (by its id). */
type NativeInput = Uint8Array | number

interface NativeCodec {
  compressChunk(input: NativeInput, p: NativeParams): Uint8Array
  compressChunk(input: NativeInput, p: NativeParams, target: Uint8Array): number
  compressChunkMeasured(input: NativeInput, p: NativeParams, checkEb: number): MeasuredChunk
  compressChunkMeasured(
    input: NativeInput,
    p: NativeParams,
    checkEb: number,
    target: Uint8Array,
    inputCrc?: boolean,
  ): MeasuredChunkInto
  decompressChunk(input: NativeInput, p: NativeParams, elementCount: number): Uint8Array
  decompressChunkInto(input: NativeInput, p: NativeParams, elementCount: number, target: Uint8Array): void
  maxCompressedChunkSize(elementCount: number, dtype: number): number
  chunkRange(input: NativeInput, p: NativeParams): { min: number; max: number; nonFinite: number }
  chunkRangeAsync(
    input: number,
    p: NativeParams,
    pieceBytes?: number,
  ): Promise<{ min: number; max: number; nonFinite: number; crcs?: number[] }>
  crc32(input: NativeInput, previous?: number): number
  memoryOffset(input: Uint8Array, unit?: number): number
  copyBytes(target: Uint8Array, source: Uint8Array): void
  mapFileRegion(fd: number, offset: number, length: number): Promise<number>
  unmapFileRegion(id: number): boolean
  sliceRegion(id: number, offset: number, length: number): number
  adviseHugePages(bytes: Uint8Array): number
  mappedRegionCount(): number
  mappingSupported: boolean
  codecVersion: number
}

/**
 * A byte range of a file mapped read-only into memory (native/src/io/mapped.hpp): chunk calls read it in place of
 * a Uint8Array, on any thread, straight from the page cache. It is a plain object (an id and a length), so it
 * travels to workers in a task; the mapping lasts until unmapFileRegion, and a call running on it meanwhile
 * finishes first.
 */
export interface MappedRegion {
  readonly region: number
  readonly length: number
}

/** What chunk calls read: bytes in memory, or a mapped file region. */
export type ChunkInput = Uint8Array | MappedRegion

function nativeInput(input: ChunkInput): NativeInput {
  return input instanceof Uint8Array ? input : input.region
}

// Walks up from this file to the folder holding build/Release (works from src-main/core/codec and from out/main).
function findAddon(): string {
  const override = process.env.SHARDPRESS_CODEC_ADDON
  if (override) return override
  let dir = import.meta.dirname
  for (;;) {
    const candidate = join(dir, 'build', 'Release', 'shardpress_codec.node')
    if (existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  throw new CodecError(
    'ADDON_MISSING',
    'The native codec (build/Release/shardpress_codec.node) is not built; run `npm ci` or `npx node-gyp rebuild`.',
  )
}

let native: NativeCodec | undefined
function addon(): NativeCodec {
  if (!native) {
    const require = createRequire(import.meta.url)
    native = require(findAddon()) as NativeCodec
    if (native.codecVersion !== CODEC_VERSION) {
      throw new CodecError(
        'ADDON_MISMATCH',
        `The native codec writes version ${native.codecVersion}, expected ${CODEC_VERSION}.`,
      )
    }
  }
  return native
}

function toNative(p: ChunkCodecParams): NativeParams {
  const code = DTYPE_CODE[p.dtype]
  if (code === undefined) throw new CodecError('BAD_PARAMS', `The codec does not handle dtype ${String(p.dtype)}.`)
  const out: NativeParams = {
    dtype: code,
    lossless: p.mode === 'lossless' ? 1 : 0,
    eb: p.mode === 'lossless' ? 0 : p.eb,
    rowLength: p.rowLength,
    firstElement: p.firstElement,
  }
  if (p.fp8) out.fp8 = p.fp8
  if (p.fp8Linear) out.fp8Linear = true
  if (p.outputDtype === 'F32') out.wideOutput = true
  return out
}

function rethrow(err: unknown): never {
  if (err instanceof Error && typeof (err as { code?: unknown }).code === 'string') {
    throw new CodecError((err as Error & { code: string }).code, err.message)
  }
  throw err
}

/** Compresses one chunk of raw little-endian dtype bytes (whole elements, starting on a row boundary). */
export function compressChunk(input: ChunkInput, p: ChunkCodecParams): Uint8Array {
  try {
    return addon().compressChunk(nativeInput(input), toNative(p))
  } catch (err) {
    rethrow(err)
  }
}

/**
 * compressChunk writing into target (at least maxCompressedChunkSize bytes, not overlapping input); returns the
 * chunk's length. Nothing is allocated per call.
 */
export function compressChunkInto(input: ChunkInput, p: ChunkCodecParams, target: Uint8Array): number {
  try {
    return addon().compressChunk(nativeInput(input), toNative(p), target)
  } catch (err) {
    rethrow(err)
  }
}

/**
 * compressChunk plus what the decoder will produce, measured by the encoder on its own reconstruction (no decode):
 * `compressed` is byte-identical to compressChunk's output, `decodedCrc` is node:zlib's crc32 of the decoded bytes,
 * and `sums` equals compareChunk(input, decoded, p.dtype, checkEb, p.firstElement, p.fp8): counts, maxAbs and the
 * range exactly, sumAbs and sumSq to rounding (sameErrorSums; 16-bit and block-scaled FP8 chunks take them from
 * per-code counts, native/src/measure/codes.hpp).
 */
export function compressChunkMeasured(input: ChunkInput, p: ChunkCodecParams, checkEb: number): MeasuredChunk {
  try {
    return addon().compressChunkMeasured(nativeInput(input), toNative(p), checkEb)
  } catch (err) {
    rethrow(err)
  }
}

/** What compressChunkMeasuredInto returns: the chunk's length in the target instead of its bytes. */
export type MeasuredChunkInto = Omit<MeasuredChunk, 'compressed' | 'inputCrc'> & { length: number; inputCrc?: number }

/**
 * compressChunkMeasured writing the chunk into target (at least maxCompressedChunkSize bytes; e.g. a view of a
 * SharedArrayBuffer a pipeline worker reuses) and returning its length: no allocation per chunk. `inputCrc: false`
 * skips the input's CRC (the caller has it from an earlier pass over the same bytes); it is then absent.
 */
export function compressChunkMeasuredInto(
  input: ChunkInput,
  p: ChunkCodecParams,
  checkEb: number,
  target: Uint8Array,
  o: { inputCrc?: boolean } = {},
): MeasuredChunkInto {
  try {
    return addon().compressChunkMeasured(nativeInput(input), toNative(p), checkEb, target, o.inputCrc ?? true)
  } catch (err) {
    rethrow(err)
  }
}

/**
 * Decodes one chunk back to raw little-endian bytes of the output dtype (the input's, or F32 with
 * `outputDtype: 'F32'`); throws CodecError on any inconsistency.
 */
export function decompressChunk(input: ChunkInput, p: ChunkCodecParams, elementCount: number): Uint8Array {
  try {
    return addon().decompressChunk(nativeInput(input), toNative(p), elementCount)
  } catch (err) {
    rethrow(err)
  }
}

/**
 * Like decompressChunk, but decodes straight into target, which must be exactly elementCount × outputBytes(p) bytes
 * (e.g. a subarray of the whole tensor's buffer). On error target's contents are unspecified.
 */
export function decompressChunkInto(
  input: ChunkInput,
  p: ChunkCodecParams,
  elementCount: number,
  target: Uint8Array,
): void {
  try {
    addon().decompressChunkInto(nativeInput(input), toNative(p), elementCount, target)
  } catch (err) {
    rethrow(err)
  }
}

/**
 * Min and max of a chunk's finite values (dequantized under FP8 block scales, with firstElement placing the chunk
 * in its tensor) and the count of NaN/±Inf, natively: what a REL bound needs, at a fraction of a codec pass.
 * −0 sorts below +0, as with Math.min / Math.max; an empty or all-non-finite chunk gives min +Inf, max −Inf.
 */
export function chunkValueRange(
  input: ChunkInput,
  dtype: CodecDtype,
  firstElement = 0,
  fp8?: Fp8BlockScales,
): { min: number; max: number; nonFinite: number } {
  try {
    return addon().chunkRange(
      nativeInput(input),
      toNative({ dtype, mode: 'lossless', eb: 0, rowLength: 1, firstElement, ...(fp8 ? { fp8 } : {}) }),
    )
  } catch (err) {
    rethrow(err)
  }
}

/**
 * chunkValueRange of a mapped region, computed on a libuv thread: range passes then run beside the thread that
 * schedules, several at once where there are cores for them. The region stays held until the answer. Given
 * `pieceBytes` (a whole number of elements), `crcs` holds the CRC-32 of each consecutive piece of that many bytes
 * (the last one shorter), taken in the same pass over the bytes.
 */
export async function chunkValueRangeAsync(
  region: MappedRegion,
  dtype: CodecDtype,
  firstElement = 0,
  fp8?: Fp8BlockScales,
  pieceBytes?: number,
): Promise<{ min: number; max: number; nonFinite: number; crcs?: number[] }> {
  try {
    return await addon().chunkRangeAsync(
      region.region,
      toNative({ dtype, mode: 'lossless', eb: 0, rowLength: 1, firstElement, ...(fp8 ? { fp8 } : {}) }),
      pieceBytes,
    )
  } catch (err) {
    rethrow(err)
  }
}

/**
 * zlib's CRC-32 of `bytes`, continuing from `previous` (the CRC of the bytes before them): the same values as
 * node:zlib's crc32, natively and folded with carry-less multiplies where the CPU has them (about 10× faster).
 */
export function crc32(bytes: ChunkInput, previous = 0): number {
  try {
    return addon().crc32(nativeInput(bytes), previous >>> 0)
  } catch (err) {
    rethrow(err)
  }
}

// CRC-32 arithmetic: a CRC is a remainder modulo P (zlib's polynomial, bit-reflected: bit 31 holds x^0), so the CRC
// of A followed by B is crc(A) · x^(8·|B|) mod P, xor crc(B) — with zlib's pre- and post-inversion this holds for the
// final values as they are. Lets workers checksum their own chunks and the main thread join them in order.
const CRC_POLY = 0xedb88320
const X0 = 0x80000000 // the polynomial 1 in reflected order

/** a · b mod P, both reflected. */
function mulModP(a: number, b: number): number {
  let product = 0
  let bb = b >>> 0
  for (let bit = X0; bit !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) product ^= bb
    bb = bb & 1 ? (bb >>> 1) ^ CRC_POLY : bb >>> 1
  }
  return product >>> 0
}

// x^(2^k) mod P, by repeated squaring from x, extended as longer lengths need it.
const xPow2: number[] = [0x40000000]
function xToTwoToThe(k: number): number {
  while (xPow2.length <= k) {
    const last = xPow2[xPow2.length - 1]!
    xPow2.push(mulModP(last, last))
  }
  return xPow2[k]!
}

/** The CRC-32 of A followed by B, from crc(A), crc(B) and B's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (!(Number.isSafeInteger(lengthB) && lengthB >= 0)) throw new RangeError(`bad length ${lengthB}`)
  // x^(8n) = product of x^(2^k) over the set bits of 8n.
  let factor = X0
  let n = lengthB
  for (let k = 3; n > 0; k++, n = Math.floor(n / 2)) if (n % 2 === 1) factor = mulModP(xToTwoToThe(k), factor)
  return (mulModP(factor, crcA >>> 0) ^ (crcB >>> 0)) >>> 0
}

/**
 * The address of `bytes[0]` modulo `unit` (a power of two, default 4096), for laying out buffers that O_DIRECT
 * writes need block-aligned, or on huge pages.
 */
export function memoryOffset(bytes: Uint8Array, unit = 4096): number {
  try {
    return addon().memoryOffset(bytes, unit)
  } catch (err) {
    rethrow(err)
  }
}

/**
 * Copies `source` into the start of `target` (at least as long) natively: between SharedArrayBuffers V8's own copy
 * (`target.set(source)`) uses relaxed atomic stores and runs several times slower than memmove.
 */
export function copyBytes(target: Uint8Array, source: Uint8Array): void {
  try {
    addon().copyBytes(target, source)
  } catch (err) {
    rethrow(err)
  }
}

/** Whether files can be mapped here (POSIX systems); elsewhere callers read into buffers. */
export function mappingSupported(): boolean {
  return addon().mappingSupported
}

/**
 * Maps [offset, offset + length) of the open file `fd` read-only, its pages faulted in on a libuv thread (reading
 * from disk there if they must). Rejects with CodecError PAST_END when the file is shorter than the range,
 * MAP_UNSUPPORTED, RANGE or MAP_FAILED.
 */
export async function mapFileRegion(fd: number, offset: number, length: number): Promise<MappedRegion> {
  try {
    return { region: await addon().mapFileRegion(fd, offset, length), length }
  } catch (err) {
    rethrow(err)
  }
}

/** Lets a mapped region go (once calls running on it finish); later calls with it fail with BAD_PARAMS. */
export function unmapFileRegion(r: MappedRegion): boolean {
  return addon().unmapFileRegion(r.region)
}

/**
 * Bytes [offset, offset + length) of a mapped region as a region of its own, sharing the mapping: each is let go
 * on its own (unmapFileRegion), and the mapping lasts while either is held.
 */
export function sliceRegion(r: MappedRegion, offset: number, length: number): MappedRegion {
  try {
    return { region: addon().sliceRegion(r.region, offset, length), length }
  } catch (err) {
    rethrow(err)
  }
}

/**
 * Asks the system to back the 2 MiB-aligned part of `bytes` with huge pages now (Linux; elsewhere nothing): for
 * long-lived buffers that O_DIRECT writes read from, so the kernel pins one page per 2 MiB instead of 512. Returns
 * the bytes that are (0 where the system declines).
 */
export function adviseHugePages(bytes: Uint8Array): number {
  return addon().adviseHugePages(bytes)
}

/** Mapped regions not yet let go, in the whole process. */
export function mappedRegionCount(): number {
  return addon().mappedRegionCount()
}

/** Hard upper bound of compressChunk's output for a chunk of elementCount elements. */
export function maxCompressedChunkSize(elementCount: number, dtype: CodecDtype): number {
  return 12 + elementCount * DTYPE_BYTES[dtype]
}

/**
 * Turns the user's bound into the absolute bound eb: 'abs' as is, 'rel' × (max − min) of the tensor's finite
 * values (SZ3's REL), 0 for 'lossless'. A 'rel' bound on a constant tensor gives 0 (encode losslessly).
 */
export function resolveBound(mode: ErrorMode, bound: number, min: number, max: number): number {
  if (mode === 'lossless') return 0
  if (!(bound > 0) || !Number.isFinite(bound)) {
    throw new CodecError('BAD_PARAMS', `The error bound must be a positive finite number, got ${bound}.`)
  }
  if (mode === 'abs') return bound
  const range = max - min
  return Number.isFinite(range) && range > 0 ? bound * range : 0
}

// ---- whole-tensor helpers (tests, bench, tools)

/** Decodes element i of raw dtype bytes to a number (for ranges; FP8 without scales). */
function valueReader(dtype: CodecDtype, bytes: Uint8Array): (i: number) => number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const f32 = new DataView(new ArrayBuffer(4))
  switch (dtype) {
    case 'BF16':
      return (i) => {
        f32.setUint32(0, dv.getUint16(2 * i, true) << 16, true)
        return f32.getFloat32(0, true)
      }
    case 'F16':
      return (i) => dv.getFloat16(2 * i, true)
    case 'F32':
      return (i) => dv.getFloat32(4 * i, true)
    case 'F64':
      return (i) => dv.getFloat64(8 * i, true)
    case 'F8_E4M3':
      return (i) => fp8Value(bytes[i] ?? 0, 4, 3)
    case 'F8_E5M2':
      return (i) => fp8Value(bytes[i] ?? 0, 5, 2)
  }
}

function fp8Value(code: number, ebits: number, mbits: number): number {
  const sign = code & 0x80 ? -1 : 1
  const e = (code >> mbits) & ((1 << ebits) - 1)
  const m = code & ((1 << mbits) - 1)
  const bias = (1 << (ebits - 1)) - 1
  if (ebits === 4 && e === 15 && m === 7) return Number.NaN
  if (ebits === 5 && e === 31) return m ? Number.NaN : sign * Number.POSITIVE_INFINITY
  if (e === 0) return sign * m * 2 ** (1 - bias - mbits)
  return sign * (1 + m / (1 << mbits)) * 2 ** (e - bias)
}

const valueTables: Partial<Record<CodecDtype, Float64Array>> = {}
/** Every value of a 16-bit dtype by code; NaN and ±Inf entries are NaN so that range scans skip them. */
function sixteenBitValues(dtype: 'BF16' | 'F16'): Float64Array {
  let t = valueTables[dtype]
  if (!t) {
    t = new Float64Array(65536)
    const bytes = new Uint8Array(2)
    const read = valueReader(dtype, bytes)
    for (let c = 0; c < 65536; c++) {
      bytes[0] = c & 0xff
      bytes[1] = c >> 8
      const v = read(0)
      t[c] = Number.isFinite(v) ? v : Number.NaN
    }
    valueTables[dtype] = t
  }
  return t
}

/** Min and max of the finite (dequantized, for FP8 with scales) values of a tensor. */
export function finiteRange(dtype: CodecDtype, bytes: Uint8Array, fp8?: Fp8BlockScales): { min: number; max: number } {
  const n = bytes.byteLength / DTYPE_BYTES[dtype]
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  if ((dtype === 'BF16' || dtype === 'F16') && !fp8 && bytes.byteOffset % 2 === 0) {
    // 16-bit dtypes: one table of all 65,536 values, then a tight scan (a REL bound needs the whole range).
    const table = sixteenBitValues(dtype)
    const codes = new Uint16Array(bytes.buffer, bytes.byteOffset, n)
    for (let i = 0; i < n; i++) {
      const v = table[codes[i] ?? 0] ?? Number.NaN
      if (v < min) min = v
      if (v > max) max = v
    }
    return { min, max }
  }
  const read = valueReader(dtype, bytes)
  for (let i = 0; i < n; i++) {
    let v = read(i)
    if (fp8) {
      const r = Math.floor(i / fp8.cols)
      const c = i % fp8.cols
      v *= fp8.scales[Math.floor(r / fp8.blockRows) * fp8.scaleCols + Math.floor(c / fp8.blockCols)] ?? Number.NaN
    }
    if (Number.isFinite(v)) {
      if (v < min) min = v
      if (v > max) max = v
    }
  }
  return { min, max }
}

export interface TensorCodecOptions {
  dtype: CodecDtype
  mode: ErrorMode
  bound: number
  shape: number[]
  fp8?: Fp8BlockScales
  chunkElements?: number
  /** 'F32': BF16/F16 weights reconstructed as F32 (ChunkCodecParams.outputDtype). */
  outputDtype?: 'F32'
}

export interface CompressedTensor {
  /** Resolved absolute bound (0 when lossless). */
  eb: number
  chunks: Uint8Array[]
  chunkElements: number[]
  /** Total compressed bytes. */
  bytes: number
}

function rowLengthOf(shape: number[]): number {
  const last = shape.length > 0 ? (shape[shape.length - 1] ?? 1) : 1
  return Math.max(1, last)
}

/** Compresses a whole tensor into chunks of about chunkElements elements, each starting on a row boundary. */
export function compressTensor(input: Uint8Array, o: TensorCodecOptions): CompressedTensor {
  const width = DTYPE_BYTES[o.dtype]
  if (input.byteLength % width !== 0) {
    throw new CodecError('BAD_PARAMS', `Tensor data of ${input.byteLength} bytes is not a whole number of ${o.dtype}.`)
  }
  const n = input.byteLength / width
  const rowLength = rowLengthOf(o.shape)
  let eb = 0
  if (o.mode === 'abs') eb = resolveBound('abs', o.bound, 0, 0)
  else if (o.mode === 'rel') {
    const { min, max } = finiteRange(o.dtype, input, o.fp8)
    eb = resolveBound('rel', o.bound, min, max)
  }
  const mode: 'lossless' | 'abs' = eb > 0 ? 'abs' : 'lossless'
  const rowsPerChunk = Math.max(1, Math.floor((o.chunkElements ?? DEFAULT_CHUNK_ELEMENTS) / rowLength))
  const step = rowsPerChunk * rowLength
  const chunks: Uint8Array[] = []
  const chunkElements: number[] = []
  let bytes = 0
  for (let first = 0; first < n || (n === 0 && chunks.length === 0); first += step) {
    const count = Math.min(step, n - first)
    const slice = input.subarray(first * width, (first + count) * width)
    const p: ChunkCodecParams = { dtype: o.dtype, mode, eb, rowLength, firstElement: first }
    if (o.fp8) p.fp8 = o.fp8
    if (o.outputDtype) p.outputDtype = o.outputDtype
    const c = compressChunk(slice, p)
    chunks.push(c)
    chunkElements.push(count)
    bytes += c.byteLength
    if (n === 0) break
  }
  return { eb, chunks, chunkElements, bytes }
}

export interface TensorDecodeInput {
  dtype: CodecDtype
  eb: number
  mode: ErrorMode
  shape: number[]
  fp8?: Fp8BlockScales
  chunks: Uint8Array[]
  chunkElements: number[]
  /** As given to compressTensor. */
  outputDtype?: 'F32'
}

/** Decodes the chunks of compressTensor back into one buffer of raw bytes of the output dtype. */
export function decompressTensor(c: TensorDecodeInput): Uint8Array {
  const width = outputBytes(c)
  const total = c.chunkElements.reduce((a, b) => a + b, 0)
  // Not zero-filled: every byte is decoded into (a failing chunk throws and the buffer is dropped), and filling
  // first costs a tenth of a fast decode.
  const raw = Buffer.allocUnsafeSlow(total * width)
  const out = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
  const rowLength = rowLengthOf(c.shape)
  const mode: 'lossless' | 'abs' = c.mode !== 'lossless' && c.eb > 0 ? 'abs' : 'lossless'
  let first = 0
  c.chunks.forEach((chunk, k) => {
    const count = c.chunkElements[k] ?? 0
    const p: ChunkCodecParams = { dtype: c.dtype, mode, eb: c.eb, rowLength, firstElement: first }
    if (c.fp8) p.fp8 = c.fp8
    if (c.outputDtype) p.outputDtype = c.outputDtype
    decompressChunkInto(chunk, p, count, out.subarray(first * width, (first + count) * width))
    first += count
  })
  return out
}
