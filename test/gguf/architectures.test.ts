// Mistral, Qwen2, Gemma, Gemma2 and Gemma3 tiny generated models: the conversion applies each family's rules
// (Q/K un-permute only for Llama/Mistral, biases kept F32, Gemma's norm +1 and dropped lm_head) and the result
// loads and generates in node-llama-cpp.
import assert from 'node:assert/strict'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { EvalSession } from '../../src-main/core/eval'
import { convertToGguf, GgmlType, GgufFile, toBf16, unpermuteHeads } from '../../src-main/core/gguf'
import { tempDir } from '../helpers/paths'
import { makeTinyModel, type TinyModelOptions, tokenizerDir } from './fixtures'

const work = tempDir('shardpress-arch-')
let session: EvalSession
before(async () => {
  session = await EvalSession.open({ threads: 1 })
})
after(async () => {
  await session?.dispose()
  rmSync(work, { recursive: true, force: true })
})

async function convertTiny(architecture: TinyModelOptions['architecture'], type: 'f32' | 'bf16' | 'f16' = 'f32') {
  const dir = join(work, `${architecture}-${type}`)
  mkdirSync(dir)
  // One tokenizer for all: tokenizers have their own tests, and any llama.cpp architecture takes any vocabulary.
  const source = makeTinyModel(dir, { architecture, tokenizerDir: tokenizerDir('llama2'), vocabSize: 32000, layers: 2 })
  const file = `${dir}.gguf`
  const result = await convertToGguf(dir, file, { type, tensorSource: source })
  return { file, source, result }
}

async function generates(file: string): Promise<number[]> {
  const m = await session.load(file)
  try {
    const seq = await m.sequenceFor(64)
    const out: number[] = []
    for await (const t of seq.evaluate(m.tokenize('Hello world'), { temperature: 0 })) {
      out.push(t)
      if (out.length === 4) break
    }
    return out
  } finally {
    await m.dispose()
  }
}

test('Mistral: llama architecture, Q and K rows un-permuted with n_head and n_kv_head; BF16 output', async () => {
  const { file, source } = await convertTiny('MistralForCausalLM', 'bf16')
  const g = await GgufFile.open(file)
  try {
    assert.equal(g.get('general.architecture'), 'llama')
    assert.equal(g.get('general.file_type'), 32)
    const q = await source.read('model.layers.0.self_attn.q_proj.weight')
    const k = await source.read('model.layers.0.self_attn.k_proj.weight')
    const asBf16 = (b: Uint8Array) => toBf16(new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4))
    assert.deepEqual(await g.read('blk.0.attn_q.weight'), asBf16(unpermuteHeads(q, 32, 2)))
    assert.deepEqual(await g.read('blk.0.attn_k.weight'), asBf16(unpermuteHeads(k, 16, 1)))
    assert.notDeepEqual(unpermuteHeads(q, 32, 2), q)
    assert.equal(g.tensor('blk.0.attn_norm.weight').type, GgmlType.F32)
    assert.equal(g.tensor('blk.0.attn_q.weight').type, GgmlType.BF16)
  } finally {
    await g.close()
  }
  assert.equal((await generates(file)).length, 4)
})

test('Qwen2: no permutation (NEOX rope), q/k/v biases kept as F32', async () => {
  const { file, source } = await convertTiny('Qwen2ForCausalLM')
  const g = await GgufFile.open(file)
  try {
    assert.equal(g.get('general.architecture'), 'qwen2')
    assert.deepEqual(await g.read('blk.1.attn_q.weight'), await source.read('model.layers.1.self_attn.q_proj.weight'))
    assert.deepEqual(await g.read('blk.1.attn_k.bias'), await source.read('model.layers.1.self_attn.k_proj.bias'))
    assert.equal(g.tensor('blk.1.attn_k.bias').type, GgmlType.F32)
  } finally {
    await g.close()
  }
  assert.equal((await generates(file)).length, 4)
})

for (const arch of ['GemmaForCausalLM', 'Gemma2ForCausalLM', 'Gemma3ForCausalLM'] as const) {
  test(`${arch}: norms stored as w − 1 get +1, output tied, sandwich norms mapped, loads and generates`, async () => {
    const { file } = await convertTiny(arch, 'f16')
    const name = arch === 'GemmaForCausalLM' ? 'gemma' : arch === 'Gemma2ForCausalLM' ? 'gemma2' : 'gemma3'
    const g = await GgufFile.open(file)
    try {
      assert.equal(g.get('general.architecture'), name)
      assert.equal(g.get(`${name}.attention.key_length`), 16)
      const norm = await g.read('blk.0.attn_norm.weight')
      assert.deepEqual([...new Float32Array(norm.buffer, norm.byteOffset, 32)], new Array(32).fill(1))
      assert.ok(!g.tensors.some((t) => t.name === 'output.weight'))
      if (name !== 'gemma') {
        for (const t of ['post_attention_norm', 'ffn_norm', 'post_ffw_norm']) assert.ok(g.tensor(`blk.1.${t}.weight`))
      }
      if (name === 'gemma3') {
        const qn = await g.read('blk.0.attn_q_norm.weight')
        assert.equal(new Float32Array(qn.buffer, qn.byteOffset, 16)[0], 1)
      }
    } finally {
      await g.close()
    }
    assert.equal((await generates(file)).length, 4)
  })
}
