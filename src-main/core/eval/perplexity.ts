// Perplexity by llama-perplexity's method (FORMATS.md §E) or per document, and, against a reference model's cached
// distributions, mean KL divergence, top-1 agreement and Δp on the very same token windows.
import { closeSync, mkdtempSync, openSync, readSync, rmdirSync, rmSync, unlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Token } from 'node-llama-cpp'
import { meanWithError, percentile } from './metrics'
import type { LoadedModel } from './runtime'

/** p = 0 (float32 underflow in the native softmax) is floored here before the log. */
const P_FLOOR = 1e-45
/** Vocabularies up to this size cache full distributions; larger ones keep the top K and the rest's mass. */
const FULL_VOCAB_LIMIT = 4096
const TOP_K = 256

/** One context's worth of tokens; the outputs at positions first … length−2 score the token after them. */
export interface ScoringWindow {
  tokens: Token[]
  first: number
}

/** The windows a text is scored in, the same for every model compared. */
export interface TextPlan {
  /** `chunks`: llama-perplexity's; `documents`: BOS + each document, truncated to ctx, every position scored. */
  method: 'chunks' | 'documents'
  ctx: number
  windows: ScoringWindow[]
}

export class TextTooShortError extends Error {
  readonly code = 'EVAL_TEXT_TOO_SHORT'
  constructor(message: string) {
    super(message)
    this.name = 'TextTooShortError'
  }
}

/**
 * llama-perplexity's plan: ⌊N/ctx⌋ chunks of ctx tokens (at least 2·ctx tokens needed), BOS replacing (not
 * prepended to) each chunk's first token when the model adds BOS, the second half of each chunk scored.
 */
export function planChunks(tokens: readonly Token[], ctx: number, bos: Token | null, maxChunks?: number): TextPlan {
  if (tokens.length < 2 * ctx) {
    throw new TextTooShortError(
      `The evaluation text has ${tokens.length} tokens; perplexity at context ${ctx} needs at least ${2 * ctx}.`,
    )
  }
  let chunks = Math.floor(tokens.length / ctx)
  if (maxChunks !== undefined && maxChunks > 0) chunks = Math.min(chunks, maxChunks)
  const windows: ScoringWindow[] = []
  for (let c = 0; c < chunks; c++) {
    const chunk = tokens.slice(c * ctx, (c + 1) * ctx)
    if (bos !== null) chunk[0] = bos
    windows.push({ tokens: chunk, first: Math.floor(ctx / 2) })
  }
  return { method: 'chunks', ctx, windows }
}

/** One window per document (already tokenized, BOS included), cut to ctx tokens; every position is scored. */
export function planDocuments(documents: readonly Token[][], ctx: number, maxDocuments?: number): TextPlan {
  const docs = documents.filter((d) => d.length >= 2)
  const n = maxDocuments !== undefined && maxDocuments > 0 ? Math.min(maxDocuments, docs.length) : docs.length
  if (n === 0) throw new TextTooShortError('The evaluation text has no document of at least two tokens.')
  return { method: 'documents', ctx, windows: docs.slice(0, n).map((d) => ({ tokens: d.slice(0, ctx), first: 0 })) }
}

const fedTokens = (plan: TextPlan): number => plan.windows.reduce((a, w) => a + w.tokens.length - 1, 0)

/**
 * Runs every window through the model and calls `score` for each scored position with the next-token distribution
 * (a Map sorted by probability, full vocabulary at temperature 0) and the actual next token.
 */
export async function forEachScoredPosition(
  m: LoadedModel,
  plan: TextPlan,
  score: (probs: Map<Token, number>, next: Token) => void,
  onWindow?: (done: number, total: number) => void,
): Promise<{ seconds: number }> {
  const seq = await m.sequenceFor(plan.ctx)
  const t0 = performance.now()
  for (let c = 0; c < plan.windows.length; c++) {
    const { tokens, first } = plan.windows[c]!
    await seq.clearHistory()
    // Position i's output predicts token i+1; the last token predicts nothing we score, so it is not fed.
    const items = tokens
      .slice(0, tokens.length - 1)
      .map((t, i) =>
        i >= first
          ? ([t, { generateNext: { probabilities: true } }] as [Token, { generateNext: { probabilities: true } }])
          : t,
      )
    const out = await seq.controlledEvaluate(items)
    for (let i = first; i < tokens.length - 1; i++) {
      const probs = out[i]?.next.probabilities
      if (!probs) throw new Error(`node-llama-cpp returned no probabilities at position ${i} of window ${c}`)
      score(probs, tokens[i + 1]!)
    }
    onWindow?.(c + 1, plan.windows.length)
  }
  return { seconds: (performance.now() - t0) / 1000 }
}

export interface PerplexityResult {
  method: TextPlan['method']
  ctx: number
  /** Windows scored: chunks, or documents. */
  chunks: number
  /** Predicted (scored) tokens. */
  tokens: number
  meanNll: number
  ppl: number
  pplStderr: number
  /** Evaluated tokens per second (all fed tokens, not only scored ones). */
  tokensPerSecond: number
}

export interface DivergenceResult {
  /** Perplexity of the reference on the same positions. */
  referencePpl: number
  /** mean NLL(variant) − mean NLL(reference) */
  lnPplRatio: number
  kld: { mean: number; stderr: number; median: number; p99: number; max: number }
  top1: { rate: number; stderr: number }
  deltaP: { mean: number; rms: number; meanAbs: number }
}

function summarizePpl(nll: number[], plan: TextPlan, seconds: number): PerplexityResult {
  const { mean, stderr } = meanWithError(nll)
  const ppl = Math.exp(mean)
  return {
    method: plan.method,
    ctx: plan.ctx,
    chunks: plan.windows.length,
    tokens: nll.length,
    meanNll: mean,
    ppl,
    pplStderr: ppl * stderr,
    tokensPerSecond: fedTokens(plan) / Math.max(seconds, 1e-9),
  }
}

/** Perplexity of a model on a plan built from its own tokenization. */
export async function perplexity(
  m: LoadedModel,
  plan: TextPlan,
  onWindow?: (done: number, total: number) => void,
): Promise<PerplexityResult> {
  const nll: number[] = []
  const { seconds } = await forEachScoredPosition(
    m,
    plan,
    (probs, next) => nll.push(-Math.log(Math.max(probs.get(next) ?? 0, P_FLOOR))),
    onWindow,
  )
  return summarizePpl(nll, plan, seconds)
}

/**
 * A reference model's next-token distributions kept on disk, one fixed-size record per scored position: the full
 * float32 distribution for small vocabularies, else the top K (id, p) pairs plus the remaining mass.
 */
export class ReferenceDistributions {
  private fd: number
  private readonly dir: string
  private readonly recordBytes: number
  readonly full: boolean
  count = 0
  readonly nll: number[] = []
  readonly targetP: number[] = []
  readonly top: number[] = []
  perplexity: PerplexityResult | null = null

  constructor(
    readonly vocabSize: number,
    readonly plan: TextPlan,
  ) {
    this.full = vocabSize <= FULL_VOCAB_LIMIT
    this.recordBytes = this.full ? vocabSize * 4 : TOP_K * 8 + 4
    this.dir = mkdtempSync(join(tmpdir(), 'shardpress-kld-'))
    const file = join(this.dir, 'reference.bin')
    this.fd = openSync(file, 'w+')
    // Unlinked while open (where the OS allows it): the cache then vanishes even if the process dies undisposed.
    try {
      unlinkSync(file)
      rmdirSync(this.dir)
    } catch {
      // Windows keeps open files; dispose() removes it there.
    }
  }

  add(probs: Map<Token, number>, next: Token): void {
    const rec = new Uint8Array(this.recordBytes)
    const view = new DataView(rec.buffer)
    if (this.full) {
      for (const [t, p] of probs) view.setFloat32(t * 4, p, true)
    } else {
      let k = 0
      let kept = 0
      for (const [t, p] of probs) {
        if (k === TOP_K) break
        view.setUint32(k * 8, t, true)
        view.setFloat32(k * 8 + 4, p, true)
        kept += p
        k++
      }
      view.setFloat32(TOP_K * 8, Math.max(0, 1 - kept), true)
    }
    writeSync(this.fd, rec, 0, rec.length, this.count * this.recordBytes)
    this.count++
    const p = probs.get(next) ?? 0
    this.targetP.push(p)
    this.nll.push(-Math.log(Math.max(p, P_FLOOR)))
    this.top.push(probs.keys().next().value ?? -1)
  }

  /** KL(P_ref ‖ Q) at record i: over all ref tokens with p > 0 (top K plus the rest as one bucket when truncated). */
  kld(i: number, q: Map<Token, number>): number {
    const rec = new Uint8Array(this.recordBytes)
    readSync(this.fd, rec, 0, rec.length, i * this.recordBytes)
    const view = new DataView(rec.buffer)
    let kl = 0
    if (this.full) {
      for (let t = 0; t < this.vocabSize; t++) {
        const p = view.getFloat32(t * 4, true)
        if (p > 0) kl += p * (Math.log(p) - Math.log(Math.max(q.get(t as Token) ?? 0, P_FLOOR)))
      }
      return kl
    }
    let qKept = 0
    for (let k = 0; k < TOP_K; k++) {
      const p = view.getFloat32(k * 8 + 4, true)
      if (p <= 0) continue
      const qp = q.get(view.getUint32(k * 8, true) as Token) ?? 0
      qKept += qp
      kl += p * (Math.log(p) - Math.log(Math.max(qp, P_FLOOR)))
    }
    const rest = view.getFloat32(TOP_K * 8, true)
    if (rest > 0) kl += rest * (Math.log(rest) - Math.log(Math.max(1 - qKept, P_FLOOR)))
    return kl
  }

  dispose(): void {
    closeSync(this.fd)
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Scores the reference model on `plan` and caches its distributions for later comparisons. */
export async function referencePass(
  m: LoadedModel,
  plan: TextPlan,
  onWindow?: (done: number, total: number) => void,
): Promise<ReferenceDistributions> {
  const ref = new ReferenceDistributions(m.vocabSize, plan)
  try {
    const { seconds } = await forEachScoredPosition(m, plan, (probs, next) => ref.add(probs, next), onWindow)
    ref.perplexity = summarizePpl(ref.nll, plan, seconds)
    return ref
  } catch (err) {
    ref.dispose()
    throw err
  }
}

/** Perplexity of a variant on the reference's tokens, with KLD, top-1 agreement and Δp against it. */
export async function divergencePass(
  m: LoadedModel,
  ref: ReferenceDistributions,
  onChunk?: (done: number, total: number) => void,
): Promise<{ perplexity: PerplexityResult; divergence: DivergenceResult }> {
  const nll: number[] = []
  const kld: number[] = []
  const dp: number[] = []
  let same = 0
  let i = 0
  const { seconds } = await forEachScoredPosition(
    m,
    ref.plan,
    (probs, next) => {
      const q = probs.get(next) ?? 0
      nll.push(-Math.log(Math.max(q, P_FLOOR)))
      kld.push(ref.kld(i, probs))
      dp.push(q - ref.targetP[i]!)
      if ((probs.keys().next().value ?? -2) === ref.top[i]) same++
      i++
    },
    onChunk,
  )
  const perplexity = summarizePpl(nll, ref.plan, seconds)
  const k = meanWithError(kld)
  const sorted = Float64Array.from(kld).sort()
  const n = kld.length
  const rate = same / n
  let dpSum = 0
  let dpSq = 0
  let dpAbs = 0
  for (const d of dp) {
    dpSum += d
    dpSq += d * d
    dpAbs += Math.abs(d)
  }
  const refMean = meanWithError(ref.nll).mean
  return {
    perplexity,
    divergence: {
      referencePpl: Math.exp(refMean),
      lnPplRatio: perplexity.meanNll - refMean,
      kld: {
        mean: k.mean,
        stderr: k.stderr,
        median: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        max: sorted[n - 1]!,
      },
      top1: { rate, stderr: n > 1 ? Math.sqrt((rate * (1 - rate)) / (n - 1)) : 0 },
      deltaP: { mean: dpSum / n, rms: Math.sqrt(dpSq / n), meanAbs: dpAbs / n },
    },
  }
}
