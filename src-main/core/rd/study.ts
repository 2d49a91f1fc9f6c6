// The rate–distortion study of one model: the original, lossy runs at several bounds (and any extra plans, e.g.
// tuned ones), and the Q8_0 / Q4_0 baselines, all measured on the same bench; a table of bits per weight (as
// stored) against KL divergence and perplexity ratio, with chart data, written as rd.json and rd.csv.
import { mkdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { ErrorMode } from '../codec/types'
import { createPipelinePool } from '../pipeline'
import { nextRunName } from '../pipeline/runs'
import { type CompressionPlan, makePlan } from '../plan'
import { writeFileAtomic } from '../util/atomic'
import { benchFor, type FidelityBench, type FidelityMetrics } from './bench'
import { EXACT_SMALL_TENSORS, type LossyPoint, measureRun, weightMatrices } from './variant'

export type BaselineType = 'q8_0' | 'q4_0'

export interface RdRow {
  kind: 'original' | 'baseline' | 'lossy'
  label: string
  bitsPerWeight: number
  metrics: FidelityMetrics
  /** For lossy rows. */
  mode?: Exclude<ErrorMode, 'lossless'>
  bound?: number
  point?: LossyPoint
}

export interface RdResult {
  model: string
  outDir: string
  ctx: number
  /** 'documents': each document from BOS, cut to ctx, every position scored; 'chunks': llama-perplexity's. */
  method: 'chunks' | 'documents'
  chunks: number
  tokens: number
  referencePpl: number
  rows: RdRow[]
  /** KLD and PPL ratio a lossy curve reaches at each baseline's size (log-linear interpolation), when bracketed. */
  atBaselineSize: {
    baseline: string
    bitsPerWeight: number
    baselineKld: number
    lossyKld?: number
    lossyPplRatio?: number
    /** The format's nominal size when every row is whole blocks (Q8_0 8.5, Q4_0 4.5), and the curve's KLD there. */
    nominalBitsPerWeight?: number
    lossyKldAtNominal?: number
  }[]
  finding: string
}

export interface RdOptions {
  model: string
  outDir: string
  text: string
  bounds: number[]
  mode?: Exclude<ErrorMode, 'lossless'>
  /** Extra lossy variants measured alongside (e.g. tuned plans). */
  plans?: { label: string; plan: CompressionPlan }[]
  baselines?: BaselineType[]
  ctx?: number
  chunks?: number
  documentSeparator?: string | null
  threads?: number
  workers?: number
  /** An already open bench on this model's text (the caller keeps ownership). */
  bench?: FidelityBench
  keepReconstructions?: boolean
  onProgress?: (message: string) => void
  signal?: AbortSignal
}

/** The plan a rate–distortion point uses: one bound for every weight matrix, small tensors exact. */
export function rdPlan(mode: Exclude<ErrorMode, 'lossless'>, bound: number): CompressionPlan {
  return makePlan(mode, bound, [EXACT_SMALL_TENSORS], false)
}

const BASELINE_LABEL: Record<BaselineType, string> = { q8_0: 'Q8_0', q4_0: 'Q4_0' }

export async function rateDistortion(o: RdOptions): Promise<RdResult> {
  const outDir = resolve(o.outDir)
  const runsDir = join(outDir, 'runs')
  mkdirSync(runsDir, { recursive: true })
  const log = o.onProgress ?? (() => {})
  const mode = o.mode ?? 'abs'
  if (!o.bench) log('scoring the original on the text')
  const bench = await benchFor(o, outDir)
  const pool = createPipelinePool(o.workers)
  const rows: RdRow[] = []
  try {
    const original = await bench.measure(o.model, 'f32')
    rows.push({
      kind: 'original',
      label: 'original (F32 GGUF)',
      bitsPerWeight: original.ggufBitsPerWeight,
      metrics: original.metrics,
    })
    for (const b of o.baselines ?? (['q8_0', 'q4_0'] as BaselineType[])) {
      log(`measuring ${BASELINE_LABEL[b]}`)
      const r = await bench.measure(o.model, b)
      rows.push({ kind: 'baseline', label: BASELINE_LABEL[b], bitsPerWeight: r.ggufBitsPerWeight, metrics: r.metrics })
    }
    const matrices = await weightMatrices(o.model)
    const variants = [
      ...[...o.bounds]
        .sort((a, b) => a - b)
        .map((bound) => ({ label: `${mode} ${bound}`, plan: rdPlan(mode, bound), bound })),
      ...(o.plans ?? []).map((p) => ({ ...p, bound: undefined })),
    ]
    for (const v of variants) {
      o.signal?.throwIfAborted()
      const runDir = join(runsDir, nextRunName(runsDir))
      log(`${v.label}: compress, reconstruct, measure (${runDir})`)
      const point = await measureRun({
        model: o.model,
        plan: v.plan,
        label: v.label,
        runDir,
        bench,
        matrices,
        pool,
        ...(o.keepReconstructions ? { keepReconstruction: true } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      })
      rows.push({
        kind: 'lossy',
        label: v.label,
        bitsPerWeight: point.bitsPerWeight,
        metrics: point.metrics,
        ...(v.bound !== undefined ? { mode, bound: v.bound } : {}),
        point,
      })
    }
  } finally {
    await pool.close()
    if (!o.bench) {
      await bench.dispose()
      rmSync(join(outDir, 'gguf-cache'), { recursive: true, force: true })
    }
  }
  const result: RdResult = {
    model: resolve(o.model),
    outDir,
    ctx: bench.ctx,
    method: bench.method,
    chunks: bench.chunks,
    tokens: bench.tokens,
    referencePpl: bench.referencePpl,
    rows,
    atBaselineSize: [],
    finding: '',
  }
  result.atBaselineSize = compareAtBaselines(rows)
  result.finding = findingText(result)
  await writeFileAtomic(join(outDir, 'rd.json'), `${JSON.stringify(result, null, 2)}\n`)
  await writeFileAtomic(join(outDir, 'rd.csv'), rdCsv(result))
  return result
}

/** log(KLD) (and log PPL ratio) of the bound sweep, interpolated linearly in bits/weight at each baseline's size. */
export function compareAtBaselines(rows: RdRow[]): RdResult['atBaselineSize'] {
  const curve = rows
    .filter((r) => r.kind === 'lossy' && r.bound !== undefined && r.metrics.kld > 0)
    .sort((a, b) => a.bitsPerWeight - b.bitsPerWeight)
  const at = (x: number, y: (r: RdRow) => number): number | undefined => {
    for (let i = 0; i + 1 < curve.length; i++) {
      const lo = curve[i]!
      const hi = curve[i + 1]!
      if (lo.bitsPerWeight <= x && x <= hi.bitsPerWeight && hi.bitsPerWeight > lo.bitsPerWeight) {
        const t = (x - lo.bitsPerWeight) / (hi.bitsPerWeight - lo.bitsPerWeight)
        return Math.exp(Math.log(y(lo)) + t * (Math.log(y(hi)) - Math.log(y(lo))))
      }
    }
    return undefined
  }
  return rows
    .filter((r) => r.kind === 'baseline')
    .map((b) => {
      const x = b.bitsPerWeight
      const out: RdResult['atBaselineSize'][number] = {
        baseline: b.label,
        bitsPerWeight: x,
        baselineKld: b.metrics.kld,
      }
      const kld = at(x, (r) => r.metrics.kld)
      if (kld !== undefined) {
        out.lossyKld = kld
        out.lossyPplRatio = at(x, (r) => r.metrics.pplRatio)!
      }
      const nominal = NOMINAL_BITS[b.label]
      if (nominal !== undefined && Math.abs(nominal - x) > 1e-3) {
        out.nominalBitsPerWeight = nominal
        const k = at(nominal, (r) => r.metrics.kld)
        if (k !== undefined) out.lossyKldAtNominal = k
      }
      return out
    })
}

/** Bits per weight of the block formats when every row is whole 32-value blocks (32·b + 16 bits per block). */
const NOMINAL_BITS: Record<string, number> = { Q8_0: 8.5, Q4_0: 4.5 }

/** The plain-language answer to "at the same size, does error-bounded compression stay closer than quantization?" */
export function findingText(r: Pick<RdResult, 'rows' | 'atBaselineSize'>): string {
  const lossy = r.rows.filter((x) => x.kind === 'lossy')
  const parts: string[] = []
  for (const b of r.rows.filter((x) => x.kind === 'baseline')) {
    const at = r.atBaselineSize.find((a) => a.baseline === b.label)
    // The smallest lossy variant at least as close to the original as the baseline, and its size.
    const matching = lossy
      .filter((l) => l.metrics.kld <= b.metrics.kld)
      .sort((x, y) => x.bitsPerWeight - y.bitsPerWeight)[0]
    let s: string
    if (at?.lossyKld !== undefined) {
      const f = at.lossyKld / Math.max(b.metrics.kld, 1e-30)
      s =
        `At ${b.label}'s size (${b.bitsPerWeight.toFixed(2)} bits/weight as stored) error-bounded compression reaches a mean KL ` +
        `divergence of ${fmt(at.lossyKld)} against ${b.label}'s ${fmt(b.metrics.kld)} (${f.toFixed(2)}×): ` +
        (f < 1
          ? `it keeps the model closer to the original than ${b.label}.`
          : `${b.label} keeps the model closer to the original.`)
      if (at.lossyKldAtNominal !== undefined) {
        const g = at.lossyKldAtNominal / Math.max(b.metrics.kld, 1e-30)
        s +=
          ` Even at ${b.label}'s nominal ${at.nominalBitsPerWeight} bits/weight (some rows of this model are not whole ` +
          `blocks, so llama.cpp stores them in F16) it reaches ${fmt(at.lossyKldAtNominal)} (${g.toFixed(2)}× ${b.label}'s).`
      }
    } else {
      s = `No pair of bound-sweep runs brackets ${b.label}'s size (${b.bitsPerWeight.toFixed(2)} bits/weight), so there is no same-size comparison.`
    }
    if (matching) {
      const pct = (matching.bitsPerWeight / b.bitsPerWeight - 1) * 100
      s += ` The smallest lossy variant at least as close as ${b.label} (${matching.label}) takes ${matching.bitsPerWeight.toFixed(2)} bits/weight, ${Math.abs(pct).toFixed(0)} % ${pct <= 0 ? 'less' : 'more'} than ${b.label}.`
    } else {
      s += ` No lossy variant measured is as close to the original as ${b.label}.`
    }
    parts.push(s)
  }
  return parts.join(' ')
}

const fmt = (x: number) => (x === 0 ? '0' : x.toExponential(2))

export function rdCsv(r: RdResult): string {
  const head =
    'kind,label,mode,bound,bits_per_weight,file_bits_per_weight,ratio,max_abs_err,bound_kept,ppl,ppl_ratio,kld_mean,kld_stderr,top1,mean_abs_delta_p,run'
  const lines = r.rows.map((x) =>
    [
      x.kind,
      JSON.stringify(x.label),
      x.mode ?? '',
      x.bound ?? '',
      x.bitsPerWeight,
      x.point?.fileBitsPerWeight ?? '',
      x.point?.ratio ?? '',
      x.point?.maxAbsErr ?? '',
      x.point ? x.point.boundKept : '',
      x.metrics.ppl,
      x.metrics.pplRatio,
      x.metrics.kld,
      x.metrics.kldStderr,
      x.metrics.top1,
      x.metrics.meanAbsDeltaP,
      x.point?.run ?? '',
    ].join(','),
  )
  return `${[head, ...lines].join('\n')}\n`
}
