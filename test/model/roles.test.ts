import assert from 'node:assert/strict'
import { test } from 'node:test'
import { classifyTensor } from '../../src-main/core/model/roles'

const role = (name: string) => classifyTensor(name)

test('Llama / Mistral / Qwen2 names get their roles, groups and layers', () => {
  assert.deepEqual(role('model.embed_tokens.weight'), { role: 'embedding', group: 'embedding', layer: null })
  assert.deepEqual(role('model.layers.12.self_attn.q_proj.weight'), { role: 'attn_q', group: 'attention', layer: 12 })
  assert.equal(role('model.layers.0.self_attn.k_proj.weight').role, 'attn_k')
  assert.equal(role('model.layers.0.self_attn.v_proj.weight').role, 'attn_v')
  assert.equal(role('model.layers.0.self_attn.o_proj.weight').role, 'attn_o')
  assert.deepEqual(role('model.layers.3.mlp.gate_proj.weight'), { role: 'mlp_gate', group: 'mlp', layer: 3 })
  assert.equal(role('model.layers.3.mlp.up_proj.weight').role, 'mlp_up')
  assert.equal(role('model.layers.3.mlp.down_proj.weight').role, 'mlp_down')
  assert.deepEqual(role('model.layers.3.input_layernorm.weight'), { role: 'norm', group: 'norm', layer: 3 })
  assert.deepEqual(role('model.norm.weight'), { role: 'norm', group: 'norm', layer: null })
  assert.deepEqual(role('lm_head.weight'), { role: 'lm_head', group: 'lm_head', layer: null })
  // Qwen2 attention biases are biases of the attention group.
  assert.deepEqual(role('model.layers.1.self_attn.q_proj.bias'), {
    role: 'bias',
    group: 'attention',
    layer: 1,
    target: 'attn_q',
  })
  assert.equal(role('model.layers.1.self_attn.rotary_emb.inv_freq').role, 'other')
})

test('Gemma 3 extra norms are norms', () => {
  for (const n of ['q_norm', 'k_norm']) assert.equal(role(`model.layers.2.self_attn.${n}.weight`).role, 'norm')
  for (const n of ['pre_feedforward_layernorm', 'post_feedforward_layernorm', 'post_attention_layernorm']) {
    assert.deepEqual(role(`model.layers.2.${n}.weight`), { role: 'norm', group: 'norm', layer: 2 })
  }
})

test('DeepSeek-V3 MLA, experts, router and FP8 scales', () => {
  assert.equal(role('model.layers.5.self_attn.q_a_proj.weight').role, 'attn_q')
  assert.equal(role('model.layers.5.self_attn.q_b_proj.weight').role, 'attn_q')
  assert.equal(role('model.layers.5.self_attn.q_a_layernorm.weight').role, 'norm')
  assert.equal(role('model.layers.5.self_attn.kv_a_proj_with_mqa.weight').role, 'attn_kv')
  assert.equal(role('model.layers.5.self_attn.kv_b_proj.weight').role, 'attn_kv')
  assert.equal(role('model.layers.5.self_attn.kv_a_layernorm.weight').role, 'norm')
  assert.deepEqual(role('model.layers.7.mlp.experts.201.down_proj.weight'), {
    role: 'expert',
    group: 'experts',
    layer: 7,
    expert: 201,
    part: 'down',
  })
  assert.deepEqual(role('model.layers.7.mlp.shared_experts.up_proj.weight'), {
    role: 'expert',
    group: 'experts',
    layer: 7,
    expert: 'shared',
    part: 'up',
  })
  assert.deepEqual(role('model.layers.7.mlp.gate.weight'), { role: 'router', group: 'experts', layer: 7 })
  assert.deepEqual(role('model.layers.7.mlp.gate.e_score_correction_bias'), {
    role: 'router',
    group: 'experts',
    layer: 7,
  })
  assert.deepEqual(role('model.layers.7.mlp.experts.3.gate_proj.weight_scale_inv'), {
    role: 'fp8_scale',
    group: 'other',
    layer: 7,
    target: 'mlp_gate',
  })
  // Dense layers' MLP stays in the mlp group.
  assert.equal(role('model.layers.0.mlp.gate_proj.weight').group, 'mlp')
})

test('Mixtral experts (w1/w2/w3) and router', () => {
  assert.deepEqual(role('model.layers.0.block_sparse_moe.experts.5.w1.weight'), {
    role: 'expert',
    group: 'experts',
    layer: 0,
    expert: 5,
    part: 'gate',
  })
  assert.equal(role('model.layers.0.block_sparse_moe.experts.5.w2.weight').part, 'down')
  assert.equal(role('model.layers.0.block_sparse_moe.gate.weight').role, 'router')
})

test('GPT-2 names: fused c_attn, c_proj by context, c_fc, ln_*, wte/wpe', () => {
  assert.deepEqual(role('transformer.h.4.attn.c_attn.weight'), { role: 'attn_qkv', group: 'attention', layer: 4 })
  assert.equal(role('transformer.h.4.attn.c_proj.weight').role, 'attn_o')
  assert.equal(role('transformer.h.4.mlp.c_proj.weight').role, 'mlp_down')
  assert.equal(role('transformer.h.4.mlp.c_fc.weight').role, 'mlp_up')
  assert.equal(role('transformer.h.4.mlp.c_fc.bias').role, 'bias')
  assert.equal(role('transformer.h.4.ln_1.weight').role, 'norm')
  assert.equal(role('transformer.h.4.ln_1.bias').role, 'norm')
  assert.equal(role('transformer.ln_f.weight').role, 'norm')
  assert.equal(role('transformer.wte.weight').role, 'embedding')
  assert.equal(role('transformer.wpe.weight').role, 'embedding')
  assert.equal(role('transformer.h.4.attn.bias').role, 'other')
})

test('PEFT LoRA factors are role lora with the module they adapt', () => {
  assert.deepEqual(role('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight'), {
    role: 'lora',
    group: 'other',
    layer: 0,
    target: 'attn_qkv',
  })
  assert.deepEqual(role('base_model.model.transformer.h.11.mlp.c_proj.lora_B.weight'), {
    role: 'lora',
    group: 'other',
    layer: 11,
    target: 'mlp_down',
  })
})
