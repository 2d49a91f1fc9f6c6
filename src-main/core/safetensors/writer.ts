// Writing safetensors files the way the reference writer lays them out, streamed: the header first, then the
// caller's tensor bytes in data order. The file appears atomically: `<path>.partial-<pid>`, fsync, rename.

import { type FileHandle, open, rename, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { DTYPE_BITS } from './dtypes'
import { ioError, q, SafetensorsError } from './errors'
import { buildHeader, finishHeader, parseHeaderJson, type TensorInfo, type TensorSpec } from './header'

export interface WriterOptions {
  order?: 'reference' | 'given'
  /** Write these header bytes verbatim (e.g. an original file's header, padding included). */
  rawHeaderJson?: Buffer
}

/** Small chunks are gathered up to this size before they reach the file. */
const GATHER = 1 << 20

export class SafetensorsWriter {
  readonly path: string
  /** in data order */
  readonly tensors: TensorInfo[]
  /** Bytes the data section must receive. */
  readonly dataLength: number
  private readonly partial: string
  private handle: FileHandle | undefined
  private position: number
  private written = 0
  private pending: Buffer | undefined
  private pendingLength = 0
  private queue: Promise<void> = Promise.resolve()
  private state: 'open' | 'finished' | 'aborted' = 'open'
  /** A failed write leaves a hole in the file: every later call reports it and finish() aborts. */
  private failure: SafetensorsError | undefined

  private constructor(path: string, partial: string, handle: FileHandle, tensors: TensorInfo[], dataStart: number) {
    this.path = path
    this.partial = partial
    this.handle = handle
    this.tensors = tensors
    this.position = dataStart
    this.dataLength = tensors.length === 0 ? 0 : tensors[tensors.length - 1]!.end
  }

  static async create(
    path: string,
    tensors: TensorSpec[],
    metadata?: Record<string, string>,
    opts?: WriterOptions,
  ): Promise<SafetensorsWriter> {
    let json: Buffer
    let infos: TensorInfo[]
    if (opts?.rawHeaderJson) {
      json = opts.rawHeaderJson
      const parsed = parseHeaderJson(json, path)
      if (parsed.deferred) throw parsed.deferred
      infos = finishHeader(json, parsed.metadata, parsed.tensors).tensors
      checkSameTensors(path, tensors, infos)
    } else {
      const built = buildHeader(tensors, metadata, { order: opts?.order ?? 'reference', file: path })
      json = built.json
      infos = built.tensors
    }
    const partial = `${path}.partial-${process.pid}`
    let handle: FileHandle
    try {
      handle = await open(partial, 'w')
    } catch (err) {
      throw ioError(path, 'create', err)
    }
    const w = new SafetensorsWriter(path, partial, handle, infos, 8 + json.length)
    try {
      const len = Buffer.alloc(8)
      len.writeBigUInt64LE(BigInt(json.length))
      await handle.write(len, 0, 8, 0)
      await handle.write(json, 0, json.length, 8)
    } catch (err) {
      await w.abort()
      throw ioError(path, 'write', err)
    }
    return w
  }

  /** Bytes of the data section received so far. */
  get bytesWritten(): number {
    return this.written
  }

  /** Appends the next bytes of the data section (tensors back to back in `tensors` order; any chunking). */
  write(chunk: Uint8Array): Promise<void> {
    const next = this.queue.then(() => this.append(chunk))
    this.queue = next.catch(() => {})
    return next
  }

  /** Checks every byte was written, fsyncs, and renames the partial file to its final name. */
  async finish(): Promise<void> {
    await this.queue
    if (this.failure) {
      await this.abort()
      throw this.failure
    }
    this.assertOpen()
    try {
      await this.flush()
      if (this.written !== this.dataLength) {
        const t = this.tensors.find((x) => x.end > this.written)
        throw new SafetensorsError(
          'INCOMPLETE_BUFFER',
          this.path,
          `Only ${this.written} of ${this.dataLength} data bytes were written to ${this.path}` +
            (t ? `, so tensor ${q(t.name)} is incomplete.` : '.'),
          t?.name,
        )
      }
      const h = this.handle!
      await h.sync()
      this.handle = undefined
      await h.close()
      await rename(this.partial, this.path)
      this.state = 'finished'
      await syncDir(dirname(this.path))
    } catch (err) {
      await this.abort()
      throw ioError(this.path, 'finish writing', err)
    }
  }

  /** Stops writing and removes the partial file; the final path is never created. */
  async abort(): Promise<void> {
    if (this.state !== 'open') return
    this.state = 'aborted'
    const h = this.handle
    this.handle = undefined
    if (h) await h.close().catch(() => {})
    await unlink(this.partial).catch(() => {})
  }

  private assertOpen(): void {
    if (this.failure) throw this.failure
    if (this.state !== 'open') {
      throw new SafetensorsError('IO_ERROR', this.path, `The writer for ${this.path} is already ${this.state}.`)
    }
  }

  private async append(chunk: Uint8Array): Promise<void> {
    this.assertOpen()
    if (this.written + chunk.length > this.dataLength) {
      throw new SafetensorsError(
        'RANGE_OUT_OF_BOUNDS',
        this.path,
        `Writing ${chunk.length} more bytes to ${this.path} would exceed the ${this.dataLength} data bytes its header declares.`,
      )
    }
    this.written += chunk.length
    if (chunk.length >= GATHER / 4) {
      await this.flush()
      await this.put(chunk)
      return
    }
    if (!this.pending) this.pending = Buffer.allocUnsafe(GATHER)
    if (this.pendingLength + chunk.length > GATHER) await this.flush()
    this.pending!.set(chunk, this.pendingLength)
    this.pendingLength += chunk.length
  }

  private async flush(): Promise<void> {
    if (this.pendingLength === 0) return
    const n = this.pendingLength
    this.pendingLength = 0
    await this.put(this.pending!.subarray(0, n))
  }

  private async put(bytes: Uint8Array): Promise<void> {
    let done = 0
    try {
      while (done < bytes.length) {
        const want = Math.min(bytes.length - done, 1 << 30)
        const { bytesWritten } = await this.handle!.write(bytes, done, want, this.position)
        done += bytesWritten
        this.position += bytesWritten
      }
    } catch (err) {
      this.failure = ioError(this.path, 'write', err)
      throw this.failure
    }
  }
}

/** Best effort: makes the rename itself durable; some file systems refuse to sync a directory, which is fine. */
async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r')
    try {
      await d.sync()
    } finally {
      await d.close()
    }
  } catch {}
}

function checkSameTensors(path: string, given: TensorSpec[], infos: TensorInfo[]): void {
  if (given.length === 0) return
  const byName = new Map(infos.map((t) => [t.name, t]))
  for (const g of given) {
    const t = byName.get(g.name)
    if (!t || t.dtype !== g.dtype || t.shape.length !== g.shape.length || t.shape.some((d, i) => d !== g.shape[i])) {
      throw new SafetensorsError(
        'TENSOR_INVALID_INFO',
        path,
        `Tensor ${q(g.name)} for ${path} does not match the verbatim header given for it.`,
        g.name,
      )
    }
  }
  if (given.length !== infos.length) {
    const names = new Set(given.map((g) => g.name))
    const extra = infos.find((t) => !names.has(t.name))!
    throw new SafetensorsError(
      'TENSOR_INVALID_INFO',
      path,
      `The verbatim header for ${path} has tensor ${q(extra.name)} that was not given.`,
      extra.name,
    )
  }
}

/** Writes a whole file from in-memory tensors (small files, tests, tools). */
export async function writeSafetensors(
  path: string,
  tensors: (TensorSpec & { data: Uint8Array })[],
  metadata?: Record<string, string>,
  opts?: { order?: 'reference' | 'given' },
): Promise<void> {
  const data = new Map<string, Uint8Array>()
  for (const t of tensors) data.set(t.name, t.data)
  const w = await SafetensorsWriter.create(path, tensors, metadata, opts)
  try {
    for (const t of w.tensors) {
      const d = data.get(t.name)!
      if (d.length !== t.byteLength) {
        throw new SafetensorsError(
          'TENSOR_INVALID_INFO',
          path,
          `Tensor ${q(t.name)} for ${path} is ${t.dtype} [${t.shape.join(', ')}] which needs ${t.byteLength} bytes (${DTYPE_BITS[t.dtype]} bits each), but ${d.length} bytes were given.`,
          t.name,
        )
      }
      await w.write(d)
    }
    await w.finish()
  } catch (err) {
    await w.abort()
    throw err
  }
}
