// Evaluates model variants side by side: each input (HF folder or .gguf) is turned into a GGUF, scored for
// perplexity on a text, compared with a reference model (KLD, top-1, Δp, generations), timed and measured.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { convertToGguf, GgufFile, type GgufOutputType } from '../gguf'
import { compareGenerations, type GenerationRun, type GenerationSummary, generateGreedy } from './generate'
import {
  type DivergenceResult,
  divergencePass,
  type PerplexityResult,
  perplexity,
  planChunks,
  planDocuments,
  referencePass,
  type TextPlan,
} from './perplexity'
import { EvalSession, type LoadedModel } from './runtime'

export interface ModelInput {
  /** Row label, e.g. "F32", "Q8_0", "run eb=1e-3". */
  name: string
  /** A HF model folder or a .gguf file. */
  path: string
  /** GGUF type a folder is converted to (default f32). */
  type?: GgufOutputType
}

export interface EvaluateOptions {
  variants: ModelInput[]
  /** Compared against when given: KLD, top-1, Δp, generation overlap. */
  reference?: ModelInput
  /** Perplexity text (contents, not a path). */
  text?: string
  prompts?: string[]
  ctx?: number
  /** At most this many chunks (or documents) of the text (default: all). */
  chunks?: number
  /**
   * Score documents separately instead of llama-perplexity's chunks: the text is split on this marker, each
   * document is BOS + its tokens cut to ctx, and every position is scored.
   */
  documentSeparator?: string
  maxTokens?: number
  threads?: number
  /** Where converted GGUFs are kept between runs (default: the OS temp folder). */
  cacheDir?: string
  onProgress?: (message: string) => void
  /** Perplexity chunks done for the model named `model`. */
  onChunk?: (model: string, done: number, total: number) => void
}

export interface VariantResult {
  name: string
  source: string
  gguf: string
  fileBytes: number
  bitsPerWeight: number
  perplexity?: PerplexityResult
  divergence?: DivergenceResult
  generation?: GenerationRun
  comparison?: GenerationSummary
  peakRssMb: number
}

export interface EvaluationReport {
  reference?: VariantResult
  variants: VariantResult[]
  ctx: number
}

export class EvalInputError extends Error {
  readonly code = 'EVAL_BAD_INPUT'
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(message)
    this.name = 'EvalInputError'
  }
}

function folderFingerprint(dir: string, type: string): string {
  const h = createHash('sha256')
  h.update(`${realpathSync(dir)}\0${type}\0`)
  for (const name of readdirSync(dir).sort()) {
    const st = statSync(join(dir, name))
    if (st.isFile()) h.update(`${name}\0${st.size}\0${st.mtimeMs}\0`)
  }
  return h.digest('hex').slice(0, 16)
}

/** The GGUF for an input: the file itself, or a conversion of the folder cached under cacheDir. */
export async function resolveGguf(
  input: ModelInput,
  cacheDir: string,
): Promise<{ gguf: string; bitsPerWeight: number; converted: boolean }> {
  if (!existsSync(input.path)) throw new EvalInputError(`${input.path} does not exist.`, input.path)
  const st = statSync(input.path)
  if (st.isFile()) {
    if (!input.path.endsWith('.gguf')) {
      throw new EvalInputError(`${input.path} is neither a model folder nor a .gguf file.`, input.path)
    }
    return { gguf: input.path, bitsPerWeight: await ggufBitsPerWeight(input.path), converted: false }
  }
  if (!existsSync(join(input.path, 'config.json'))) {
    throw new EvalInputError(`${input.path} has no config.json, so it is not a Hugging Face model folder.`, input.path)
  }
  const type = input.type ?? 'f32'
  mkdirSync(cacheDir, { recursive: true })
  const out = join(cacheDir, `${basename(input.path)}-${folderFingerprint(input.path, type)}-${type}.gguf`)
  if (existsSync(out)) return { gguf: out, bitsPerWeight: await ggufBitsPerWeight(out), converted: false }
  const r = await convertToGguf(input.path, out, { type })
  return { gguf: out, bitsPerWeight: r.bitsPerWeight, converted: true }
}

/** Stored bits per weight of a GGUF's matrices (2-D and up); norms and biases are not counted. */
export async function ggufBitsPerWeight(file: string): Promise<number> {
  const g = await GgufFile.open(file)
  try {
    let bytes = 0
    let weights = 0
    for (const t of g.tensors) {
      if (t.ne.length < 2) continue
      bytes += t.byteLength
      weights += t.ne.reduce((a, b) => a * b, 1)
    }
    return weights ? (bytes * 8) / weights : 0
  } finally {
    await g.close()
  }
}

/** Peak resident memory while `fn` runs, sampled every 25 ms (the process's, so per variant when run in turn). */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakRssMb: number }> {
  let peak = process.memoryUsage.rss()
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss())
  }, 25)
  try {
    const value = await fn()
    peak = Math.max(peak, process.memoryUsage.rss())
    return { value, peakRssMb: peak / 2 ** 20 }
  } finally {
    clearInterval(timer)
  }
}

/** SHARDPRESS_GGUF_CACHE, else a folder in the OS temp directory. */
export function defaultCacheDir(): string {
  return process.env.SHARDPRESS_GGUF_CACHE || join(tmpdir(), 'shardpress-gguf-cache')
}

/** The scoring windows for `text` under this model's tokenizer. */
export function planText(m: LoadedModel, text: string, ctx: number, opts: EvaluateOptions): TextPlan {
  if (opts.documentSeparator !== undefined) {
    const docs = text
      .split(opts.documentSeparator)
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => m.tokenize(d))
    return planDocuments(docs, ctx, opts.chunks)
  }
  return planChunks(m.tokenize(text), ctx, m.bos, opts.chunks)
}

/** Runs the whole evaluation; every model, context and the Llama instance are disposed before it returns. */
export async function evaluateModels(opts: EvaluateOptions): Promise<EvaluationReport> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir()
  const log = opts.onProgress ?? (() => {})
  const maxTokens = opts.maxTokens ?? 32
  const session = await EvalSession.open({ threads: opts.threads ?? 1 })
  let ctx = opts.ctx ?? 0
  const report: EvaluationReport = { variants: [], ctx }
  try {
    const pickCtx = (m: LoadedModel): number => {
      if (!ctx) ctx = Math.min(512, m.model.trainContextSize || 512)
      return ctx
    }
    let ref: Awaited<ReturnType<typeof referencePass>> | null = null
    let refGen: GenerationRun | null = null
    try {
      if (opts.reference) {
        const input = opts.reference
        const { gguf, bitsPerWeight } = await resolveGguf(input, cacheDir)
        log(`reference ${input.name}: ${gguf}`)
        const { value, peakRssMb } = await withPeakRss(async () => {
          const m = await session.load(gguf)
          try {
            const r: Partial<VariantResult> = {}
            if (opts.text !== undefined) {
              ref = await referencePass(m, planText(m, opts.text, pickCtx(m), opts), (d, t) =>
                opts.onChunk?.(input.name, d, t),
              )
              r.perplexity = ref.perplexity!
            }
            if (opts.prompts?.length) refGen = r.generation = await generateGreedy(m, opts.prompts, maxTokens)
            return r
          } finally {
            await m.dispose()
          }
        })
        report.reference = {
          name: input.name,
          source: input.path,
          gguf,
          fileBytes: statSync(gguf).size,
          bitsPerWeight,
          ...value,
          peakRssMb,
        }
      }
      for (const input of opts.variants) {
        const { gguf, bitsPerWeight } = await resolveGguf(input, cacheDir)
        log(`variant ${input.name}: ${gguf}`)
        const { value, peakRssMb } = await withPeakRss(async () => {
          const m = await session.load(gguf)
          try {
            const r: Partial<VariantResult> = {}
            if (ref) {
              const refDist: NonNullable<typeof ref> = ref
              if (m.vocabSize !== refDist.vocabSize) {
                throw new EvalInputError(
                  `${input.name} has ${m.vocabSize} tokens but the reference has ${refDist.vocabSize}; they cannot be compared.`,
                  input.path,
                )
              }
              const d = await divergencePass(m, refDist, (done, t) => opts.onChunk?.(input.name, done, t))
              r.perplexity = d.perplexity
              r.divergence = d.divergence
            } else if (opts.text !== undefined) {
              r.perplexity = await perplexity(m, planText(m, opts.text, pickCtx(m), opts), (d, t) =>
                opts.onChunk?.(input.name, d, t),
              )
            }
            if (opts.prompts?.length) {
              r.generation = await generateGreedy(m, opts.prompts, maxTokens)
              if (refGen) r.comparison = compareGenerations(refGen.generations, r.generation.generations)
            }
            return r
          } finally {
            await m.dispose()
          }
        })
        report.variants.push({
          name: input.name,
          source: input.path,
          gguf,
          fileBytes: statSync(gguf).size,
          bitsPerWeight,
          ...value,
          peakRssMb,
        })
      }
    } finally {
      ;(ref as { dispose(): void } | null)?.dispose()
    }
  } finally {
    await session.dispose()
  }
  report.ctx = ctx
  return report
}
