// The pipeline's worker pool: one worker per core by default, each running worker.ts on one chunk at a time.
import { defaultWorkerCount, siblingWorkerUrl, WorkerPool } from '../util/workers'
import type { PipelineResult, PipelineTask } from './tasks'

export type PipelinePool = WorkerPool<PipelineTask, PipelineResult>

export function createPipelinePool(workers?: number): PipelinePool {
  return new WorkerPool<PipelineTask, PipelineResult>(
    siblingWorkerUrl(import.meta.url, 'worker'),
    Math.max(1, workers ?? defaultWorkerCount()),
  )
}

/** Elements per chunk the pipeline aims for (chunks start on row boundaries): 2 Mi, in the 1–4 M range. */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 21

/** Elements per row the codec sees, and how many elements one chunk holds. */
export function chunking(
  shape: number[],
  target = DEFAULT_CHUNK_ELEMENTS,
): { rowLength: number; chunkElements: number } {
  const n = shape.reduce((a, b) => a * b, 1)
  if (shape.length <= 1) {
    // A vector has no rows; cut it into plain chunks.
    const len = Math.max(1, Math.min(n, target))
    return { rowLength: len, chunkElements: len }
  }
  const rowLength = Math.max(1, shape[shape.length - 1]!)
  const rows = Math.max(1, Math.floor(target / rowLength))
  return { rowLength, chunkElements: rows * rowLength }
}

/**
 * Chunk-sized buffers that came back from the workers, reused for the next chunk: a fresh multi-MB buffer per chunk
 * costs page faults and zeroing on every chunk. Holds a few buffers of a few sizes only.
 */
export class BufferRecycler {
  private readonly free = new Map<number, ArrayBuffer[]>()

  constructor(private readonly keep = 8) {}

  /** A buffer of exactly `size` bytes; its old contents are undefined (callers overwrite it whole). */
  take(size: number): Uint8Array {
    const b = this.free.get(size)?.pop()
    return b ? new Uint8Array(b) : new Uint8Array(size)
  }

  give(u: Uint8Array | undefined): void {
    if (!u || !(u.buffer instanceof ArrayBuffer) || u.byteOffset !== 0 || u.byteLength !== u.buffer.byteLength) return
    if (u.byteLength === 0) return
    let list = this.free.get(u.byteLength)
    if (!list) {
      if (this.free.size >= 4) this.free.clear()
      list = []
      this.free.set(u.byteLength, list)
    }
    if (list.length < this.keep) list.push(u.buffer)
  }
}
