// `shardpress gguf <model> -o FILE --type …`: a Hugging Face model folder as a GGUF file for llama.cpp, in F32,
// F16, BF16, or our own Q8_0 / Q4_0 baselines.
import { convertToGguf, GGUF_OUTPUT_TYPES, type GgufOutputType } from '../../core/gguf'
import { type Command, type CommandContext, flag, stringOption, UsageError } from '../command'
import { formatBytes } from '../progress-bar'

export const gguf: Command = {
  name: 'gguf',
  summary: 'Convert a Hugging Face model folder (Llama, Mistral, Qwen2/3, Gemma 1-3) to GGUF.',
  usage: 'gguf <model> -o FILE [--type f32|f16|bf16|q8_0|q4_0] [--json]',
  help: [
    'Options:',
    '  -o, --output FILE  the .gguf to write (appears only when complete)',
    '  --type T           f32 (default), f16, bf16, or the baselines q8_0 / q4_0: every 2-D weight quantized,',
    '                     norms F32, a matrix whose rows are not a multiple of 32 kept F16',
    '  --json             print the result (size, bits/weight, tensors) as JSON',
  ],
  options: {
    output: { type: 'string', short: 'o' },
    type: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx: CommandContext) {
    const model = ctx.positionals[0]!
    const out = stringOption(ctx, 'output')
    if (!out) throw new UsageError('-o FILE is required.')
    const type = (stringOption(ctx, 'type') ?? 'f32') as GgufOutputType
    if (!GGUF_OUTPUT_TYPES.includes(type)) {
      throw new UsageError(`--type ${type} is not one of ${GGUF_OUTPUT_TYPES.join(', ')}.`)
    }
    const r = await convertToGguf(model, out, {
      type,
      onProgress: (done, total, tensor) =>
        ctx.progress({
          phase: 'gguf',
          bytesDone: done,
          bytesTotal: total,
          tensorsDone: done,
          tensorsTotal: total,
          current: tensor,
        }),
    })
    if (flag(ctx, 'json')) {
      ctx.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
    } else {
      ctx.stdout.write(
        `wrote ${r.file}: ${r.architecture}, ${r.tensors.length} tensors, ${formatBytes(r.bytes)}, ` +
          `${r.bitsPerWeight.toFixed(4)} bits/weight over ${r.weightCount.toLocaleString('en-US')} weights\n`,
      )
    }
    return 0
  },
}
