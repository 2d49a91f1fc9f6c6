// Greedy generations over a prompt set, and how a variant's generations compare with the reference's.
import type { Token } from 'node-llama-cpp'
import { bleu, firstDivergence, rougeL, words } from './metrics'
import type { LoadedModel } from './runtime'

export interface Generation {
  prompt: string
  tokens: number[]
  text: string
}

export interface GenerationRun {
  generations: Generation[]
  tokensPerSecond: number
}

/** Greedy (temperature 0) continuations of each prompt, BOS + prompt as llama.cpp feeds it, up to maxTokens. */
export async function generateGreedy(
  m: LoadedModel,
  prompts: readonly string[],
  maxTokens: number,
): Promise<GenerationRun> {
  const generations: Generation[] = []
  let produced = 0
  let seconds = 0
  for (const prompt of prompts) {
    const input = m.tokenize(prompt)
    const seq = await m.sequenceFor(Math.max(64, input.length + maxTokens + 1))
    const out: Token[] = []
    const t0 = performance.now()
    for await (const t of seq.evaluate(input, { temperature: 0 })) {
      if (m.isEog(t)) break
      out.push(t)
      if (out.length >= maxTokens) break
    }
    seconds += (performance.now() - t0) / 1000
    produced += out.length
    generations.push({ prompt, tokens: out.map(Number), text: m.detokenize(out) })
  }
  return { generations, tokensPerSecond: produced / Math.max(seconds, 1e-9) }
}

export interface GenerationComparison {
  prompt: string
  /** First token index where the variant leaves the reference's continuation; -1 when identical. */
  firstDivergentToken: number
  rougeL: number
  bleu: number
}

export interface GenerationSummary {
  perPrompt: GenerationComparison[]
  identical: number
  meanRougeL: number
  meanBleu: number
}

/** ROUGE-L and BLEU over words of the generated text; divergence over token ids. */
export function compareGenerations(
  reference: readonly Generation[],
  variant: readonly Generation[],
): GenerationSummary {
  const perPrompt = variant.map((g, i) => {
    const r = reference[i]!
    return {
      prompt: g.prompt,
      firstDivergentToken: firstDivergence(r.tokens, g.tokens),
      rougeL: rougeL(words(g.text), words(r.text)),
      bleu: bleu(words(g.text), words(r.text)),
    }
  })
  const n = Math.max(1, perPrompt.length)
  return {
    perPrompt,
    identical: perPrompt.filter((p) => p.firstDivergentToken === -1).length,
    meanRougeL: perPrompt.reduce((a, p) => a + p.rougeL, 0) / n,
    meanBleu: perPrompt.reduce((a, p) => a + p.bleu, 0) / n,
  }
}
