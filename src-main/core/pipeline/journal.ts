// A per-shard journal of completed units (JSON lines). A line is written only after the bytes it describes are
// flushed, so after a crash or kill the job continues after the last journaled unit; a torn last line is ignored.
import { closeSync, fsync, fsyncSync, openSync, readFileSync, write, writeSync } from 'node:fs'
import { promisify } from 'node:util'

const writeAsync = promisify(write)
const fsyncAsync = promisify(fsync)

export class Journal<T> {
  private fd: number
  private pending: string[] = []

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a')
  }

  /** The entries of an existing journal, dropping a torn or unreadable tail. */
  static read<T>(path: string): T[] {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      return []
    }
    const out: T[] = []
    const lines = text.split('\n')
    // The last element is '' after a complete final line, or a torn line; both are dropped.
    for (const line of lines.slice(0, -1)) {
      try {
        out.push(JSON.parse(line) as T)
      } catch {
        break
      }
    }
    return out
  }

  /** Queues an entry; it reaches the file at the next flush(). */
  add(entry: T): void {
    this.pending.push(JSON.stringify(entry))
  }

  get hasPending(): boolean {
    return this.pending.length > 0
  }

  /** Takes the queued entries, to be made durable by writeDurable once the data they describe is synced. */
  take(): string[] {
    const lines = this.pending
    this.pending = []
    return lines
  }

  /** Appends taken entries and makes them durable, off the main thread (libuv's thread pool). */
  async writeDurable(lines: string[]): Promise<void> {
    if (lines.length === 0) return
    const b = Buffer.from(`${lines.join('\n')}\n`)
    let off = 0
    while (off < b.length) off += (await writeAsync(this.fd, b, off, b.length - off)).bytesWritten
    await fsyncAsync(this.fd)
  }

  /** Writes queued entries and makes them durable. Call only after the data they describe is synced. */
  flush(): void {
    if (this.pending.length === 0) return
    const text = `${this.pending.join('\n')}\n`
    this.pending = []
    const b = Buffer.from(text)
    let off = 0
    while (off < b.length) off += writeSync(this.fd, b, off)
    fsyncSync(this.fd)
  }

  close(): void {
    try {
      closeSync(this.fd)
    } catch {}
  }
}

/**
 * Makes journal entries durable behind the data they describe without stopping the job: the data file's fsync runs
 * in the background and the entries queued before it started are appended once it has completed. (An fsync that
 * the job awaited would stall every worker while a second's worth of output reaches the disk.) One commit runs at a
 * time; a failure is rethrown by the next start() or by settle().
 */
export class BackgroundCommit<T> {
  private inflight: Promise<void> | undefined
  private failure: unknown

  constructor(
    private readonly journal: Journal<T>,
    private readonly syncData: () => Promise<void>,
  ) {}

  /** Starts committing the queued entries, unless a commit is already running (they wait for the next one). */
  start(): void {
    if (this.failure !== undefined) throw this.failure
    if (this.inflight || !this.journal.hasPending) return
    const batch = this.journal.take()
    this.inflight = this.syncData()
      .then(() => this.journal.writeDurable(batch))
      .catch((err: unknown) => {
        this.failure = err ?? new Error('journal commit failed')
      })
      .finally(() => {
        this.inflight = undefined
      })
  }

  /** Waits for a running commit and rethrows its failure; afterwards the journal can be flushed in order. */
  async settle(): Promise<void> {
    await this.inflight
    if (this.failure !== undefined) throw this.failure
  }
}
