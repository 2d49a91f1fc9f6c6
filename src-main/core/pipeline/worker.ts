// Worker thread of the pipeline: runs the synchronous codec on one chunk at a time and measures errors, so the
// main thread only reads, writes and schedules.
import { parentPort } from 'node:worker_threads'
import { crc32 } from 'node:zlib'
import { chunkValueRange, compressChunk, decompressChunk, decompressChunkInto } from '../codec'
import { errorReply } from '../util/workers'
import type { CompressResult, CompressTask, DecompressResult, PipelineResult, PipelineTask, StatsResult } from './tasks'
import { compareChunk, DTYPE_BYTES } from './values'

/** A view that owns its whole ArrayBuffer, so it can be transferred without taking neighbours along. */
function owned(u: Uint8Array): Uint8Array {
  return u.byteOffset === 0 && u.byteLength === u.buffer.byteLength && u.buffer instanceof ArrayBuffer
    ? u
    : new Uint8Array(u)
}

/** Where a compress task decodes its chunk back: the bytes are only measured, so one buffer serves every chunk. */
let scratch = new Uint8Array(0)

function decodeScratch(compressed: Uint8Array, params: CompressTask['params'], elementCount: number, n: number) {
  if (scratch.length < n) scratch = new Uint8Array(n)
  const target = scratch.subarray(0, n)
  decompressChunkInto(compressed, params, elementCount, target)
  return target
}

function decodeTarget(
  compressed: Uint8Array,
  params: CompressTask['params'],
  elementCount: number,
  target: Uint8Array,
) {
  decompressChunkInto(compressed, params, elementCount, target)
  return target
}

/** The buffer behind a view that owns all of it, to hand back without copying; none for a shared one. */
function transferable(u: Uint8Array): ArrayBuffer[] {
  return u.byteOffset === 0 &&
    u.byteLength === u.buffer.byteLength &&
    u.buffer instanceof ArrayBuffer &&
    u.byteLength > 0
    ? [u.buffer]
    : []
}

function run(task: PipelineTask): { result: PipelineResult; transfer: ArrayBuffer[] } {
  const t0 = performance.now()
  switch (task.kind) {
    case 'stats': {
      const result: StatsResult = { range: chunkValueRange(task.bytes, task.dtype, task.firstElement, task.fp8) }
      const back = transferable(task.bytes)
      if (back.length > 0) result.input = task.bytes
      return { result, transfer: back }
    }
    case 'compress': {
      const { params } = task
      const compressed = owned(compressChunk(task.bytes, params))
      const result: CompressResult = { compressed, decodedCrc: 0, ms: 0 }
      if (task.measure || params.mode === 'abs') {
        const decoded = decodeScratch(compressed, params, task.elementCount, task.bytes.length)
        result.decodedCrc = crc32(decoded)
        if (task.measure) {
          const eb = params.mode === 'abs' ? (task.checkEb ?? params.eb) : 0
          result.sums = compareChunk(task.bytes, decoded, params.dtype, eb, params.firstElement, params.fp8)
        }
      } else {
        // Lossless: the decoder must give back the input, so its CRC is the input's.
        result.decodedCrc = crc32(task.bytes)
      }
      result.ms = performance.now() - t0
      const back = transferable(task.bytes)
      if (back.length > 0 && task.bytes.buffer !== compressed.buffer) result.input = task.bytes
      return { result, transfer: [compressed.buffer as ArrayBuffer, ...(result.input ? back : [])] }
    }
    case 'decompress': {
      const { params } = task
      // Verify-only work measures the bytes and drops them: decode into the scratch buffer instead of a fresh one.
      const decoded = task.keep
        ? task.target
          ? decodeTarget(task.compressed, params, task.elementCount, task.target)
          : owned(decompressChunk(task.compressed, params, task.elementCount))
        : decodeScratch(task.compressed, params, task.elementCount, task.elementCount * DTYPE_BYTES[params.dtype]!)
      if (task.checkCrc && crc32(decoded) !== task.decodedCrc) {
        throw Object.assign(new Error('A decoded chunk does not match its recorded checksum'), {
          name: 'ContainerError',
          code: 'DECODED_MISMATCH',
          file: task.file,
          tensor: task.tensor,
        })
      }
      const result: DecompressResult = { ms: 0 }
      if (task.original) {
        const eb = params.mode === 'abs' ? params.eb : 0
        result.sums = compareChunk(task.original, decoded, params.dtype, eb, params.firstElement, params.fp8)
      }
      if (task.keep) result.decoded = decoded
      result.ms = performance.now() - t0
      return { result, transfer: task.keep ? [decoded.buffer as ArrayBuffer] : [] }
    }
  }
}

parentPort?.on('message', (msg: { id: number; task: PipelineTask }) => {
  try {
    const { result, transfer } = run(msg.task)
    parentPort!.postMessage({ id: msg.id, type: 'result', result }, transfer)
  } catch (err) {
    parentPort!.postMessage(errorReply(msg.id, err))
  }
})
