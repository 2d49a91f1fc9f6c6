// The container's byte layout (docs/FORMAT.md): preamble, original header, chunk data, binary index, trailer.
// Pure encoding and decoding of the fixed parts; reading and writing files live in reader.ts and writer.ts.
import { crc32 } from 'node:zlib'
import { ContainerError } from './errors'

export const CONTAINER_MAGIC = Buffer.from('SPZCONT\0', 'latin1')
export const TRAILER_MAGIC = Buffer.from('SPZTRAIL', 'latin1')
export const CONTAINER_VERSION = 1
export const PREAMBLE_SIZE = 32
export const TRAILER_SIZE = 32
/** The container file name for an original shard. */
export const CONTAINER_SUFFIX = '.spz'

/** Safetensors dtypes by their one-byte code in the index (the order of the safetensors spec, never reordered). */
export const DTYPE_CODES = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F8_E4M3FNUZ',
  'F8_E5M2FNUZ',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
  'C64',
] as const

/** How a tensor's bytes are stored: raw copy, the codec lossless, or the codec with an absolute bound. */
export type StorageMethod = 'stored' | 'lossless' | 'abs'
const METHODS: StorageMethod[] = ['stored', 'lossless', 'abs']
/** What the user asked for (kept for reports; the method says what was done). */
export type RequestedMode = 'lossless' | 'abs' | 'rel'
const MODES: RequestedMode[] = ['lossless', 'abs', 'rel']

export interface ChunkEntry {
  /** Absolute offset of the compressed bytes in the container file. */
  offset: number
  length: number
  firstElement: number
  elementCount: number
  /** CRC-32 of the compressed bytes as written. */
  crc: number
  /** CRC-32 of the bytes the decoder must produce for this chunk. */
  decodedCrc: number
}

export interface Fp8Link {
  /** Name of the F32 scale tensor (weight_scale_inv), possibly in another shard. */
  scaleTensor: string
  blockRows: number
  blockCols: number
}

export interface TensorRecord {
  name: string
  dtype: string
  shape: number[]
  method: StorageMethod
  mode: RequestedMode
  /** The bound as the user stated it (0 when lossless). */
  bound: number
  /** The absolute bound the codec kept, in value units (dequantized units for FP8); 0 when lossless. */
  eb: number
  /** Range of the finite values (dequantized for FP8), NaN when not computed. */
  min: number
  max: number
  rowLength: number
  elementCount: number
  byteLength: number
  /** data_offsets begin of the tensor in the original shard. */
  begin: number
  /** CRC-32 of the original tensor bytes. */
  crc: number
  /** SHA-256 of the original tensor bytes, when the job computed it. */
  sha256?: Buffer
  fp8?: Fp8Link
  chunks: ChunkEntry[]
}

export interface ContainerIndex {
  codecVersion: number
  shardSize: number
  tensors: TensorRecord[]
}

export interface Preamble {
  version: number
  headerLength: number
  headerCrc: number
}

export function encodePreamble(headerJson: Buffer): Buffer {
  const b = Buffer.alloc(PREAMBLE_SIZE)
  CONTAINER_MAGIC.copy(b, 0)
  b.writeUInt16LE(CONTAINER_VERSION, 8)
  b.writeUInt16LE(0, 10)
  b.writeUInt32LE(0, 12)
  b.writeBigUInt64LE(BigInt(headerJson.length), 16)
  b.writeUInt32LE(crc32(headerJson), 24)
  b.writeUInt32LE(crc32(b.subarray(0, 28)), 28)
  return b
}

export function decodePreamble(b: Buffer, file: string): Preamble {
  if (b.length < PREAMBLE_SIZE)
    throw new ContainerError('TRUNCATED', 'The compressed file is shorter than its preamble', file)
  if (!b.subarray(0, 8).equals(CONTAINER_MAGIC))
    throw new ContainerError('NOT_A_CONTAINER', 'This is not a ShardPress compressed file (wrong magic)', file)
  const version = b.readUInt16LE(8)
  if (crc32(b.subarray(0, 28)) !== b.readUInt32LE(28)) {
    if (version !== CONTAINER_VERSION)
      throw new ContainerError('UNSUPPORTED_VERSION', `Container format version ${version} is not supported`, file)
    throw new ContainerError('CORRUPT_PREAMBLE', 'The compressed file preamble is damaged (checksum mismatch)', file)
  }
  if (version !== CONTAINER_VERSION)
    throw new ContainerError(
      'UNSUPPORTED_VERSION',
      `Container format version ${version} is not supported (this build reads ${CONTAINER_VERSION})`,
      file,
    )
  if (b.readUInt16LE(10) !== 0 || b.readUInt32LE(12) !== 0)
    throw new ContainerError('UNSUPPORTED_VERSION', 'The compressed file uses flags this build does not know', file)
  const headerLength = Number(b.readBigUInt64LE(16))
  return { version, headerLength, headerCrc: b.readUInt32LE(24) }
}

export interface Trailer {
  indexOffset: number
  indexLength: number
  indexCrc: number
  tensorCount: number
}

export function encodeTrailer(t: Trailer): Buffer {
  const b = Buffer.alloc(TRAILER_SIZE)
  b.writeBigUInt64LE(BigInt(t.indexOffset), 0)
  b.writeBigUInt64LE(BigInt(t.indexLength), 8)
  b.writeUInt32LE(t.indexCrc, 16)
  b.writeUInt32LE(t.tensorCount, 20)
  TRAILER_MAGIC.copy(b, 24)
  return b
}

export function decodeTrailer(b: Buffer, file: string, fileSize: number): Trailer {
  if (!b.subarray(24, 32).equals(TRAILER_MAGIC))
    throw new ContainerError('TRUNCATED', 'The compressed file has no valid trailer (truncated or damaged)', file)
  const indexOffset = Number(b.readBigUInt64LE(0))
  const indexLength = Number(b.readBigUInt64LE(8))
  if (indexOffset < PREAMBLE_SIZE || indexOffset + indexLength + TRAILER_SIZE !== fileSize)
    throw new ContainerError('TRUNCATED', 'The compressed file index does not end at the trailer', file)
  return { indexOffset, indexLength, indexCrc: b.readUInt32LE(16), tensorCount: b.readUInt32LE(20) }
}

/** Grows a buffer as fields are appended (the index is small: a few hundred bytes per tensor). */
class ByteSink {
  private buf = Buffer.alloc(4096)
  length = 0
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n))
    this.buf.copy(next, 0, 0, this.length)
    this.buf = next
  }
  u8(v: number): void {
    this.room(1)
    this.buf.writeUInt8(v, this.length)
    this.length += 1
  }
  u16(v: number): void {
    this.room(2)
    this.buf.writeUInt16LE(v, this.length)
    this.length += 2
  }
  u32(v: number): void {
    this.room(4)
    this.buf.writeUInt32LE(v >>> 0, this.length)
    this.length += 4
  }
  u64(v: number): void {
    this.room(8)
    this.buf.writeBigUInt64LE(BigInt(v), this.length)
    this.length += 8
  }
  f64(v: number): void {
    this.room(8)
    this.buf.writeDoubleLE(v, this.length)
    this.length += 8
  }
  bytes(b: Uint8Array): void {
    this.room(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8')
    this.u16(b.length)
    this.bytes(b)
  }
  done(): Buffer {
    return this.buf.subarray(0, this.length)
  }
}

class ByteSource {
  pos = 0
  constructor(
    private readonly buf: Buffer,
    private readonly file: string,
  ) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length)
      throw new ContainerError('CORRUPT_INDEX', 'The compressed file index ends early', this.file)
  }
  u8(): number {
    this.need(1)
    return this.buf.readUInt8(this.pos++)
  }
  u16(): number {
    this.need(2)
    const v = this.buf.readUInt16LE(this.pos)
    this.pos += 2
    return v
  }
  u32(): number {
    this.need(4)
    const v = this.buf.readUInt32LE(this.pos)
    this.pos += 4
    return v
  }
  u64(): number {
    this.need(8)
    const v = this.buf.readBigUInt64LE(this.pos)
    this.pos += 8
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new ContainerError('CORRUPT_INDEX', 'The compressed file index holds an impossible size', this.file)
    return Number(v)
  }
  f64(): number {
    this.need(8)
    const v = this.buf.readDoubleLE(this.pos)
    this.pos += 8
    return v
  }
  bytes(n: number): Buffer {
    this.need(n)
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + n))
    this.pos += n
    return v
  }
  str(): string {
    return this.bytes(this.u16()).toString('utf8')
  }
}

const FLAG_SHA256 = 1
const FLAG_FP8 = 2

export function encodeIndex(index: ContainerIndex): Buffer {
  const s = new ByteSink()
  s.u32(index.codecVersion)
  s.u64(index.shardSize)
  s.u32(index.tensors.length)
  for (const t of index.tensors) {
    s.str(t.name)
    const dtype = DTYPE_CODES.indexOf(t.dtype as (typeof DTYPE_CODES)[number])
    if (dtype < 0) throw new Error(`dtype ${t.dtype} has no container code`)
    s.u8(dtype)
    s.u8(METHODS.indexOf(t.method))
    s.u8(MODES.indexOf(t.mode))
    s.u8((t.sha256 ? FLAG_SHA256 : 0) | (t.fp8 ? FLAG_FP8 : 0))
    s.f64(t.bound)
    s.f64(t.eb)
    s.f64(t.min)
    s.f64(t.max)
    s.u8(t.shape.length)
    for (const d of t.shape) s.u64(d)
    s.u32(t.rowLength)
    s.u64(t.elementCount)
    s.u64(t.byteLength)
    s.u64(t.begin)
    s.u32(t.crc)
    if (t.sha256) s.bytes(t.sha256)
    if (t.fp8) {
      s.str(t.fp8.scaleTensor)
      s.u32(t.fp8.blockRows)
      s.u32(t.fp8.blockCols)
    }
    s.u32(t.chunks.length)
    for (const c of t.chunks) {
      s.u64(c.offset)
      s.u64(c.length)
      s.u64(c.firstElement)
      s.u64(c.elementCount)
      s.u32(c.crc)
      s.u32(c.decodedCrc)
    }
  }
  return s.done()
}

export function decodeIndex(buf: Buffer, file: string): ContainerIndex {
  const r = new ByteSource(buf, file)
  const bad = (what: string, tensor?: string): never => {
    throw new ContainerError('CORRUPT_INDEX', `The compressed file index is damaged: ${what}`, file, tensor)
  }
  const codecVersion = r.u32()
  const shardSize = r.u64()
  const count = r.u32()
  const tensors: TensorRecord[] = []
  for (let i = 0; i < count; i++) {
    const name = r.str()
    const dtype = DTYPE_CODES[r.u8()] ?? bad('unknown dtype code', name)
    const method = METHODS[r.u8()] ?? bad('unknown storage method', name)
    const mode = MODES[r.u8()] ?? bad('unknown mode', name)
    const flags = r.u8()
    if (flags & ~(FLAG_SHA256 | FLAG_FP8)) bad('unknown tensor flags', name)
    const bound = r.f64()
    const eb = r.f64()
    const min = r.f64()
    const max = r.f64()
    const ndim = r.u8()
    const shape: number[] = []
    for (let d = 0; d < ndim; d++) shape.push(r.u64())
    const rowLength = r.u32()
    const elementCount = r.u64()
    const byteLength = r.u64()
    const begin = r.u64()
    const crc = r.u32()
    const rec: TensorRecord = {
      name,
      dtype,
      shape,
      method,
      mode,
      bound,
      eb,
      min,
      max,
      rowLength,
      elementCount,
      byteLength,
      begin,
      crc,
      chunks: [],
    }
    if (flags & FLAG_SHA256) rec.sha256 = r.bytes(32)
    if (flags & FLAG_FP8) rec.fp8 = { scaleTensor: r.str(), blockRows: r.u32(), blockCols: r.u32() }
    const n = r.u32()
    let expectFirst = 0
    for (let c = 0; c < n; c++) {
      const chunk: ChunkEntry = {
        offset: r.u64(),
        length: r.u64(),
        firstElement: r.u64(),
        elementCount: r.u64(),
        crc: r.u32(),
        decodedCrc: r.u32(),
      }
      if (chunk.firstElement !== expectFirst) bad('chunks do not cover the tensor in order', name)
      expectFirst += chunk.elementCount
      rec.chunks.push(chunk)
    }
    if (expectFirst !== elementCount) bad('chunks do not cover the tensor', name)
    if (shape.reduce((a, b) => a * b, 1) !== elementCount) bad('shape and element count disagree', name)
    tensors.push(rec)
  }
  if (r.pos !== buf.length) bad('trailing bytes after the last tensor record')
  return { codecVersion, shardSize, tensors }
}
