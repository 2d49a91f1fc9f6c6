import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { buildInventory, inventoryToCsv, inventoryToJson, openModel } from '../../src-main/core/model'
import { shared } from '../helpers/paths'

const stories = shared('models', 'stories260K-hf')

test('stories260K: 47 F32 tensors, 260,032 parameters, Llama roles', async () => {
  const model = await openModel(stories)
  try {
    assert.equal(model.layout, 'single')
    assert.equal(model.architecture, 'LlamaForCausalLM')
    assert.equal(model.modelType, 'llama')
    assert.ok(model.files.config?.endsWith('config.json'))
    assert.ok(model.files.generationConfig?.endsWith('generation_config.json'))
    assert.deepEqual(model.files.tokenizer.map((f) => f.split('/').pop()).sort(), [
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ])
    const inv = await buildInventory(model, { stats: true, workers: 0 })
    assert.deepEqual(inv.totals, { tensors: 47, params: 260032, bytes: 260032 * 4 })
    assert.deepEqual(Object.keys(inv.byDtype), ['F32'])
    assert.deepEqual(Object.fromEntries(Object.entries(inv.byRole).map(([k, v]) => [k, v.tensors])), {
      embedding: 1,
      norm: 11,
      mlp_down: 5,
      mlp_gate: 5,
      mlp_up: 5,
      attn_k: 5,
      attn_o: 5,
      attn_q: 5,
      attn_v: 5,
    })
    assert.deepEqual(inv.byShard, { 'model.safetensors': { tensors: 47, params: 260032, bytes: 1040128 } })
    const q = inv.tensors.find((t) => t.name === 'model.layers.3.self_attn.q_proj.weight')!
    assert.deepEqual([q.role, q.group, q.layer, q.shape, q.elementCount], ['attn_q', 'attention', 3, [64, 64], 4096])

    // Statistics of the embedding, checked against the raw float32 bytes.
    const info = model.store.locate('model.embed_tokens.weight').info
    const raw = readFileSync(model.shards[0]!.path).subarray(info.fileOffset, info.fileOffset + info.byteLength)
    const v = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))
    const mean = v.reduce((a, b) => a + b, 0) / v.length
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length)
    const s = inv.tensors[0]!.stats!
    assert.equal(inv.tensors[0]!.name, 'model.embed_tokens.weight')
    assert.equal(s.min, Math.min(...v))
    assert.equal(s.max, Math.max(...v))
    assert.ok(Math.abs(s.mean! - mean) < 1e-12)
    assert.ok(Math.abs(s.std! - std) < 1e-12)
  } finally {
    await model.close()
  }
})

test('CSV and JSON exports carry every tensor with totals', async () => {
  const inv = await buildInventory(stories, { stats: true, workers: 0 })
  const csv = inventoryToCsv(inv).trimEnd().split('\n')
  assert.equal(csv.length, 48)
  assert.equal(
    csv[0],
    'shard,tensor,dtype,shape,elements,bytes,layer,role,group,expert,min,max,mean,std,abs_max,nan,pos_inf,neg_inf,zero_fraction',
  )
  assert.match(
    csv[1]!,
    /^model\.safetensors,model\.embed_tokens\.weight,F32,512x64,32768,131072,,embedding,embedding,,-?\d/,
  )
  const json = JSON.parse(inventoryToJson(inv))
  assert.equal(json.tensors.length, 47)
  assert.deepEqual(json.totals, { tensors: 47, params: 260032, bytes: 1040128 })
  assert.equal(json.tensors[0].stats.sample, undefined)
  assert.equal(JSON.parse(inventoryToJson(inv, { samples: true })).tensors[0].stats.sample.length, 4096)
  // Without statistics only headers are read.
  const bare = await buildInventory(stories)
  assert.equal(bare.hasStats, false)
  assert.equal(bare.tensors[0]!.stats, null)
})

test('a LoRA adapter folder (GPT-2 naming) is inventoried with lora roles', async () => {
  const inv = await buildInventory(shared('models', 'lora-gpt2-tigrinya'))
  assert.ok(inv.tensors.length > 0)
  assert.ok(inv.tensors.every((t) => t.role === 'lora'))
  assert.equal(inv.tensors.find((t) => t.name.includes('h.0.attn.c_attn.lora_A'))?.target, 'attn_qkv')
})
