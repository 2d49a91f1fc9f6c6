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
