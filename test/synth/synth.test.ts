import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildInventory, openModel } from '../../src-main/core/model'
import { SafetensorsFile } from '../../src-main/core/safetensors'
import { bpeDecode, bpeEncode, generateModel, presetPlan } from '../../src-main/core/synth'
import { tempDir } from '../helpers/paths'

/** E4M3FN from its bit fields, independent of the code under test. */
function e4m3(code: number): number {
  const s = code & 0x80 ? -1 : 1
  const e = (code >> 3) & 15
  const m = code & 7
  if (e === 15 && m === 7) return Number.NaN
  return e === 0 ? s * m * 2 ** -9 : s * (1 + m / 8) * 2 ** (e - 7)
}

test('synth is deterministic by seed: same seed same bytes, other seed other values', async () => {
  const a = await generateModel('llama', join(tempDir(), 'a'), { scale: 0.02, seed: 3 })
  const b = await generateModel('llama', join(tempDir(), 'b'), { scale: 0.02, seed: 3 })
  const c = await generateModel('llama', join(tempDir(), 'c'), { scale: 0.02, seed: 4 })
  assert.deepEqual(a.files.sort(), b.files.sort())
  assert.equal(a.shards.length, 2)
  for (const f of a.files) assert.ok(readFileSync(join(a.dir, f)).equals(readFileSync(join(b.dir, f))), f)
  const shard = a.shards[0]!.file
  assert.ok(!readFileSync(join(a.dir, shard)).equals(readFileSync(join(c.dir, shard))))
  // Same layout whatever the seed: only values differ.
  assert.equal(
    readFileSync(join(a.dir, 'model.safetensors.index.json'), 'utf8'),
    readFileSync(join(c.dir, 'model.safetensors.index.json'), 'utf8'),
  )
})

test('llama preset: BF16, tied or untied lm_head, config and a real byte-level BPE tokenizer', async () => {
  const tied = await generateModel('llama', join(tempDir(), 't'), { scale: 0.02, seed: 1, tied: true })
  const untied = await generateModel('llama', join(tempDir(), 'u'), { scale: 0.02, seed: 1, tied: false })
  const mt = await openModel(tied.dir)
  const mu = await openModel(untied.dir)
  try {
    assert.equal(mt.layout, 'index')
    assert.equal(mt.architecture, 'LlamaForCausalLM')
    assert.equal(mt.config?.tie_word_embeddings, true)
    assert.equal(mu.config?.tie_word_embeddings, false)
    assert.equal(mt.tensor('lm_head.weight'), undefined)
    const embed = mu.tensor('model.embed_tokens.weight')!
    assert.deepEqual(mu.tensor('lm_head.weight')?.shape, embed.shape)
    assert.ok(mt.tensors.every((t) => t.dtype === 'BF16'))
    const cfg = mt.config as Record<string, number>
    assert.deepEqual(embed.shape, [cfg.vocab_size, cfg.hidden_size])
    assert.deepEqual(mt.tensor('model.layers.0.self_attn.k_proj.weight')?.shape, [
      cfg.num_key_value_heads! * cfg.head_dim!,
      cfg.hidden_size,
    ])
    assert.deepEqual(mt.tensor('model.layers.0.mlp.down_proj.weight')?.shape, [cfg.hidden_size, cfg.intermediate_size])
    assert.equal(mt.tensors.length, 2 + 9 * cfg.num_hidden_layers!)

    const tokJson = readFileSync(join(tied.dir, 'tokenizer.json'), 'utf8')
    const tok = JSON.parse(tokJson)
    const ids = [
      ...Object.values(tok.model.vocab as Record<string, number>),
      ...tok.added_tokens.map((t: { id: number }) => t.id),
    ]
    assert.equal(new Set(ids).size, cfg.vocab_size)
    assert.equal(Math.max(...ids), cfg.vocab_size - 1)
    assert.equal(tok.added_tokens.find((t: { id: number }) => t.id === cfg.bos_token_id).content, '<|begin_of_text|>')
    const text = 'Once upon a time, the model read its shards — 42 times, naïvely. 🙂'
    const enc = bpeEncode(tokJson, text)
    assert.equal(bpeDecode(tokJson, enc), text)
    assert.ok(enc.length < new TextEncoder().encode(text).length / 2, 'merges shorten common text')
    const tc = JSON.parse(readFileSync(join(tied.dir, 'tokenizer_config.json'), 'utf8'))
    assert.equal(tc.bos_token, '<|begin_of_text|>')
  } finally {
    await mt.close()
    await mu.close()
  }
})

test('weights have heavy tails and per-row scale variation', async () => {
  const g = await generateModel('llama', join(tempDir(), 'h'), { scale: 0.05, seed: 2 })
  const inv = await buildInventory(g.dir, { stats: true, workers: 0 })
  const t = inv.tensors.find((x) => x.name === 'model.layers.0.mlp.gate_proj.weight')!
  const s = t.stats!
  const xs = s.sample
  const m = xs.reduce((a, b) => a + b, 0) / xs.length
  const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length
  const kurt = xs.reduce((a, b) => a + (b - m) ** 4, 0) / xs.length / (v * v)
  assert.ok(kurt > 4, `kurtosis ${kurt} should exceed a Gaussian's 3`)
  assert.ok(s.absMax! > 6 * s.std!, 'outliers reach beyond 6 σ')
  assert.ok(Math.abs(s.mean!) < 0.1 * s.std!)
})

test('gemma3 preset uses Gemma3ForCausalLM text naming with q/k norms and four norms per layer', async () => {
  const g = await generateModel('gemma3', join(tempDir(), 'g'), { scale: 0.02, seed: 1, layers: 2 })
  const m = await openModel(g.dir)
  try {
    assert.equal(m.architecture, 'Gemma3ForCausalLM')
    const layer0 = m.tensors
      .filter((t) => t.layer === 0)
      .map((t) => t.name.replace('model.layers.0.', ''))
      .sort()
    assert.deepEqual(layer0, [
      'input_layernorm.weight',
      'mlp.down_proj.weight',
      'mlp.gate_proj.weight',
      'mlp.up_proj.weight',
      'post_attention_layernorm.weight',
      'post_feedforward_layernorm.weight',
      'pre_feedforward_layernorm.weight',
      'self_attn.k_norm.weight',
      'self_attn.k_proj.weight',
      'self_attn.o_proj.weight',
      'self_attn.q_norm.weight',
      'self_attn.q_proj.weight',
      'self_attn.v_proj.weight',
    ])
    const cfg = m.config as Record<string, number>
    assert.deepEqual(m.tensor('model.layers.1.self_attn.q_norm.weight')?.shape, [cfg.head_dim])
    assert.equal(m.tensor('lm_head.weight'), undefined)
  } finally {
    await m.close()
  }
})

test("deepseek-v3 at full scale has the real model's shapes (config.json of deepseek-ai/DeepSeek-V3)", () => {
  const plan = presetPlan('deepseek-v3', { scale: 1 })
  const shape = (n: string) => plan.tensors.find((t) => t.name === n)?.shape
  const dtype = (n: string) => plan.tensors.find((t) => t.name === n)?.dtype
  assert.deepEqual(shape('model.embed_tokens.weight'), [129280, 7168])
  assert.deepEqual(shape('model.layers.0.self_attn.q_a_proj.weight'), [1536, 7168])
  assert.deepEqual(shape('model.layers.0.self_attn.q_a_proj.weight_scale_inv'), [12, 56])
  assert.deepEqual(shape('model.layers.0.self_attn.q_b_proj.weight'), [24576, 1536])
  assert.deepEqual(shape('model.layers.0.self_attn.kv_a_proj_with_mqa.weight'), [576, 7168])
  assert.deepEqual(shape('model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv'), [5, 56])
  assert.deepEqual(shape('model.layers.0.self_attn.kv_b_proj.weight'), [32768, 512])
  assert.deepEqual(shape('model.layers.0.self_attn.o_proj.weight'), [7168, 16384])
  assert.deepEqual(shape('model.layers.2.mlp.gate_proj.weight'), [18432, 7168])
  assert.equal(shape('model.layers.3.mlp.gate_proj.weight'), undefined)
  assert.deepEqual(shape('model.layers.3.mlp.gate.weight'), [256, 7168])
  assert.deepEqual(shape('model.layers.60.mlp.experts.255.down_proj.weight'), [7168, 2048])
  assert.deepEqual(shape('model.layers.60.mlp.experts.255.down_proj.weight_scale_inv'), [56, 16])
  assert.deepEqual(shape('model.layers.60.mlp.shared_experts.up_proj.weight'), [2048, 7168])
  assert.deepEqual(shape('lm_head.weight'), [129280, 7168])
  assert.equal(dtype('model.layers.9.mlp.gate.e_score_correction_bias'), 'F32')
  assert.equal(dtype('model.layers.9.mlp.gate.weight'), 'BF16')
  assert.equal(dtype('model.layers.9.self_attn.kv_a_layernorm.weight'), 'BF16')
  const params = plan.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0)
  assert.ok(params > 670e9 && params < 672e9, `${params} parameters (671B without the MTP layer)`)
})

test('deepseek-v3: real naming and dtypes; FP8 = E4M3(value / (amax/448)) per 128×128 block; inventory in dequantized units', async () => {
  const g = await generateModel('deepseek-v3', join(tempDir(), 'd'), { scale: 0.01, seed: 9, layers: 4, experts: 8 })
  assert.ok(readdirSync(g.dir).includes('model-00001-of-000002.safetensors'))
  const m = await openModel(g.dir)
  try {
    assert.equal(m.architecture, 'DeepseekV3ForCausalLM')
    const names = new Set(m.tensors.map((t) => t.name))
    for (const n of [
      'model.layers.0.self_attn.q_a_proj.weight',
      'model.layers.0.self_attn.q_a_layernorm.weight',
      'model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv',
      'model.layers.2.mlp.down_proj.weight_scale_inv',
      'model.layers.3.mlp.gate.e_score_correction_bias',
      'model.layers.3.mlp.experts.7.up_proj.weight',
      'model.layers.3.mlp.shared_experts.down_proj.weight_scale_inv',
    ]) {
      assert.ok(names.has(n), n)
    }
    for (const t of m.tensors) {
      const expected =
        t.name.endsWith('_scale_inv') || t.name.endsWith('e_score_correction_bias')
          ? 'F32'
          : /embed_tokens|norm|mlp\.gate\.weight|lm_head/.test(t.name)
            ? 'BF16'
            : 'F8_E4M3'
      assert.equal(t.dtype, expected, t.name)
      if (t.dtype === 'F8_E4M3') {
        const s = m.tensor(`${t.name}_scale_inv`)!
        assert.deepEqual(s.shape, [Math.ceil(t.shape[0]! / 128), Math.ceil(t.shape[1]! / 128)])
      }
    }

    const inv = await buildInventory(m, { stats: true, workers: 0, taskBytes: 64 << 10 })
    const checked = [
      'model.layers.2.mlp.gate_proj.weight',
      'model.layers.3.mlp.experts.5.down_proj.weight',
      'model.layers.1.self_attn.o_proj.weight',
    ]
    for (const name of checked) {
      const t = m.tensor(name)!
      const file = await SafetensorsFile.open(t.shardPath)
      const codes = await file.read(name)
      const scales = new Float32Array(new Uint8Array(await file.read(`${name}_scale_inv`)).buffer)
      await file.close()
      const [rows, cols] = t.shape as [number, number]
      const sc = Math.ceil(cols / 128)
      const blockMax = new Float64Array(scales.length)
      let min = Infinity
      let max = -Infinity
      let sum = 0
      for (let i = 0; i < codes.length; i++) {
        const r = Math.floor(i / cols)
        const b = Math.floor(r / 128) * sc + Math.floor((i % cols) / 128)
        const q = e4m3(codes[i]!)
        blockMax[b] = Math.max(blockMax[b]!, Math.abs(q))
        const v = q * scales[b]!
        min = Math.min(min, v)
        max = Math.max(max, v)
        sum += v
      }
      // DeepSeek's recipe: the block's largest magnitude lands exactly on E4M3's 448.
      assert.ok(
        blockMax.every((x) => x === 448),
        `${name}: every block reaches ±448`,
      )
      const mean = sum / codes.length
      let ss = 0
      for (let i = 0; i < codes.length; i++) {
        const b = Math.floor(Math.floor(i / cols) / 128) * sc + Math.floor((i % cols) / 128)
        ss += (e4m3(codes[i]!) * scales[b]! - mean) ** 2
      }
      const st = inv.tensors.find((x) => x.name === name)!.stats!
      assert.equal(st.dequantized, true)
      assert.equal(st.elements, rows * cols)
      assert.equal(st.min, min)
      assert.equal(st.max, max)
      assert.ok(Math.abs(st.mean! - mean) <= 1e-12 * Math.abs(max), `${name} mean`)
      assert.ok(Math.abs(st.std! - Math.sqrt(ss / codes.length)) <= 1e-9 * st.std!, `${name} std`)
      // Dequantized units: weights of order 1/sqrt(fan_in), far below the raw code range of ±448.
      assert.ok(st.absMax! < 5)
    }
  } finally {
    await m.close()
  }
})
