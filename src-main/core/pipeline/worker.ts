// Worker thread of the pipeline: runs the synchronous codec on one chunk at a time and measures errors, so the
// main thread only reads, writes and schedules.
import { parentPort } from 'node:worker_threads'
import { crc32 } from 'node:zlib'
import { compressChunk, decompressChunk } from '../codec'
import { errorReply } from '../util/workers'
import type { CompressResult, DecompressResult, PipelineResult, PipelineTask, StatsResult } from './tasks'
import { chunkRange, compareChunk } from './values'

/** A view that owns its whole ArrayBuffer, so it can be transferred without taking neighbours along. */
function owned(u: Uint8Array): Uint8Array {
  return u.byteOffset === 0 && u.byteLength === u.buffer.byteLength && u.buffer instanceof ArrayBuffer
    ? u
    : new Uint8Array(u)
}

function run(task: PipelineTask): { result: PipelineResult; transfer: ArrayBuffer[] } {
  const t0 = performance.now()
  switch (task.kind) {
    case 'stats': {
      const result: StatsResult = { range: chunkRange(task.bytes, task.dtype, task.firstElement, task.fp8) }
      return { result, transfer: [] }
    }
    case 'compress': {
      const { params } = task
      const compressed = owned(compressChunk(task.bytes, params))
      const result: CompressResult = { compressed, decodedCrc: 0, ms: 0 }
      if (task.measure || params.mode === 'abs') {
        const decoded = decompressChunk(compressed, params, task.elementCount)
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
      return { result, transfer: [compressed.buffer as ArrayBuffer] }
    }
    case 'decompress': {
      const { params } = task
      const decoded = owned(decompressChunk(task.compressed, params, task.elementCount))
      if (crc32(decoded) !== task.decodedCrc) {
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
