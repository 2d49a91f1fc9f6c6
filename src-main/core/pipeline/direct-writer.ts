// Appends a reconstructed shard to its file with O_DIRECT where the system has it, so the bytes go from the decode
// buffers to the disk without the kernel copying every one of them into the page cache (that copy, and the
// writeback after it, was a third of a reconstruction's CPU). O_DIRECT needs the memory, the file offset and the
// length block-aligned: callers place decoded chunks with alignedOffset() so that whole blocks can be written from
// where they were decoded; the partial block at the end is kept in a small buffer until it fills. Elsewhere, or
// where the file system refuses O_DIRECT, plain positioned writes.
import { constants } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { copyBytes, memoryOffset } from '../codec'

/** O_DIRECT's unit: memory address, file offset and length are multiples of it (4096 covers every Linux disk). */
export const DIRECT_BLOCK = 4096
const BOUNCE_BYTES = 1 << 20

/** A view of `bytes` aligned in memory to DIRECT_BLOCK (`bytes` must have DIRECT_BLOCK spare bytes). */
function alignedView(bytes: Uint8Array, length: number): Uint8Array {
  const skip = (DIRECT_BLOCK - memoryOffset(bytes)) % DIRECT_BLOCK
  return bytes.subarray(skip, skip + length)
}

export class DirectWriter {
  /** Bytes [blockStart, pos) of the block not yet full; aligned, shared memory (never moved by the GC). */
  private readonly tail = alignedView(new Uint8Array(new SharedArrayBuffer(2 * DIRECT_BLOCK)), DIRECT_BLOCK)
  private bounce: Uint8Array | undefined
  /** Every file operation runs in order behind this one (a block may be written by append, then again by sync). */
  private chain: Promise<void> = Promise.resolve()

  private constructor(
    readonly path: string,
    private fh: FileHandle,
    private pos: number,
    private direct: boolean,
  ) {}

  /** Starts an empty file (`direct: false` forces plain writes, as on systems without O_DIRECT). */
  static create(path: string, o: { direct?: boolean } = {}): Promise<DirectWriter> {
    return DirectWriter.openAt(path, 0, true, o.direct ?? true)
  }

  /** Reopens an unfinished file, dropping everything after `keepLength` (bytes not yet journaled). */
  static reopen(path: string, keepLength: number, o: { direct?: boolean } = {}): Promise<DirectWriter> {
    return DirectWriter.openAt(path, keepLength, false, o.direct ?? true)
  }

  private static async openAt(path: string, keep: number, fresh: boolean, tryDirect: boolean): Promise<DirectWriter> {
    // The partial block at the end comes back into the tail buffer, through the page cache.
    const head = new Uint8Array(DIRECT_BLOCK)
    if (!fresh && keep % DIRECT_BLOCK) {
      const fh = await open(path, 'r')
      try {
        await fh.read(head, 0, keep % DIRECT_BLOCK, keep - (keep % DIRECT_BLOCK))
      } finally {
        await fh.close()
      }
    }
    const base = fresh ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC : constants.O_WRONLY
    const O_DIRECT = tryDirect && process.platform === 'linux' ? constants.O_DIRECT : undefined
    if (O_DIRECT) {
      let fh: FileHandle | undefined
      try {
        fh = await open(path, base | O_DIRECT, 0o644)
        const w = new DirectWriter(path, fh, keep, true)
        w.tail.set(head)
        // A file system may accept the flag and refuse the writes: find out now, writing the tail block (or a
        // block of zeros past the end) and trimming the file back.
        await w.writeAll(w.tail, keep - (keep % DIRECT_BLOCK))
        await fh.truncate(keep)
        return w
      } catch (err) {
        await fh?.close().catch(() => {})
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
      }
    }
    const fh = await open(path, fresh ? 'w' : 'r+')
    await fh.truncate(keep)
    return new DirectWriter(path, fh, keep, false)
  }

  get position(): number {
    return this.pos
  }

  /** Whether writes bypass the page cache (false: plain writes). */
  get isDirect(): boolean {
    return this.direct
  }

  /**
   * Where in `buffer` to put bytes that will be appended at file offset `fileOffset`, so that their whole blocks
   * can be written straight from there (0 when writes are plain). `buffer` needs DIRECT_BLOCK - 1 spare bytes.
   */
  alignedOffset(buffer: Uint8Array, fileOffset: number): number {
    if (!this.direct) return 0
    const m = (fileOffset - memoryOffset(buffer)) % DIRECT_BLOCK
    return m < 0 ? m + DIRECT_BLOCK : m
  }

  /** Writes bytes at the end and returns their offset; `bytes` must stay untouched until the promise settles. */
  append(bytes: Uint8Array): Promise<number> {
    const at = this.pos
    this.pos += bytes.length
    return this.queue(() => (this.direct ? this.appendDirect(bytes, at) : this.writeAll(bytes, at))).then(() => at)
  }

  /** Makes everything appended so far durable, with the file exactly as long as what was appended. */
  async sync(): Promise<void> {
    const end = this.pos
    await this.queue(async () => {
      if (!this.direct) return
      await this.flushTail(end)
      await this.fh.truncate(end)
    })
    await this.fh.sync()
  }

  /** Writes what is left (the partial last block), trims the file to its length and closes it. */
  async close(): Promise<void> {
    try {
      const end = this.pos
      await this.queue(async () => {
        if (!this.direct) return
        await this.flushTail(end)
        await this.fh.truncate(end)
      })
    } finally {
      await this.chain.catch(() => {})
      await this.fh.close()
    }
  }

  private queue(op: () => Promise<void>): Promise<void> {
    const run = this.chain.then(op)
    // A failed write fails its caller; later operations still run in order (and fail on their own).
    this.chain = run.catch(() => {})
    return run
  }

  private async appendDirect(bytes: Uint8Array, at: number): Promise<void> {
    let p = at
    let i = 0
    const fill = p % DIRECT_BLOCK
    if (fill) {
      i = Math.min(bytes.length, DIRECT_BLOCK - fill)
      this.tail.set(bytes.subarray(0, i), fill)
      p += i
      if (p % DIRECT_BLOCK === 0) await this.writeAll(this.tail, p - DIRECT_BLOCK)
    }
    const whole = Math.floor((bytes.length - i) / DIRECT_BLOCK) * DIRECT_BLOCK
    if (whole > 0) {
      const middle = bytes.subarray(i, i + whole)
      if (memoryOffset(middle) === 0) await this.writeAll(middle, p)
      else await this.writeBounced(middle, p)
      i += whole
      p += whole
    }
    if (i < bytes.length) this.tail.set(bytes.subarray(i), 0)
  }

  /** Bytes not placed for O_DIRECT (a header, a stored chunk) go through an aligned buffer. */
  private async writeBounced(bytes: Uint8Array, at: number): Promise<void> {
    this.bounce ??= alignedView(new Uint8Array(new SharedArrayBuffer(BOUNCE_BYTES + DIRECT_BLOCK)), BOUNCE_BYTES)
    for (let i = 0; i < bytes.length; i += BOUNCE_BYTES) {
      const n = Math.min(BOUNCE_BYTES, bytes.length - i)
      copyBytes(this.bounce, bytes.subarray(i, i + n))
      await this.writeAll(this.bounce.subarray(0, n), at + i)
    }
  }

  /** Writes the partial block before `end` whole (the file runs past `end` until the next truncate or overwrite). */
  private async flushTail(end: number): Promise<void> {
    const start = end - (end % DIRECT_BLOCK)
    if (end > start) await this.writeAll(this.tail, start)
  }

  private async writeAll(bytes: Uint8Array, at: number): Promise<void> {
    let done = 0
    while (done < bytes.length) {
      const { bytesWritten } = await this.fh.write(bytes, done, bytes.length - done, at + done)
      done += bytesWritten
    }
  }
}
