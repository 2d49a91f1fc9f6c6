// `shardpress rd <model>`: the rate–distortion study: lossy runs at several bounds, Q8_0 and Q4_0 and the original,
// all evaluated the same way; prints bits/weight (as stored) against PPL, PPL ratio, mean KLD and top-1.
import { readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { loadPlan } from '../../core/plan'
import { type RdResult, rateDistortion, sampleText } from '../../core/rd'
import { writeReport } from '../../core/report'
import { type Command, type CommandContext, flag, numberOption, stringOption, UsageError } from '../command'
import { workersOption } from './compress'

/** Bounds that bracket 4.5 and 8.5 bits/weight on small Llama-family models in abs mode. */
export const DEFAULT_RD_BOUNDS = [5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2]

export function boundsOption(ctx: CommandContext, fallback: number[]): number[] {
  const s = stringOption(ctx, 'bounds')
  if (s === undefined) return fallback
  const b = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map(Number)
  if (b.length === 0 || b.some((x) => !(x > 0) || !Number.isFinite(x)))
    throw new UsageError('--bounds needs a comma-separated list of positive numbers.')
  return b
}

export function modeOption(ctx: CommandContext): 'abs' | 'rel' {
  const m = stringOption(ctx, 'mode') ?? 'abs'
  if (m !== 'abs' && m !== 'rel') throw new UsageError(`--mode must be abs or rel, not ${m}.`)
  return m
}

/** Shared evaluation options of rd and tune. */
export const EVAL_OPTIONS = {
  text: { type: 'string' },
  ctx: { type: 'string' },
  chunks: { type: 'string' },
  threads: { type: 'string' },
  workers: { type: 'string' },
  json: { type: 'boolean' },
} as const

export const EVAL_HELP = [
  '  --text FILE       evaluation text; split into documents on <|endoftext|> when it has them (default: text',
  '                    sampled from the model itself, seeded)',
  '  --ctx N           tokens per scored window (default 256)',
  '  --chunks N        documents (default 64) or perplexity chunks (default 16) used',
  '  --threads N       CPU threads for inference (default 1)',
  '  --workers N       codec worker threads (default: one per core)',
  '  --json            print the results as JSON',
]

export async function evalSettings(ctx: CommandContext, model: string) {
  const int = (n: number) => Number.isInteger(n) && n > 0
  const textFile = stringOption(ctx, 'text')
  const text = textFile ? readFileSync(textFile, 'utf8') : await sampleText(model)
  const c = numberOption(ctx, 'ctx', (n) => int(n) && n >= 8)
  const chunks = numberOption(ctx, 'chunks', int)
  const threads = numberOption(ctx, 'threads', (n) => int(n) && n <= 256)
  const workers = workersOption(ctx)
  return {
    text,
    textSource: textFile ?? 'sampled from the model (seeded, temperature 0.8)',
    ...(c !== undefined ? { ctx: c } : {}),
    ...(chunks !== undefined ? { chunks } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(workers !== undefined ? { workers } : {}),
  }
}

const f = (x: number, d = 4) => x.toFixed(d)

export function rdTable(r: RdResult): string {
  const rows = [['variant', 'bits/weight', 'ratio', 'max |err|', 'PPL', 'PPL ratio', 'mean KLD', 'top-1']]
  for (const x of r.rows)
    rows.push([
      x.label,
      f(x.bitsPerWeight, 3),
      x.point ? `×${f(x.point.ratio, 2)}` : '',
      x.point ? x.point.maxAbsErr.toExponential(2) : '',
      f(x.metrics.ppl),
      f(x.metrics.pplRatio),
      x.metrics.kld === 0 ? '0' : x.metrics.kld.toExponential(3),
      f(x.metrics.top1),
    ])
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r2) => r2[i]!.length)))
  return rows.map((r2) => r2.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')).join('\n')
}

export const rd: Command = {
  name: 'rd',
  summary: 'Rate–distortion study: lossy runs at several bounds vs Q8_0 and Q4_0, bits/weight vs KLD and PPL.',
  usage: 'rd <model> [--bounds 1e-3,4e-3,…] [--mode abs|rel] [--text FILE] [-o DIR] [--plans A.json,…] [--json]',
  help: [
    'Options:',
    `  --bounds LIST     error bounds of the sweep (default ${DEFAULT_RD_BOUNDS.join(',')})`,
    '  --mode MODE       abs (default) or rel',
    '  -o, --out DIR     results folder: runs/, rd.json, rd.csv, report.md/html (default results/rd-<model>)',
    '  --plans LIST      extra plan files measured alongside (e.g. tuned-plan.json from `tune`)',
    ...EVAL_HELP,
  ],
  options: {
    bounds: { type: 'string' },
    mode: { type: 'string' },
    out: { type: 'string', short: 'o' },
    plans: { type: 'string' },
    ...EVAL_OPTIONS,
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const model = ctx.positionals[0]!
    const bounds = boundsOption(ctx, DEFAULT_RD_BOUNDS)
    const mode = modeOption(ctx)
    const out = stringOption(ctx, 'out') ?? join('results', `rd-${basename(model)}`)
    const plans = (stringOption(ctx, 'plans') ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
      .map((file) => ({ label: basename(file).replace(/\.json$/, ''), plan: loadPlan(file) }))
    const s = await evalSettings(ctx, model)
    const json = flag(ctx, 'json')
    const r = await rateDistortion({
      model,
      outDir: out,
      bounds,
      mode,
      plans,
      ...s,
      onProgress: (m) => {
        if (!json) ctx.stderr.write(`${m}\n`)
      },
      signal: ctx.signal,
    })
    const files = await writeReport(out, {
      title: `Rate–distortion of ${basename(model)}`,
      model: { path: r.model },
      textSource: s.textSource,
      rd: r,
    })
    if (json) ctx.stdout.write(`${JSON.stringify({ ...r, report: files }, null, 2)}\n`)
    else ctx.stdout.write(`${rdTable(r)}\n\n${r.finding}\n\nreport: ${files.markdown}, ${files.html}\n`)
    return 0
  },
}
