// `shardpress tune <model> --target-kld X | --target-ppl-ratio Y`: the smallest plan that meets a fidelity target,
// found by measured runs (global bound by bisection, then per-group bounds); the plan is saved for `compress --plan`.
import { basename, join } from 'node:path'
import { autoTune, type TuneResult } from '../../core/rd'
import { type Command, flag, numberOption, stringOption, UsageError } from '../command'
import { EVAL_HELP, EVAL_OPTIONS, evalSettings, modeOption } from './rd'

export function tuneText(r: TuneResult): string {
  const lines = ['run      phase    bits/weight  mean KLD    PPL ratio  meets  plan']
  for (const s of r.steps)
    lines.push(
      [
        s.run.padEnd(7),
        s.phase.padEnd(7),
        s.bitsPerWeight.toFixed(3).padStart(11),
        s.metrics.kld.toExponential(3).padStart(10),
        s.metrics.pplRatio.toFixed(4).padStart(10),
        (s.meets ? 'yes' : 'no').padStart(6),
        s.label,
      ].join('  '),
    )
  const b = r.best
  lines.push(
    '',
    b
      ? `best: ${b.label}: ${b.bitsPerWeight.toFixed(3)} bits/weight, mean KLD ${b.metrics.kld.toExponential(3)}, ` +
          `PPL ratio ${b.metrics.pplRatio.toFixed(4)} (${b.run}); one global bound: ` +
          `${r.bestGlobal ? `${r.bestGlobal.bitsPerWeight.toFixed(3)} bits/weight` : '—'}`
      : 'no plan met the target',
    ...(r.planFile ? [`plan: ${r.planFile}`] : []),
  )
  return `${lines.join('\n')}\n`
}

export const tune: Command = {
  name: 'tune',
  summary: 'Find the smallest compression plan meeting a KL-divergence or perplexity-ratio target, by measuring.',
  usage: 'tune <model> --target-kld X | --target-ppl-ratio Y [--mode abs|rel] [--text FILE] [-o DIR] [--json]',
  help: [
    'Options:',
    '  --target-kld X        mean KL divergence per token (nats) at most X',
    '  --target-ppl-ratio Y  perplexity / original perplexity at most Y (both targets may be given)',
    '  --mode MODE           abs (default) or rel',
    '  --start B             first global bound tried (default 1e-3)',
    '  --max-runs N          candidate runs at most (default 24)',
    '  --global-only         stop after the global bound',
    '  -o, --out DIR         runs/, tune.json and tuned-plan.json (default results/tune-<model>)',
    ...EVAL_HELP,
  ],
  options: {
    'target-kld': { type: 'string' },
    'target-ppl-ratio': { type: 'string' },
    mode: { type: 'string' },
    start: { type: 'string' },
    'max-runs': { type: 'string' },
    'global-only': { type: 'boolean' },
    out: { type: 'string', short: 'o' },
    ...EVAL_OPTIONS,
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const model = ctx.positionals[0]!
    const kld = numberOption(ctx, 'target-kld', (x) => x > 0)
    const pplRatio = numberOption(ctx, 'target-ppl-ratio', (x) => x > 1)
    if (kld === undefined && pplRatio === undefined)
      throw new UsageError('give --target-kld X or --target-ppl-ratio Y.')
    const start = numberOption(ctx, 'start', (x) => x > 0)
    const maxRuns = numberOption(ctx, 'max-runs', (x) => Number.isInteger(x) && x >= 2)
    const out = stringOption(ctx, 'out') ?? join('results', `tune-${basename(model)}`)
    const s = await evalSettings(ctx, model)
    const json = flag(ctx, 'json')
    const r = await autoTune({
      model,
      outDir: out,
      target: { ...(kld !== undefined ? { kld } : {}), ...(pplRatio !== undefined ? { pplRatio } : {}) },
      mode: modeOption(ctx),
      ...(start !== undefined ? { startBound: start } : {}),
      ...(maxRuns !== undefined ? { maxRuns } : {}),
      ...(flag(ctx, 'global-only') ? { globalOnly: true } : {}),
      ...s,
      onProgress: (m) => {
        if (!json) ctx.stderr.write(`${m}\n`)
      },
      signal: ctx.signal,
    })
    ctx.stdout.write(json ? `${JSON.stringify(r, null, 2)}\n` : tuneText(r))
    return r.best ? 0 : 1
  },
}
