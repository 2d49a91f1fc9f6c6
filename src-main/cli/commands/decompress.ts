// `shardpress decompress <dir> -o <model-dir>`: safetensors shards with the original names, headers and order;
// checksums always checked, bounds checked against the original model when it is still where it was.
import { decompressModel } from '../../core/pipeline'
import { type Command, flag, stringOption, UsageError } from '../command'
import { formatBytes } from '../progress-bar'
import { resumable, workersOption } from './compress'

export const decompress: Command = {
  name: 'decompress',
  summary: 'Reconstruct safetensors shards (original names, headers, order) from a compressed model folder.',
  usage: 'decompress <dir> -o <model-dir> [--original <model> | --no-original] [--workers N] [--json]',
  help: [
    'Options:',
    '  -o, --out DIR      where the reconstructed model goes (shards, index, config and tokenizer files)',
    '  --original PATH    the original model, to check every lossy tensor against its bound',
    '                     (default: the recorded source, when it still exists)',
    '  --no-original      skip the bound check (checksums are always checked)',
    '  --workers N        worker threads (default: one per core)',
    '  --json             print the report as JSON',
  ],
  options: {
    out: { type: 'string', short: 'o' },
    original: { type: 'string' },
    'no-original': { type: 'boolean' },
    workers: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const out = stringOption(ctx, 'out')
    if (!out) throw new UsageError('-o <model-dir> is required.')
    const workers = workersOption(ctx)
    const original = flag(ctx, 'no-original') ? false : stringOption(ctx, 'original')
    const rep = await resumable(decompressModel, {
      input: ctx.positionals[0]!,
      outDir: out,
      ...(original !== undefined ? { original } : {}),
      ...(workers ? { workers } : {}),
      onProgress: ctx.progress,
      signal: ctx.signal,
    })
    if (flag(ctx, 'json')) {
      ctx.stdout.write(`${JSON.stringify(rep, null, 2)}\n`)
      return 0
    }
    const checked = rep.tensors.filter((t) => t.checkedAgainstOriginal).length
    const lossy = rep.tensors.filter((t) => t.method === 'abs').length
    const lines = rep.shards.map((s) => `  ${s.file}  ${formatBytes(s.bytes)}  ${s.tensors} tensors`)
    lines.push(
      `reconstructed ${rep.shards.length} shard(s) into ${rep.outDir} in ${rep.seconds.toFixed(1)} s; checksums verified; ` +
        (lossy === 0
          ? 'all tensors lossless.'
          : `${checked}/${lossy} lossy tensors checked against the original${rep.original ? ` (${rep.original})` : ' (original not available)'}.`),
    )
    ctx.stdout.write(`${lines.join('\n')}\n`)
    return 0
  },
}
