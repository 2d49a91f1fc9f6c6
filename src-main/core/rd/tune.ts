// Auto-tune: the smallest compression plan that meets a fidelity target (mean KLD ≤ x and/or PPL ratio ≤ y),
// found by measuring, never by estimating. First one global bound: bracket by factors of 4, then bisect on
// log(bound). Then per group (attention, MLP, embeddings, …), largest first: loosen that group's bound by ×2,
// ×√2, ×2^¼ while the target still holds. Every candidate is a real run: compressed, reconstructed, evaluated.
import { mkdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { ErrorMode } from '../codec/types'
import { createPipelinePool } from '../pipeline'
import { nextRunName } from '../pipeline/runs'
import { type CompressionPlan, makePlan, type PlanRule } from '../plan'
import { writeFileAtomic } from '../util/atomic'
import { benchFor, type FidelityBench, type FidelityMetrics } from './bench'
import { EXACT_SMALL_TENSORS, type LossyPoint, measureRun, weightMatrices } from './variant'

export interface TuneTarget {
  /** Mean KL divergence per token (nats) at most this. */
  kld?: number
  /** Perplexity / the original's perplexity at most this. */
  pplRatio?: number
}

export interface TuneOptions {
  model: string
  outDir: string
  text: string
  target: TuneTarget
  mode?: Exclude<ErrorMode, 'lossless'>
  /** First global bound tried (default 1e-3). */
  startBound?: number
  /** Global bisection stops when the bracket's upper/lower bound ratio is at most this (default 1.2). */
  tolerance?: number
  /** Candidate runs at most (default 24). */
  maxRuns?: number
  /** Skip the per-group phase. */
  globalOnly?: boolean
  ctx?: number
  chunks?: number
  documentSeparator?: string | null
  threads?: number
  workers?: number
  bench?: FidelityBench
  /**
   * Runs already measured on the same bench (e.g. a rate–distortion sweep's): a global-bound candidate with the
   * same mode and bound is taken from here instead of being measured again.
   */
  measured?: LossyPoint[]
  onProgress?: (message: string) => void
  signal?: AbortSignal
}

export interface TuneStep {
  phase: 'bracket' | 'bisect' | 'group'
  label: string
  run: string
  bound: number
  groupScales: Record<string, number>
  bitsPerWeight: number
  compressedBytes: number
  metrics: FidelityMetrics
  meets: boolean
}

export interface TuneResult {
  model: string
  outDir: string
  target: TuneTarget
  mode: Exclude<ErrorMode, 'lossless'>
  steps: TuneStep[]
  /** The smallest run that met the target (null when none did). */
  best: (LossyPoint & { bound: number; groupScales: Record<string, number> }) | null
  /** The best global-bound-only run, for comparison with the per-group result. */
  bestGlobal: (LossyPoint & { bound: number }) | null
  /** Where the best plan was saved (usable with `compress --plan`). */
  planFile?: string
  referencePpl: number
}

export class TuneError extends Error {
  override readonly name = 'TuneError'
  constructor(
    readonly code: 'TUNE_BAD_TARGET' | 'TUNE_UNREACHABLE',
    message: string,
  ) {
    super(message)
  }
}

export function meetsTarget(m: FidelityMetrics, t: TuneTarget): boolean {
  return (t.kld === undefined || m.kld <= t.kld) && (t.pplRatio === undefined || m.pplRatio <= t.pplRatio)
}

/** The plan of a tuning candidate: one global bound, × a scale per group, small tensors exact. */
export function tunedPlan(
  mode: Exclude<ErrorMode, 'lossless'>,
  bound: number,
  groupScales: Record<string, number>,
): CompressionPlan {
  const rules: PlanRule[] = [EXACT_SMALL_TENSORS]
  for (const [g, s] of Object.entries(groupScales).sort())
    if (s !== 1) rules.push({ role: g, boundScale: s, label: `${g}: bound × ${round(s)}` })
  return makePlan(mode, bound, rules, false)
}

const round = (x: number) => Number(x.toPrecision(4))

export async function autoTune(o: TuneOptions): Promise<TuneResult> {
  const t = o.target
  const valid = (x: number | undefined) => x === undefined || (Number.isFinite(x) && x > 0)
  if ((t.kld === undefined && t.pplRatio === undefined) || !valid(t.kld) || !valid(t.pplRatio))
    throw new TuneError('TUNE_BAD_TARGET', 'A tuning target needs a positive KL divergence or perplexity ratio.')
  if (t.pplRatio !== undefined && t.pplRatio <= 1)
    throw new TuneError('TUNE_BAD_TARGET', 'A perplexity-ratio target must be above 1 (1 is the original itself).')
  const mode = o.mode ?? 'abs'
  const outDir = resolve(o.outDir)
  const runsDir = join(outDir, 'runs')
  mkdirSync(runsDir, { recursive: true })
  const log = o.onProgress ?? (() => {})
  const maxRuns = o.maxRuns ?? 24
  const tolerance = Math.max(1.01, o.tolerance ?? 1.2)
  const bench = await benchFor(o, outDir)
  const pool = createPipelinePool(o.workers)
  const steps: TuneStep[] = []
  const points = new Map<string, LossyPoint>()
  let best: TuneResult['best'] = null
  let bestGlobal: TuneResult['bestGlobal'] = null
  try {
    const matrices = await weightMatrices(o.model)
    const groups = [...new Set([...matrices.values()].map((m) => m.group))]
    const target = [
      t.kld !== undefined ? `mean KLD ≤ ${t.kld}` : '',
      t.pplRatio !== undefined ? `PPL ratio ≤ ${t.pplRatio}` : '',
    ]
      .filter(Boolean)
      .join(' and ')

    // A plan measured once is not measured again (the greedy walk can come back to one).
    const seen = new Map<string, boolean>()
    const tryPlan = async (phase: TuneStep['phase'], bound: number, scales: Record<string, number>) => {
      const scaleText = Object.entries(scales)
        .filter(([, s]) => s !== 1)
        .sort(([a], [c]) => a.localeCompare(c))
        .map(([g, s]) => `${g}×${round(s)}`)
        .join(' ')
      const label = `${mode} ${round(bound)}${scaleText ? ` ${scaleText}` : ''}`
      const known = seen.get(label)
      if (known !== undefined) return known
      if (steps.length >= maxRuns) return null
      o.signal?.throwIfAborted()
      const global = Object.values(scales).every((x) => x === 1)
      const prior = global
        ? o.measured?.find(
            (m) =>
              m.plan.mode === mode &&
              Math.abs(m.plan.bound / bound - 1) < 1e-9 &&
              JSON.stringify(m.plan.rules) === JSON.stringify([EXACT_SMALL_TENSORS]),
          )
        : undefined
      const runDir = join(runsDir, nextRunName(runsDir))
      if (prior) log(`${phase} ${label}: already measured in ${prior.runDir}`)
      const p =
        prior ??
        (await measureRun({
          model: o.model,
          plan: tunedPlan(mode, bound, scales),
          label,
          runDir,
          bench,
          matrices,
          pool,
          ...(o.signal ? { signal: o.signal } : {}),
        }))
      const meets = meetsTarget(p.metrics, t)
      seen.set(label, meets)
      points.set(p.runDir, p)
      steps.push({
        phase,
        label,
        run: p.run,
        bound,
        groupScales: { ...scales },
        bitsPerWeight: p.bitsPerWeight,
        compressedBytes: p.compressedBytes,
        metrics: p.metrics,
        meets,
      })
      log(
        `${phase} ${label}: ${p.bitsPerWeight.toFixed(3)} bits/weight, KLD ${p.metrics.kld.toExponential(3)}, ` +
          `PPL ratio ${p.metrics.pplRatio.toFixed(4)} → ${meets ? 'meets' : 'misses'} ${target}`,
      )
      if (meets && (!best || p.compressedBytes < best.compressedBytes))
        best = { ...p, bound, groupScales: { ...scales } }
      return meets
    }

    // 1. One global bound: bracket [lo meets, hi misses], then bisect on log(bound).
    const none: Record<string, number> = {}
    let b = o.startBound ?? 1e-3
    let lo: number | undefined
    let hi: number | undefined
    for (let i = 0; i < 10 && (lo === undefined || hi === undefined); i++) {
      const ok = await tryPlan('bracket', b, none)
      if (ok === null) break
      if (ok) {
        lo = b
        if (hi === undefined) b *= 4
      } else {
        hi = b
        if (lo === undefined) b /= 4
      }
    }
    if (lo === undefined) {
      throw new TuneError(
        'TUNE_UNREACHABLE',
        `No global ${mode} bound down to ${round(b * 4)} meets ${target}; try a looser target.`,
      )
    }
    while (hi !== undefined && hi / lo > tolerance) {
      const mid = Math.sqrt(lo * hi)
      const ok = await tryPlan('bisect', mid, none)
      if (ok === null) break
      if (ok) lo = mid
      else hi = mid
    }
    bestGlobal = best ? { ...(best as NonNullable<TuneResult['best']>) } : null

    // 2. Per group, largest compressed share first: loosen while the target holds.
    if (!o.globalOnly && best) {
      const start = best as NonNullable<TuneResult['best']>
      const bound = start.bound
      const scales: Record<string, number> = Object.fromEntries(groups.map((g) => [g, 1]))
      const order = [...groups].sort(
        (a, c) => (start.groups[c]?.compressedBytes ?? 0) - (start.groups[a]?.compressedBytes ?? 0),
      )
      for (const g of order) {
        for (const f of [2, Math.SQRT2, 2 ** 0.25]) {
          for (;;) {
            const trial = { ...scales, [g]: scales[g]! * f }
            const ok = await tryPlan('group', bound, trial)
            if (!ok) break
            scales[g] = trial[g]!
          }
          if (steps.length >= maxRuns) break
        }
      }
    }
  } finally {
    await pool.close()
    if (!o.bench) {
      await bench.dispose()
      rmSync(join(outDir, 'gguf-cache'), { recursive: true, force: true })
    }
  }
  // Keep the compressed model of the winners only; every candidate keeps its manifest and metrics.
  const keep = new Set([(best as TuneResult['best'])?.runDir, (bestGlobal as TuneResult['bestGlobal'])?.runDir])
  // Runs borrowed from `measured` belong to their study and stay untouched.
  const borrowed = new Set(o.measured ?? [])
  for (const p of points.values())
    if (!keep.has(p.runDir) && !borrowed.has(p)) rmSync(join(p.runDir, 'model'), { recursive: true, force: true })
  const result: TuneResult = {
    model: resolve(o.model),
    outDir,
    target: t,
    mode,
    steps,
    best,
    bestGlobal,
    referencePpl: bench.referencePpl,
  }
  if (best) {
    result.planFile = join(outDir, 'tuned-plan.json')
    await writeFileAtomic(
      result.planFile,
      `${JSON.stringify((best as NonNullable<TuneResult['best']>).plan, null, 2)}\n`,
    )
  }
  await writeFileAtomic(join(outDir, 'tune.json'), `${JSON.stringify(result, null, 2)}\n`)
  return result
}
