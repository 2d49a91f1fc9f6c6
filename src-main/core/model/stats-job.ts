// One unit of statistics work: an element range of one tensor, read from its shard in bounded pieces.
// Runs inside a stats worker (stats-worker.ts); kept separate so tests can run it in-process too.
import { closeSync, openSync, readSync } from 'node:fs'
import { bytesPerElement, codesOf, codeTable, decodeToFloat64, hasCodeTable, type NumericDtype } from './decode'
import {
  type BlockScaleSpec,
  blockStatsMapped,
  CodeCounter,
  countBlockCodes,
  countCodes,
  EXACT_LIMIT,
  emptyFine,
  emptyMoments,
  finishStats,
  type PartialStats,
  type SamplePart,
  samplePositions,
  scanValues,
  type TensorStats,
} from './stats'
import { statsKernel } from './stats-native'

/** SHARDPRESS_STATS_MMAP=0 reads FP8 weights through a buffer instead of mapping them (comparison, or a platform
 * where mapping misbehaves). */
const MAP_FILES = process.env.SHARDPRESS_STATS_MMAP !== '0'

export interface StatsJob {
  path: string
  tensor: string
  dtype: NumericDtype
  /** File offset of the tensor's first element. */
  dataOffset: number
  /** Elements in the whole tensor. */
  elements: number
  /** Element range of this job; for block-scaled FP8 it starts on a block row. */
  start: number
  end: number
  seed: number
  /** Values to keep in the tensor's sample (the inventory lowers it for models with very many tensors). */
  sampleSize?: number
  blocks?: BlockScaleSpec
}

export interface StatsTask {
  jobs: StatsJob[]
  /** Largest read, in bytes (16–64 MB keeps memory bounded and reads efficient). */
  readBytes: number
}

/** Reads into a reusable buffer: one per worker. */
export class PieceReader {
  private buf: Uint8Array
  private fds = new Map<string, number>()
  private counts = new Uint32Array(0)

  constructor(size: number) {
    this.buf = new Uint8Array(new ArrayBuffer(size))
  }

  /** The open file descriptor of `path` (kept open for later pieces). */
  fd(path: string): number {
    let fd = this.fds.get(path)
    if (fd === undefined) {
      if (this.fds.size >= 8) this.closeAll()
      fd = openSync(path, 'r')
      this.fds.set(path, fd)
    }
    return fd
  }

  read(path: string, position: number, length: number): Uint8Array {
    if (this.buf.byteLength < length) this.buf = new Uint8Array(new ArrayBuffer(length))
    const fd = this.fd(path)
    let done = 0
    while (done < length) {
      const n = readSync(fd, this.buf, done, length - done, position + done)
      if (n === 0) {
        const err = new Error(`${path} ended early while reading tensor data`) as Error & { code: string; file: string }
        err.code = 'INCOMPLETE_BUFFER'
        err.file = path
        throw err
      }
      done += n
    }
    return this.buf.subarray(0, length)
  }

  /**
   * A zeroed count table of `size` entries, reused from job to job: for counts that are finished in this thread
   * (a fresh table of up to a megabyte per tensor drives garbage collection in the workers).
   */
  scratchCounts(size: number): Uint32Array {
    if (this.counts.length < size) this.counts = new Uint32Array(size)
    const t = this.counts.subarray(0, size)
    t.fill(0)
    return t
  }

  closeAll(): void {
    for (const fd of this.fds.values()) closeSync(fd)
    this.fds.clear()
  }
}

/** Runs one job; `onBytes` is told how many bytes each piece read. */
export function runStatsJob(
  job: StatsJob,
  reader: PieceReader,
  readBytes: number,
  onBytes?: (n: number) => void,
): PartialStats {
  const mapped = wholeTensorMapped(job, reader)
  if (mapped) {
    onBytes?.(job.elements)
    return { kind: 'final', start: 0, end: job.elements, stats: mapped, sample: { index: [], value: [] } }
  }
  const part = scanJob(job, reader, readBytes, onBytes)
  // A job that covers its whole tensor finishes here, in the worker, and sends back only the result.
  if (job.start === 0 && job.end === job.elements) {
    const stats = finishStats(job.dtype, job.elements, [part], job.blocks)
    return { kind: 'final', start: 0, end: job.elements, stats, sample: { index: [], value: [] } }
  }
  return part
}

/**
 * A whole block-scaled F8_E4M3 tensor through the kernel's vector path (no per-block code counts), or null where it
 * does not apply: the JavaScript kernel, mapping turned off, a partial job, a small tensor, or the kernel declines.
 */
function wholeTensorMapped(job: StatsJob, reader: PieceReader): TensorStats | null {
  const { blocks } = job
  const kernel = statsKernel()
  if (!kernel || !MAP_FILES || !blocks || job.dtype !== 'F8_E4M3') return null
  if (job.start !== 0 || job.end !== job.elements || job.elements <= EXACT_LIMIT) return null
  if (blocks.rows * blocks.cols !== job.elements) return null
  const table = codeTable(job.dtype)
  const positions = samplePositions(job.elements, 0, job.elements, job.seed, job.sampleSize)
  const offsets = Float64Array.from(positions)
  const codes = new Uint8Array(positions.length)
  const base = blockStatsMapped(kernel, reader.fd(job.path), job.dataOffset, blocks, table, offsets, codes)
  if (!base) return null
  const { cols, blockRows, blockCols, scaleCols, scales } = blocks
  const sample = positions.map((p, i) => {
    const row = Math.floor(p / cols)
    const col = p - row * cols
    return table[codes[i]!]! * scales[Math.floor(row / blockRows) * scaleCols + Math.floor(col / blockCols)]!
  })
  return { ...base, sample, sampleIndex: positions, dequantized: true }
}

function scanJob(job: StatsJob, reader: PieceReader, readBytes: number, onBytes?: (n: number) => void): PartialStats {
  const bpe = bytesPerElement(job.dtype)
  const positions = samplePositions(job.elements, job.start, job.end, job.seed, job.sampleSize)
  const sample: SamplePart = { index: positions, value: [] }
  let si = 0
  const { blocks } = job
  // A whole-tensor job is finished by runStatsJob right here, so its counts can live in the reader's scratch table.
  const counterOf = (size: number) =>
    job.start === 0 && job.end === job.elements && statsKernel()
      ? new CodeCounter(size, 1, [reader.scratchCounts(size)])
      : CodeCounter.forKernel(size)

  if (job.start === 0 && job.end === job.elements && job.elements <= EXACT_LIMIT) {
    const bytes = reader.read(job.path, job.dataOffset, job.elements * bpe)
    const values = decodeToFloat64(job.dtype, bytes)
    if (blocks) {
      const { cols, blockRows, blockCols, scaleCols, scales } = blocks
      for (let i = 0; i < values.length; i++) {
        const r = Math.floor(i / cols)
        const c = i - r * cols
        values[i] = values[i]! * scales[Math.floor(r / blockRows) * scaleCols + Math.floor(c / blockCols)]!
      }
    }
    for (const p of positions) sample.value.push(values[p]!)
    onBytes?.(bytes.length)
    return { kind: 'exact', start: job.start, end: job.end, values, sample }
  }

  if (blocks) {
    const { cols, blockRows, scaleCols, blockCols } = blocks
    const table = codeTable(job.dtype)
    const rowStart0 = job.start / cols
    const rowEnd = Math.ceil(job.end / cols)
    const blockRowStart = Math.floor(rowStart0 / blockRows)
    const blockRowEnd = Math.ceil(rowEnd / blockRows)
    const counter = counterOf((blockRowEnd - blockRowStart) * scaleCols * 256)
    // Whole block rows per read where they fit, so counting can go block by block.
    const fit = Math.floor(readBytes / cols)
    const rowsPerPiece = fit >= blockRows ? fit - (fit % blockRows) : Math.max(1, fit)
    const kernel = statsKernel()
    const sampleValue = (p: number, code: number) => {
      const row = Math.floor(p / cols)
      const col = p % cols
      return table[code] * blocks.scales[Math.floor(row / blockRows) * scaleCols + Math.floor(col / blockCols)]
    }
    for (let r = rowStart0; r < rowEnd; r += rowsPerPiece) {
      const nRows = Math.min(rowsPerPiece, rowEnd - r)
      const first = r * cols
      const last = first + nRows * cols
      let sj = si
      while (sj < positions.length && positions[sj] < last) sj++
      if (kernel && MAP_FILES) {
        // Mapped rather than read where the platform allows: no copy of the piece through a buffer.
        const offsets = new Float64Array(sj - si)
        for (let k = si; k < sj; k++) offsets[k - si] = positions[k] - first
        const codes = new Uint8Array(offsets.length)
        const fd = reader.fd(job.path)
        if (
          kernel.countBlockCodesAt(
            fd,
            job.dataOffset + first,
            nRows,
            r,
            cols,
            blockRows,
            blockCols,
            scaleCols,
            blockRowStart,
            counter.lanes[0]!,
            offsets,
            codes,
          )
        ) {
          for (let k = si; k < sj; k++) sample.value.push(sampleValue(positions[k], codes[k - si]))
          si = sj
          onBytes?.(nRows * cols)
          continue
        }
      }
      const bytes = reader.read(job.path, job.dataOffset + first, nRows * cols)
      countBlockCodes(bytes, r, cols, blocks, blockRowStart, counter)
      for (; si < sj; si++) sample.value.push(sampleValue(positions[si], bytes[positions[si] - first]))
      onBytes?.(bytes.length)
    }
    return { kind: 'blocks', start: job.start, end: job.end, blockRowStart, counts: counter.total(), sample }
  }

  const perPiece = Math.max(1, Math.floor(readBytes / bpe))
  if (hasCodeTable(job.dtype)) {
    const table = codeTable(job.dtype)
    const counter = counterOf(table.length)
    for (let e = job.start; e < job.end; e += perPiece) {
      const n = Math.min(perPiece, job.end - e)
      const codes = codesOf(job.dtype, reader.read(job.path, job.dataOffset + e * bpe, n * bpe))
      countCodes(codes, counter)
      while (si < positions.length && positions[si] < e + n) {
        sample.value.push(table[codes[positions[si] - e]])
        si++
      }
      onBytes?.(n * bpe)
    }
    return { kind: 'codes', start: job.start, end: job.end, counts: counter.total(), sample }
  }

  const moments = emptyMoments()
  const fine = emptyFine()
  let scratch: Float64Array | undefined
  for (let e = job.start; e < job.end; e += perPiece) {
    const n = Math.min(perPiece, job.end - e)
    const bytes = reader.read(job.path, job.dataOffset + e * bpe, n * bpe)
    let values: Float32Array | Float64Array
    if (job.dtype === 'F32' && bytes.byteOffset % 4 === 0) values = new Float32Array(bytes.buffer, bytes.byteOffset, n)
    else {
      scratch = decodeToFloat64(job.dtype, bytes, scratch)
      values = scratch
    }
    scanValues(values, moments, fine)
    while (si < positions.length && positions[si] < e + n) {
      sample.value.push(values[positions[si] - e])
      si++
    }
    onBytes?.(n * bpe)
  }
  return { kind: 'values', start: job.start, end: job.end, moments, fine, sample }
}
