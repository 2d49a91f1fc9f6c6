// `shardpress compress <model> -o <dir>`: one container per shard, a run record (manifest.json, metrics.csv) and
// the side files; an interrupted run resumes when the same command is given again.
import type { ErrorMode } from '../../core/codec/types'
import { compressModel } from '../../core/pipeline'
import { type CompressionPlan, loadPlan, makePlan } from '../../core/plan'
import { type Command, type CommandContext, flag, numberOption, stringOption, UsageError } from '../command'
import { formatBytes } from '../progress-bar'

const MODES = ['lossless', 'abs', 'rel']

/** The plan from --plan FILE, or from --mode/--bound (with the LLM defaults unless --no-defaults). */
export function planFromOptions(ctx: CommandContext): CompressionPlan {
  const file = stringOption(ctx, 'plan')
  const mode = stringOption(ctx, 'mode')
  const bound = numberOption(ctx, 'bound', (x) => x > 0)
  if (file) {
    const plan = loadPlan(file)
    // --mode/--bound on the command line override the file's global setting.
    if (mode || bound !== undefined) {
      return makePlan((mode as ErrorMode) ?? plan.mode, bound ?? plan.bound, plan.rules, plan.llmDefaults)
    }
    return plan
  }
  if (mode !== undefined && !MODES.includes(mode))
    throw new UsageError(`--mode must be lossless, abs or rel, not ${mode}.`)
  const m = (mode ?? (bound !== undefined ? 'rel' : 'lossless')) as ErrorMode
  if (m !== 'lossless' && bound === undefined) throw new UsageError(`--mode ${m} needs --bound.`)
  return makePlan(m, bound ?? 0, [], !flag(ctx, 'no-defaults'))
}

export function workersOption(ctx: CommandContext): number | undefined {
  return numberOption(ctx, 'workers', (x) => Number.isInteger(x) && x >= 1 && x <= 256)
}

export function digestOption(ctx: CommandContext): 'sha256' | 'crc32' | undefined {
  const d = stringOption(ctx, 'digest')
  if (d !== undefined && d !== 'sha256' && d !== 'crc32') throw new UsageError('--digest must be sha256 or crc32.')
  return d
}

/**
 * Runs a job; on Ctrl-C says how to continue instead of a bare error (partial work is kept for resuming).
 */
export async function resumable<O, R>(job: (o: O) => Promise<R>, options: O): Promise<R> {
  try {
    return await job(options)
  } catch (err) {
    if ((err as { code?: string })?.code === 'CANCELLED')
      throw Object.assign(new Error('Cancelled. Finished work is kept: run the same command again to resume.'), {
        code: 'CANCELLED',
      })
    throw err
  }
}

const fix = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : String(x))

export const compress: Command = {
  name: 'compress',
  summary: 'Compress a model folder into one container per shard, with a run record (manifest, per-tensor metrics).',
  usage:
    'compress <model> -o <dir> [--mode lossless|abs|rel] [--bound X] [--plan FILE] [--workers N] [--digest sha256|crc32] [--decode-check] [--json]',
  help: [
    'Options:',
    '  -o, --out DIR      where the containers, side files and runs/run_NNN go',
    '  --mode MODE        lossless (default), abs (absolute bound) or rel (bound × value range of each tensor)',
    '  --bound X          the error bound for abs/rel (e.g. 1e-3)',
    '  --plan FILE        a JSON compression plan (global mode/bound plus rules by role or name pattern)',
    '  --no-defaults      do not apply the LLM defaults (norms, biases, scales, tiny tensors lossless; embeddings ×0.5)',
    '  --workers N        worker threads (default: one per core)',
    '  --digest D         sha256 (default) or crc32 of each original tensor',
    '  --decode-check     also decode every chunk back and check it against the encoder (slower; a codec self-test)',
    '  --json             print the run manifest as JSON',
    'Interrupted (Ctrl-C, kill, crash)? Run the same command again: it resumes from the last finished tensor.',
  ],
  options: {
    out: { type: 'string', short: 'o' },
    mode: { type: 'string' },
    bound: { type: 'string' },
    plan: { type: 'string' },
    'no-defaults': { type: 'boolean' },
    workers: { type: 'string' },
    digest: { type: 'string' },
    'decode-check': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const out = stringOption(ctx, 'out')
    if (!out) throw new UsageError('-o <dir> is required.')
    const plan = planFromOptions(ctx)
    const workers = workersOption(ctx)
    const digest = digestOption(ctx)
    const res = await resumable(compressModel, {
      model: ctx.positionals[0]!,
      outDir: out,
      plan,
      ...(workers ? { workers } : {}),
      ...(digest ? { digest } : {}),
      ...(flag(ctx, 'decode-check') ? { decodeCheck: true } : {}),
      onProgress: ctx.progress,
      signal: ctx.signal,
    })
    const m = res.manifest
    if (flag(ctx, 'json')) {
      ctx.stdout.write(`${JSON.stringify({ outDir: res.outDir, runDir: res.runDir, manifest: m }, null, 2)}\n`)
      return 0
    }
    const lines = [`${m.run}: ${plan.mode}${plan.mode === 'lossless' ? '' : ` ${plan.bound}`} → ${res.outDir}`]
    for (const s of m.shards)
      lines.push(`  ${s.file}  ${formatBytes(s.originalBytes)} → ${formatBytes(s.compressedBytes)}  ×${fix(s.ratio)}`)
    lines.push(
      `total ${formatBytes(m.totals.originalBytes)} → ${formatBytes(m.totals.compressedBytes)}  ratio ×${fix(m.totals.ratio)}  ` +
        `(${m.totals.tensors} tensors, ${m.totals.lossyTensors} lossy, max share over bound ${m.totals.maxOverBoundShare}) ` +
        `in ${fix(m.seconds, 1)} s${m.resumes ? `, resumed ${m.resumes}×` : ''}`,
      `run record: ${res.runDir}/manifest.json, metrics.csv`,
    )
    ctx.stdout.write(`${lines.join('\n')}\n`)
    return 0
  },
}
