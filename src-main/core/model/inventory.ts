// The inventory of a model: every tensor with its shard, dtype, shape, size, layer, role and group, optionally with
// statistics computed by a worker pool that streams the shards in bounded pieces; totals by dtype, role and shard;
// CSV and JSON exports.

import { type ProgressListener, throttleProgress } from '../util/progress'
import { CancelledError, defaultWorkerCount, siblingWorkerUrl, WorkerPool } from '../util/workers'
import { decodeToFloat64, isNumericDtype, type NumericDtype } from './decode'
import { ModelError } from './errors'
import { type ModelInfo, type ModelTensor, openModel } from './open'
import {
  type BlockScaleSpec,
  finishStats,
  type PartialStats,
  SAMPLE_SIZE,
  seedOf,
  type TensorStats,
  unpackFromWire,
} from './stats'
import { PieceReader, runStatsJob, type StatsJob, type StatsTask } from './stats-job'

export interface InventoryTensor extends Omit<ModelTensor, 'shardPath' | 'fileOffset'> {
  /** The F32 block-scale tensor whose values dequantize this FP8 weight. */
  scaleTensor?: string
  stats: TensorStats | null
}

export interface Totals {
  tensors: number
  params: number
  bytes: number
}

export interface Inventory {
  model: {
    path: string
    name: string
    layout: ModelInfo['layout']
    architecture: string | null
    modelType: string | null
    shards: { file: string; fileSize: number; tensors: number }[]
  }
  tensors: InventoryTensor[]
  totals: Totals
  byDtype: Record<string, Totals>
  byRole: Record<string, Totals>
  byGroup: Record<string, Totals>
  byShard: Record<string, Totals>
  hasStats: boolean
}

export interface InventoryOptions {
  stats?: boolean
  /** Worker threads for statistics (default: one per core). 0 computes in this thread (tests, tiny models). */
  workers?: number
  onProgress?: ProgressListener
  signal?: AbortSignal
  /** Largest single read in bytes (default 16 MB). */
  readBytes?: number
  /** Target bytes per worker task (default 32 MB). */
  taskBytes?: number
}

const MB = 1 << 20
/** Sample values kept across the whole model (8 bytes each while in memory). */
const SAMPLE_BUDGET = 8_000_000

function addTo(map: Record<string, Totals>, key: string, t: { elementCount: number; bytes: number }): void {
  const e = map[key] ?? { tensors: 0, params: 0, bytes: 0 }
  e.tensors++
  e.params += t.elementCount
  e.bytes += t.bytes
  map[key] = e
}

/** Block size along one axis: the configured one if consistent, else the power of two that fits the scale grid. */
function blockSize(n: number, scaleN: number, preferred?: number): number | null {
  const candidates = [preferred, 128, 64, 32, 256, 16, 512, 1024].filter(
    (x): x is number => typeof x === 'number' && x > 0,
  )
  for (const b of candidates) if (Math.ceil(n / b) === scaleN) return b
  return null
}

function configBlockSize(model: ModelInfo): [number, number] | undefined {
  const q = model.config?.quantization_config as { weight_block_size?: unknown } | undefined
  const b = q?.weight_block_size
  if (Array.isArray(b) && b.length === 2 && b.every((x) => typeof x === 'number')) return [b[0], b[1]]
  return undefined
}

/** Finds the block scales of FP8 weights: `<name>_scale_inv` (DeepSeek-V3), possibly in another shard. */
async function findBlockScales(model: ModelInfo, t: ModelTensor): Promise<BlockScaleSpec | undefined> {
  if (!t.dtype.startsWith('F8_') || t.dtype === 'F8_E8M0' || t.shape.length !== 2) return undefined
  const scale = model.tensor(`${t.name}_scale_inv`)
  if (!scale) return undefined
  const [rows, cols] = t.shape as [number, number]
  if (scale.shape.length !== 2 || !isNumericDtype(scale.dtype)) {
    throw new ModelError('SCALE_MISMATCH', scale.shardPath, `Scale tensor ${scale.name} is not a 2-D grid.`, scale.name)
  }
  const [sr, sc] = scale.shape as [number, number]
  const pref = configBlockSize(model)
  const br = blockSize(rows, sr, pref?.[0])
  const bc = blockSize(cols, sc, pref?.[1])
  if (br === null || bc === null) {
    throw new ModelError(
      'SCALE_MISMATCH',
      scale.shardPath,
      `Scale tensor ${scale.name} has shape [${sr}, ${sc}], which matches no block size for [${rows}, ${cols}].`,
      scale.name,
    )
  }
  const located = model.store.locate(scale.name)
  const raw = await located.shard.read(scale.name)
  const values = decodeToFloat64(scale.dtype as NumericDtype, raw)
  return { rows, cols, blockRows: br, blockCols: bc, scaleCols: sc, scales: Float32Array.from(values) }
}

interface Planned {
  tensor: ModelTensor
  jobs: StatsJob[]
  parts: PartialStats[]
  blocks?: BlockScaleSpec
}

/** Splits each tensor into element ranges of about `taskBytes` and groups small tensors into shared tasks. */
function planTasks(
  planned: Planned[],
  taskBytes: number,
  readBytes: number,
): { tasks: StatsTask[]; owner: Planned[][] } {
  const tasks: StatsTask[] = []
  const owner: Planned[][] = []
  let cur: StatsJob[] = []
  let curOwners: Planned[] = []
  let curBytes = 0
  const flush = () => {
    if (cur.length === 0) return
    tasks.push({ jobs: cur, readBytes })
    owner.push(curOwners)
    cur = []
    curOwners = []
    curBytes = 0
  }
  for (const p of planned) {
    for (const job of p.jobs) {
      const bytes = (job.end - job.start) * (p.tensor.bytes / Math.max(1, p.tensor.elementCount))
      if (curBytes + bytes > taskBytes) flush()
      cur.push(job)
      curOwners.push(p)
      curBytes += bytes
    }
  }
  flush()
  return { tasks, owner }
}

function jobsFor(
  t: ModelTensor,
  blocks: BlockScaleSpec | undefined,
  taskBytes: number,
  sampleSize: number,
): StatsJob[] {
  const dtype = t.dtype as NumericDtype
  const bpe = t.bytes / t.elementCount
  // Ranges start on block rows for block-scaled FP8 so each job owns whole blocks.
  const unit = blocks ? blocks.blockRows * blocks.cols : Math.max(1, Math.floor(MB / bpe))
  const unitsPerJob = Math.max(1, Math.floor(taskBytes / (unit * bpe)))
  const step = unit * unitsPerJob
  const jobs: StatsJob[] = []
  for (let s = 0; s < t.elementCount; s += step) {
    const job: StatsJob = {
      path: t.shardPath,
      tensor: t.name,
      dtype,
      dataOffset: t.fileOffset,
      elements: t.elementCount,
      start: s,
      end: Math.min(t.elementCount, s + step),
      seed: seedOf(t.name),
      sampleSize,
    }
    if (blocks) job.blocks = blocks
    jobs.push(job)
  }
  return jobs
}

/** Builds the inventory of a model (a path or an opened model); statistics are optional. */
export async function buildInventory(modelOrPath: ModelInfo | string, opts: InventoryOptions = {}): Promise<Inventory> {
  const model = typeof modelOrPath === 'string' ? await openModel(modelOrPath) : modelOrPath
  try {
    return await inventoryOf(model, opts)
  } finally {
    if (typeof modelOrPath === 'string') await model.close()
  }
}

async function inventoryOf(model: ModelInfo, opts: InventoryOptions): Promise<Inventory> {
  const readBytes = opts.readBytes ?? 16 * MB
  const taskBytes = opts.taskBytes ?? 32 * MB
  const rows: InventoryTensor[] = model.tensors.map(({ shardPath: _p, fileOffset: _o, ...t }) => ({
    ...t,
    stats: null,
  }))
  const totals: Totals = { tensors: 0, params: 0, bytes: 0 }
  const byDtype: Record<string, Totals> = {}
  const byRole: Record<string, Totals> = {}
  const byGroup: Record<string, Totals> = {}
  const byShard: Record<string, Totals> = {}
  for (const t of model.tensors) {
    totals.tensors++
    totals.params += t.elementCount
    totals.bytes += t.bytes
    addTo(byDtype, t.dtype, t)
    addTo(byRole, t.role, t)
    addTo(byGroup, t.group, t)
    addTo(byShard, t.shard, t)
  }

  if (opts.stats) {
    const workers = opts.workers ?? defaultWorkerCount()
    // The workers start before the plan is made (it reads every weight's block scales), so that they boot
    // meanwhile; a model too small for two tasks is done in this thread.
    const statBytes = model.tensors.reduce((a, t) => (isNumericDtype(t.dtype) ? a + t.bytes : a), 0)
    const pool =
      workers > 0 && statBytes > taskBytes
        ? new WorkerPool<StatsTask, PartialStats[]>(
            siblingWorkerUrl(import.meta.url, 'stats-worker'),
            Math.min(workers, Math.ceil(statBytes / taskBytes)),
          )
        : undefined
    try {
      await statsOf(model, opts, rows, readBytes, taskBytes, pool)
    } finally {
      await pool?.close()
    }
  }

  return {
    model: {
      path: model.path,
      name: model.name,
      layout: model.layout,
      architecture: model.architecture,
      modelType: model.modelType,
      shards: model.shards.map((s) => ({ file: s.file, fileSize: s.fileSize, tensors: s.tensors })),
    },
    tensors: rows,
    totals,
    byDtype,
    byRole,
    byGroup,
    byShard,
    hasStats: !!opts.stats,
  }
}

/** Statistics of every numeric tensor into `rows`, in `pool` or (without one) in this thread. */
async function statsOf(
  model: ModelInfo,
  opts: InventoryOptions,
  rows: InventoryTensor[],
  readBytes: number,
  taskBytes: number,
  pool: WorkerPool<StatsTask, PartialStats[]> | undefined,
): Promise<void> {
  const planned: Planned[] = []
  // Samples stay in memory with the inventory: a whole-model budget keeps a 90,000-tensor model (DeepSeek-V3)
  // from holding gigabytes of them; small models keep the full SAMPLE_SIZE per tensor.
  const withStats = model.tensors.filter((t) => isNumericDtype(t.dtype) && t.elementCount > 0).length
  const sampleSize = Math.min(SAMPLE_SIZE, Math.max(256, Math.floor(SAMPLE_BUDGET / Math.max(1, withStats))))
  for (const t of model.tensors) {
    if (!isNumericDtype(t.dtype) || t.elementCount === 0) continue
    const blocks = await findBlockScales(model, t)
    if (blocks) rows[t.index]!.scaleTensor = `${t.name}_scale_inv`
    planned.push({
      tensor: t,
      jobs: jobsFor(t, blocks, taskBytes, sampleSize),
      parts: [],
      ...(blocks ? { blocks } : {}),
    })
  }
  const bytesTotal = planned.reduce((a, p) => a + p.tensor.bytes, 0)
  const progress = throttleProgress(opts.onProgress)
  let bytesDone = 0
  let tensorsDone = 0
  const emit = (current?: string) =>
    progress({ phase: 'inventory', bytesDone, bytesTotal, tensorsDone, tensorsTotal: planned.length, current })
  const finishPart = (p: Planned, part: PartialStats) => {
    p.parts.push(part)
    if (p.parts.length === p.jobs.length) {
      rows[p.tensor.index]!.stats = finishStats(
        p.tensor.dtype as NumericDtype,
        p.tensor.elementCount,
        p.parts,
        p.blocks,
      )
      p.parts = []
      tensorsDone++
      emit(p.tensor.shard)
    }
  }
  const { tasks, owner } = planTasks(planned, taskBytes, readBytes)
  emit()
  if (opts.signal?.aborted) throw new CancelledError()
  if (!pool) {
    const reader = new PieceReader(MB)
    try {
      for (let i = 0; i < tasks.length; i++) {
        if (opts.signal?.aborted) throw new CancelledError()
        const task = tasks[i]!
        task.jobs.forEach((job, j) => {
          finishPart(
            owner[i]![j]!,
            withContext(job, () =>
              runStatsJob(job, reader, readBytes, (n) => {
                bytesDone += n
              }),
            ),
          )
        })
        emit(task.jobs[task.jobs.length - 1]?.path)
      }
    } finally {
      reader.closeAll()
    }
  } else {
    const onAbort = () => void pool.close()
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await Promise.all(
        tasks.map((task, i) =>
          pool
            .run(task, [], (n) => {
              bytesDone += n
              emit()
            })
            .then((results) => {
              unpackFromWire(results).forEach((r, j) => {
                finishPart(owner[i]![j]!, r)
              })
            }),
        ),
      )
    } catch (err) {
      if (opts.signal?.aborted) throw new CancelledError()
      throw err
    } finally {
      opts.signal?.removeEventListener('abort', onAbort)
    }
  }
  emit()
}

function withContext<T>(job: StatsJob, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    const e = err as { file?: string; tensor?: string }
    e.file ??= job.path
    e.tensor ??= job.tensor
    throw err
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Exports

const CSV_COLUMNS = [
  'shard',
  'tensor',
  'dtype',
  'shape',
  'elements',
  'bytes',
  'layer',
  'role',
  'group',
  'expert',
  'min',
  'max',
  'mean',
  'std',
  'abs_max',
  'nan',
  'pos_inf',
  'neg_inf',
  'zero_fraction',
] as const

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return ''
  const s = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(8)) : String(v)
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

/** The paper's inventory.csv: one row per tensor (shape as 512x64), statistics columns empty without stats. */
export function inventoryToCsv(inv: Inventory): string {
  const lines = [CSV_COLUMNS.join(',')]
  for (const t of inv.tensors) {
    const s = t.stats
    lines.push(
      [
        t.shard,
        t.name,
        t.dtype,
        t.shape.join('x'),
        t.elementCount,
        t.bytes,
        t.layer,
        t.role,
        t.group,
        t.expert,
        s?.min,
        s?.max,
        s?.mean,
        s?.std,
        s?.absMax,
        s?.nan,
        s?.posInf,
        s?.negInf,
        s?.zeroFraction,
      ]
        .map(csvCell)
        .join(','),
    )
  }
  return `${lines.join('\n')}\n`
}

/** JSON form of the inventory; samples (4096 numbers per tensor) only when asked for. */
export function inventoryToJson(inv: Inventory, { samples = false } = {}): string {
  const tensors = inv.tensors.map((t) => {
    if (!t.stats || samples) return t
    const { sample: _s, sampleIndex: _i, ...rest } = t.stats
    return { ...t, stats: rest }
  })
  return `${JSON.stringify({ ...inv, tensors })}\n`
}
