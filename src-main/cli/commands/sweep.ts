// `shardpress sweep <model> -o <dir> --bounds 1e-5,1e-4,1e-3`: the paper's runs as one job, one run_NNN per
// mode × bound (× plan), then a results table (sweep.csv) and chart data (sweep.json).
import type { ErrorMode } from '../../core/codec/types'
import { type PlanVariant, sweepModel } from '../../core/pipeline'
import { loadPlan } from '../../core/plan'
import { type Command, flag, stringOption, UsageError } from '../command'
import { formatBytes } from '../progress-bar'
import { digestOption, resumable, workersOption } from './compress'

function list(s: string | undefined): string[] {
  return (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0)
}

export const sweep: Command = {
  name: 'sweep',
  summary: 'Compress a model at several bounds (× modes × plans) as one job; print the results table.',
  usage:
    'sweep <model> -o <dir> --bounds 1e-5,1e-4,1e-3 [--mode rel] [--modes abs,rel] [--plans A.json,B.json] [--workers N] [--json]',
  help: [
    'Options:',
    '  -o, --out DIR      runs go to DIR/runs/run_NNN (each with model/, manifest.json, metrics.csv)',
    '  --bounds LIST      comma-separated bounds',
    '  --mode MODE        abs or rel (default rel); --modes abs,rel for both',
    '  --plans LIST       plan files whose rules make extra variants (their mode/bound are replaced by the grid)',
    '  --workers N        worker threads (default: one per core)',
    '  --digest D         sha256 (default) or crc32 of each original tensor',
    '  --json             print the results and chart data as JSON',
  ],
  options: {
    out: { type: 'string', short: 'o' },
    bounds: { type: 'string' },
    mode: { type: 'string' },
    modes: { type: 'string' },
    plans: { type: 'string' },
    workers: { type: 'string' },
    digest: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const out = stringOption(ctx, 'out')
    if (!out) throw new UsageError('-o <dir> is required.')
    const bounds = list(stringOption(ctx, 'bounds')).map(Number)
    if (bounds.length === 0 || bounds.some((b) => !(b > 0) || !Number.isFinite(b)))
      throw new UsageError('--bounds needs a comma-separated list of positive numbers.')
    const modes = list(stringOption(ctx, 'modes') ?? stringOption(ctx, 'mode') ?? 'rel')
    for (const m of modes)
      if (m !== 'abs' && m !== 'rel') throw new UsageError(`a sweep mode must be abs or rel, not ${m}.`)
    const variants: PlanVariant[] = list(stringOption(ctx, 'plans')).map((f) => {
      const p = loadPlan(f)
      return { label: f.replace(/^.*\//, '').replace(/\.json$/, ''), rules: p.rules, llmDefaults: p.llmDefaults }
    })
    const workers = workersOption(ctx)
    const digest = digestOption(ctx)
    const res = await resumable(sweepModel, {
      model: ctx.positionals[0]!,
      outDir: out,
      bounds,
      modes: modes as Exclude<ErrorMode, 'lossless'>[],
      ...(variants.length ? { variants: [{ label: 'default', rules: [] }, ...variants] } : {}),
      ...(workers ? { workers } : {}),
      ...(digest ? { digest } : {}),
      onProgress: ctx.progress,
      signal: ctx.signal,
    })
    if (flag(ctx, 'json')) {
      ctx.stdout.write(`${JSON.stringify(res, null, 2)}\n`)
      return 0
    }
    const rows = [
      ['run', 'mode', 'bound', 'plan', 'original', 'compressed', 'ratio', 'max abs err', 'mean abs err', 'over bound'],
    ]
    for (const r of res.rows)
      rows.push([
        r.run,
        r.mode,
        String(r.bound),
        r.variant,
        formatBytes(r.originalBytes),
        formatBytes(r.compressedBytes),
        `×${r.ratio.toFixed(2)}`,
        r.maxAbsErr.toExponential(3),
        r.meanAbsErr.toExponential(3),
        String(r.overBoundShare),
      ])
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
    const text = rows
      .map((r) => r.map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
      .join('\n')
    ctx.stdout.write(`${text}\nresults: ${res.outDir}/sweep.csv, chart data: ${res.outDir}/sweep.json\n`)
    return 0
  },
}
