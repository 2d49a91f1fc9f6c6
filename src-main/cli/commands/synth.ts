// `shardpress synth <preset> <outdir>`: write a synthetic model (llama, gemma3, deepseek-v3) for tests and demos.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { DEFAULT_MODEL, generateModel, PRESETS, type PresetName } from '../../core/synth'
import { type Command, type CommandContext, flag, numberOption, UsageError } from '../command'
import { formatBytes } from '../progress-bar'

export const synth: Command = {
  name: 'synth',
  summary: 'Generate a synthetic sharded safetensors model with real naming, dtypes and weight statistics.',
  usage: 'synth <llama|gemma3|deepseek-v3> <outdir> [--scale X] [--seed N] [--tied|--untied] [--shards N]',
  help: [
    'Options:',
    `  --scale X        width scale in (0, 1]; 1 is the real model (default ${DEFAULT_MODEL.scale}, the built-in model)`,
    '  --seed N         values are a pure function of the seed (default 1)',
    '  --tied, --untied share the embedding matrix as lm_head or not (llama, gemma3; default tied)',
    "  --shards N       number of shards (default 2; at full size the release's shard size)",
    '  --layers N       override the scaled number of layers',
    '  --experts N      override the scaled number of routed experts (deepseek-v3)',
    '  --only-shard K   write only shard K (1-based), e.g. one full-size DeepSeek-V3 shard for a benchmark',
    '  --force          write into a folder that already holds .safetensors files',
  ],
  options: {
    scale: { type: 'string' },
    seed: { type: 'string' },
    tied: { type: 'boolean' },
    untied: { type: 'boolean' },
    shards: { type: 'string' },
    layers: { type: 'string' },
    experts: { type: 'string' },
    'only-shard': { type: 'string' },
    force: { type: 'boolean' },
  },
  positionals: { min: 2, max: 2 },
  async run(ctx: CommandContext) {
    const [preset, outDir] = ctx.positionals as [string, string]
    if (!PRESETS.includes(preset as PresetName)) {
      throw new UsageError(`unknown preset '${preset}' (choose ${PRESETS.join(', ')}).`)
    }
    if (flag(ctx, 'tied') && flag(ctx, 'untied')) throw new UsageError('--tied and --untied exclude each other.')
    const int = (name: string, min: number) => numberOption(ctx, name, (x) => Number.isInteger(x) && x >= min)
    const scale = numberOption(ctx, 'scale', (x) => x > 0 && x <= 1)
    const seed = int('seed', 0)
    const shards = int('shards', 1)
    const layers = int('layers', 1)
    const experts = int('experts', 1)
    const only = int('only-shard', 1)
    if (existsSync(outDir) && !statSync(outDir).isDirectory())
      throw new UsageError(`${outDir} is a file, not a folder.`)
    if (!flag(ctx, 'force') && existsSync(outDir) && readdirSync(outDir).some((f) => f.endsWith('.safetensors'))) {
      throw new UsageError(`${outDir} already holds .safetensors files; choose an empty folder or pass --force.`)
    }
    const t0 = Date.now()
    const model = await generateModel(preset as PresetName, outDir, {
      ...(scale !== undefined ? { scale } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(flag(ctx, 'tied') ? { tied: true } : flag(ctx, 'untied') ? { tied: false } : {}),
      ...(shards !== undefined ? { shards } : {}),
      ...(layers !== undefined ? { layers } : {}),
      ...(experts !== undefined ? { experts } : {}),
      ...(only !== undefined ? { onlyShards: [only] } : {}),
      onProgress: ctx.progress,
      signal: ctx.signal,
    })
    const written = model.shards.reduce((a, s) => a + s.bytes, 0)
    ctx.stdout.write(
      `${preset}: ${model.tensors.toLocaleString('en-US')} tensors, ${model.params.toLocaleString('en-US')} parameters, ` +
        `${formatBytes(model.bytes)}; wrote ${model.shards.length} shard${model.shards.length === 1 ? '' : 's'} ` +
        `(${formatBytes(written)}) to ${outDir} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
    )
    return 0
  },
}
