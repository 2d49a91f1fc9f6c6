// A parameter sweep as one job: modes × bounds (× plan variants), each a run under <out>/runs/run_NNN with its
// compressed model in model/, then a results table (sweep.csv) and chart data (sweep.json: ratio and error vs
// bound, per role). Re-running the same sweep skips the runs already finished and resumes the interrupted one.
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { ErrorMode } from '../codec/types'
import { type CompressionPlan, makePlan, type PlanRule } from '../plan/plan'
import { writeFileAtomic } from './atomic'
import { compressModel, type JobProgress } from './compress'
import { createPipelinePool, type PipelinePool } from './pool'
import { nextRunName, type RunManifest, type TensorMetrics } from './runs'

export interface PlanVariant {
  label: string
  rules: PlanRule[]
  llmDefaults?: boolean
}

export interface SweepOptions {
  model: string
  outDir: string
  bounds: number[]
  modes?: Exclude<ErrorMode, 'lossless'>[]
  variants?: PlanVariant[]
  workers?: number
  pool?: PipelinePool
  digest?: 'sha256' | 'crc32'
  chunkElements?: number
  signal?: AbortSignal
  onProgress?: (p: JobProgress & { run: string; label: string; index: number; count: number }) => void
}

export interface RoleSummary {
  tensors: number
  originalBytes: number
  compressedBytes: number
  ratio: number
  maxAbsErr: number
  meanAbsErr: number
}

export interface SweepRow {
  run: string
  label: string
  mode: string
  bound: number
  variant: string
  originalBytes: number
  compressedBytes: number
  ratio: number
  maxAbsErr: number
  meanAbsErr: number
  rmse: number
  overBoundShare: number
  seconds: number
  byRole: Record<string, RoleSummary>
}

export interface SweepResult {
  outDir: string
  rows: SweepRow[]
  charts: {
    ratioVsBound: { mode: string; variant: string; bound: number; ratio: number }[]
    errorVsBound: {
      mode: string
      variant: string
      bound: number
      maxAbsErr: number
      meanAbsErr: number
      rmse: number
    }[]
    perRole: { role: string; mode: string; variant: string; bound: number; ratio: number; maxAbsErr: number }[]
  }
}

interface SweepState {
  model: string
  runs: { label: string; run: string; mode: string; bound: number; variant: string }[]
}

export async function sweepModel(o: SweepOptions): Promise<SweepResult> {
  const outDir = resolve(o.outDir)
  const runsDir = join(outDir, 'runs')
  mkdirSync(runsDir, { recursive: true })
  const modes = o.modes?.length ? o.modes : ['rel' as const]
  const variants = o.variants?.length ? o.variants : [{ label: 'default', rules: [] }]
  const grid: { label: string; plan: CompressionPlan; mode: string; bound: number; variant: string }[] = []
  for (const v of variants)
    for (const mode of modes)
      for (const bound of o.bounds)
        grid.push({
          label: `${mode}-${bound}${variants.length > 1 ? `-${v.label}` : ''}`,
          plan: makePlan(mode, bound, v.rules, v.llmDefaults ?? true),
          mode,
          bound,
          variant: v.label,
        })

  // Keep the run numbers of an interrupted sweep of the same grid, so resuming fills the same folders.
  const statePath = join(outDir, 'sweep-state.json')
  let state: SweepState | undefined
  try {
    state = JSON.parse(readFileSync(statePath, 'utf8')) as SweepState
  } catch {}
  const sameGrid =
    state?.model === resolve(o.model) &&
    state.runs.length === grid.length &&
    state.runs.every((r, i) => r.label === grid[i]!.label)
  if (!sameGrid) {
    const first = Number(nextRunName(runsDir).slice(4))
    state = {
      model: resolve(o.model),
      runs: grid.map((g, i) => ({
        label: g.label,
        run: `run_${String(first + i).padStart(3, '0')}`,
        mode: g.mode,
        bound: g.bound,
        variant: g.variant,
      })),
    }
    await writeFileAtomic(statePath, JSON.stringify(state, null, 2))
  }

  const ownPool = !o.pool
  const pool = o.pool ?? createPipelinePool(o.workers)
  const rows: SweepRow[] = []
  try {
    for (let i = 0; i < grid.length; i++) {
      const g = grid[i]!
      const run = state!.runs[i]!.run
      const runDir = join(runsDir, run)
      let manifest: RunManifest
      let metrics: TensorMetrics[]
      if (existsSync(join(runDir, 'manifest.json')) && existsSync(join(runDir, 'model', 'shardpress.json'))) {
        manifest = JSON.parse(readFileSync(join(runDir, 'manifest.json'), 'utf8'))
        metrics = parseMetricsCsv(readFileSync(join(runDir, 'metrics.csv'), 'utf8'))
      } else {
        const res = await compressModel({
          model: o.model,
          outDir: join(runDir, 'model'),
          runDir,
          plan: g.plan,
          pool,
          label: g.label,
          ...(o.digest ? { digest: o.digest } : {}),
          ...(o.chunkElements ? { chunkElements: o.chunkElements } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.onProgress
            ? {
                onProgress: (p: JobProgress) =>
                  o.onProgress!({ ...p, run, label: g.label, index: i, count: grid.length }),
              }
            : {}),
        })
        manifest = res.manifest
        metrics = res.metrics
      }
      rows.push(summarize(run, g.label, g.mode, g.bound, g.variant, manifest, metrics))
    }
  } finally {
    if (ownPool) await pool.close()
  }

  const result: SweepResult = {
    outDir,
    rows,
    charts: {
      ratioVsBound: rows.map((r) => ({ mode: r.mode, variant: r.variant, bound: r.bound, ratio: r.ratio })),
      errorVsBound: rows.map((r) => ({
        mode: r.mode,
        variant: r.variant,
        bound: r.bound,
        maxAbsErr: r.maxAbsErr,
        meanAbsErr: r.meanAbsErr,
        rmse: r.rmse,
      })),
      perRole: rows.flatMap((r) =>
        Object.entries(r.byRole).map(([role, s]) => ({
          role,
          mode: r.mode,
          variant: r.variant,
          bound: r.bound,
          ratio: s.ratio,
          maxAbsErr: s.maxAbsErr,
        })),
      ),
    },
  }
  await writeFileAtomic(join(outDir, 'sweep.json'), `${JSON.stringify(result, null, 2)}\n`)
  await writeFileAtomic(join(outDir, 'sweep.csv'), sweepCsv(rows))
  return result
}

function summarize(
  run: string,
  label: string,
  mode: string,
  bound: number,
  variant: string,
  manifest: RunManifest,
  metrics: TensorMetrics[],
): SweepRow {
  let maxAbs = 0
  let sumAbs = 0
  let sumSq = 0
  let n = 0
  let over = 0
  const byRole: Record<string, RoleSummary & { sumAbs: number; n: number }> = {}
  for (const m of metrics) {
    const lossy = m.method === 'abs'
    const err = lossy && Number.isFinite(m.maxAbsErr) ? m.maxAbsErr : 0
    maxAbs = Math.max(maxAbs, err)
    if (lossy && Number.isFinite(m.meanAbsErr)) {
      sumAbs += m.meanAbsErr * m.elements
      sumSq += m.rmse * m.rmse * m.elements
    }
    n += m.elements
    over += (Number.isFinite(m.overBoundShare) ? m.overBoundShare : 0) * m.elements
    let r = byRole[m.role]
    if (!r) {
      r = { tensors: 0, originalBytes: 0, compressedBytes: 0, ratio: 0, maxAbsErr: 0, meanAbsErr: 0, sumAbs: 0, n: 0 }
      byRole[m.role] = r
    }
    r.tensors++
    r.originalBytes += m.originalBytes
    r.compressedBytes += m.compressedBytes
    r.maxAbsErr = Math.max(r.maxAbsErr, err)
    if (lossy && Number.isFinite(m.meanAbsErr)) r.sumAbs += m.meanAbsErr * m.elements
    r.n += m.elements
  }
  const roles: Record<string, RoleSummary> = {}
  for (const [role, r] of Object.entries(byRole).sort(([a], [b]) => a.localeCompare(b)))
    roles[role] = {
      tensors: r.tensors,
      originalBytes: r.originalBytes,
      compressedBytes: r.compressedBytes,
      ratio: r.compressedBytes > 0 ? r.originalBytes / r.compressedBytes : 0,
      maxAbsErr: r.maxAbsErr,
      meanAbsErr: r.n > 0 ? r.sumAbs / r.n : 0,
    }
  return {
    run,
    label,
    mode,
    bound,
    variant,
    originalBytes: manifest.totals.originalBytes,
    compressedBytes: manifest.totals.compressedBytes,
    ratio: manifest.totals.ratio,
    maxAbsErr: maxAbs,
    meanAbsErr: n > 0 ? sumAbs / n : 0,
    rmse: n > 0 ? Math.sqrt(sumSq / n) : 0,
    overBoundShare: n > 0 ? over / n : 0,
    seconds: manifest.seconds,
    byRole: roles,
  }
}

export function sweepCsv(rows: SweepRow[]): string {
  const head =
    'run,label,mode,bound,variant,original_bytes,compressed_bytes,ratio,max_abs_err,mean_abs_err,rmse,over_bound_share,seconds'
  const lines = rows.map((r) =>
    [
      r.run,
      r.label,
      r.mode,
      r.bound,
      r.variant,
      r.originalBytes,
      r.compressedBytes,
      r.ratio,
      r.maxAbsErr,
      r.meanAbsErr,
      r.rmse,
      r.overBoundShare,
      r.seconds,
    ].join(','),
  )
  return `${[head, ...lines].join('\n')}\n`
}

/** Reads back a run's metrics.csv (for sweeps resumed after some runs finished). */
export function parseMetricsCsv(text: string): TensorMetrics[] {
  const lines = text.split('\n').filter((l) => l.length > 0)
  const cells = (line: string): string[] => {
    const out: string[] = []
    let cur = ''
    let quoted = false
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') {
          cur += '"'
          i++
        } else if (c === '"') quoted = false
        else cur += c
      } else if (c === '"') quoted = true
      else if (c === ',') {
        out.push(cur)
        cur = ''
      } else cur += c
    }
    out.push(cur)
    return out
  }
  const num = (s: string) =>
    s === 'inf' ? Number.POSITIVE_INFINITY : s === '-inf' ? Number.NEGATIVE_INFINITY : Number(s)
  return lines.slice(1).map((l) => {
    const c = cells(l)
    return {
      shard: c[0]!,
      tensor: c[1]!,
      dtype: c[2]!,
      role: c[3]!,
      mode: c[4]!,
      bound: num(c[5]!),
      eb: num(c[6]!),
      method: c[7]!,
      rule: c[8]!,
      elements: num(c[9]!),
      originalBytes: num(c[10]!),
      compressedBytes: num(c[11]!),
      ratio: num(c[12]!),
      meanAbsErr: num(c[13]!),
      maxAbsErr: num(c[14]!),
      rmse: num(c[15]!),
      psnr: num(c[16]!),
      overBoundShare: num(c[17]!),
      ms: num(c[18]!),
    }
  })
}
