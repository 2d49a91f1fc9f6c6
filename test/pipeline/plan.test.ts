import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadPlan, makePlan, PlanError, parsePlan, resolvePlan, savePlan } from '../../src-main/core/plan/plan'
import { tempDir } from '../helpers/paths'

const big = 4096 * 1024
const t = (name: string, elementCount = big, dtype = 'BF16') => ({ name, dtype, elementCount })

test('LLM defaults: norms, biases, scales and tiny tensors lossless; embeddings and lm_head at half the bound', () => {
  const plan = makePlan('rel', 1e-3)
  assert.deepEqual(resolvePlan(plan, t('model.layers.3.mlp.down_proj.weight')), {
    mode: 'rel',
    bound: 1e-3,
    rule: 'global',
  })
  assert.equal(resolvePlan(plan, t('model.layers.3.input_layernorm.weight')).mode, 'lossless')
  assert.equal(resolvePlan(plan, t('model.layers.3.self_attn.q_proj.bias')).mode, 'lossless')
  assert.equal(resolvePlan(plan, t('model.layers.3.mlp.down_proj.weight_scale_inv', 100, 'F32')).mode, 'lossless')
  assert.equal(resolvePlan(plan, t('model.layers.3.mlp.down_proj.weight', 4095)).mode, 'lossless')
  assert.equal(resolvePlan(plan, t('model.layers.3.mlp.down_proj.weight', 4096)).mode, 'rel')
  assert.equal(resolvePlan(plan, t('model.embed_tokens.weight')).bound, 5e-4)
  assert.equal(resolvePlan(plan, t('lm_head.weight')).bound, 5e-4)
  const raw = makePlan('abs', 1e-2, [], false)
  assert.deepEqual(resolvePlan(raw, t('model.norm.weight', 10)), { mode: 'abs', bound: 1e-2, rule: 'global' })
})

test('overrides by role, glob and regex; a later rule wins', () => {
  const plan = makePlan('abs', 1e-3, [
    { role: 'attention', bound: 1e-4, label: 'attention tighter' },
    { name: 'model.layers.0.*', mode: 'lossless', label: 'first layer exact' },
    { name: '/experts\\.(1|2)\\./', boundScale: 10, label: 'two experts looser' },
  ])
  assert.deepEqual(resolvePlan(plan, t('model.layers.5.self_attn.k_proj.weight')), {
    mode: 'abs',
    bound: 1e-4,
    rule: 'attention tighter',
  })
  assert.equal(resolvePlan(plan, t('model.layers.0.self_attn.k_proj.weight')).rule, 'first layer exact')
  assert.equal(resolvePlan(plan, t('model.layers.0.self_attn.k_proj.weight')).bound, 0)
  const e = resolvePlan(plan, t('model.layers.4.mlp.experts.2.down_proj.weight'))
  assert.ok(Math.abs(e.bound - 1e-2) < 1e-15)
  assert.equal(resolvePlan(plan, t('model.layers.4.mlp.experts.12.down_proj.weight')).bound, 1e-3)
  // A lossy rule over a lossless global takes the global bound.
  const lossless = makePlan('lossless', 0, [{ role: 'mlp', mode: 'abs', bound: 1e-3 }], false)
  assert.equal(resolvePlan(lossless, t('model.layers.1.mlp.up_proj.weight')).bound, 1e-3)
})

test('plans save and load as JSON, and invalid plans are refused with INVALID_PLAN naming the file', async () => {
  const dir = tempDir()
  const plan = makePlan('rel', 1e-4, [{ name: 'lm_head.weight', mode: 'lossless' }])
  await savePlan(join(dir, 'plan.json'), plan)
  assert.deepEqual(loadPlan(join(dir, 'plan.json')), plan)
  for (const bad of [
    '{"mode":"fast","bound":1}',
    '{"mode":"abs"}',
    '{"mode":"abs","bound":-1}',
    '{"mode":"abs","bound":1,"rules":[{"name":"/(/"}]}',
    'not json',
  ]) {
    writeFileSync(join(dir, 'bad.json'), bad)
    assert.throws(
      () => loadPlan(join(dir, 'bad.json')),
      (e: unknown) => e instanceof PlanError && e.code === 'INVALID_PLAN' && e.message.includes('bad.json'),
      bad,
    )
  }
  assert.deepEqual(parsePlan({ mode: 'lossless' }), makePlan('lossless', 0))
})
