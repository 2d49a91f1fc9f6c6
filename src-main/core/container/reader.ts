// Opens a container, checks every structural byte (preamble, header, index, trailer) and hands out verified
// compressed chunks. Decoding happens elsewhere (in workers); this never returns bytes that failed a checksum.
import { type FileHandle, open } from 'node:fs/promises'
import { crc32 } from '../codec'
import { ContainerError } from './errors'
import {
  type ContainerIndex,
  decodeIndex,
  decodePreamble,
  decodeTrailer,
  PREAMBLE_SIZE,
  type Preamble,
  type TensorRecord,
  TRAILER_SIZE,
} from './format'

interface HeaderEntry {
  dtype: string
  shape: number[]
  data_offsets: [number, number]
}

export class ContainerReader {
  private readonly byName = new Map<string, TensorRecord>()

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly fileSize: number,
    readonly preamble: Preamble,
    /** The original safetensors header JSON, byte for byte. */
    readonly headerJson: Buffer,
    readonly index: ContainerIndex,
  ) {
    for (const t of index.tensors) this.byName.set(t.name, t)
  }

  static async open(path: string): Promise<ContainerReader> {
    const fh = await open(path, 'r')
    try {
      const fileSize = (await fh.stat()).size
      if (fileSize < PREAMBLE_SIZE + TRAILER_SIZE)
        throw new ContainerError('TRUNCATED', 'The compressed file is too short to be a container', path)
      const preamble = decodePreamble(await readAt(fh, 0, PREAMBLE_SIZE), path)
      const trailer = decodeTrailer(await readAt(fh, fileSize - TRAILER_SIZE, TRAILER_SIZE), path, fileSize)
      if (PREAMBLE_SIZE + preamble.headerLength > trailer.indexOffset)
        throw new ContainerError('CORRUPT_PREAMBLE', 'The stored header overlaps the index', path)
      const headerJson = await readAt(fh, PREAMBLE_SIZE, preamble.headerLength)
      if (crc32(headerJson) !== preamble.headerCrc)
        throw new ContainerError('CORRUPT_HEADER', 'The stored safetensors header is damaged (checksum mismatch)', path)
      const indexBytes = await readAt(fh, trailer.indexOffset, trailer.indexLength)
      if (crc32(indexBytes) !== trailer.indexCrc)
        throw new ContainerError('CORRUPT_INDEX', 'The compressed file index is damaged (checksum mismatch)', path)
      const index = decodeIndex(indexBytes, path)
      if (index.tensors.length !== trailer.tensorCount)
        throw new ContainerError('CORRUPT_INDEX', 'The trailer and the index disagree on the tensor count', path)
      checkAgainstHeader(index, headerJson, path, PREAMBLE_SIZE + preamble.headerLength, trailer.indexOffset)
      return new ContainerReader(path, fh, fileSize, preamble, headerJson, index)
    } catch (e) {
      await fh.close()
      throw e
    }
  }

  get tensors(): TensorRecord[] {
    return this.index.tensors
  }

  tensor(name: string): TensorRecord {
    const t = this.byName.get(name)
    if (!t)
      throw new ContainerError('TENSOR_NOT_FOUND', `No tensor named ${name} in the compressed file`, this.path, name)
    return t
  }

  has(name: string): boolean {
    return this.byName.has(name)
  }

  /** The compressed bytes of one chunk, after checking their CRC. */
  async readChunk(t: TensorRecord, i: number): Promise<Buffer> {
    const c = t.chunks[i]
    if (!c) throw new ContainerError('TENSOR_NOT_FOUND', `Chunk ${i} does not exist`, this.path, t.name)
    const b = Buffer.allocUnsafe(c.length)
    await this.readChunkInto(t, i, b)
    return b
  }

  /** readChunk into `target` (at least the chunk's length); returns the view of target that holds the chunk. */
  async readChunkInto(t: TensorRecord, i: number, target: Uint8Array): Promise<Uint8Array> {
    const c = t.chunks[i]
    if (!c) throw new ContainerError('TENSOR_NOT_FOUND', `Chunk ${i} does not exist`, this.path, t.name)
    const b = target.subarray(0, c.length)
    const n = await readInto(this.fh, c.offset, b)
    if (n !== c.length) throw new ContainerError('TRUNCATED', `Chunk ${i} is cut short`, this.path, t.name)
    if (crc32(b) !== c.crc)
      throw new ContainerError('CORRUPT_CHUNK', `Chunk ${i} is damaged (checksum mismatch)`, this.path, t.name)
    return b
  }

  /** The open file's descriptor, for mapping ranges of it. */
  get fd(): number {
    return this.fh.fd
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => {})
  }
}

async function readInto(fh: FileHandle, pos: number, b: Uint8Array): Promise<number> {
  let done = 0
  while (done < b.length) {
    const { bytesRead } = await fh.read(b, done, b.length - done, pos + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done
}

async function readAt(fh: FileHandle, pos: number, length: number): Promise<Buffer> {
  const b = Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await fh.read(b, done, length - done, pos + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done === length ? b : b.subarray(0, done)
}

/** Every record must match the verbatim header, and every chunk must sit inside the data region. */
function checkAgainstHeader(
  index: ContainerIndex,
  headerJson: Buffer,
  file: string,
  dataStart: number,
  dataEnd: number,
) {
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(headerJson.toString('utf8'))
  } catch {
    throw new ContainerError('CORRUPT_HEADER', 'The stored safetensors header is not valid JSON', file)
  }
  const names = Object.keys(parsed).filter((k) => k !== '__metadata__')
  if (names.length !== index.tensors.length)
    throw new ContainerError('INCONSISTENT', 'The index and the stored header list different tensors', file)
  for (const t of index.tensors) {
    const h = parsed[t.name] as HeaderEntry | undefined
    const ok =
      h &&
      h.dtype === t.dtype &&
      Array.isArray(h.shape) &&
      h.shape.length === t.shape.length &&
      h.shape.every((d, i) => d === t.shape[i]) &&
      h.data_offsets?.[0] === t.begin &&
      h.data_offsets?.[1] === t.begin + t.byteLength
    if (!ok) throw new ContainerError('INCONSISTENT', 'The index record disagrees with the stored header', file, t.name)
    for (const c of t.chunks)
      if (c.offset < dataStart || c.offset + c.length > dataEnd)
        throw new ContainerError('CORRUPT_INDEX', 'A chunk lies outside the data region', file, t.name)
  }
}
