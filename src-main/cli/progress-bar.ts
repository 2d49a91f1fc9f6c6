// A one-line progress bar on stderr when it is a terminal; silent otherwise (pipes, CI logs, tests).
import type { ProgressEvent, ProgressListener } from '../core/util/progress'

const WIDTH = 30

export function formatBytes(n: number): string {
  // Decimal units, as disk sizes and Hugging Face's shard sizes are given.
  if (n < 1000) return `${n} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let v = n / 1000
  let i = 0
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000
    i++
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

export interface ProgressBar {
  listener: ProgressListener
  /** Erases the bar (call before printing results). */
  done(): void
}

export function progressBar(stream: NodeJS.WriteStream & { isTTY?: boolean }): ProgressBar {
  if (!stream.isTTY) return { listener: () => {}, done: () => {} }
  let shown = false
  let last = 0
  const started = Date.now()
  const listener = (e: ProgressEvent) => {
    const now = Date.now()
    if (now - last < 80 && e.bytesDone < e.bytesTotal) return
    last = now
    const frac = e.bytesTotal > 0 ? Math.min(1, e.bytesDone / e.bytesTotal) : 0
    const fill = Math.round(frac * WIDTH)
    const secs = (now - started) / 1000
    const rate = secs > 0 ? `${formatBytes(e.bytesDone / secs)}/s` : ''
    const cols = (stream as { columns?: number }).columns ?? 100
    const line = `${e.phase} [${'#'.repeat(fill)}${' '.repeat(WIDTH - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(e.bytesDone)}/${formatBytes(e.bytesTotal)} ${e.tensorsDone}/${e.tensorsTotal} tensors ${rate} ${e.current ?? ''}`
    stream.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length))}\x1b[K`)
    shown = true
  }
  return {
    listener,
    done: () => {
      if (shown) stream.write('\r\x1b[K')
      shown = false
    },
  }
}
