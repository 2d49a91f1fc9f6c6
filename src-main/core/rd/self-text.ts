// An evaluation text written by the model itself, for models that come without one (the built-in generated model):
// seeded samples from the original, each starting at BOS, joined with '<|endoftext|>' so the bench scores them as
// separate documents. Fidelity is then measured on text the original finds likely, which is what KLD compares.
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Token, TokenBias } from 'node-llama-cpp'
import { EvalSession, resolveGguf } from '../eval'

export interface SelfTextOptions {
  documents?: number
  tokensPerDocument?: number
  seed?: number
  temperature?: number
  threads?: number
  cacheDir?: string
}

export async function sampleText(model: string, o: SelfTextOptions = {}): Promise<string> {
  const docs = o.documents ?? 16
  const len = o.tokensPerDocument ?? 96
  const session = await EvalSession.open({ threads: o.threads ?? 1 })
  try {
    const { gguf } = await resolveGguf(
      { name: 'original', path: model, type: 'f32' },
      o.cacheDir ?? join(tmpdir(), 'shardpress-gguf-cache'),
    )
    const m = await session.load(gguf)
    try {
      const out: string[] = []
      const bos = m.model.tokens.bos
      const seq = await m.sequenceFor(len + 2)
      // Tokens that spell nothing (control, reserved and filler tokens) would leave an empty text; never pick them.
      const bias = TokenBias.for(m.model)
      for (let t = 0; t < m.vocabSize; t++)
        if (m.model.detokenize([t as Token]) === '' && !m.isEog(t as Token)) bias.set(t as Token, 'never')
      for (let d = 0; d < docs; d++) {
        await seq.clearHistory()
        const start = bos !== null ? [bos] : m.tokenize(' ', false).slice(0, 1)
        const toks = []
        for await (const t of seq.evaluate(start, {
          temperature: o.temperature ?? 0.8,
          seed: (o.seed ?? 1) * 7919 + d,
          tokenBias: bias,
        })) {
          // A model that is not trained (the built-in one) ends its text early and often; keep sampling past it.
          if (m.isEog(t)) continue
          toks.push(t)
          if (toks.length >= len) break
        }
        const text = m.detokenize(toks).trim()
        if (text) out.push(text)
      }
      return `${out.join('\n<|endoftext|>\n')}\n`
    } finally {
      await m.dispose()
    }
  } finally {
    await session.dispose()
  }
}
