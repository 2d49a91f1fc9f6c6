// `shardpress verify <dir> [--original <model>]`: structure, checksums and decodability of a compressed model,
// and with the original, every lossy tensor's bound. Exit code 1 when anything is wrong.
import { verifyModel } from '../../core/pipeline'
import { type Command, flag, stringOption } from '../command'
import { workersOption } from './compress'

export const verify: Command = {
  name: 'verify',
  summary: 'Check a compressed model: structure, checksums, decodability, and with --original the error bounds.',
  usage: 'verify <dir> [--original <model>] [--workers N] [--json]',
  help: [
    'Options:',
    '  --original PATH    the original model: check every lossy tensor against its bound',
    '  --workers N        worker threads (default: one per core)',
    '  --json             print the report as JSON',
    'Exit code 0 when everything checks out, 1 when a problem was found.',
  ],
  options: {
    original: { type: 'string' },
    workers: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const workers = workersOption(ctx)
    const original = stringOption(ctx, 'original')
    const rep = await verifyModel({
      input: ctx.positionals[0]!,
      // Without --original, verify checks the compressed model on its own.
      original: original ?? false,
      ...(workers ? { workers } : {}),
      onProgress: ctx.progress,
      signal: ctx.signal,
    })
    if (flag(ctx, 'json')) {
      ctx.stdout.write(`${JSON.stringify(rep, null, 2)}\n`)
      return rep.ok ? 0 : 1
    }
    const lines: string[] = []
    const lossy = rep.tensors.filter((t) => t.method === 'abs')
    const worst = lossy.reduce((a, t) => Math.max(a, t.eb > 0 ? t.maxAbsErr / t.eb : 0), 0)
    if (rep.ok) {
      lines.push(
        `OK: ${rep.shards.length} container(s), ${rep.tensors.length} tensors decoded, every checksum matches` +
          (rep.original
            ? `; ${lossy.length} lossy tensors within their bounds (worst error ${(worst * 100).toFixed(1)} % of its bound).`
            : '.'),
      )
    } else {
      lines.push(`FAILED: ${rep.problems.length} problem(s):`)
      for (const p of rep.problems) lines.push(`  [${p.code}] ${p.message}`)
    }
    ctx.stdout.write(`${lines.join('\n')}\n`)
    return rep.ok ? 0 : 1
  },
}
