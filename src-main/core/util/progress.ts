// Progress events that long jobs emit, and a throttle so a fast loop does not flood its listener.

export interface ProgressEvent {
  /** What is being done, in the user's words ('inventory', 'synth'). */
  phase: string
  bytesDone: number
  bytesTotal: number
  tensorsDone: number
  tensorsTotal: number
  /** File currently being read or written (basename). */
  current?: string
}

export type ProgressListener = (event: ProgressEvent) => void

/** Calls `listener` at most every `intervalMs`, and always for the final event (done === total). */
export function throttleProgress(listener: ProgressListener | undefined, intervalMs = 100): ProgressListener {
  let last = 0
  return (event) => {
    if (!listener) return
    const now = Date.now()
    const final = event.bytesDone >= event.bytesTotal && event.tensorsDone >= event.tensorsTotal
    if (final || now - last >= intervalMs) {
      last = now
      listener(event)
    }
  }
}
