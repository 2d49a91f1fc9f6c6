// Outputs appear atomically: everything is written to `<name>.partial-<pid>` and renamed into place at the end,
// so a crash or a cancelled job never leaves a half-written file under the final name.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs'

/** Writing an output failed; names the output (not its temporary name). */
export class OutputError extends Error {
  readonly code = 'WRITE_FAILED'
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    const reason = ((cause as Error)?.message ?? String(cause)).replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')
    super(`Could not write ${file}: ${reason}.`, { cause })
    this.name = 'OutputError'
  }
}

/** The temporary name an output has while it is being written. */
export function partialPath(finalPath: string): string {
  return `${finalPath}.partial-${process.pid}`
}

/** Writes a whole file atomically (small outputs: JSON, CSV, config files). */
export function writeFileAtomic(finalPath: string, data: string | Uint8Array): void {
  const tmp = partialPath(finalPath)
  try {
    writeFileSync(tmp, data)
    renameSync(tmp, finalPath)
  } catch (err) {
    rmSync(tmp, { force: true })
    throw new OutputError(finalPath, err)
  }
}

/** A file written piece by piece that only takes its final name on `commit()`. */
export class AtomicFile {
  readonly tmpPath: string
  private fd: number | null
  private position = 0

  constructor(readonly finalPath: string) {
    this.tmpPath = partialPath(finalPath)
    try {
      this.fd = openSync(this.tmpPath, 'w')
    } catch (err) {
      throw new OutputError(finalPath, err)
    }
  }

  get bytesWritten(): number {
    return this.position
  }

  write(chunk: Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.finalPath} is already closed`)
    let off = 0
    while (off < chunk.byteLength) {
      off += writeSync(this.fd, chunk, off, chunk.byteLength - off, this.position + off)
    }
    this.position += chunk.byteLength
  }

  commit({ sync = false } = {}): void {
    if (this.fd === null) throw new Error(`${this.finalPath} is already closed`)
    if (sync) fsyncSync(this.fd)
    closeSync(this.fd)
    this.fd = null
    renameSync(this.tmpPath, this.finalPath)
  }

  abort(): void {
    if (this.fd !== null) closeSync(this.fd)
    this.fd = null
    rmSync(this.tmpPath, { force: true })
  }
}
