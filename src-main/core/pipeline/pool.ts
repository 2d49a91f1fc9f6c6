// The pipeline's worker pool: one worker per core by default, each running worker.ts on one chunk at a time.
import { adviseHugePages, memoryOffset } from '../codec'
import { defaultWorkerCount, siblingWorkerUrl, WorkerPool } from '../util/workers'
import type { PipelineResult, PipelineTask } from './tasks'

export type PipelinePool = WorkerPool<PipelineTask, PipelineResult>

export function createPipelinePool(workers?: number): PipelinePool {
  return new WorkerPool<PipelineTask, PipelineResult>(
    siblingWorkerUrl(import.meta.url, 'worker'),
    Math.max(1, workers ?? defaultWorkerCount()),
    // Each worker holds its next chunk already: no idle round trip through the main thread between chunks.
    { depth: 2 },
  )
}

/** Chunks in flight that keep every worker of `pool` busy, with one more being read or written. */
export function chunkWindow(pool: { size: number; tasksPerWorker: number }): number {
  return pool.size * (pool.tasksPerWorker + 1) + 1
}

/**
 * Bytes of a file mapped at once when chunks are read through mappings (the original by compress, containers by
 * reconstruct and verify): one mapping per window instead of one read per chunk saves the copy of every byte and
 * the round trips through libuv's threads, and the thread switches they cost.
 */
export const MAP_WINDOW_BYTES = 64 << 20

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

const HUGE_PAGE = 2 << 20

/**
 * A shared buffer of `bytes` starting on a 2 MiB boundary, backed by huge pages where the system grants them. Chunk
 * outputs are decoded into and written from with O_DIRECT, which pins every page of a write: 2 pages per chunk
 * instead of 1,024 (a reconstruction spent about as much CPU writing as a sixth of its decoding, most of it there).
 * Below 2 MiB, a plain buffer.
 */
function hugeBuffer(bytes: number): Uint8Array {
  if (bytes < HUGE_PAGE) return new Uint8Array(new SharedArrayBuffer(bytes))
  const all = new Uint8Array(new SharedArrayBuffer(bytes + HUGE_PAGE))
  const skip = (HUGE_PAGE - memoryOffset(all, HUGE_PAGE)) % HUGE_PAGE
  const view = all.subarray(skip, skip + bytes)
  adviseHugePages(view)
  return view
}

/** A chunk's buffers: the raw bytes read from the shard, and room for its compressed form. */
export interface ChunkSlot {
  input: Uint8Array
  output: Uint8Array
  /** The original chunk, when a reconstruction is checked against it. */
  reference: Uint8Array
}

/**
 * Chunk buffers in SharedArrayBuffers, shared with the workers rather than moved to them and back: the main
 * thread reads a chunk into a slot, a worker compresses it into the slot's output half, the main thread writes
 * that out and reuses the slot. Nothing is allocated per chunk; moved ArrayBuffers would each count as fresh
 * external memory and cost the main thread a full garbage collection every few dozen chunks.
 */
export class ChunkSlots {
  private readonly free: ChunkSlot[] = []

  /** A slot with at least these capacities (its contents are undefined). */
  take(inputBytes: number, outputBytes = 0, referenceBytes = 0): ChunkSlot {
    const none = new Uint8Array(0)
    const s = this.free.pop() ?? { input: none, output: none, reference: none }
    if (s.input.length < inputBytes) s.input = new Uint8Array(new SharedArrayBuffer(inputBytes))
    if (s.output.length < outputBytes) s.output = hugeBuffer(outputBytes)
    if (s.reference.length < referenceBytes) s.reference = new Uint8Array(new SharedArrayBuffer(referenceBytes))
    return s
  }

  give(s: ChunkSlot | undefined): void {
    if (s && !this.free.includes(s)) this.free.push(s)
  }
}
