// What llama.cpp computes on our converted GGUFs equals a float64 Hugging Face forward pass over the original
// tensors: the proof that the Q/K un-permute (Llama/Mistral, with GQA), keeping HF layout (Qwen2, with biases) and
// Gemma's norm +1 / embedding scale / GELU are the right transforms, beyond "it loads".
import assert from 'node:assert/strict'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { Token } from 'node-llama-cpp'
import { EvalSession } from '../../src-main/core/eval'
import { convertToGguf } from '../../src-main/core/gguf'
import { tempDir } from '../helpers/paths'
import { makeTinyModel, type TinyModelOptions, tokenizerDir } from './fixtures'
import { type ForwardConfig, referenceLogProbs } from './forward'

const work = tempDir('shardpress-numerics-')
let session: EvalSession
before(async () => {
  session = await EvalSession.open({ threads: 1 })
})
after(async () => {
  await session?.dispose()
  rmSync(work, { recursive: true, force: true })
})

const cases: [TinyModelOptions['architecture'], ForwardConfig['family']][] = [
  ['LlamaForCausalLM', 'llama'],
  ['Qwen2ForCausalLM', 'qwen2'],
  ['GemmaForCausalLM', 'gemma'],
]

for (const [architecture, family] of cases) {
  test(`${architecture}: llama.cpp on our GGUF matches a float64 HF forward pass`, async () => {
    const dir = join(work, architecture)
    mkdirSync(dir)
    const shape = { hidden: 32, heads: 4, kvHeads: 2, headDim: 8, layers: 2 }
    const source = makeTinyModel(dir, {
      architecture,
      tokenizerDir: tokenizerDir('llama2'),
      vocabSize: 32000,
      ...shape,
      ffn: 64,
      scale: 1.2,
      randomNorms: true,
    })
    const file = join(work, `${architecture}.gguf`)
    await convertToGguf(dir, file, { type: 'f32', tensorSource: source })
    const tokens = [1, 450, 4996, 17354, 1701, 432, 29871] // BOS "The quick brown ..."
    const want = await referenceLogProbs(source, { family, ...shape, eps: 1e-6, theta: 10000 }, tokens)
    const m = await session.load(file)
    try {
      const seq = await m.sequenceFor(32)
      const items = tokens.map((t, i) =>
        i === tokens.length - 1 ? ([t as Token, { generateNext: { probabilities: true } }] as const) : (t as Token),
      )
      const out = await seq.controlledEvaluate(items as Parameters<typeof seq.controlledEvaluate>[0])
      const probs = out[tokens.length - 1]!.next.probabilities!
      // A peaked distribution, so a wrong transform could not hide in a flat one.
      const top = [...probs.entries()].slice(0, 5)
      assert.ok(top[0]![1] > 100 / 32000, `top probability ${top[0]![1]}`)
      let kld = 0
      for (const [t, p] of probs) if (p > 0) kld += p * (Math.log(p) - want[t]!)
      // Measured: about 1e-5 (llama.cpp computes in float32). Q/K rows left in HF order give about 1.
      assert.ok(kld < 2e-4, `KL(llama.cpp ‖ reference) = ${kld}`)
      for (const [t, p] of top) assert.ok(Math.abs(Math.log(p) - want[t]!) < 2e-2, `token ${t}`)
    } finally {
      await m.dispose()
    }
  })
}
