// Reading one safetensors file by positional reads: opening reads only the 8-byte length and the header, tensor
// bytes are read on demand (whole, by byte range, or into a caller's buffer), so a 5 GB shard costs its header.

import { type FileHandle, open } from 'node:fs/promises'
import { ioError, q, SafetensorsError } from './errors'
import { MAX_HEADER_SIZE, parseHeader, type SafetensorsHeader, type TensorInfo } from './header'

/** One read() call moves at most this many bytes (Node refuses single reads of 2 GiB or more). */
const MAX_READ_CHUNK = 1 << 30

export class SafetensorsFile {
  readonly path: string
  readonly header: SafetensorsHeader
  readonly fileSize: number
  private handle: FileHandle | undefined
  private readonly byName: Map<string, TensorInfo>

  private constructor(path: string, handle: FileHandle, header: SafetensorsHeader, fileSize: number) {
    this.path = path
    this.handle = handle
    this.header = header
    this.fileSize = fileSize
    this.byName = new Map(header.tensors.map((t) => [t.name, t]))
  }

  /** Opens read-only and validates the header; the file stays open for reads until close(). */
  static async open(path: string): Promise<SafetensorsFile> {
    let handle: FileHandle
    try {
      handle = await open(path, 'r')
    } catch (err) {
      throw ioError(path, 'open', err)
    }
    try {
      const st = await handle.stat()
      if (!st.isFile()) {
        throw new SafetensorsError('IO_ERROR', path, `${path} is not a regular file.`)
      }
      const fileSize = st.size
      if (fileSize < 8) {
        throw new SafetensorsError(
          'HEADER_TOO_SMALL',
          path,
          `${path} is ${fileSize} bytes long, too short to hold the 8-byte header length of a safetensors file.`,
        )
      }
      const lenBytes = await readExactly(handle, Buffer.alloc(8), 0, path)
      const n = lenBytes.readBigUInt64LE(0)
      if (n > BigInt(MAX_HEADER_SIZE)) {
        throw new SafetensorsError(
          'HEADER_TOO_LARGE',
          path,
          `${path} declares a header of ${n} bytes, above the format's limit of ${MAX_HEADER_SIZE}.`,
        )
      }
      const headerLength = Number(n)
      if (8 + headerLength > fileSize) {
        throw new SafetensorsError(
          'INVALID_HEADER_LENGTH',
          path,
          `${path} declares a header of ${headerLength} bytes but only ${fileSize - 8} bytes follow the length.`,
        )
      }
      // Its own allocation (not the shared pool): header.rawJson keeps these bytes for the life of the file.
      const bytes = await readExactly(handle, Buffer.allocUnsafeSlow(headerLength), 8, path)
      const header = parseHeader(bytes, fileSize, path)
      return new SafetensorsFile(path, handle, header, fileSize)
    } catch (err) {
      await handle.close().catch(() => {})
      throw ioError(path, 'read', err)
    }
  }

  get tensors(): TensorInfo[] {
    return this.header.tensors
  }

  get metadata(): Record<string, string> | undefined {
    return this.header.metadata
  }

  has(name: string): boolean {
    return this.byName.has(name)
  }

  /** The tensor's description; throws TENSOR_NOT_FOUND. */
  tensor(name: string): TensorInfo {
    const t = this.byName.get(name)
    if (!t) {
      throw new SafetensorsError('TENSOR_NOT_FOUND', this.path, `${this.path} has no tensor named ${q(name)}.`, name)
    }
    return t
  }

  /**
   * Positional read of a tensor or of the byte range [start, end) of it. Ranges work for any tensor size; a whole
   * read needs one Buffer of the tensor's size, so read very large tensors by ranges or readInto.
   */
  async read(name: string, start = 0, end?: number): Promise<Buffer> {
    const t = this.tensor(name)
    const stop = end ?? t.byteLength
    this.checkRange(t, start, stop)
    let buf: Buffer
    try {
      buf = Buffer.allocUnsafe(stop - start)
    } catch (err) {
      throw new SafetensorsError(
        'RANGE_OUT_OF_BOUNDS',
        this.path,
        `Reading ${stop - start} bytes of tensor ${q(name)} in ${this.path} at once does not fit in memory; read it by ranges instead.`,
        name,
        err,
      )
    }
    await readExactly(this.open_(name), buf, t.fileOffset + start, this.path, name)
    return buf
  }

  /**
   * Reads min(target.length, byteLength − startInTensor) bytes of the tensor, from startInTensor, into target.
   * Returns the number of bytes read (0 at the end of the tensor).
   */
  async readInto(name: string, target: Uint8Array, startInTensor: number): Promise<number> {
    const t = this.tensor(name)
    this.checkRange(t, startInTensor, startInTensor)
    const len = Math.min(target.length, t.byteLength - startInTensor)
    if (len === 0) return 0
    const view = target.subarray(0, len)
    await readExactly(this.open_(name), view, t.fileOffset + startInTensor, this.path, name)
    return len
  }

  /** The open file's descriptor, for mapping ranges of it; throws once the file is closed. */
  get fd(): number {
    if (!this.handle) throw new SafetensorsError('IO_ERROR', this.path, `${this.path} was closed.`)
    return this.handle.fd
  }

  async close(): Promise<void> {
    const h = this.handle
    this.handle = undefined
    if (h) await h.close()
  }

  private open_(name: string): FileHandle {
    if (!this.handle) {
      throw new SafetensorsError(
        'IO_ERROR',
        this.path,
        `${this.path} was closed before tensor ${q(name)} was read.`,
        name,
      )
    }
    return this.handle
  }

  private checkRange(t: TensorInfo, start: number, end: number): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > t.byteLength) {
      throw new SafetensorsError(
        'RANGE_OUT_OF_BOUNDS',
        this.path,
        `The byte range [${start}, ${end}) is outside tensor ${q(t.name)} of ${t.byteLength} bytes in ${this.path}.`,
        t.name,
      )
    }
  }
}

/** Fills target from the file at `position`, looping over short reads and the per-call size limit. */
async function readExactly<T extends Uint8Array>(
  handle: FileHandle,
  target: T,
  position: number,
  file: string,
  tensor?: string,
): Promise<T> {
  let done = 0
  while (done < target.length) {
    const want = Math.min(target.length - done, MAX_READ_CHUNK)
    let got: number
    try {
      ;({ bytesRead: got } = await handle.read(target, done, want, position + done))
    } catch (err) {
      throw ioError(file, 'read', err, tensor)
    }
    if (got === 0) {
      const what = tensor === undefined ? 'its header' : `tensor ${q(tensor)}`
      throw new SafetensorsError(
        'IO_ERROR',
        file,
        `${file} ended while reading ${what}; it was truncated after it was opened.`,
        tensor,
      )
    }
    done += got
  }
  return target
}
