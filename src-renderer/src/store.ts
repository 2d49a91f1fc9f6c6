// The renderer's state: one zustand store made of slices (app, model, inventory, tune, jobs, compare). It talks
// to the service only through the ShardPressApi it is given, so tests drive it with an in-memory service.
import { createStore, type StoreApi } from 'zustand/vanilla'
import type {
  AppInfo,
  CurvePoint,
  Inventory,
  InventoryProgress,
  JobProgress,
  JobRequest,
  JobResult,
  ModelSummary,
  PlanEstimate,
  RecentModel,
  ShardPressApi,
  TensorDetail,
  TokenEvent,
  TunePlan,
  TuneSetting,
  Variant,
  VariantMetrics,
} from '../../src-main/core/api/contract'
import { initialTable, type TableState } from './table'

export type ViewName = 'open' | 'inventory' | 'tune' | 'jobs' | 'compare'
export const VIEWS: { id: ViewName; label: string }[] = [
  { id: 'open', label: 'Open' },
  { id: 'inventory', label: 'Inventory' },
  { id: 'tune', label: 'Tune' },
  { id: 'jobs', label: 'Jobs' },
  { id: 'compare', label: 'Compare' },
]

/** Bounds the ratio-vs-bound chart is drawn at. */
export const CURVE_BOUNDS = [1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]

export interface GenerationColumn {
  variant: string
  tokens: string[]
  done: boolean
  tokensPerSecond: number | null
  error: string | null
}

export interface AppState {
  api: ShardPressApi
  view: ViewName
  info: AppInfo | null
  error: string | null
  busy: string | null
  recent: RecentModel[]
  model: ModelSummary | null
  inventory: Inventory | null
  inventoryProgress: InventoryProgress | null
  table: TableState
  selected: string | null
  detail: TensorDetail | null
  plan: TunePlan
  estimate: PlanEstimate | null
  curve: CurvePoint[]
  jobs: Record<string, JobProgress>
  results: Record<string, JobResult>
  variants: Variant[]
  chosen: string[]
  prompt: string
  sessionId: string | null
  columns: Record<string, GenerationColumn>
  metrics: VariantMetrics[]
}

export interface AppActions {
  setView(view: ViewName): void
  setError(message: string | null): void
  init(): Promise<void>
  openModel(path: string): Promise<void>
  generateModel(preset: string): Promise<void>
  loadInventory(): Promise<void>
  setTable(patch: Partial<TableState>): void
  toggleGroup(key: string): void
  sortBy(key: TableState['sortKey']): void
  selectTensor(name: string | null): Promise<void>
  setGlobal(setting: Partial<TuneSetting>): void
  setGroup(group: string, setting: TuneSetting | null): void
  setPlan(plan: TunePlan): void
  refreshEstimate(): Promise<void>
  refreshCurve(): Promise<void>
  startJob(req: JobRequest): Promise<string | null>
  cancelJob(jobId: string): Promise<void>
  loadResult(jobId: string): Promise<void>
  loadVariants(): Promise<void>
  toggleVariant(id: string): void
  setPrompt(prompt: string): void
  runPrompt(maxTokens?: number): Promise<void>
  evaluate(): Promise<void>
}

export type AppStore = StoreApi<AppState & AppActions>

export const DEFAULT_PLAN: TunePlan = { mode: 'rel', bound: 1e-3, groups: {} }

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}

/** Index of the first token where a column differs from the reference column, or null if none differs yet. */
export function firstDivergence(reference: string[], other: string[]): number | null {
  const n = Math.min(reference.length, other.length)
  for (let i = 0; i < n; i++) if (reference[i] !== other[i]) return i
  return null
}

/** Ratio vs bound points for the current plan with the global bound swept (per-group overrides kept). */
export function planAtBound(plan: TunePlan, bound: number): TunePlan {
  return { ...plan, bound, mode: plan.mode === 'lossless' ? 'rel' : plan.mode }
}

export function createAppStore(api: ShardPressApi): AppStore {
  let estimateSeq = 0
  let subscribed = false
  const store = createStore<AppState & AppActions>()((set, get) => {
    /** Runs an action with a busy label and turns any error into the one-sentence banner. */
    async function guard<T>(label: string | null, fn: () => Promise<T>): Promise<T | null> {
      if (label) set({ busy: label })
      try {
        return await fn()
      } catch (err) {
        set({ error: describeError(err) })
        return null
      } finally {
        if (label) set({ busy: null })
      }
    }
    return {
      api,
      view: 'open',
      info: null,
      error: null,
      busy: null,
      recent: [],
      model: null,
      inventory: null,
      inventoryProgress: null,
      table: initialTable,
      selected: null,
      detail: null,
      plan: DEFAULT_PLAN,
      estimate: null,
      curve: [],
      jobs: {},
      results: {},
      variants: [],
      chosen: [],
      prompt: 'Once upon a time',
      sessionId: null,
      columns: {},
      metrics: [],

      setView: (view) => set({ view }),
      setError: (error) => set({ error }),

      async init() {
        if (!subscribed) {
          subscribed = true
          api.onInventoryProgress((p) => {
            if (p.path === get().model?.path) set({ inventoryProgress: p })
          })
          api.onJobProgress((p) => {
            set({ jobs: { ...get().jobs, [p.jobId]: p } })
            if (p.state === 'done' || p.state === 'failed' || p.state === 'cancelled') void get().loadResult(p.jobId)
          })
          api.onTokens((e: TokenEvent) => {
            if (e.sessionId !== get().sessionId) return
            const prev = get().columns[e.variant] ?? {
              variant: e.variant,
              tokens: [],
              done: false,
              tokensPerSecond: null,
              error: null,
            }
            const next: GenerationColumn = {
              ...prev,
              tokens: e.text ? [...prev.tokens, e.text] : prev.tokens,
              done: e.done,
              tokensPerSecond: e.tokensPerSecond ?? prev.tokensPerSecond,
              error: e.error,
            }
            set({ columns: { ...get().columns, [e.variant]: next } })
          })
        }
        await guard(null, async () => {
          const [info, recent, jobs] = await Promise.all([api.getAppInfo(), api.listRecent(), api.listJobs()])
          set({ info, recent, jobs: Object.fromEntries(jobs.map((j) => [j.jobId, j])) })
        })
      },

      async openModel(path) {
        await guard('Opening the model…', async () => {
          const model = await api.openModel({ path: path.trim() })
          set({
            model,
            inventory: null,
            inventoryProgress: null,
            selected: null,
            detail: null,
            estimate: null,
            curve: [],
            variants: [],
            chosen: [],
            columns: {},
            metrics: [],
            error: null,
          })
          set({ recent: await api.listRecent() })
        })
        if (get().model) await get().loadInventory()
      },

      async generateModel(preset) {
        const made = await guard(`Generating a ${preset} model…`, () => api.generateModel({ preset }))
        if (made) await get().openModel(made.path)
      },

      async loadInventory() {
        const model = get().model
        if (!model) return
        await guard('Reading tensors and statistics…', async () => {
          const inventory = await api.getInventory({ path: model.path, stats: true })
          if (get().model?.path === model.path) set({ inventory })
        })
      },

      setTable: (patch) => set({ table: { ...get().table, ...patch } }),
      toggleGroup(key) {
        const t = get().table
        set({ table: { ...t, collapsed: { ...t.collapsed, [key]: !t.collapsed[key] } } })
      },
      sortBy(key) {
        const t = get().table
        set({ table: { ...t, sortKey: key, sortDir: t.sortKey === key ? (-t.sortDir as 1 | -1) : 1 } })
      },

      async selectTensor(name) {
        const model = get().model
        set({ selected: name, detail: null })
        if (!name || !model) return
        await guard(null, async () => {
          const detail = await api.getTensorDetail({ path: model.path, name })
          if (get().selected === name) set({ detail })
        })
      },

      setGlobal(setting) {
        set({ plan: { ...get().plan, ...setting } })
        void get().refreshEstimate()
      },
      setGroup(group, setting) {
        const groups = { ...get().plan.groups }
        if (setting) groups[group] = setting
        else delete groups[group]
        set({ plan: { ...get().plan, groups } })
        void get().refreshEstimate()
      },
      setPlan(plan) {
        set({ plan })
        void get().refreshEstimate()
        void get().refreshCurve()
      },

      async refreshEstimate() {
        const model = get().model
        if (!model) return
        const seq = ++estimateSeq
        const plan = get().plan
        await guard(null, async () => {
          const estimate = await api.estimatePlan({ path: model.path, plan })
          // Latest wins: a slow answer to an older slider position must not overwrite a newer one.
          if (seq === estimateSeq) set({ estimate })
        })
      },

      async refreshCurve() {
        const model = get().model
        if (!model) return
        const plan = planAtBound(get().plan, get().plan.bound)
        await guard(null, async () => {
          set({ curve: await api.estimateCurve({ path: model.path, plan, bounds: CURVE_BOUNDS }) })
        })
      },

      async startJob(req) {
        const started = await guard(null, () => api.startJob(req))
        return started?.jobId ?? null
      },
      async cancelJob(jobId) {
        await guard(null, () => api.cancelJob({ jobId }))
      },
      async loadResult(jobId) {
        await guard(null, async () => {
          const result = await api.getJobResult({ jobId })
          set({ results: { ...get().results, [jobId]: result } })
        })
      },

      async loadVariants() {
        const model = get().model
        if (!model) return
        await guard('Looking for variants…', async () => {
          const variants = await api.listVariants({ model: model.path })
          const chosen = get().chosen.filter((id) => variants.some((v) => v.id === id))
          set({ variants, chosen: chosen.length > 0 ? chosen : variants.slice(0, 2).map((v) => v.id) })
        })
      },
      toggleVariant(id) {
        const chosen = get().chosen
        set({ chosen: chosen.includes(id) ? chosen.filter((c) => c !== id) : [...chosen, id] })
      },
      setPrompt: (prompt) => set({ prompt }),

      async runPrompt(maxTokens = 32) {
        const model = get().model
        const { chosen, prompt } = get()
        if (!model || chosen.length === 0) return
        const columns: Record<string, GenerationColumn> = {}
        for (const v of chosen) columns[v] = { variant: v, tokens: [], done: false, tokensPerSecond: null, error: null }
        set({ columns, sessionId: null })
        await guard(null, async () => {
          // Register the session id before any token can arrive: tokens for it are only emitted after we return.
          const { sessionId } = await api.startGeneration({ model: model.path, variants: chosen, prompt, maxTokens })
          set({ sessionId })
        })
      },

      async evaluate() {
        const model = get().model
        if (!model) return
        await guard('Evaluating variants…', async () => {
          set({ metrics: await api.evaluateVariants({ model: model.path, variants: get().chosen }) })
        })
      },
    }
  })
  return store
}
