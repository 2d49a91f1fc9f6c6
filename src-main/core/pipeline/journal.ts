// A per-shard journal of completed units (JSON lines). A line is written only after the bytes it describes are
// flushed, so after a crash or kill the job continues after the last journaled unit; a torn last line is ignored.
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs'

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
