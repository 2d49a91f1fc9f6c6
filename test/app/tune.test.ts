// The Tune estimator on samples whose answer is known: a lossless estimate equals the byte-plane entropy, a lossy
// one follows the fine-quantization law and the codec's escape rules, plans resolve exactly as the pipeline's
// resolvePlan, and Tune plans survive a save/load round trip.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { makePlan, resolvePlan } from '../../src-main/core/plan'
import {
  absoluteBound,
  DEFAULT_CALIBRATION,
  estimateTensor,
  prepareTensors,
  type TuneTensor,
} from '../../src-main/core/tune/estimator'
import { estimatePlanOn, planFromTune, tuneFromPlan } from '../../src-main/core/tune/plan-estimate'
import { prepareTensorsAsync } from '../../src-main/core/tune/prepare'

/** Deterministic normal samples (Box–Muller over a small LCG). */
function normal(n: number, std: number, seed = 1): number[] {
  let s = seed
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return (s + 0.5) / 2 ** 32
  }
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(std * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()))
  return out
}

function tensor(name: string, sample: number[], over: Partial<TuneTensor> = {}): TuneTensor {
  const min = Math.min(...sample)
  const max = Math.max(...sample)
  const mean = sample.reduce((a, b) => a + b, 0) / sample.length
  const std = Math.sqrt(sample.reduce((a, b) => a + (b - mean) ** 2, 0) / sample.length)
  const elementCount = 1 << 20
  return {
    name,
    dtype: 'F32',
    group: 'mlp',
    role: 'mlp_up',
    elementCount,
    bytes: elementCount * 4,
    min,
    max,
    std,
    sample,
    ...over,
  }
}

const noOverhead = {
  ...DEFAULT_CALIBRATION,
  lossyFactor: 1,
  perTensorBytes: 0,
  perChunkBytes: 0,
  tableBitsPerSymbol: 0,
  lossyFloorBits: 0,
}

test('a lossy F32 estimate follows the entropy of a quantized normal: log2(σ/2eb) + ½log2(2πe) bits', () => {
  const p = prepareTensors([tensor('model.layers.0.mlp.up_proj.weight', normal(4096, 0.02))])
  for (const ebOverSigma of [1 / 8, 1 / 32, 1 / 256]) {
    const eb = 0.02 * ebOverSigma
    const e = estimateTensor(p, 0, { mode: 'abs', bound: eb }, noOverhead)
    const bits = (e.compressedBytes * 8) / (1 << 20)
    const expected = Math.log2(1 / (2 * ebOverSigma)) + 0.5 * Math.log2(2 * Math.PI * Math.E)
    assert.ok(
      Math.abs(bits - expected) < 0.15,
      `eb=σ·${ebOverSigma}: ${bits.toFixed(3)} bits, expected ${expected.toFixed(3)}`,
    )
    // Uniform quantization error: MSE = (2eb)²/12.
    const rel = e.mse / ((eb * eb) / 3)
    assert.ok(rel > 0.9 && rel < 1.1, `mse ratio ${rel}`)
    assert.equal(e.eb, eb)
  }
})

test('values whose index would exceed the 4095-symbol alphabet are escapes that cost their full width', () => {
  const sample = normal(4096, 1)
  const p = prepareTensors([tensor('t', sample)])
  // About a fifth of the values lie beyond index ±2047 at this bound. The exact figure is computed here on a
  // million values of the same distribution (the estimator sees only its 4096-value sample).
  const eb = 3.1e-4
  const big = normal(1 << 20, 1, 99)
  const counts = new Map<number, number>()
  let escapes = 0
  for (const x of big) {
    const q = Math.round(x / (2 * eb))
    if (q >= 2048 || q <= -2048) escapes++
    else counts.set(q, (counts.get(q) ?? 0) + 1)
  }
  if (escapes > 0) counts.set(Number.NaN, escapes)
  let h = 0
  for (const c of counts.values()) h -= (c / big.length) * Math.log2(c / big.length)
  const expected = h + (escapes / big.length) * 32
  assert.ok(escapes > big.length / 8 && escapes < big.length / 3, `${escapes} escapes`)
  const e = estimateTensor(p, 0, { mode: 'abs', bound: eb }, noOverhead)
  const bits = (e.compressedBytes * 8) / (1 << 20)
  assert.ok(Math.abs(bits / expected - 1) < 0.03, `${bits.toFixed(3)} bits, expected ${expected.toFixed(3)}`)
  // Far tighter, nearly everything escapes and the codec's lossless byte-plane fallback is what it costs.
  const tight = estimateTensor(p, 0, { mode: 'abs', bound: 1e-6 }, noOverhead)
  const lossless = estimateTensor(p, 0, { mode: 'lossless', bound: 0 }, noOverhead)
  assert.equal(tight.compressedBytes, lossless.compressedBytes)
})

test('a BF16 bound below half the dtype spacing leaves nothing to gain: the estimate is the lossless one', () => {
  const sample = normal(4096, 0.02).map((v) => {
    const f = new Float32Array([v])
    const u = new Uint32Array(f.buffer)
    u[0] = u[0]! & 0xffff0000
    return f[0]!
  })
  const t = tensor('t', sample, { dtype: 'BF16', bytes: 2 << 20 })
  const p = prepareTensors([t])
  const lossless = estimateTensor(p, 0, { mode: 'lossless', bound: 0 }, noOverhead)
  const tiny = estimateTensor(p, 0, { mode: 'abs', bound: 1e-9 }, noOverhead)
  assert.equal(tiny.compressedBytes, lossless.compressedBytes)
  assert.equal(tiny.mse, 0)
  const bits = (lossless.compressedBytes * 8) / (1 << 20)
  assert.ok(bits > 8 && bits < 16, `${bits}`)
})

test('REL bounds resolve against the tensor range, and looser bounds never cost more', () => {
  const t = tensor('t', normal(4096, 0.05))
  assert.equal(absoluteBound(t, { mode: 'rel', bound: 1e-3 }), 1e-3 * (t.max - t.min))
  const p = prepareTensors([t])
  let prev = Number.POSITIVE_INFINITY
  for (const b of [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]) {
    const size = estimateTensor(p, 0, { mode: 'rel', bound: b }).compressedBytes
    assert.ok(size <= prev * 1.0001, `rel ${b}: ${size} > ${prev}`)
    prev = size
  }
})

test('plan estimates use the pipeline resolvePlan for every tensor (defaults, group overrides, scales)', () => {
  const tensors: TuneTensor[] = [
    tensor('model.embed_tokens.weight', normal(512, 0.02, 2), { group: 'embedding', role: 'embedding' }),
    tensor('model.layers.0.self_attn.q_proj.weight', normal(512, 0.03, 3), { group: 'attention', role: 'attn_q' }),
    tensor('model.layers.0.mlp.up_proj.weight', normal(512, 0.03, 4), { group: 'mlp', role: 'mlp_up' }),
    tensor('model.layers.0.input_layernorm.weight', normal(64, 1, 5), {
      group: 'norm',
      role: 'norm',
      elementCount: 64,
      bytes: 256,
    }),
    tensor('model.layers.0.mlp.up_proj.weight_scale_inv', normal(16, 1, 6), {
      group: 'mlp',
      role: 'fp8_scale',
      elementCount: 16384,
      bytes: 65536,
    }),
  ]
  const p = prepareTensors(tensors)
  const plan = { mode: 'rel' as const, bound: 1e-3, groups: { attention: { mode: 'abs' as const, bound: 5e-4 } } }
  const compression = planFromTune(plan)
  const est = estimatePlanOn(p, plan)
  let sum = 0
  for (const [i, t] of tensors.entries()) {
    const c = resolvePlan(compression, {
      name: t.name,
      dtype: t.dtype,
      elementCount: t.elementCount,
      role: t.role,
      group: t.group,
    })
    const mode = t.role === 'fp8_scale' ? 'lossless' : c.mode
    sum += estimateTensor(p, i, { mode, bound: c.bound }).compressedBytes
  }
  assert.ok(Math.abs(est.total.compressedBytes - sum) < 1e-6)
  const attention = est.groups.find((g) => g.key === 'attention')!
  assert.equal(attention.maxError, 5e-4)
  const embedding = est.groups.find((g) => g.key === 'embedding')!
  assert.ok(Math.abs(embedding.maxError - 0.5 * 1e-3 * (tensors[0]!.max - tensors[0]!.min)) < 1e-12)
  assert.equal(est.groups.find((g) => g.key === 'norm')!.rmse, 0)
})

test('a Tune plan becomes a CompressionPlan and back unchanged', () => {
  const plan = {
    mode: 'abs' as const,
    bound: 2e-3,
    groups: { mlp: { mode: 'rel' as const, bound: 1e-4 }, norm: { mode: 'lossless' as const, bound: 1e-3 } },
  }
  const c = planFromTune(plan)
  assert.equal(c.mode, 'abs')
  assert.equal(c.llmDefaults, true)
  assert.deepEqual(
    c.rules.map((r) => r.role),
    ['mlp', 'norm'],
  )
  const back = tuneFromPlan(c)
  assert.deepEqual(back.groups.mlp, { mode: 'rel', bound: 1e-4 })
  assert.equal(back.groups.norm?.mode, 'lossless')
  assert.deepEqual(tuneFromPlan(makePlan('lossless', 0)), { mode: 'lossless', bound: 1e-3, groups: {} })
})

test('large models prepare in a worker thread with the same result as inline', async () => {
  const tensors = Array.from({ length: 2100 }, (_, i) =>
    tensor(`model.layers.${i % 61}.mlp.experts.${i}.up_proj.weight`, normal(64, 0.01 + (i % 7) * 0.002, i + 1), {
      group: 'experts',
      role: i % 5 === 0 ? 'fp8_scale' : 'expert',
    }),
  )
  const inline = prepareTensors(tensors)
  const viaWorker = await prepareTensorsAsync(tensors)
  assert.deepEqual(viaWorker.bits, inline.bits)
  assert.deepEqual(viaWorker.mse, inline.mse)
  assert.deepEqual(viaWorker.losslessBits, inline.losslessBits)
  assert.deepEqual(viaWorker.classOf, inline.classOf)
  const plan = { mode: 'rel' as const, bound: 1e-3, groups: {} }
  assert.equal(
    estimatePlanOn(viaWorker, plan).total.compressedBytes,
    estimatePlanOn(inline, plan).total.compressedBytes,
  )
})
