// The one service contract the renderer sees: a TypeScript interface plus, derived from the same method list,
// the payload validators. Electron IPC, the preload proxy and the WebSocket bridge are all generated from it.
import { arr, bool, type Check, none, num, obj, oneOf, optional, record, str } from './schema'

// ---- data shapes -------------------------------------------------------------------------------------------

export interface AppInfo {
  version: string
  /** 'electron' inside the desktop shell, 'bridge' when a browser drives the service over WebSocket. */
  host: 'electron' | 'bridge' | 'local'
  /** Folder where generated models and runs go by default. */
  workDir: string
  /** Which engine pieces are present in this build (a view shows "not available yet" for the others). */
  engine: Record<EnginePiece, boolean>
}

export type EnginePiece = 'model' | 'inventory' | 'synth' | 'pipeline' | 'gguf' | 'eval'

export interface RecentModel {
  path: string
  name: string
  openedAt: string
}

export interface ShardSummary {
  file: string
  bytes: number
  tensors: number
}

export interface DtypeTotal {
  dtype: string
  tensors: number
  params: number
  bytes: number
}

export interface ModelSummary {
  path: string
  name: string
  architecture: string | null
  modelType: string | null
  parameters: number
  bytes: number
  tensorCount: number
  shards: ShardSummary[]
  byDtype: DtypeTotal[]
  hasTokenizer: boolean
  /** A few config.json fields worth showing (hidden size, layers, heads, vocab). */
  config: Record<string, string | number | boolean | null>
}

export interface TensorStats {
  min: number
  max: number
  mean: number
  std: number
  absMax: number
  nan: number
  inf: number
  zeroFraction: number
}

/** One row of the inventory table. Heavy per-tensor data (histogram, sample) comes through getTensorDetail. */
export interface TensorRow {
  index: number
  shard: string
  name: string
  dtype: string
  shape: number[]
  elementCount: number
  bytes: number
  layer: number | null
  role: string
  group: string
  stats: TensorStats | null
}

export interface Inventory {
  path: string
  tensors: TensorRow[]
  totals: { tensors: number; params: number; bytes: number }
  hasStats: boolean
}

export interface TensorDetail {
  row: TensorRow
  /** Counts over equal bins spanning [min, max]. */
  histogram: { min: number; max: number; counts: number[] } | null
  /** The first values of the kept sample (for a quick look, not the whole sample). */
  sample: number[]
}

export interface InventoryProgress {
  path: string
  bytesDone: number
  bytesTotal: number
  tensorsDone: number
  tensorsTotal: number
}

/** How a tensor or group is stored: lossless, or within an absolute or a relative (× value range) bound. */
export type StorageMode = 'lossless' | 'abs' | 'rel'
export const STORAGE_MODES = ['lossless', 'abs', 'rel'] as const

export interface TuneSetting {
  mode: StorageMode
  bound: number
}

/** What the Tune view edits: a global setting and per-group overrides; the pipeline receives it as its plan. */
export interface TunePlan extends TuneSetting {
  groups: Record<string, TuneSetting>
}

export interface EstimateLine {
  key: string
  tensors: number
  elements: number
  originalBytes: number
  compressedBytes: number
  ratio: number
  bitsPerWeight: number
  /** Root-mean-square error over all elements, in value units. */
  rmse: number
  /** Largest error any element may get (the bound, resolved). */
  maxError: number
}

export interface PlanEstimate {
  total: EstimateLine
  groups: EstimateLine[]
  /** Time the estimator itself took, for the ≤ 100 ms budget. */
  millis: number
}

export interface CurvePoint {
  bound: number
  ratio: number
  bitsPerWeight: number
  rmse: number
}

export type JobKind = 'compress' | 'decompress' | 'verify' | 'sweep'
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled'

export interface JobRequest {
  kind: JobKind
  /** The model folder (compress, sweep) or the compressed run folder (decompress, verify). */
  input: string
  /** Where outputs go; a default beside the work dir is chosen when omitted. */
  output?: string
  plan?: TunePlan
  /** Sweep bounds. */
  bounds?: number[]
  /** For verify: the original model to check bounds against. */
  original?: string
  resume?: boolean
}

export interface ShardProgress {
  name: string
  bytesDone: number
  bytesTotal: number
}

export interface JobProgress {
  jobId: string
  kind: JobKind
  state: JobState
  input: string
  output: string
  bytesDone: number
  bytesTotal: number
  tensorsDone: number
  tensorsTotal: number
  shards: ShardProgress[]
  etaSeconds: number | null
  startedAt: number
  message: string | null
}

export interface TensorResult {
  name: string
  group: string
  originalBytes: number
  compressedBytes: number
  ratio: number
  maxAbsError: number
  rmse: number
}

export interface SweepPoint {
  mode: string
  bound: number
  ratio: number
  maxAbsError: number
  rmse: number
}

export interface JobResult {
  jobId: string
  kind: JobKind
  state: JobState
  output: string
  error: string | null
  ratio: number | null
  originalBytes: number | null
  compressedBytes: number | null
  tensors: TensorResult[]
  sweep: SweepPoint[]
}

export type VariantKind = 'original' | 'run' | 'q8_0' | 'q4_0'

export interface Variant {
  id: string
  label: string
  kind: VariantKind
  /** Model folder, run folder or .gguf file this variant is built from. */
  source: string
  sizeBytes: number | null
}

export interface GenerationRequest {
  model: string
  variants: string[]
  prompt: string
  maxTokens?: number
}

export interface TokenEvent {
  sessionId: string
  variant: string
  /** Text of the next token(s); empty with done = true at the end. */
  text: string
  done: boolean
  tokensPerSecond: number | null
  error: string | null
}

export interface VariantMetrics {
  variant: string
  label: string
  perplexity: number | null
  kld: number | null
  top1: number | null
  tokensPerSecond: number | null
  memoryBytes: number | null
  sizeBytes: number | null
  bitsPerWeight: number | null
}

export type Unsubscribe = () => void

// ---- the service interface ---------------------------------------------------------------------------------

export interface ShardPressApi {
  getAppInfo(): Promise<AppInfo>
  listRecent(): Promise<RecentModel[]>
  openModel(req: { path: string }): Promise<ModelSummary>
  generateModel(req: { preset: string; outDir?: string; scale?: number; seed?: number }): Promise<{ path: string }>
  getInventory(req: { path: string; stats?: boolean }): Promise<Inventory>
  getTensorDetail(req: { path: string; name: string }): Promise<TensorDetail>
  inventoryCsv(req: { path: string }): Promise<{ csv: string }>
  estimatePlan(req: { path: string; plan: TunePlan }): Promise<PlanEstimate>
  estimateCurve(req: { path: string; plan: TunePlan; bounds: number[] }): Promise<CurvePoint[]>
  savePlan(req: { file: string; plan: TunePlan }): Promise<{ file: string }>
  loadPlan(req: { file: string }): Promise<TunePlan>
  startJob(req: JobRequest): Promise<{ jobId: string }>
  cancelJob(req: { jobId: string }): Promise<void>
  listJobs(): Promise<JobProgress[]>
  getJobResult(req: { jobId: string }): Promise<JobResult>
  listVariants(req: { model: string }): Promise<Variant[]>
  startGeneration(req: GenerationRequest): Promise<{ sessionId: string }>
  evaluateVariants(req: { model: string; variants: string[]; textFile?: string }): Promise<VariantMetrics[]>
  onInventoryProgress(listener: (e: InventoryProgress) => void): Unsubscribe
  onJobProgress(listener: (e: JobProgress) => void): Unsubscribe
  onTokens(listener: (e: TokenEvent) => void): Unsubscribe
}

type Fn = (...args: never[]) => unknown
type EventKeys = { [K in keyof ShardPressApi]: K extends `on${string}` ? K : never }[keyof ShardPressApi]
export type ApiMethod = Exclude<keyof ShardPressApi, EventKeys>
export type ApiEvent = EventKeys
export type RequestOf<M extends ApiMethod> = ShardPressApi[M] extends (req: infer R) => unknown ? R : undefined
export type EventPayload<E extends ApiEvent> = ShardPressApi[E] extends (l: (e: infer P) => void) => Unsubscribe
  ? P
  : never
export type ApiService = { [M in ApiMethod]: ShardPressApi[M] extends Fn ? ShardPressApi[M] : never } & {
  [E in ApiEvent]: ShardPressApi[E]
}

// ---- validators, one per method: the list the proxies are generated from ----------------------------------

const path = str({ nonEmpty: true, max: 4096 })
const setting = obj({ mode: oneOf(...STORAGE_MODES), bound: num({ min: 0, max: 1e6 }) })
const tunePlan: Check<TunePlan> = obj({
  mode: oneOf(...STORAGE_MODES),
  bound: num({ min: 0, max: 1e6 }),
  groups: record(setting, 256),
})

/** Each method's request validator. The object's keys ARE the method list (checked against the interface). */
export const apiMethods: { [M in ApiMethod]: Check<RequestOf<M>> } = {
  getAppInfo: none(),
  listRecent: none(),
  openModel: obj({ path }),
  generateModel: obj({
    preset: oneOf('llama', 'gemma3', 'deepseek-v3'),
    outDir: optional(path),
    scale: optional(num({ min: 1e-4, max: 1 })),
    seed: optional(num({ min: 0, max: 2 ** 32, integer: true })),
  }),
  getInventory: obj({ path, stats: optional(bool()) }),
  getTensorDetail: obj({ path, name: str({ nonEmpty: true, max: 1024 }) }),
  inventoryCsv: obj({ path }),
  estimatePlan: obj({ path, plan: tunePlan }),
  estimateCurve: obj({ path, plan: tunePlan, bounds: arr(num({ min: 0, max: 1e6 }), 200) }),
  savePlan: obj({ file: path, plan: tunePlan }),
  loadPlan: obj({ file: path }),
  startJob: obj({
    kind: oneOf('compress', 'decompress', 'verify', 'sweep'),
    input: path,
    output: optional(path),
    plan: optional(tunePlan),
    bounds: optional(arr(num({ min: 0, max: 1e6 }), 64)),
    original: optional(path),
    resume: optional(bool()),
  }),
  cancelJob: obj({ jobId: str({ nonEmpty: true, max: 64 }) }),
  listJobs: none(),
  getJobResult: obj({ jobId: str({ nonEmpty: true, max: 64 }) }),
  listVariants: obj({ model: path }),
  startGeneration: obj({
    model: path,
    variants: arr(str({ nonEmpty: true, max: 256 }), 8),
    prompt: str({ max: 4000 }),
    maxTokens: optional(num({ min: 1, max: 512, integer: true })),
  }),
  evaluateVariants: obj({ model: path, variants: arr(str({ nonEmpty: true, max: 256 }), 8), textFile: optional(path) }),
}

/** The event streams, by name; their payloads go from the service to the renderer only. */
export const apiEvents: readonly ApiEvent[] = ['onInventoryProgress', 'onJobProgress', 'onTokens']

export const API_METHOD_NAMES = Object.keys(apiMethods) as ApiMethod[]

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && Object.hasOwn(apiMethods, name)
}

export function isApiEvent(name: unknown): name is ApiEvent {
  return typeof name === 'string' && (apiEvents as readonly string[]).includes(name)
}
