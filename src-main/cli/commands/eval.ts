// `shardpress eval <model>`: perplexity of a model folder or GGUF on a text, and with --against a reference
// model, mean KL divergence, top-1 agreement, Δp and greedy generations side by side.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { type EvaluationReport, evaluateModels, type VariantResult, writeEvaluationFiles } from '../../core/eval'
import { GGUF_OUTPUT_TYPES, type GgufOutputType } from '../../core/gguf'
import { DESCRIPTOR_NAME, decompressModel } from '../../core/pipeline'
import { type Command, type CommandContext, flag, numberOption, stringOption, UsageError } from '../command'

/** A compressed run (a folder with shardpress.json) is reconstructed, checksums verified, into a temporary model
 *  folder that is evaluated like any other and removed afterwards. */
async function withModelFolder<T>(path: string, ctx: CommandContext, use: (folder: string) => Promise<T>): Promise<T> {
  if (!existsSync(join(path, DESCRIPTOR_NAME))) return use(path)
  const tmp = mkdtempSync(join(tmpdir(), 'shardpress-eval-'))
  try {
    const outDir = join(tmp, basename(path))
    await decompressModel({
      input: path,
      outDir,
      original: false,
      onProgress: (p) => ctx.progress({ ...p, phase: 'reconstruct' }),
    })
    return await use(outDir)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/** Prompts from a .json array of strings or a text file with one prompt per line. */
export function readPrompts(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  if (file.endsWith('.json')) {
    const v = JSON.parse(text) as unknown
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
      throw new UsageError(`${file} is not a JSON array of prompt strings.`)
    }
    return v
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}

const f = (x: number, digits = 4) => x.toFixed(digits)
const e = (x: number) => x.toExponential(3)

function describe(v: VariantResult, role: string): string[] {
  const lines = [`${role} ${v.name}: ${v.source}  (${v.bitsPerWeight.toFixed(4)} bits/weight, ${v.fileBytes} bytes)`]
  const p = v.perplexity
  if (p) {
    lines.push(
      `  perplexity  ${f(p.ppl)} ± ${f(p.pplStderr)}  (${p.chunks} ${p.method === 'chunks' ? `chunks of ${p.ctx}` : `documents of ≤ ${p.ctx} tokens`}, ${p.tokens} scored tokens)`,
    )
  }
  const d = v.divergence
  if (d) {
    lines.push(
      `  kld         ${e(d.kld.mean)} ± ${e(d.kld.stderr)}  (median ${e(d.kld.median)}, p99 ${e(d.kld.p99)}, max ${e(d.kld.max)})`,
      `  top1        ${f(d.top1.rate)} ± ${f(d.top1.stderr)}`,
      `  delta_p     mean ${e(d.deltaP.mean)}, rms ${e(d.deltaP.rms)}, mean |Δp| ${e(d.deltaP.meanAbs)}`,
      `  ppl ratio   ${f(Math.exp(d.lnPplRatio))} vs reference ${f(d.referencePpl)}`,
    )
  }
  if (v.comparison) {
    const c = v.comparison
    lines.push(
      `  generations ${c.identical}/${c.perPrompt.length} identical, ROUGE-L ${f(c.meanRougeL, 3)}, BLEU ${f(c.meanBleu, 3)}`,
    )
  }
  const speed = [
    p ? `${p.tokensPerSecond.toFixed(0)} tokens/s evaluated` : '',
    v.generation ? `${v.generation.tokensPerSecond.toFixed(0)} tokens/s generated` : '',
    `peak RSS ${v.peakRssMb.toFixed(0)} MB`,
  ].filter(Boolean)
  lines.push(`  speed       ${speed.join(', ')}`)
  return lines
}

export function reportText(r: EvaluationReport): string {
  const lines: string[] = []
  if (r.reference) lines.push(...describe(r.reference, 'reference'))
  for (const v of r.variants) lines.push(...describe(v, 'model'))
  return `${lines.join('\n')}\n`
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'Perplexity of a model (folder or .gguf) on a text; with --against, KL divergence, top-1 and generations.',
  usage:
    'eval <model-folder|file.gguf|compressed-run> [--text FILE] [--prompts FILE] [--ctx N] [--chunks N] [--split-on STR] [--against <model|gguf>] [--json]',
  help: [
    'Options:',
    "  --text FILE       text for perplexity (llama-perplexity's method: chunks of --ctx tokens, second half scored)",
    '  --prompts FILE    prompts (.txt one per line, or .json array) for greedy generations',
    "  --ctx N           context per chunk (default min(512, the model's training context))",
    '  --chunks N        use at most N chunks of the text (N documents with --split-on)',
    '  --split-on STR    score documents separately: split the text on STR (e.g. "<|endoftext|>"), BOS + each',
    '                    document cut to --ctx tokens, every position scored',
    '  --against M       reference model folder or .gguf: adds kld, top1, delta_p and generation overlap',
    '  --type T          GGUF type a model folder is converted to first (default f32)',
    '  --max-tokens N    tokens per generation (default 32)',
    '  --threads N       CPU threads (default 1)',
    '  --out DIR         also write DIR/eval_summary_<run>.csv and DIR/decompressed_<run>_outputs.txt',
    '  --run NAME        run name for those files (default: the model folder or file name)',
    '  --json            print the full report as JSON',
  ],
  options: {
    text: { type: 'string' },
    prompts: { type: 'string' },
    ctx: { type: 'string' },
    chunks: { type: 'string' },
    'split-on': { type: 'string' },
    against: { type: 'string' },
    type: { type: 'string' },
    'max-tokens': { type: 'string' },
    threads: { type: 'string' },
    out: { type: 'string' },
    run: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx: CommandContext) {
    const model = ctx.positionals[0]!
    const textFile = stringOption(ctx, 'text')
    const promptsFile = stringOption(ctx, 'prompts')
    if (!textFile && !promptsFile) {
      throw new UsageError('give --text FILE for perplexity (and KL divergence) or --prompts FILE for generations.')
    }
    const type = (stringOption(ctx, 'type') ?? 'f32') as GgufOutputType
    if (!GGUF_OUTPUT_TYPES.includes(type))
      throw new UsageError(`--type ${type} is not one of ${GGUF_OUTPUT_TYPES.join(', ')}.`)
    const int = (n: number) => Number.isInteger(n) && n > 0
    const ctxSize = numberOption(ctx, 'ctx', (n) => int(n) && n >= 8)
    const chunks = numberOption(ctx, 'chunks', int)
    const maxTokens = numberOption(ctx, 'max-tokens', int)
    const threads = numberOption(ctx, 'threads', (n) => int(n) && n <= 256)
    const against = stringOption(ctx, 'against')
    const name = basename(model).replace(/\.gguf$/, '')
    const report = await withModelFolder(model, ctx, (path) =>
      evaluateModels({
        variants: [{ name, path, type }],
        ...(against ? { reference: { name: basename(against).replace(/\.gguf$/, ''), path: against } } : {}),
        ...(textFile ? { text: readFileSync(textFile, 'utf8') } : {}),
        ...(promptsFile ? { prompts: readPrompts(promptsFile) } : {}),
        ...(ctxSize !== undefined ? { ctx: ctxSize } : {}),
        ...(chunks !== undefined ? { chunks } : {}),
        ...(stringOption(ctx, 'split-on') ? { documentSeparator: stringOption(ctx, 'split-on')! } : {}),
        ...(maxTokens !== undefined ? { maxTokens } : {}),
        ...(threads !== undefined ? { threads } : {}),
        onChunk: (m, done, total) =>
          ctx.progress({
            phase: `eval ${m}`,
            bytesDone: done,
            bytesTotal: total,
            tensorsDone: done,
            tensorsTotal: total,
          }),
      }),
    )
    const out = stringOption(ctx, 'out')
    const files = out
      ? writeEvaluationFiles(report, out, stringOption(ctx, 'run') ?? name.replace(/[^\w.-]/g, '_'))
      : null
    if (flag(ctx, 'json')) {
      ctx.stdout.write(`${JSON.stringify({ ...report, files }, null, 2)}\n`)
    } else {
      ctx.stdout.write(reportText(report))
      if (files) ctx.stdout.write(`wrote ${files.summary}\nwrote ${files.outputs}\n`)
    }
    return 0
  },
}
