// The ShardPress service: the contract implemented over core (model, synth, plan, pipeline, gguf, eval). The
// Electron main process, the browser bridge and the tests all use this one implementation.
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import {
  buildInventory,
  type Inventory as CoreInventory,
  classifyTensor,
  decodeToFloat64,
  type InventoryTensor,
  isNumericDtype,
  type ModelInfo,
  openModel,
} from '../model'
import { DESCRIPTOR_NAME } from '../pipeline/compressed-model'
import { type CompressionPlan, loadPlan, makePlan, parsePlan, savePlan } from '../plan'
import type { PreparedTensors, TuneTensor } from '../tune/estimator'
import { estimatePlanOn, planFromTune, tuneFromPlan } from '../tune/plan-estimate'
import { prepareTensorsAsync } from '../tune/prepare'
import type {
  ApiService,
  AppInfo,
  CurvePoint,
  EnginePiece,
  GenerationRequest,
  Inventory,
  InventoryProgress,
  JobProgress,
  JobRequest,
  JobResult,
  ModelSummary,
  PlanEstimate,
  RecentModel,
  TensorDetail,
  TensorRow,
  TokenEvent,
  TunePlan,
  Variant,
  VariantMetrics,
} from './contract'
import { ApiError } from './schema'

export interface ServiceOptions {
  host: AppInfo['host']
  /** Where recent.json lives (Electron: userData). */
  stateDir?: string
  /** Default folder for generated models, compressed outputs and caches. */
  workDir?: string
  /** Worker threads for inventory and pipeline jobs (default: one per core). */
  workers?: number
  /** A text for perplexity when the user gives none. */
  defaultTextFile?: string
}

type Listener<T> = (e: T) => void

class Emitter<T> {
  private listeners = new Set<Listener<T>>()
  on(l: Listener<T>): () => void {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }
  emit(e: T): void {
    for (const l of this.listeners) {
      try {
        l(e)
      } catch {
        // A broken listener must not stop the others.
      }
    }
  }
}

interface OpenedModel {
  info: ModelInfo
  summary: ModelSummary
  inventory?: Promise<CoreInventory>
  prepared?: Promise<PreparedTensors>
}

interface JobEntry {
  progress: JobProgress
  controller: AbortController
  result: JobResult | null
}

const VERSION = '0.1.0'
const CONFIG_FIELDS = [
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'intermediate_size',
  'vocab_size',
  'max_position_embeddings',
  'torch_dtype',
  'n_routed_experts',
]

function summaryOf(info: ModelInfo): ModelSummary {
  const byDtype = new Map<string, { dtype: string; tensors: number; params: number; bytes: number }>()
  let params = 0
  let bytes = 0
  for (const t of info.tensors) {
    const d = byDtype.get(t.dtype) ?? { dtype: t.dtype, tensors: 0, params: 0, bytes: 0 }
    d.tensors++
    d.params += t.elementCount
    d.bytes += t.bytes
    byDtype.set(t.dtype, d)
    params += t.elementCount
    bytes += t.bytes
  }
  const config: Record<string, string | number | boolean | null> = {}
  const textConfig = (info.config?.text_config ?? {}) as Record<string, unknown>
  for (const k of CONFIG_FIELDS) {
    const v = info.config?.[k] ?? textConfig[k]
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') config[k] = v
  }
  return {
    path: info.path,
    name: info.name,
    architecture: info.architecture,
    modelType: info.modelType,
    parameters: params,
    bytes,
    tensorCount: info.tensors.length,
    shards: info.shards.map((s) => ({ file: s.file, bytes: s.fileSize, tensors: s.tensors })),
    byDtype: [...byDtype.values()].sort((a, b) => b.bytes - a.bytes),
    hasTokenizer: info.files.tokenizer.length > 0,
    config,
  }
}

function rowOf(t: InventoryTensor): TensorRow {
  const s = t.stats
  return {
    index: t.index,
    shard: t.shard,
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    elementCount: t.elementCount,
    bytes: t.bytes,
    layer: t.layer,
    role: t.role,
    group: t.group,
    stats:
      s && s.min !== null && s.max !== null
        ? {
            min: s.min,
            max: s.max,
            mean: s.mean ?? 0,
            std: s.std ?? 0,
            absMax: s.absMax ?? 0,
            nan: s.nan,
            inf: s.posInf + s.negInf,
            zeroFraction: s.zeroFraction,
          }
        : null,
  }
}

function tuneTensorOf(t: InventoryTensor, blockScales?: Map<string, BlockGrid>, headerShare = 0): TuneTensor {
  const s = t.stats
  const grid = t.scaleTensor ? blockScales?.get(t.scaleTensor) : undefined
  const cols = t.shape[t.shape.length - 1] ?? 1
  return {
    ...(grid && s
      ? {
          sampleScale: s.sampleIndex.map((i) => {
            const r = Math.floor(i / cols)
            const c = i % cols
            return grid.scales[Math.floor(r / grid.blockRows) * grid.scaleCols + Math.floor(c / grid.blockCols)] ?? 1
          }),
        }
      : {}),
    name: t.name,
    dtype: t.dtype,
    group: t.group,
    role: t.role,
    overheadBytes: Buffer.byteLength(t.name) + headerShare,
    elementCount: t.elementCount,
    bytes: t.bytes,
    min: s?.min ?? 0,
    max: s?.max ?? 0,
    std: s?.std ?? 0,
    sample: s?.sample ?? [],
  }
}

/** An FP8 weight's block-scale grid (DeepSeek-V3: one F32 per 128×128 block). */
interface BlockGrid {
  blockRows: number
  blockCols: number
  scaleCols: number
  scales: Float64Array
}

/** Reads the block scales of every FP8 weight that has them, so estimates know each sample's FP8 grid. */
async function readBlockScales(info: ModelInfo, tensors: InventoryTensor[]): Promise<Map<string, BlockGrid>> {
  const out = new Map<string, BlockGrid>()
  const q = info.config?.quantization_config as { weight_block_size?: unknown } | undefined
  const pref = Array.isArray(q?.weight_block_size) ? (q.weight_block_size as number[]) : []
  // The same rule as the inventory's: the configured block size, else the usual sizes that fit the grid.
  const fit = (n: number, grid: number, preferred?: number) =>
    [preferred, 128, 64, 32, 256, 16, 512, 1024].find(
      (b) => typeof b === 'number' && b > 0 && Math.ceil(n / b) === grid,
    )
  const work: (() => Promise<void>)[] = []
  for (const t of tensors) {
    const name = t.scaleTensor
    if (!name || t.shape.length !== 2) continue
    const scale = info.tensor(name)
    if (scale?.shape.length !== 2 || !isNumericDtype(scale.dtype)) continue
    const [rows, cols] = t.shape as [number, number]
    const [sr, sc] = scale.shape as [number, number]
    const blockRows = fit(rows, sr, pref[0])
    const blockCols = fit(cols, sc, pref[1])
    if (blockRows === undefined || blockCols === undefined) continue
    const dtype = scale.dtype
    work.push(async () => {
      const raw = await info.store.locate(name).shard.read(name)
      out.set(name, { blockRows, blockCols, scaleCols: sc, scales: decodeToFloat64(dtype, raw) })
    })
  }
  // Tens of thousands of small reads (DeepSeek-V3): keep a few dozen in flight.
  let next = 0
  const lane = async () => {
    while (next < work.length) await work[next++]!()
  }
  await Promise.all(Array.from({ length: Math.min(32, work.length) }, lane))
  return out
}

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80)

export function createShardPressService(opts: ServiceOptions): ApiService {
  const workDir = resolve(opts.workDir ?? join(homedir(), 'ShardPress'))
  const stateDir = resolve(opts.stateDir ?? workDir)
  const recentFile = join(stateDir, 'recent.json')
  const models = new Map<string, OpenedModel>()
  const jobs = new Map<string, JobEntry>()
  const inventoryProgress = new Emitter<InventoryProgress>()
  const jobProgress = new Emitter<JobProgress>()
  const tokens = new Emitter<TokenEvent>()
  let jobCounter = 0

  function readRecent(): RecentModel[] {
    try {
      const v = JSON.parse(readFileSync(recentFile, 'utf8'))
      if (!Array.isArray(v)) return []
      return v.filter(
        (r): r is RecentModel =>
          r && typeof r.path === 'string' && typeof r.name === 'string' && typeof r.openedAt === 'string',
      )
    } catch {
      return []
    }
  }

  async function rememberRecent(path: string, name: string): Promise<void> {
    const list = [{ path, name, openedAt: new Date().toISOString() }, ...readRecent().filter((r) => r.path !== path)]
    mkdirSync(stateDir, { recursive: true })
    const { writeFileAtomic } = await import('../pipeline/atomic')
    await writeFileAtomic(recentFile, `${JSON.stringify(list.slice(0, 12), null, 2)}\n`)
  }

  async function opened(path: string): Promise<OpenedModel> {
    const key = resolve(path)
    const hit = models.get(key)
    if (hit) return hit
    const info = await openModel(key)
    const entry: OpenedModel = { info, summary: summaryOf(info) }
    models.set(key, entry)
    if (info.path !== key) models.set(info.path, entry)
    return entry
  }

  function inventoryOf(m: OpenedModel): Promise<CoreInventory> {
    m.inventory ??= buildInventory(m.info, {
      stats: true,
      workers: opts.workers,
      onProgress: (p) =>
        inventoryProgress.emit({
          path: m.info.path,
          bytesDone: p.bytesDone,
          bytesTotal: p.bytesTotal,
          tensorsDone: p.tensorsDone,
          tensorsTotal: p.tensorsTotal,
        }),
    }).catch((err) => {
      m.inventory = undefined
      throw err
    })
    // Prepare the Tune estimates as soon as the statistics exist, so the Tune view answers at once.
    m.inventory.then(
      () => void prepared(m.info.path).catch(() => {}),
      () => {},
    )
    return m.inventory
  }

  async function prepared(path: string): Promise<{ model: OpenedModel; prepared: PreparedTensors }> {
    const model = await opened(path)
    model.prepared ??= inventoryOf(model)
      .then(async (inv) => {
        const grids = await readBlockScales(model.info, inv.tensors)
        // The container keeps each shard's original header: share its bytes out over the shard's tensors.
        const share = new Map(model.info.shards.map((s) => [s.file, s.headerBytes / Math.max(1, s.tensors)]))
        return prepareTensorsAsync(inv.tensors.map((t) => tuneTensorOf(t, grids, share.get(t.shard) ?? 0)))
      })
      .catch((err) => {
        model.prepared = undefined
        throw err
      })
    return { model, prepared: await model.prepared }
  }

  function emitJob(entry: JobEntry, patch: Partial<JobProgress>): void {
    entry.progress = { ...entry.progress, ...patch }
    jobProgress.emit(entry.progress)
  }

  function defaultOutput(req: JobRequest, name: string): string {
    if (req.kind === 'decompress') return join(workDir, 'reconstructed', safeName(name))
    return join(workDir, 'compressed', safeName(name))
  }

  /** Per-shard progress from the pipeline's overall progress, attributing each step to the current shard. */
  function shardTracker(entry: JobEntry) {
    let lastBytes = 0
    const started = Date.now()
    return (p: {
      bytesDone: number
      bytesTotal: number
      tensorsDone: number
      tensorsTotal: number
      current?: string
      etaSeconds?: number
    }) => {
      const shards = entry.progress.shards.map((s) => ({ ...s }))
      const delta = p.bytesDone - lastBytes
      lastBytes = p.bytesDone
      const cur = p.current ? shards.find((s) => s.name === p.current) : undefined
      if (cur && delta > 0) cur.bytesDone = Math.min(cur.bytesTotal, cur.bytesDone + delta)
      const elapsed = (Date.now() - started) / 1000
      const eta =
        p.etaSeconds ?? (p.bytesDone > 0 ? (elapsed * (p.bytesTotal - p.bytesDone)) / Math.max(1, p.bytesDone) : null)
      emitJob(entry, {
        bytesDone: p.bytesDone,
        bytesTotal: p.bytesTotal,
        tensorsDone: p.tensorsDone,
        tensorsTotal: p.tensorsTotal,
        shards,
        etaSeconds: eta,
      })
    }
  }

  async function runJob(entry: JobEntry, req: JobRequest): Promise<JobResult> {
    const base: JobResult = {
      jobId: entry.progress.jobId,
      kind: req.kind,
      state: 'done',
      output: entry.progress.output,
      error: null,
      ratio: null,
      originalBytes: null,
      compressedBytes: null,
      tensors: [],
      sweep: [],
    }
    const signal = entry.controller.signal
    const track = shardTracker(entry)
    if (req.kind === 'compress' || req.kind === 'sweep') {
      const { compressModel } = await import('../pipeline/compress')
      const model = await opened(req.input)
      const plan = req.plan ? planFromTune(req.plan) : makePlan('rel', 1e-3)
      if (req.kind === 'compress') {
        const out = await compressModel({
          model: model.info.path,
          outDir: entry.progress.output,
          plan,
          workers: opts.workers,
          signal,
          onProgress: track,
        })
        const groupOf = new Map(model.info.tensors.map((t) => [t.name, t.group]))
        return {
          ...base,
          ratio: out.manifest.totals.ratio,
          originalBytes: out.manifest.totals.originalBytes,
          compressedBytes: out.manifest.totals.compressedBytes,
          tensors: out.metrics.map((m) => ({
            name: m.tensor,
            group: groupOf.get(m.tensor) ?? m.role,
            originalBytes: m.originalBytes,
            compressedBytes: m.compressedBytes,
            ratio: m.ratio,
            maxAbsError: m.maxAbsErr,
            rmse: m.rmse,
          })),
        }
      }
      const bounds = req.bounds && req.bounds.length > 0 ? req.bounds : [1e-5, 1e-4, 1e-3]
      const sweep: JobResult['sweep'] = []
      for (const [i, bound] of bounds.entries()) {
        const p: CompressionPlan = { ...plan, mode: plan.mode === 'lossless' ? 'rel' : plan.mode, bound }
        emitJob(entry, { message: `bound ${bound.toExponential(1)} (${i + 1} of ${bounds.length})` })
        const out = await compressModel({
          model: model.info.path,
          outDir: join(entry.progress.output, `bound-${bound.toExponential(0)}`),
          plan: p,
          workers: opts.workers,
          signal,
          onProgress: (q) =>
            track({ ...q, bytesDone: q.bytesDone + i * q.bytesTotal, bytesTotal: q.bytesTotal * bounds.length }),
        })
        let maxAbsError = 0
        let sq = 0
        let n = 0
        for (const m of out.metrics) {
          maxAbsError = Math.max(maxAbsError, m.maxAbsErr)
          sq += m.rmse * m.rmse * m.elements
          n += m.elements
        }
        sweep.push({
          mode: p.mode,
          bound,
          ratio: out.manifest.totals.ratio,
          maxAbsError,
          rmse: Math.sqrt(sq / Math.max(1, n)),
        })
      }
      return { ...base, sweep }
    }
    const { decompressModel, verifyModel } = await import('../pipeline/decompress')
    const report =
      req.kind === 'decompress'
        ? await decompressModel({
            input: req.input,
            outDir: entry.progress.output,
            workers: opts.workers,
            signal,
            onProgress: track,
          })
        : await verifyModel({
            input: req.input,
            original: req.original ?? undefined,
            workers: opts.workers,
            signal,
            onProgress: track,
          })
    const problems = report.problems.map((p) => p.message)
    return {
      ...base,
      state: report.ok ? 'done' : 'failed',
      error: problems.length > 0 ? problems.slice(0, 3).join(' ') : null,
      tensors: report.tensors.map((t) => ({
        name: t.tensor,
        group: classifyTensor(t.tensor).group,
        originalBytes: 0,
        compressedBytes: 0,
        ratio: 0,
        maxAbsError: t.maxAbsErr,
        rmse: 0,
      })),
    }
  }

  /** Variants the Compare view can run: the original, its Q8_0/Q4_0 baselines and compressed runs of it. */
  function variantsOf(model: OpenedModel): Variant[] {
    const out: Variant[] = [
      { id: 'original', label: 'original', kind: 'original', source: model.info.path, sizeBytes: model.summary.bytes },
      { id: 'q8_0', label: 'Q8_0', kind: 'q8_0', source: model.info.path, sizeBytes: null },
      { id: 'q4_0', label: 'Q4_0', kind: 'q4_0', source: model.info.path, sizeBytes: null },
    ]
    const seen = new Set<string>()
    const consider = (dir: string) => {
      if (seen.has(dir) || !existsSync(join(dir, DESCRIPTOR_NAME))) return
      seen.add(dir)
      try {
        const d = JSON.parse(readFileSync(join(dir, DESCRIPTOR_NAME), 'utf8')) as {
          source?: string
          plan?: CompressionPlan
          shards?: { compressedBytes: number }[]
        }
        if (d.source && resolve(d.source) !== resolve(model.info.dir) && resolve(d.source) !== model.info.path) return
        const plan = d.plan
          ? `${d.plan.mode}${d.plan.mode === 'lossless' ? '' : ` ${d.plan.bound.toExponential(0)}`}`
          : ''
        out.push({
          id: `run:${dir}`,
          label: `run ${basename(dir)} ${plan}`.trim(),
          kind: 'run',
          source: dir,
          sizeBytes: (d.shards ?? []).reduce((a, s) => a + s.compressedBytes, 0),
        })
      } catch {
        // Not a readable run: skip it.
      }
    }
    for (const j of jobs.values())
      if (j.progress.kind === 'compress' && j.progress.state === 'done') consider(j.progress.output)
    const compressedDir = join(workDir, 'compressed')
    if (existsSync(compressedDir)) {
      for (const name of readdirSync(compressedDir)) {
        const dir = join(compressedDir, name)
        if (statSync(dir).isDirectory()) {
          consider(dir)
          for (const sub of readdirSync(dir)) if (sub.startsWith('bound-')) consider(join(dir, sub))
        }
      }
    }
    return out
  }

  /** A .gguf for a variant: converted from the model (F32/Q8_0/Q4_0) or from a reconstruction of a run. */
  async function ggufFor(model: OpenedModel, v: Variant): Promise<string> {
    const { resolveGguf } = await import('../eval')
    const cacheDir = join(workDir, 'cache', 'gguf')
    if (v.kind === 'run') {
      const { decompressModel } = await import('../pipeline/decompress')
      const outDir = join(workDir, 'cache', 'reconstructed', safeName(v.source))
      if (!existsSync(join(outDir, 'config.json'))) await decompressModel({ input: v.source, outDir, original: false })
      return (await resolveGguf({ name: v.label, path: outDir, type: 'f32' }, cacheDir)).gguf
    }
    const type = v.kind === 'original' ? 'f32' : v.kind
    return (await resolveGguf({ name: v.label, path: model.info.dir, type }, cacheDir)).gguf
  }

  async function generate(sessionId: string, model: OpenedModel, req: GenerationRequest, chosen: Variant[]) {
    const { EvalSession } = await import('../eval')
    const session = await EvalSession.open({ threads: 1 })
    try {
      for (const v of chosen) {
        const emit = (text: string, done: boolean, tps: number | null, error: string | null) =>
          tokens.emit({ sessionId, variant: v.id, text, done, tokensPerSecond: tps, error })
        try {
          const loaded = await session.load(await ggufFor(model, v))
          try {
            const input = loaded.tokenize(req.prompt)
            const max = req.maxTokens ?? 32
            const seq = await loaded.sequenceFor(Math.max(64, input.length + max + 1))
            const t0 = performance.now()
            let n = 0
            let prevText = ''
            const produced: Parameters<typeof loaded.detokenize>[0][number][] = []
            for await (const t of seq.evaluate(input, { temperature: 0 })) {
              if (loaded.isEog(t)) break
              produced.push(t)
              n++
              // Detokenize the whole run so multi-byte characters split over tokens come out whole.
              const text = loaded.detokenize(produced)
              emit(text.slice(prevText.length), false, null, null)
              prevText = text
              if (n >= max) break
            }
            emit('', true, n / Math.max(1e-9, (performance.now() - t0) / 1000), null)
          } finally {
            await loaded.dispose()
          }
        } catch (err) {
          emit('', true, null, err instanceof Error ? err.message : String(err))
        }
      }
    } finally {
      await session.dispose()
    }
  }

  const service: ApiService = {
    async getAppInfo() {
      const engine: Record<EnginePiece, boolean> = {
        model: true,
        inventory: true,
        synth: true,
        pipeline: true,
        gguf: true,
        eval: true,
      }
      return { version: VERSION, host: opts.host, workDir, engine }
    },

    async listRecent() {
      return readRecent().filter((r) => existsSync(r.path))
    },

    async openModel({ path }) {
      const m = await opened(path)
      await rememberRecent(m.info.path, m.info.name)
      return m.summary
    },

    async generateModel({ preset, outDir, scale, seed }) {
      const { generateModel, DEFAULT_MODEL } = await import('../synth')
      const dir = resolve(outDir ?? join(workDir, 'models', `${preset}-synth-${seed ?? DEFAULT_MODEL.seed}`))
      if (!existsSync(join(dir, 'config.json'))) {
        await generateModel(preset as 'llama', dir, {
          scale: scale ?? DEFAULT_MODEL.scale,
          seed: seed ?? DEFAULT_MODEL.seed,
          tied: DEFAULT_MODEL.tied,
        })
      }
      return { path: dir }
    },

    async getInventory({ path, stats }) {
      const m = await opened(path)
      const inv: CoreInventory = stats === false ? await buildInventory(m.info, { stats: false }) : await inventoryOf(m)
      const out: Inventory = {
        path: m.info.path,
        tensors: inv.tensors.map(rowOf),
        totals: inv.totals,
        hasStats: inv.hasStats,
      }
      return out
    },

    async getTensorDetail({ path, name }) {
      const m = await opened(path)
      const inv = await inventoryOf(m)
      const t = inv.tensors.find((x) => x.name === name)
      if (!t)
        throw new ApiError('NO_SUCH_TENSOR', `The model has no tensor named ${name}.`, { file: path, tensor: name })
      const detail: TensorDetail = {
        row: rowOf(t),
        histogram: t.stats ? t.stats.histogram : null,
        sample: t.stats ? t.stats.sample.slice(0, 64) : [],
      }
      return detail
    },

    async inventoryCsv({ path }) {
      const { inventoryToCsv } = await import('../model')
      return { csv: inventoryToCsv(await inventoryOf(await opened(path))) }
    },

    async estimatePlan({ path, plan }): Promise<PlanEstimate> {
      const { prepared: p } = await prepared(path)
      return estimatePlanOn(p, plan)
    },

    async estimateCurve({ path, plan, bounds }): Promise<CurvePoint[]> {
      const { prepared: p } = await prepared(path)
      return bounds.map((bound) => {
        const e = estimatePlanOn(p, { ...plan, bound, mode: plan.mode === 'lossless' ? 'rel' : plan.mode })
        return { bound, ratio: e.total.ratio, bitsPerWeight: e.total.bitsPerWeight, rmse: e.total.rmse }
      })
    },

    async savePlan({ file, plan }) {
      const target = resolve(file)
      await savePlan(target, planFromTune(plan))
      return { file: target }
    },

    async loadPlan({ file }): Promise<TunePlan> {
      return tuneFromPlan(loadPlan(resolve(file)))
    },

    async startJob(req) {
      const jobId = `job-${++jobCounter}-${randomUUID().slice(0, 8)}`
      let name = basename(resolve(req.input))
      let shards: { name: string; bytesDone: number; bytesTotal: number }[] = []
      if (req.kind === 'compress' || req.kind === 'sweep') {
        const m = await opened(req.input)
        name = m.info.name
        shards = m.info.shards.map((s) => ({ name: s.file, bytesDone: 0, bytesTotal: s.fileSize }))
        if (req.plan) parsePlan(planFromTune(req.plan))
      } else if (!existsSync(join(resolve(req.input), DESCRIPTOR_NAME))) {
        throw new ApiError(
          'NOT_A_RUN',
          `${req.input} is not a compressed model folder (it has no ${DESCRIPTOR_NAME}).`,
          {
            file: req.input,
          },
        )
      }
      const output = req.kind === 'verify' ? resolve(req.input) : resolve(req.output ?? defaultOutput(req, name))
      const entry: JobEntry = {
        progress: {
          jobId,
          kind: req.kind,
          state: 'running',
          input: resolve(req.input),
          output,
          bytesDone: 0,
          bytesTotal: 0,
          tensorsDone: 0,
          tensorsTotal: 0,
          shards,
          etaSeconds: null,
          startedAt: Date.now(),
          message: null,
        },
        controller: new AbortController(),
        result: null,
      }
      jobs.set(jobId, entry)
      // Start after the caller has the job id, so it sees every progress event for it.
      setImmediate(() => {
        jobProgress.emit(entry.progress)
        runJob(entry, req).then(
          (result) => {
            entry.result = result
            emitJob(entry, { state: result.state, etaSeconds: 0, message: result.error })
          },
          (err: unknown) => {
            const cancelled = entry.controller.signal.aborted
            const message = cancelled
              ? 'Cancelled; start it again to resume.'
              : err instanceof Error
                ? err.message
                : String(err)
            entry.result = {
              jobId,
              kind: req.kind,
              state: cancelled ? 'cancelled' : 'failed',
              output,
              error: message,
              ratio: null,
              originalBytes: null,
              compressedBytes: null,
              tensors: [],
              sweep: [],
            }
            emitJob(entry, { state: entry.result.state, message, etaSeconds: null })
          },
        )
      })
      return { jobId }
    },

    async cancelJob({ jobId }) {
      const entry = jobs.get(jobId)
      if (!entry) throw new ApiError('NO_SUCH_JOB', `There is no job ${jobId}.`)
      entry.controller.abort()
    },

    async listJobs() {
      return [...jobs.values()].map((j) => j.progress)
    },

    async getJobResult({ jobId }) {
      const entry = jobs.get(jobId)
      if (!entry) throw new ApiError('NO_SUCH_JOB', `There is no job ${jobId}.`)
      if (!entry.result) throw new ApiError('JOB_RUNNING', `Job ${jobId} has not finished yet.`)
      return entry.result
    },

    async listVariants({ model }) {
      return variantsOf(await opened(model))
    },

    async startGeneration(req) {
      const model = await opened(req.model)
      const all = variantsOf(model)
      const chosen = req.variants.map((id) => {
        const v = all.find((x) => x.id === id)
        if (!v) throw new ApiError('NO_SUCH_VARIANT', `There is no variant ${id} of ${model.info.name}.`)
        return v
      })
      const sessionId = randomUUID()
      setImmediate(() => {
        generate(sessionId, model, req, chosen).catch((err: unknown) => {
          for (const v of chosen)
            tokens.emit({
              sessionId,
              variant: v.id,
              text: '',
              done: true,
              tokensPerSecond: null,
              error: err instanceof Error ? err.message : String(err),
            })
        })
      })
      return { sessionId }
    },

    async evaluateVariants({ model, variants, textFile }): Promise<VariantMetrics[]> {
      const m = await opened(model)
      const all = variantsOf(m)
      const { evaluateModels } = await import('../eval')
      const file = textFile ?? opts.defaultTextFile
      const text = file ? readFileSync(resolve(file), 'utf8') : BUILTIN_TEXT
      const chosen = variants.map((id) => {
        const v = all.find((x) => x.id === id)
        if (!v) throw new ApiError('NO_SUCH_VARIANT', `There is no variant ${id} of ${m.info.name}.`)
        return v
      })
      const inputs = await Promise.all(chosen.map(async (v) => ({ name: v.id, path: await ggufFor(m, v) })))
      const reference = { name: 'original', path: await ggufFor(m, all[0]!) }
      const report = await evaluateModels({
        variants: inputs,
        reference,
        text,
        ctx: 64,
        chunks: 8,
        prompts: [],
        threads: 1,
        cacheDir: join(workDir, 'cache', 'gguf'),
      })
      return report.variants.map((r) => {
        const v = chosen.find((c) => c.id === r.name)
        return {
          variant: r.name,
          label: v?.label ?? r.name,
          perplexity: r.perplexity?.ppl ?? null,
          kld: r.divergence?.kld.mean ?? null,
          top1: r.divergence?.top1.rate ?? null,
          tokensPerSecond: r.generation?.tokensPerSecond ?? r.perplexity?.tokensPerSecond ?? null,
          memoryBytes: r.peakRssMb * 2 ** 20,
          // A run is measured on its reconstruction's GGUF, but what it costs is its compressed size on disk.
          sizeBytes: v?.kind === 'run' || v?.kind === 'original' ? v.sizeBytes : r.fileBytes,
          bitsPerWeight:
            (v?.kind === 'run' || v?.kind === 'original') && v.sizeBytes !== null
              ? (v.sizeBytes * 8) / Math.max(1, m.summary.parameters)
              : r.bitsPerWeight,
        }
      })
    },

    onInventoryProgress: (l) => inventoryProgress.on(l),
    onJobProgress: (l) => jobProgress.on(l),
    onTokens: (l) => tokens.on(l),
  }
  return service
}

/** Default workspace when none is given: beside the user's home (bridge) or userData (Electron). */
export function defaultWorkDir(): string {
  return process.env.SHARDPRESS_HOME ?? join(homedir(), 'ShardPress')
}

/** A short plain text for perplexity when the user gives none (written for ShardPress; simple story English). */
const BUILTIN_TEXT = `Once upon a time, a little girl named Mia lived in a small house near the woods. Every morning she went
out to look at the birds. One day she saw a small bird sitting on the ground. The bird could not fly. Mia was sad for
the bird. She picked it up and took it home. Her mom gave her a box and a soft cloth. Mia put the bird in the box and
gave it some water and seeds. The next day the bird was happy. It sang a little song. Mia smiled and sang with it.
After a few days, the bird could fly again. Mia took the box outside and opened it. The bird flew up to a tree and
looked at Mia. Then it flew away into the sky. Mia waved and said goodbye. She was a little sad, but she was also
happy, because the bird was free. From that day on, every morning a small bird came to sing near her window.
Tom had a red ball. He liked to play with it in the park. One day the ball rolled into the pond. Tom did not know
what to do. A big dog came and jumped into the water. The dog got the ball and gave it back to Tom. Tom laughed and
said thank you to the dog. They played together until the sun went down, and then Tom went home to eat his dinner.`
