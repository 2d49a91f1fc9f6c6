// Writes GGUF v3 files: typed metadata, tensor infos, aligned tensor data streamed one tensor at a time into
// `<file>.partial-<pid>` and renamed into place only when complete.
import { open, rename, unlink } from 'node:fs/promises'
import {
  alignUp,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  type GgufScalarType,
  GgufValueType,
  tensorByteLength,
} from './constants'
import { GgufError } from './errors'

export type GgufScalar = number | bigint | boolean | string

/** One metadata value with its exact GGUF type (llama.cpp's loader rejects a key of the wrong type). */
export type GgufKv =
  | { type: GgufScalarType; value: GgufScalar }
  | { type: 'arr'; itemType: GgufScalarType; values: ArrayLike<GgufScalar> }

export interface GgufTensorSpec {
  name: string
  /** ggml dims, fastest first (HF [out, in] → [in, out]). */
  ne: number[]
  type: number
  /** Produces the tensor's bytes when the writer reaches it, so only one tensor is in memory at a time. */
  data: () => Promise<Uint8Array>
}

export interface GgufWriteResult {
  file: string
  bytes: number
  tensorBytes: number
}

const utf8 = new TextEncoder()

/** A growable little-endian byte buffer (the header of a 150k-token vocabulary is hundreds of thousands of values). */
class ByteSink {
  private buf = new Uint8Array(1 << 16)
  private view = new DataView(this.buf.buffer)
  length = 0
  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      let size = this.buf.length * 2
      while (size < this.length + n) size *= 2
      const next = new Uint8Array(size)
      next.set(this.buf.subarray(0, this.length))
      this.buf = next
      this.view = new DataView(next.buffer)
    }
    const at = this.length
    this.length += n
    return at
  }
  push(bytes: Uint8Array): void {
    const at = this.reserve(bytes.length) // may replace this.buf, so reserve first
    this.buf.set(bytes, at)
  }
  fixed(size: number, fill: (view: DataView, at: number) => void): void {
    const at = this.reserve(size)
    fill(this.view, at)
  }
  u32(v: number): void {
    const at = this.reserve(4)
    this.view.setUint32(at, v, true)
  }
  u64(v: number | bigint): void {
    const at = this.reserve(8)
    this.view.setBigUint64(at, BigInt(v), true)
  }
  str(s: string): void {
    const b = utf8.encode(s)
    this.u64(b.length)
    this.push(b)
  }
  zeros(n: number): void {
    this.reserve(n) // fresh capacity is zero-filled
  }
  concat(): Uint8Array {
    return this.buf.slice(0, this.length)
  }
}

function writeScalar(sink: ByteSink, type: GgufScalarType, v: GgufScalar, key: string): void {
  const bad = (): never => {
    throw new GgufError('GGUF_BAD_VALUE', `Metadata key ${key} has a value ${String(v)} that is not a valid ${type}.`)
  }
  if (type === 'str') {
    if (typeof v !== 'string') bad()
    sink.str(v as string)
    return
  }
  if (type === 'bool') {
    if (typeof v !== 'boolean') bad()
    sink.fixed(1, (d, at) => d.setUint8(at, v ? 1 : 0))
    return
  }
  if (type === 'u64' || type === 'i64') {
    if (typeof v !== 'number' && typeof v !== 'bigint') bad()
    const big = BigInt(v as number | bigint)
    sink.fixed(8, (d, at) => (type === 'u64' ? d.setBigUint64(at, big, true) : d.setBigInt64(at, big, true)))
    return
  }
  if (typeof v !== 'number') bad()
  const n = v as number
  const int = INT_RANGES[type]
  if (int && (!Number.isInteger(n) || n < int[0] || n > int[1])) bad()
  const [size, put] = NUMBER_WRITERS[type]!
  sink.fixed(size, (d, at) => put(d, at, n))
}

const INT_RANGES: Partial<Record<GgufScalarType, [number, number]>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
}

const NUMBER_WRITERS: Partial<Record<GgufScalarType, [number, (d: DataView, at: number, n: number) => void]>> = {
  u8: [1, (d, at, n) => d.setUint8(at, n)],
  i8: [1, (d, at, n) => d.setInt8(at, n)],
  u16: [2, (d, at, n) => d.setUint16(at, n, true)],
  i16: [2, (d, at, n) => d.setInt16(at, n, true)],
  u32: [4, (d, at, n) => d.setUint32(at, n, true)],
  i32: [4, (d, at, n) => d.setInt32(at, n, true)],
  f32: [4, (d, at, n) => d.setFloat32(at, n, true)],
  f64: [8, (d, at, n) => d.setFloat64(at, n, true)],
}

export class GgufWriter {
  private readonly kvs = new Map<string, GgufKv>()
  private readonly tensors: GgufTensorSpec[] = []
  private readonly names = new Set<string>()

  constructor(
    readonly file: string,
    readonly alignment = GGUF_DEFAULT_ALIGNMENT,
  ) {
    if (alignment <= 0 || (alignment & (alignment - 1)) !== 0) throw new RangeError('alignment must be a power of 2')
  }

  set(key: string, kv: GgufKv): this {
    if (this.kvs.has(key))
      throw new GgufError('GGUF_DUPLICATE', `Metadata key ${key} is set twice.`, { file: this.file })
    this.kvs.set(key, kv)
    return this
  }
  has(key: string): boolean {
    return this.kvs.has(key)
  }
  str(key: string, value: string): this {
    return this.set(key, { type: 'str', value })
  }
  u32(key: string, value: number): this {
    return this.set(key, { type: 'u32', value })
  }
  i32(key: string, value: number): this {
    return this.set(key, { type: 'i32', value })
  }
  f32(key: string, value: number): this {
    return this.set(key, { type: 'f32', value })
  }
  bool(key: string, value: boolean): this {
    return this.set(key, { type: 'bool', value })
  }
  array(key: string, itemType: GgufScalarType, values: ArrayLike<GgufScalar>): this {
    return this.set(key, { type: 'arr', itemType, values })
  }

  addTensor(spec: GgufTensorSpec): this {
    if (this.names.has(spec.name)) {
      throw new GgufError('GGUF_DUPLICATE', `Tensor ${spec.name} is added twice.`, {
        file: this.file,
        tensor: spec.name,
      })
    }
    if (utf8.encode(spec.name).length >= 64) {
      throw new GgufError('GGUF_BAD_VALUE', `Tensor name ${spec.name} is 64 bytes or longer.`, { tensor: spec.name })
    }
    if (spec.ne.length < 1 || spec.ne.length > 4) {
      throw new GgufError('GGUF_SHAPE', `Tensor ${spec.name} has ${spec.ne.length} dims; GGUF allows 1 to 4.`, {
        tensor: spec.name,
      })
    }
    tensorByteLength(spec.type, spec.ne) // throws early on a row that is not whole blocks
    this.names.add(spec.name)
    this.tensors.push(spec)
    return this
  }

  /** Header, metadata and tensor infos, padded to the alignment. */
  private header(): { bytes: Uint8Array; sizes: number[] } {
    const sink = new ByteSink()
    sink.u32(GGUF_MAGIC)
    sink.u32(GGUF_VERSION)
    sink.u64(this.tensors.length)
    const kvs = new Map(this.kvs)
    if (this.alignment !== GGUF_DEFAULT_ALIGNMENT && !kvs.has('general.alignment')) {
      kvs.set('general.alignment', { type: 'u32', value: this.alignment })
    }
    sink.u64(kvs.size)
    for (const [key, kv] of kvs) {
      sink.str(key)
      if (kv.type === 'arr') {
        sink.u32(GgufValueType.arr)
        sink.u32(GgufValueType[kv.itemType])
        sink.u64(kv.values.length)
        for (let i = 0; i < kv.values.length; i++) writeScalar(sink, kv.itemType, kv.values[i]!, key)
      } else {
        sink.u32(GgufValueType[kv.type])
        writeScalar(sink, kv.type, kv.value, key)
      }
    }
    const sizes: number[] = []
    let offset = 0
    for (const t of this.tensors) {
      sink.str(t.name)
      sink.u32(t.ne.length)
      for (const n of t.ne) sink.u64(n)
      sink.u32(t.type)
      sink.u64(offset)
      const size = tensorByteLength(t.type, t.ne)
      sizes.push(size)
      offset += alignUp(size, this.alignment)
    }
    const padded = alignUp(sink.length, this.alignment)
    sink.zeros(padded - sink.length)
    return { bytes: sink.concat(), sizes }
  }

  /** Writes the whole file atomically and returns its size. */
  async write(): Promise<GgufWriteResult> {
    const { bytes, sizes } = this.header()
    const partial = `${this.file}.partial-${process.pid}`
    const fh = await open(partial, 'w')
    let position = 0
    let tensorBytes = 0
    try {
      await fh.write(bytes, 0, bytes.length, position)
      position += bytes.length
      for (let i = 0; i < this.tensors.length; i++) {
        const t = this.tensors[i]!
        const data = await t.data()
        if (data.length !== sizes[i]) {
          throw new GgufError(
            'GGUF_SHAPE',
            `Tensor ${t.name} produced ${data.length} bytes but its shape and type need ${sizes[i]}.`,
            { file: this.file, tensor: t.name },
          )
        }
        await fh.write(data, 0, data.length, position)
        position += data.length
        tensorBytes += data.length
        const pad = alignUp(data.length, this.alignment) - data.length
        // The data section ends after the last tensor's padding, as gguf-py writes it.
        if (pad > 0) {
          await fh.write(new Uint8Array(pad), 0, pad, position)
          position += pad
        }
      }
      await fh.close()
    } catch (err) {
      await fh.close().catch(() => {})
      await unlink(partial).catch(() => {})
      throw err
    }
    await rename(partial, this.file)
    return { file: this.file, bytes: position, tensorBytes }
  }
}
