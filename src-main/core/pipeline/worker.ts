// Worker thread of the pipeline: runs the synchronous codec on one chunk at a time and measures errors, so the
// main thread only reads, writes and schedules.
import { parentPort } from 'node:worker_threads'
import { type ChunkInput, compressChunkMeasuredInto, crc32, decompressChunk, decompressChunkInto } from '../codec'
import { errorReply } from '../util/workers'
import type { CompressResult, CompressTask, DecompressResult, PipelineResult, PipelineTask } from './tasks'
import { compareChunk, DTYPE_BYTES, sameErrorSums } from './values'

/** A view that owns its whole ArrayBuffer, so it can be transferred without taking neighbours along. */
function owned(u: Uint8Array): Uint8Array {
  return u.byteOffset === 0 && u.byteLength === u.buffer.byteLength && u.buffer instanceof ArrayBuffer
    ? u
    : new Uint8Array(u)
}

/** Where a compress task decodes its chunk back: the bytes are only measured, so one buffer serves every chunk. */
let scratch = new Uint8Array(0)

function decodeScratch(compressed: ChunkInput, params: CompressTask['params'], elementCount: number, n: number) {
  if (scratch.length < n) scratch = new Uint8Array(n)
  const target = scratch.subarray(0, n)
  decompressChunkInto(compressed, params, elementCount, target)
  return target
}

function decodeTarget(
  compressed: ChunkInput,
  params: CompressTask['params'],
  elementCount: number,
  target: Uint8Array,
) {
  decompressChunkInto(compressed, params, elementCount, target)
  return target
}

function run(task: PipelineTask): { result: PipelineResult; transfer: ArrayBuffer[] } {
  const t0 = performance.now()
  switch (task.kind) {
    case 'compress': {
      const { params } = task
      // The encoder measures its own reconstruction: error sums, the bound check and the decoded CRC, no decode.
      // The chunk goes straight into the shared slot's output half.
      const eb = params.mode === 'abs' ? (task.checkEb ?? params.eb) : 0
      const m = compressChunkMeasuredInto(task.bytes, params, eb, task.target, {
        inputCrc: task.inputCrc === undefined,
      })
      if (task.decodeCheck) {
        // The pipeline reads chunks into memory for this check (it compares byte by byte here).
        if (!(task.bytes instanceof Uint8Array)) throw new Error('decodeCheck needs the chunk in memory')
        const decoded = decodeScratch(task.target.subarray(0, m.length), params, task.elementCount, task.bytes.length)
        const sums = compareChunk(task.bytes, decoded, params.dtype, eb, params.firstElement, params.fp8)
        if (crc32(decoded) >>> 0 !== m.decodedCrc >>> 0 || !sameErrorSums(sums, m.sums)) {
          throw Object.assign(new Error('A chunk decodes to other values than its encoder measured'), {
            name: 'ContainerError',
            code: 'DECODED_MISMATCH',
            file: task.file,
            tensor: task.tensor,
          })
        }
      }
      const result: CompressResult = {
        length: m.length,
        decodedCrc: m.decodedCrc,
        inputCrc: m.inputCrc ?? task.inputCrc!,
        compressedCrc: m.compressedCrc,
        sums: m.sums,
        ms: performance.now() - t0,
      }
      return { result, transfer: [] }
    }
    case 'decompress': {
      const { params } = task
      if (task.compressedCrc !== undefined && crc32(task.compressed) !== task.compressedCrc >>> 0)
        throw Object.assign(new Error('A compressed chunk does not match its recorded checksum'), {
          name: 'ContainerError',
          code: 'CORRUPT_CHUNK',
          file: task.file,
          tensor: task.tensor,
        })
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
      result.ms = performance.now() - t0
      // Decoded into the task's (shared) target: the main thread reads it there. Otherwise hand the bytes over.
      if (!task.keep || task.target) return { result, transfer: [] }
      result.decoded = decoded
      return { result, transfer: [decoded.buffer as ArrayBuffer] }
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
