// Compresses a model folder into one container per shard: tensors are read in row-aligned chunks, compressed by a
// worker pool, written in order and journaled per tensor, so the job resumes after a kill from the last tensor.
import { createHash, type Hash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { rename } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import {
  type ChunkInput,
  CODEC_VERSION,
  CodecError,
  chunkValueRange,
  chunkValueRangeAsync,
  crc32,
  crc32Combine,
  type MappedRegion,
  mapFileRegion,
  mappingSupported,
  maxCompressedChunkSize,
  resolveBound,
  sliceRegion,
  unmapFileRegion,
} from '../codec'
import type { ChunkCodecParams, CodecDtype, Fp8BlockScales } from '../codec/types'
import { ContainerError } from '../container/errors'
import {
  type ChunkEntry,
  CONTAINER_SUFFIX,
  CONTAINER_VERSION,
  type StorageMethod,
  type TensorRecord,
} from '../container/format'
import { ContainerWriter } from '../container/writer'
import { classifyTensor } from '../model/roles'
import { type CompressionPlan, planFingerprint, resolvePlan, type TensorChoice } from '../plan/plan'
import type { SafetensorsFile, TensorInfo } from '../safetensors'
import { ShardedSafetensors } from '../safetensors'
import { CancelledError } from '../util/workers'
import { commitPartial, copyFileAtomic, findPartial, partialName, removeStalePartials, writeFileAtomic } from './atomic'
import { type CompressedModel, DESCRIPTOR_NAME, fp8BlockSize, JOB_DIR_NAME, sideFiles } from './compressed-model'
import { BackgroundCommit, Journal } from './journal'
import {
  type ChunkSlot,
  ChunkSlots,
  chunking,
  chunkWindow,
  createPipelinePool,
  DEFAULT_CHUNK_ELEMENTS,
  MAP_WINDOW_BYTES,
  type PipelinePool,
} from './pool'
import { nextRunName, type RunManifest, type ShardTotals, type TensorMetrics, writeRun } from './runs'
import type { CompressResult, CompressTask } from './tasks'
import { addSums, chunkValues, type ErrorSums, emptySums, isCodecDtype, metricsOf } from './values'

export const TOOL_VERSION = '0.1.0'

export interface JobProgress {
  phase: 'compress' | 'decompress' | 'verify' | 'finish'
  bytesDone: number
  bytesTotal: number
  tensorsDone: number
  tensorsTotal: number
  /** Shard (file name) being worked on. */
  current?: string
  tensor?: string
  etaSeconds?: number
}

export interface CompressJobOptions {
  model: string
  outDir: string
  plan: CompressionPlan
  workers?: number
  /** A pool to share across jobs (sweeps); the job then leaves it open. */
  pool?: PipelinePool
  chunkElements?: number
  /** sha256 (default) of every tensor stored exactly, besides the CRC-32 of all; or CRC-32 only. */
  digest?: 'sha256' | 'crc32'
  /**
   * Also decode every lossy chunk back in its worker and check it against what the encoder measured (same CRC,
   * same error sums). Off by default: the encoder measures the error on its own reconstruction, and the codec
   * checks every decoded chunk against the checksum it stored, so this only doubles as a codec self-test.
   */
  decodeCheck?: boolean
  /** Where manifest.json and metrics.csv go; default `<outDir>/runs/run_NNN`. */
  runDir?: string
  label?: string
  /**
   * Compress lossy chunks straight from a memory mapping of the original (default, where the system can map files)
   * or from buffers they are read into (false). The output is the same either way.
   */
  mapChunks?: boolean
  /**
   * Bytes of the original mapped at once (default MAP_WINDOW_BYTES; whole chunks, at least one). A tensor up to
   * this size is mapped once for its range pass and its compressing both; a larger one window after window in each.
   */
  mapWindowBytes?: number
  /** Tests only: check the measured error against eb × this factor (0 forces the lossless fallback). */
  checkBoundScale?: number
  /** Journal (and fsync) completed tensors at most this often; 0 = after every tensor. Default 1000 ms. */
  commitIntervalMs?: number
  signal?: AbortSignal
  onProgress?: (p: JobProgress) => void
}

export interface CompressJobOutcome {
  outDir: string
  runDir: string
  manifest: RunManifest
  metrics: TensorMetrics[]
}

interface JobState {
  fingerprint: string
  runDir: string
  startedAt: string
  resumes: number
}

interface JournalEntry {
  record?: SerializedRecord
  end?: number
  metrics?: TensorMetrics
  finished?: boolean
  size?: number
}

type SerializedRecord = Omit<TensorRecord, 'sha256'> & { sha256?: string }

const serialize = (r: TensorRecord): SerializedRecord => ({ ...r, sha256: r.sha256?.toString('hex') })
export const deserializeRecord = (r: SerializedRecord): TensorRecord => {
  const { sha256, ...rest } = r
  // JSON turns NaN into null: an unknown range.
  rest.min = rest.min ?? Number.NaN
  rest.max = rest.max ?? Number.NaN
  return sha256 ? { ...rest, sha256: Buffer.from(sha256, 'hex') } : rest
}

/** JSON turns ±Infinity and NaN into null; an exact tensor's PSNR is +Infinity. */
const reviveMetrics = (m: TensorMetrics): TensorMetrics => {
  const out = { ...m }
  for (const k of ['meanAbsErr', 'maxAbsErr', 'rmse', 'overBoundShare'] as const) out[k] = out[k] ?? Number.NaN
  out.psnr = out.psnr ?? Number.POSITIVE_INFINITY
  return out
}

/** Commit journaled work at least this often (bytes written / milliseconds), trading fsyncs for redo on a crash. */
const SYNC_BYTES = 64 << 20
/** REL tensors up to this size are read once: the range pass keeps their chunks for compressing (≤ 2× in memory). */
const RETAIN_BYTES = 64 << 20
const SYNC_MS = 1000
/** Compressed chunks whose writes may be waiting at once, behind the thread that takes results. */
const MAX_WRITES = 4
/** Bytes of upcoming tensors whose range passes run ahead of compressing (besides the next tensor, always). */
const LOOKAHEAD_BYTES = 48 << 20

export async function compressModel(o: CompressJobOptions): Promise<CompressJobOutcome> {
  const t0 = Date.now()
  const outDir = resolve(o.outDir)
  const model = await ShardedSafetensors.open(o.model)
  const ownPool = !o.pool
  let pool: PipelinePool | undefined = o.pool
  try {
    const modelDir = model.dir
    // Workers start first: their start-up overlaps the job's own setting up on this thread.
    pool ??= createPipelinePool(o.workers)
    const chunkElements = o.chunkElements ?? DEFAULT_CHUNK_ELEMENTS
    const digest = o.digest ?? 'sha256'
    const decodeCheck = o.decodeCheck ?? false
    mkdirSync(outDir, { recursive: true })
    const jobDir = join(outDir, JOB_DIR_NAME)
    const fingerprint = createHash('sha256')
      .update(
        JSON.stringify({
          plan: planFingerprint(o.plan),
          source: resolve(o.model),
          shards: model.shards.map((s) => [basename(s.path), s.fileSize, statSync(s.path).mtimeMs]),
          chunkElements,
          digest,
          codec: CODEC_VERSION,
        }),
      )
      .digest('hex')
    let state = readState(jobDir)
    if (state && state.fingerprint === fingerprint) {
      state.resumes++
    } else {
      rmSync(jobDir, { recursive: true, force: true })
      const runsDir = join(outDir, 'runs')
      state = {
        fingerprint,
        runDir: o.runDir ? resolve(o.runDir) : join(runsDir, nextRunName(runsDir)),
        startedAt: new Date(t0).toISOString(),
        resumes: 0,
      }
    }
    mkdirSync(jobDir, { recursive: true })
    await writeFileAtomic(join(jobDir, 'state.json'), JSON.stringify(state))

    const job = new CompressJob(model, modelDir, outDir, jobDir, o, pool, chunkElements, digest, decodeCheck)
    const shardTotals: ShardTotals[] = []
    const rows: TensorMetrics[] = []
    for (const shard of model.shards) {
      const r = await job.shard(shard)
      shardTotals.push(r.totals)
      rows.push(...r.metrics)
    }

    const files = sideFiles(modelDir)
    // Side files are independent: copied at once, their fsyncs overlap (the descriptor, written after, names them).
    await Promise.all(files.map((f) => copyFileAtomic(join(modelDir, f), join(outDir, f))))
    const originalBytes = shardTotals.reduce((a, s) => a + s.originalBytes, 0)
    const compressedBytes = shardTotals.reduce((a, s) => a + s.compressedBytes, 0)
    const descriptor: CompressedModel = {
      format: 'shardpress-compressed-model',
      version: 1,
      source: model.index ? resolve(modelDir) : resolve(model.shards.length === 1 ? o.model : modelDir),
      shards: shardTotals.map((s) => ({
        file: s.file,
        container: s.container,
        originalBytes: s.originalBytes,
        compressedBytes: s.compressedBytes,
      })),
      files,
      plan: o.plan,
      codecVersion: CODEC_VERSION,
      run: state.runDir,
    }
    await writeFileAtomic(join(outDir, DESCRIPTOR_NAME), `${JSON.stringify(descriptor, null, 2)}\n`)
    const finished = Date.now()
    const manifest: RunManifest = {
      run: basename(state.runDir),
      kind: 'compress',
      tool: { name: 'shardpress', version: TOOL_VERSION },
      codecVersion: CODEC_VERSION,
      containerVersion: CONTAINER_VERSION,
      node: process.version,
      model: resolve(o.model),
      output: outDir,
      plan: o.plan,
      workers: pool.size,
      chunkElements,
      digest,
      startedAt: state.startedAt,
      finishedAt: new Date(finished).toISOString(),
      seconds: (finished - Date.parse(state.startedAt)) / 1000,
      resumes: state.resumes,
      totals: {
        shards: shardTotals.length,
        tensors: rows.length,
        originalBytes,
        compressedBytes,
        ratio: compressedBytes > 0 ? originalBytes / compressedBytes : 0,
        lossyTensors: rows.filter((r) => r.method === 'abs').length,
        maxOverBoundShare: rows.reduce((a, r) => Math.max(a, r.overBoundShare || 0), 0),
      },
      shards: shardTotals,
      ...(o.label ? { label: o.label } : {}),
    }
    await writeRun(state.runDir, manifest, rows)
    rmSync(jobDir, { recursive: true, force: true })
    return { outDir, runDir: state.runDir, manifest, metrics: rows }
  } finally {
    await model.close()
    if (ownPool && pool) await pool.close()
  }
}

function readState(jobDir: string): JobState | undefined {
  try {
    return JSON.parse(readFileSync(join(jobDir, 'state.json'), 'utf8')) as JobState
  } catch {
    return undefined
  }
}

interface TensorWork {
  info: TensorInfo
  choice: TensorChoice
  role: string
  method: StorageMethod
  dtype: CodecDtype | undefined
  eb: number
  min: number
  max: number
  rowLength: number
  chunkElements: number
  chunkCount: number
  fp8?: Fp8BlockScales
  fp8Scale?: string
  chunks: ChunkEntry[]
  crc: number
  hash?: Hash
  sha256?: Buffer
  sums: ErrorSums
  ms: number
  startOffset: number
  started: boolean
  violated: boolean
  /**
   * CRC-32 of each chunk's original bytes where the range pass took it (mapped windows: one pass over the bytes
   * for both); the workers then skip it.
   */
  inputCrcs?: number[]
  /** Chunks the range pass read and kept for compressing (small tensors only), taken by readChunk. */
  retained?: ({ slot: ChunkSlot; bytes: Uint8Array } | undefined)[]
  /**
   * Whole chunks [first, first + count) of the original mapped as one region: kept from the range pass when the
   * tensor fits in one window, else the window the compress pass is in. Chunks go to workers as slices of it.
   */
  window?: ChunkWindow
}

interface ChunkWindow {
  first: number
  count: number
  region: MappedRegion
}

/** Bytes of chunk i of a tensor's original data. */
function chunkByteLength(w: TensorWork, i: number): number {
  const n = Math.min(w.chunkElements, w.info.elementCount - i * w.chunkElements)
  return w.info.elementCount > 0 ? (n * w.info.byteLength) / w.info.elementCount : 0
}

/** A chunk ready to be written: its compressed bytes (in its slot) and what the worker measured. */
interface ChunkOutcome {
  compressed: Uint8Array
  decodedCrc: number
  /** CRC-32 of the chunk's original bytes and of its compressed form, computed where the bytes are hot. */
  inputCrc: number
  compressedCrc: number
  sums?: ErrorSums
  ms: number
}

interface QueueItem {
  work: TensorWork
  /** -1 for a tensor without elements (only its record). */
  index: number
  result: Promise<ChunkOutcome>
  /** The chunk's buffers, reused once the chunk is written. */
  slot?: ChunkSlot
  /** The chunk's mapped range of the original, let go once the chunk is written. */
  region?: MappedRegion
}

/** A chunk ready for a worker: its bytes in a slot's input, or mapped; the slot's output takes the compressed form. */
interface ChunkSource {
  slot: ChunkSlot
  bytes: ChunkInput
  region?: MappedRegion
}

/** The bytes of a chunk that must be in memory (digests, stored tensors): never a mapped region. */
function inMemory(bytes: ChunkInput): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new Error('internal: a mapped chunk where bytes in memory were needed')
  return bytes
}

class CompressJob {
  private bytesDone = 0
  private tensorsDone = 0
  private readonly bytesTotal: number
  private readonly tensorsTotal: number
  private readonly startedAt = Date.now()
  private bytesThisProcess = 0
  private readonly scales = new Map<string, Float32Array>()
  private readonly blockSize: [number, number]
  /** Shared chunk buffers, read into and compressed into again and again. */
  private readonly slots = new ChunkSlots()
  /**
   * Lossy chunks are mapped from the original rather than read (where the system can map files, until a mapping
   * fails): workers compress straight from the page cache, without the kernel copying every byte into a buffer
   * first (that copy was ~6 % of a BF16 job's CPU, a range pass over a large tensor paying it twice). Chunks that
   * must be in memory (digests, stored tensors, decodeCheck) are read.
   */
  private mapping: boolean
  /** Works holding a mapped window, so that a failing or cancelled job lets every one go. */
  private readonly windowed = new Set<TensorWork>()

  constructor(
    private readonly model: ShardedSafetensors,
    modelDir: string,
    private readonly outDir: string,
    private readonly jobDir: string,
    private readonly o: CompressJobOptions,
    private readonly pool: PipelinePool,
    private readonly targetChunk: number,
    private readonly digest: 'sha256' | 'crc32',
    private readonly decodeCheck: boolean,
  ) {
    this.bytesTotal = model.shards.reduce((a, s) => a + s.tensors.reduce((b, t) => b + t.byteLength, 0), 0)
    this.tensorsTotal = model.shards.reduce((a, s) => a + s.tensors.length, 0)
    this.blockSize = fp8BlockSize(modelDir) ?? [128, 128]
    this.mapping = (o.mapChunks ?? true) && mappingSupported() && !decodeCheck
  }

  private checkCancel(): void {
    if (this.o.signal?.aborted) throw new CancelledError()
  }

  private progress(shard: string, tensor?: string): void {
    if (!this.o.onProgress) return
    const secs = (Date.now() - this.startedAt) / 1000
    const rate = this.bytesThisProcess / Math.max(secs, 1e-3)
    this.o.onProgress({
      phase: 'compress',
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      tensorsDone: this.tensorsDone,
      tensorsTotal: this.tensorsTotal,
      current: shard,
      ...(tensor ? { tensor } : {}),
      ...(rate > 0 ? { etaSeconds: (this.bytesTotal - this.bytesDone) / rate } : {}),
    })
  }

  async shard(shard: SafetensorsFile): Promise<{ totals: ShardTotals; metrics: TensorMetrics[] }> {
    const file = basename(shard.path)
    const container = file + CONTAINER_SUFFIX
    const finalPath = join(this.outDir, container)
    const journalPath = join(this.jobDir, `${file}.jsonl`)
    const tensors = shard.tensors
    let entries = Journal.read<JournalEntry>(journalPath)
    const shardResult = (size: number, metrics: TensorMetrics[]) => ({
      totals: {
        file,
        container,
        originalBytes: shard.fileSize,
        compressedBytes: size,
        ratio: shard.fileSize / size,
        tensors: tensors.length,
      },
      metrics,
    })
    /** A shard finished by an earlier run: count it whole in the progress, then report it. */
    const totals = (size: number, metrics: TensorMetrics[]) => {
      this.bytesDone += tensors.reduce((a, t) => a + t.byteLength, 0)
      this.tensorsDone += tensors.length
      this.progress(file)
      return shardResult(size, metrics)
    }

    // A shard finished by an earlier process: keep it (renaming it into place if the kill came just before).
    const finished = entries.find((e) => e.finished)
    const doneMetrics = () => entries.filter((e) => e.metrics).map((e) => reviveMetrics(e.metrics!))
    if (finished?.size !== undefined) {
      // Partials of this shard may still lie about (a run that rewrote a finished shard after losing its journal,
      // killed between journaling the end and the rename): the final file stands, they go.
      if (existsSync(finalPath) && statSync(finalPath).size === finished.size) {
        await removeStalePartials(finalPath)
        return totals(finished.size, doneMetrics())
      }
      const leftover = await findPartial(finalPath)
      if (leftover && statSync(leftover).size === finished.size) {
        await rename(leftover, finalPath)
        await removeStalePartials(finalPath)
        return totals(finished.size, doneMetrics())
      }
      entries = []
    }

    let done = entries.filter((e) => e.record && e.end !== undefined)
    // The journal must describe a prefix of this shard's tensors; anything else means starting the shard over.
    if (done.some((e, i) => e.record!.name !== tensors[i]?.name)) done = []
    const leftover = await findPartial(finalPath)
    const own = partialName(finalPath)
    let writer: ContainerWriter
    if (done.length > 0 && leftover && statSync(leftover).size >= done[done.length - 1]!.end!) {
      if (leftover !== own) await rename(leftover, own)
      await removeStalePartials(finalPath, own)
      writer = await ContainerWriter.reopen(own, done[done.length - 1]!.end!)
    } else {
      done = []
      await removeStalePartials(finalPath)
      rmSync(journalPath, { force: true })
      writer = await ContainerWriter.create(own, shard.header.rawJson)
    }
    const journal = new Journal<JournalEntry>(journalPath)
    const background = new BackgroundCommit(journal, () => writer.sync())
    const records = done.map((e) => deserializeRecord(e.record!))
    const metrics = done.map((e) => reviveMetrics(e.metrics!))
    /** Settles the preparations running ahead (awaited before the job gives up on an error). */
    let lookahead: () => Promise<unknown> = () => Promise.resolve()
    /** Chunks in workers or waiting to be written, in order. */
    const queue: QueueItem[] = []
    /** Appends of compressed chunks not yet written, oldest first. */
    const writes: Promise<void>[] = []
    for (const t of tensors.slice(0, done.length)) {
      this.bytesDone += t.byteLength
      this.tensorsDone++
    }

    try {
      let sinceSync = 0
      let lastSync = Date.now()
      const commit = () => {
        if (!journal.hasPending) return
        if (sinceSync >= SYNC_BYTES || Date.now() - lastSync >= (this.o.commitIntervalMs ?? SYNC_MS)) {
          background.start()
          sinceSync = 0
          lastSync = Date.now()
        }
      }
      const finishTensor = async (w: TensorWork) => {
        const record: TensorRecord = {
          name: w.info.name,
          dtype: w.info.dtype,
          shape: w.info.shape,
          method: w.method,
          mode: w.choice.mode,
          bound: w.choice.bound,
          eb: w.method === 'abs' ? w.eb : 0,
          min: Number.isFinite(w.min) ? w.min : w.sums.count ? w.sums.min : Number.NaN,
          max: Number.isFinite(w.max) ? w.max : w.sums.count ? w.sums.max : Number.NaN,
          rowLength: w.rowLength,
          elementCount: w.info.elementCount,
          byteLength: w.info.byteLength,
          begin: w.info.begin,
          crc: w.crc >>> 0,
          ...(w.sha256 ? { sha256: w.sha256 } : {}),
          ...(w.method === 'abs' && w.fp8 && w.fp8Scale
            ? { fp8: { scaleTensor: w.fp8Scale, blockRows: w.fp8.blockRows, blockCols: w.fp8.blockCols } }
            : {}),
          chunks: w.chunks,
        }
        if (!Number.isFinite(record.min) || !Number.isFinite(record.max)) {
          record.min = Number.NaN
          record.max = Number.NaN
        }
        const compressedBytes = w.chunks.reduce((a, c) => a + c.length, 0)
        const m = metricsOf(w.sums)
        const row: TensorMetrics = {
          shard: file,
          tensor: w.info.name,
          dtype: w.info.dtype,
          role: w.role,
          mode: w.choice.mode,
          bound: w.choice.bound,
          eb: record.eb,
          method: w.method,
          rule: w.choice.rule,
          elements: w.info.elementCount,
          originalBytes: w.info.byteLength,
          compressedBytes,
          ratio: compressedBytes > 0 ? w.info.byteLength / compressedBytes : 0,
          meanAbsErr: w.method === 'abs' ? (m?.meanAbs ?? Number.NaN) : 0,
          maxAbsErr: w.method === 'abs' ? (m?.maxAbs ?? Number.NaN) : 0,
          rmse: w.method === 'abs' ? (m?.rmse ?? Number.NaN) : 0,
          psnr: w.method === 'abs' ? (m?.psnr ?? Number.NaN) : Number.POSITIVE_INFINITY,
          overBoundShare: w.method === 'abs' ? (m?.overShare ?? Number.NaN) : 0,
          ms: Math.round(w.ms * 10) / 10,
        }
        records.push(record)
        metrics.push(row)
        journal.add({ record: serialize(record), end: writer.position, metrics: row })
        this.bytesDone += w.info.byteLength
        this.tensorsDone++
        this.progress(file, w.info.name)
        commit()
      }

      const maxInflight = chunkWindow(this.pool)
      const drainOne = async () => {
        const item = queue.shift()!
        const w = item.work
        // The worker is done with the chunk's mapping once it answers (the compressed form is in the slot).
        const r = await item.result.finally(() => {
          if (item.region) unmapFileRegion(item.region)
        })
        if (!w.started) {
          w.started = true
          w.startOffset = writer.position
        }
        // The tensor's CRC grows chunk by chunk in order, from the CRCs the workers took of each chunk.
        if (item.index >= 0) w.crc = crc32Combine(w.crc, r.inputCrc, chunkByteLength(w, item.index))
        if (item.index >= 0 && !w.violated) {
          if (r.sums) w.sums = addSums(w.sums, r.sums)
          if (w.method === 'abs' && r.sums && r.sums.over > 0) {
            w.violated = true
          } else {
            const first = item.index * w.chunkElements
            // The write runs behind this thread (in order, in the writer): results go on being taken and chunks
            // submitted meanwhile. The slot is free once its bytes are written; at most MAX_WRITES wait.
            const offset = writer.position
            const slot = item.slot
            const written = writer.append(r.compressed).then(() => this.slots.give(slot))
            written.catch(() => {})
            writes.push(written)
            item.slot = undefined
            w.chunks.push({
              offset,
              length: r.compressed.length,
              firstElement: first,
              elementCount: Math.min(w.chunkElements, w.info.elementCount - first),
              crc: r.compressedCrc,
              decodedCrc: r.decodedCrc,
            })
            w.ms += r.ms
            sinceSync += r.compressed.length
          }
        }
        // Not written (dropped, or nothing to write): the slot can take the next chunk now.
        this.slots.give(item.slot)
        while (writes.length > MAX_WRITES) await writes.shift()
        if (item.index === w.chunkCount - 1 || item.index < 0) {
          if (w.violated) await this.redoLossless(shard, w, writer)
          await finishTensor(w)
        }
      }

      // Lookahead: the range passes (REL bounds) of the next tensors, up to LOOKAHEAD_BYTES of them and at least
      // one, read and measure them while this tensor's chunks are compressed, so the workers never wait for a
      // bound at a tensor boundary, not even after a run of small tensors.
      const todo = tensors.slice(done.length)
      const preparing = new Map<number, Promise<TensorWork>>()
      const ensure = (t: number) => {
        if (t >= todo.length || preparing.has(t)) return
        const p = this.prepare(shard, todo[t]!)
        p.catch(() => {})
        preparing.set(t, p)
      }
      lookahead = () => Promise.allSettled(preparing.values())
      for (let t = 0; t < todo.length; t++) {
        this.checkCancel()
        ensure(t)
        const w = await preparing.get(t)!
        preparing.delete(t)
        for (let u = t + 1, ahead = 0; u < todo.length; u++) {
          ahead += todo[u]!.byteLength
          if (u > t + 1 && ahead > LOOKAHEAD_BYTES) break
          ensure(u)
        }
        if (w.chunkCount === 0) {
          if (w.hash) w.sha256 = w.hash.digest()
          queue.push({
            work: w,
            index: -1,
            result: Promise.resolve({
              compressed: new Uint8Array(0),
              decodedCrc: 0,
              inputCrc: 0,
              compressedCrc: 0,
              ms: 0,
            }),
          })
        }
        for (let i = 0; i < w.chunkCount; i++) {
          this.checkCancel()
          const { slot, bytes, region } = await this.chunkSource(shard, w, i)
          w.hash?.update(inMemory(bytes))
          // The digest is final before the tensor's last chunk can be written and journaled.
          if (w.hash && i === w.chunkCount - 1) w.sha256 = w.hash.digest()
          this.bytesThisProcess += bytes.length
          const result = this.submit(shard, w, i, slot, bytes)
          result.catch(() => {})
          queue.push({ work: w, index: i, result, slot, ...(region ? { region } : {}) })
          while (queue.length >= maxInflight) await drainOne()
        }
      }
      while (queue.length > 0) await drainOne()
      for (const p of writes.splice(0)) await p
      this.dropWindows()
      this.checkCancel()

      const shardSize = shard.fileSize
      await background.settle()
      await writer.finish({ codecVersion: CODEC_VERSION, shardSize, tensors: records })
      const size = statSync(own).size
      journal.add({ finished: true, size })
      journal.flush()
      await commitPartial(own, finalPath)
      return shardResult(size, metrics)
    } catch (err) {
      // Keep the partial file and its journal: the next run resumes from them. A range pass still reading ahead
      // finishes first (its error, if any, is the same job's), so nothing reads the shard after the job ends; chunks
      // still in workers finish before their mappings go.
      await lookahead()
      for (const item of queue.splice(0)) {
        await item.result.catch(() => {})
        if (item.region) unmapFileRegion(item.region)
      }
      this.dropWindows()
      await background.settle().catch(() => {})
      await writer.close()
      throw err
    } finally {
      journal.close()
    }
  }

  /**
   * Decides mode, bound and chunking for one tensor. A SHA-256 is kept for tensors stored exactly, where the
   * reconstruction must reproduce it (a lossy tensor's reconstruction never matches its original digest; its CRC-32
   * still identifies the original).
   */
  private async prepare(shard: SafetensorsFile, info: TensorInfo): Promise<TensorWork> {
    const w = await this.choose(shard, info)
    if (this.digest === 'sha256' && w.method !== 'abs') w.hash = createHash('sha256')
    return w
  }

  /** Mode, bound and chunking; a REL bound first measures the tensor's range. */
  private async choose(shard: SafetensorsFile, info: TensorInfo): Promise<TensorWork> {
    const cls = classifyTensor(info.name)
    const choice = resolvePlan(this.o.plan, {
      name: info.name,
      dtype: info.dtype,
      elementCount: info.elementCount,
      role: cls.role,
      group: cls.group,
    })
    const { rowLength, chunkElements } = chunking(info.shape, this.targetChunk)
    const dtype = isCodecDtype(info.dtype) ? info.dtype : undefined
    const w: TensorWork = {
      info,
      choice,
      role: cls.role,
      method: !dtype ? 'stored' : choice.mode === 'lossless' ? 'lossless' : 'abs',
      dtype,
      eb: 0,
      min: Number.NaN,
      max: Number.NaN,
      rowLength,
      chunkElements,
      chunkCount: info.elementCount === 0 ? 0 : Math.ceil(info.elementCount / chunkElements),
      chunks: [],
      crc: 0,
      sums: emptySums(),
      ms: 0,
      startOffset: 0,
      started: false,
      violated: false,
    }
    // Scales of FP8 weights stay exact: the reconstruction multiplies by them.
    if (cls.role === 'fp8_scale' && w.method === 'abs') w.method = 'lossless'
    if (w.method !== 'abs') return w
    if ((info.dtype === 'F8_E4M3' || info.dtype === 'F8_E5M2') && info.shape.length === 2) {
      const link = await this.fp8Scales(info)
      if (link) {
        w.fp8 = link.scales
        w.fp8Scale = link.name
      }
    }
    if (choice.mode === 'abs') w.eb = choice.bound
    else {
      const range = await this.range(shard, w)
      w.min = range.min
      w.max = range.max
      w.eb = Number.isFinite(range.min) ? resolveBound('rel', choice.bound, range.min, range.max) : 0
    }
    if (!(w.eb > 0) || !Number.isFinite(w.eb)) {
      // A constant (or all-NaN) tensor has no range to scale a REL bound: keep it exact (read, not mapped).
      this.dropWindow(w)
      w.method = 'lossless'
      w.eb = 0
      w.fp8 = undefined
      w.fp8Scale = undefined
    }
    return w
  }

  private async fp8Scales(info: TensorInfo): Promise<{ name: string; scales: Fp8BlockScales } | undefined> {
    const name = `${info.name}_scale_inv`
    let located: ReturnType<ShardedSafetensors['locate']>
    try {
      located = this.model.locate(name)
    } catch {
      return undefined
    }
    const s = located.info
    const [rows, cols] = info.shape as [number, number]
    const [br, bc] = this.blockSize
    if (s.shape.length !== 2 || s.shape[0] !== Math.ceil(rows / br) || s.shape[1] !== Math.ceil(cols / bc))
      return undefined
    let scales = this.scales.get(name)
    if (!scales) {
      if (s.dtype !== 'F32' && s.dtype !== 'BF16') return undefined
      const raw = await located.shard.read(name)
      scales = Float32Array.from(chunkValues(raw, s.dtype))
      this.scales.set(name, scales)
    }
    return { name, scales: { cols, blockRows: br, blockCols: bc, scaleCols: s.shape[1]!, scales } }
  }

  /**
   * The tensor's finite range (dequantized for block-scaled FP8), scanned on this thread by the native kernel while
   * the next chunks are being mapped or read. The workers stay on compressing, and since this runs ahead of them
   * (shard()'s lookahead), a tensor's bound is known before they reach it.
   */
  private async range(shard: SafetensorsFile, w: TensorWork): Promise<{ min: number; max: number }> {
    if (this.mapping) {
      const r = await this.mappedRange(shard, w)
      if (r) return r
    }
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    // A small tensor's chunks stay in their slots for the compress pass instead of being read a second time (the
    // kernel's copy of every byte read is a large part of the job's CPU beside the codec).
    const keep = w.info.byteLength <= RETAIN_BYTES
    if (keep) w.retained = []
    const read = (i: number) => {
      const r = this.readChunk(shard, w, i, keep)
      r.catch(() => {})
      return r
    }
    // Two reads in flight: the page cache copies on two threads while this one scans.
    const pending: Promise<{ slot: ChunkSlot; bytes: Uint8Array }>[] = []
    let next = 0
    const fill = () => {
      while (next < w.chunkCount && pending.length < 2) pending.push(read(next++))
    }
    try {
      fill()
      for (let i = 0; i < w.chunkCount; i++) {
        this.checkCancel()
        const { slot, bytes } = await pending.shift()!
        fill()
        if (keep) w.retained![i] = { slot, bytes }
        const r = chunkValueRange(bytes, w.dtype!, i * w.chunkElements, w.fp8)
        if (!keep) this.slots.give(slot)
        if (r.min < min) min = r.min
        if (r.max > max) max = r.max
      }
    } finally {
      // Nothing keeps reading the shard after this returns or throws.
      await Promise.allSettled(pending)
    }
    return { min, max }
  }

  /**
   * The range pass over mapped windows: each window is mapped and scanned on libuv's threads (several at once, so
   * the first tensor's bound, which everything waits for at the start of a job, comes from both cores). A tensor
   * that fits in one window keeps it for compressing. Undefined when mapping failed for a reason of the system's:
   * the caller reads instead.
   */
  private async mappedRange(shard: SafetensorsFile, w: TensorWork): Promise<{ min: number; max: number } | undefined> {
    const per = this.windowChunks(w)
    const chunkBytes = (w.info.byteLength / w.info.elementCount) * w.chunkElements
    const crcs: number[] = []
    const starts: number[] = []
    for (let c = 0; c < w.chunkCount; c += per) starts.push(c)
    type Scanned = { win: ChunkWindow; r: { min: number; max: number; crcs?: number[] } } | undefined
    const scan = (first: number): Promise<Scanned> => {
      const p = this.mapWindow(shard, w, first).then((win) =>
        win
          ? chunkValueRangeAsync(win.region, w.dtype!, win.first * w.chunkElements, w.fp8, chunkBytes).then(
              (r) => ({ win, r }),
              (err: unknown) => {
                unmapFileRegion(win.region)
                throw err
              },
            )
          : undefined,
      )
      p.catch(() => {})
      return p
    }
    const pending: Promise<Scanned>[] = []
    let next = 0
    const fill = () => {
      while (next < starts.length && pending.length < 3) pending.push(scan(starts[next++]!))
    }
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    try {
      fill()
      while (pending.length > 0) {
        this.checkCancel()
        const got = await pending.shift()!
        if (!got) return undefined
        fill()
        if (starts.length === 1) this.holdWindow(w, got.win)
        else unmapFileRegion(got.win.region)
        if (got.r.min < min) min = got.r.min
        if (got.r.max > max) max = got.r.max
        got.r.crcs?.forEach((c, k) => {
          crcs[got.win.first + k] = c
        })
      }
    } finally {
      // No mapping outlives the pass but the one kept.
      for (const p of await Promise.allSettled(pending))
        if (p.status === 'fulfilled' && p.value) unmapFileRegion(p.value.win.region)
    }
    // Every window answered (a pass that fell back to reads returned above).
    if (crcs.length === w.chunkCount) w.inputCrcs = crcs
    return { min, max }
  }

  /** Whole chunks per mapped window for this tensor (at least one). */
  private windowChunks(w: TensorWork): number {
    const chunkBytes = (w.info.byteLength / w.info.elementCount) * w.chunkElements
    return Math.max(1, Math.floor((this.o.mapWindowBytes ?? MAP_WINDOW_BYTES) / chunkBytes))
  }

  /**
   * Maps the window of chunks starting at `first`; undefined when mapping fails for a reason of the system's (the
   * job then reads from here on). A file shorter than its header says is the same error as when reading.
   */
  private async mapWindow(shard: SafetensorsFile, w: TensorWork, first: number): Promise<ChunkWindow | undefined> {
    const elemBytes = w.info.byteLength / w.info.elementCount
    const count = Math.min(this.windowChunks(w), w.chunkCount - first)
    const firstElement = first * w.chunkElements
    const elements = Math.min(count * w.chunkElements, w.info.elementCount - firstElement)
    try {
      const region = await mapFileRegion(shard.fd, w.info.fileOffset + firstElement * elemBytes, elements * elemBytes)
      return { first, count, region }
    } catch (err) {
      if (err instanceof CodecError && err.code === 'PAST_END')
        throw new ContainerError('TRUNCATED', 'The original tensor could not be read in full', shard.path, w.info.name)
      if (!(err instanceof CodecError)) throw err
      this.mapping = false
      return undefined
    }
  }

  private holdWindow(w: TensorWork, win: ChunkWindow): void {
    this.dropWindow(w)
    w.window = win
    this.windowed.add(w)
  }

  /** Lets the tensor's window go (slices handed to workers keep the mapping until they are let go too). */
  private dropWindow(w: TensorWork): void {
    if (w.window) unmapFileRegion(w.window.region)
    w.window = undefined
    this.windowed.delete(w)
  }

  /** Lets every window still held go: the job is over, or failed. */
  private dropWindows(): void {
    for (const w of [...this.windowed]) this.dropWindow(w)
  }

  /**
   * Chunk i for compressing: a slice of the tensor's mapped window when it is lossy and mapping works here (the
   * window mapped first if the chunk is past it), else read into a slot. The window goes with the last chunk.
   */
  private async chunkSource(shard: SafetensorsFile, w: TensorWork, i: number): Promise<ChunkSource> {
    // Mapping stopped working meanwhile: a window kept from the range pass is not used.
    if (w.window && !this.mapping) this.dropWindow(w)
    if (this.mapping && w.method === 'abs' && w.dtype) {
      let win = w.window
      if (!win || i < win.first || i >= win.first + win.count) {
        this.dropWindow(w)
        win = await this.mapWindow(shard, w, i)
        if (win) this.holdWindow(w, win)
      }
      if (win) {
        const elemBytes = w.info.byteLength / w.info.elementCount
        const first = i * w.chunkElements
        const count = Math.min(w.chunkElements, w.info.elementCount - first)
        const region = sliceRegion(win.region, (first - win.first * w.chunkElements) * elemBytes, count * elemBytes)
        if (i === w.chunkCount - 1) this.dropWindow(w)
        return { slot: this.slots.take(0, maxCompressedChunkSize(count, w.dtype)), bytes: region, region }
      }
    }
    return this.readChunk(shard, w, i, true)
  }

  /** Reads chunk i into a shared slot (with room for its compressed form when `compressing` a codec dtype). */
  private async readChunk(
    shard: SafetensorsFile,
    w: TensorWork,
    i: number,
    compressing: boolean,
  ): Promise<{ slot: ChunkSlot; bytes: Uint8Array }> {
    const kept = compressing ? w.retained?.[i] : undefined
    if (kept) {
      w.retained![i] = undefined
      return kept
    }
    const elemBytes = w.info.elementCount > 0 ? w.info.byteLength / w.info.elementCount : 0
    const first = i * w.chunkElements
    const count = Math.min(w.chunkElements, w.info.elementCount - first)
    const out = compressing && w.dtype && w.method !== 'stored' ? maxCompressedChunkSize(count, w.dtype) : 0
    const slot = this.slots.take(count * elemBytes, out)
    const bytes = slot.input.subarray(0, count * elemBytes)
    const n = await shard.readInto(w.info.name, bytes, first * elemBytes)
    if (n !== bytes.length)
      throw new ContainerError('TRUNCATED', 'The original tensor could not be read in full', shard.path, w.info.name)
    return { slot, bytes }
  }

  private params(w: TensorWork, i: number): ChunkCodecParams {
    return {
      dtype: w.dtype!,
      mode: w.method === 'abs' ? 'abs' : 'lossless',
      eb: w.method === 'abs' ? w.eb : 0,
      rowLength: w.rowLength,
      firstElement: i * w.chunkElements,
      ...(w.method === 'abs' && w.fp8 ? { fp8: w.fp8 } : {}),
    }
  }

  private submit(
    shard: SafetensorsFile,
    w: TensorWork,
    i: number,
    slot: ChunkSlot,
    bytes: ChunkInput,
  ): Promise<ChunkOutcome> {
    if (w.method === 'stored') {
      const crc = crc32(bytes)
      return Promise.resolve({ compressed: inMemory(bytes), decodedCrc: crc, inputCrc: crc, compressedCrc: crc, ms: 0 })
    }
    const elementCount = Math.min(w.chunkElements, w.info.elementCount - i * w.chunkElements)
    const task: CompressTask = {
      kind: 'compress',
      bytes,
      target: slot.output,
      params: this.params(w, i),
      elementCount,
      decodeCheck: this.decodeCheck,
      file: shard.path,
      tensor: w.info.name,
    }
    const inputCrc = w.inputCrcs?.[i]
    if (inputCrc !== undefined) task.inputCrc = inputCrc
    if (this.o.checkBoundScale !== undefined && w.method === 'abs') task.checkEb = w.eb * this.o.checkBoundScale
    // Shared slots travel as views: nothing is moved, and the compressed chunk is read back from the slot.
    return (this.pool.run(task) as Promise<CompressResult>).then((r) => ({
      compressed: slot.output.subarray(0, r.length),
      decodedCrc: r.decodedCrc,
      inputCrc: r.inputCrc,
      compressedCrc: r.compressedCrc,
      sums: r.sums,
      ms: r.ms,
    }))
  }

  /** The codec could not keep a tensor's bound: rewrite that tensor losslessly (FP8 included). */
  private async redoLossless(shard: SafetensorsFile, w: TensorWork, writer: ContainerWriter): Promise<void> {
    await writer.rewind(w.startOffset)
    w.method = 'lossless'
    w.eb = 0
    w.fp8 = undefined
    w.fp8Scale = undefined
    w.chunks = []
    w.sums = emptySums()
    w.violated = false
    const hash = this.digest === 'sha256' ? createHash('sha256') : undefined
    // A bounded window of chunks in flight, written in order, as in the main loop.
    const window = chunkWindow(this.pool)
    const pending: { result: Promise<ChunkOutcome>; slot: ChunkSlot }[] = []
    let next = 0
    for (let i = 0; i < w.chunkCount; i++) {
      while (next < w.chunkCount && next < i + window) {
        const { slot, bytes } = await this.readChunk(shard, w, next, true)
        hash?.update(bytes)
        const p = this.submit(shard, w, next, slot, bytes)
        p.catch(() => {})
        pending.push({ result: p, slot })
        next++
      }
      const { result, slot } = pending.shift()!
      const r = await result
      const first = i * w.chunkElements
      const offset = await writer.append(r.compressed)
      w.chunks.push({
        offset,
        length: r.compressed.length,
        firstElement: first,
        elementCount: Math.min(w.chunkElements, w.info.elementCount - first),
        crc: r.compressedCrc,
        decodedCrc: r.decodedCrc,
      })
      this.slots.give(slot)
      w.ms += r.ms
    }
    if (hash) w.sha256 = hash.digest()
  }
}
