// One fidelity yardstick for every variant of a model: the original is scored once on a text (its next-token
// distributions kept), then each variant (a GGUF baseline or a reconstructed folder) is measured against it on the
// very same token chunks, so the original, lossy runs, Q8_0 and Q4_0 are all evaluated the same way.
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  divergencePass,
  EvalSession,
  planChunks,
  planDocuments,
  type ReferenceDistributions,
  referencePass,
  resolveGguf,
  type TextPlan,
} from '../eval'
import type { GgufOutputType } from '../gguf'

/** What a variant costs the model, measured against the original on the bench's text. */
export interface FidelityMetrics {
  ppl: number
  /** ppl / the original's ppl on the same tokens. */
  pplRatio: number
  /** Mean KL(original ‖ variant) per scored token, nats. */
  kld: number
  kldStderr: number
  /** Share of positions whose most likely next token is unchanged. */
  top1: number
  /** Mean |p_original(y) − p_variant(y)| of the actual next token. */
  meanAbsDeltaP: number
  tokens: number
}

export interface BenchOptions {
  /** The original model: a HF folder (converted to F32 GGUF) or a .gguf. */
  reference: string
  /** The evaluation text (contents). */
  text: string
  /** Context per perplexity chunk (default min(256, the model's training context)). */
  ctx?: number
  /** Chunks (or documents) of the text used (default 16 chunks, 64 documents). */
  chunks?: number
  /**
   * Score documents separately (BOS + document cut to ctx, every position scored) split on this marker. Default:
   * '<|endoftext|>' when the text contains it, else llama-perplexity's chunks.
   */
  documentSeparator?: string | null
  threads?: number
  /** Where converted GGUFs are cached (default a folder in the OS temp directory). */
  cacheDir?: string
}

/** The bench a study or a tune job uses: the caller's own if given, else one opened on the model's text with its
 *  GGUF conversions cached in the job's output folder. */
export function benchFor(
  o: Omit<BenchOptions, 'reference' | 'cacheDir'> & { model: string; bench?: FidelityBench },
  outDir: string,
): Promise<FidelityBench> {
  if (o.bench) return Promise.resolve(o.bench)
  return FidelityBench.open({
    reference: o.model,
    text: o.text,
    ...(o.ctx ? { ctx: o.ctx } : {}),
    ...(o.chunks ? { chunks: o.chunks } : {}),
    ...(o.documentSeparator !== undefined ? { documentSeparator: o.documentSeparator } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
    cacheDir: join(outDir, 'gguf-cache'),
  })
}

const END_OF_TEXT = '<|endoftext|>'

export class FidelityBench {
  private constructor(
    private readonly session: EvalSession,
    private readonly ref: ReferenceDistributions,
    readonly cacheDir: string,
    readonly ctx: number,
    /** 'chunks' (llama-perplexity) or 'documents' (each document from BOS, every position scored). */
    readonly method: TextPlan['method'],
    readonly chunks: number,
    /** Perplexity of the original on the scored tokens. */
    readonly referencePpl: number,
    readonly tokens: number,
  ) {}

  static async open(o: BenchOptions): Promise<FidelityBench> {
    const cacheDir = o.cacheDir ?? join(tmpdir(), 'shardpress-gguf-cache')
    const session = await EvalSession.open({ threads: o.threads ?? 1 })
    try {
      const { gguf } = await resolveGguf({ name: 'original', path: o.reference, type: 'f32' }, cacheDir)
      const m = await session.load(gguf)
      try {
        const ctx = o.ctx ?? Math.min(256, m.model.trainContextSize || 256)
        const sep =
          o.documentSeparator === undefined ? (o.text.includes(END_OF_TEXT) ? END_OF_TEXT : null) : o.documentSeparator
        let plan: TextPlan
        if (sep) {
          const docs = o.text
            .split(sep)
            .map((d) => d.trim())
            .filter(Boolean)
          plan = planDocuments(
            docs.slice(0, o.chunks ?? 64).map((d) => m.tokenize(d)),
            ctx,
          )
        } else plan = planChunks(m.tokenize(o.text), ctx, m.bos, o.chunks ?? 16)
        const ref = await referencePass(m, plan)
        const p = ref.perplexity!
        return new FidelityBench(session, ref, cacheDir, ctx, plan.method, p.chunks, p.ppl, p.tokens)
      } finally {
        await m.dispose()
      }
    } catch (err) {
      await session.dispose()
      throw err
    }
  }

  /** Measures a HF folder (converted with `type`, default f32) or a .gguf; returns its metrics and stored bits. */
  async measure(
    path: string,
    type: GgufOutputType = 'f32',
  ): Promise<{ metrics: FidelityMetrics; ggufBitsPerWeight: number; gguf: string }> {
    const { gguf, bitsPerWeight } = await resolveGguf({ name: path, path, type }, this.cacheDir)
    const m = await this.session.load(gguf)
    try {
      if (m.vocabSize !== this.ref.vocabSize) {
        throw new Error(`${path} has ${m.vocabSize} tokens but the original has ${this.ref.vocabSize}.`)
      }
      const { perplexity, divergence } = await divergencePass(m, this.ref)
      return {
        metrics: {
          ppl: perplexity.ppl,
          pplRatio: Math.exp(divergence.lnPplRatio),
          kld: divergence.kld.mean,
          kldStderr: divergence.kld.stderr,
          top1: divergence.top1.rate,
          meanAbsDeltaP: divergence.deltaP.meanAbs,
          tokens: perplexity.tokens,
        },
        ggufBitsPerWeight: bitsPerWeight,
        gguf,
      }
    } finally {
      await m.dispose()
    }
  }

  async dispose(): Promise<void> {
    this.ref.dispose()
    await this.session.dispose()
  }
}
