// Small generated models for pipeline tests: a two-shard DeepSeek-like FP8 model (block scales, one of them in the
// other shard, an integer tensor, BF16 embeddings) and a BF16 Llama-like one, deterministic from a seed.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Dtype } from '../../src-main/core/safetensors'
import { writeSafetensors } from '../../src-main/core/safetensors'

export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r())
}

export function bf16Data(n: number, r: () => number, scale = 0.02): Uint8Array {
  const f = new Float32Array(1)
  const u = new Uint32Array(f.buffer)
  const out = new Uint16Array(n)
  for (let i = 0; i < n; i++) {
    f[0] = gauss(r) * scale
    out[i] = u[0]! >>> 16
  }
  return new Uint8Array(out.buffer)
}

export function f32Data(n: number, r: () => number, scale = 1, offset = 0): Uint8Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = offset + gauss(r) * scale
  return new Uint8Array(out.buffer)
}

/** E4M3 codes shaped like quantized weights: exponents cluster mid-range, never the NaN code. */
export function e4m3Data(n: number, r: () => number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const e = Math.max(0, Math.min(15, Math.round(7 + gauss(r) * 2)))
    let m = Math.floor(r() * 8)
    if (e === 15 && m === 7) m = 6
    out[i] = (r() < 0.5 ? 0x80 : 0) | (e << 3) | m
  }
  return out
}

interface Spec {
  name: string
  dtype: Dtype
  shape: number[]
  data: Uint8Array
}

/** Two shards; the scale of one FP8 weight sits in the other shard. `size` multiplies the big dimensions. */
export async function writeFp8Model(dir: string, seed = 1, size = 1): Promise<string> {
  mkdirSync(dir, { recursive: true })
  const r = rng(seed)
  const H = 64 * size
  const F = 192 * size
  const a: Spec[] = [
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [256, H], data: bf16Data(256 * H, r) },
    { name: 'model.layers.0.input_layernorm.weight', dtype: 'BF16', shape: [H], data: bf16Data(H, r, 1) },
    { name: 'model.layers.0.mlp.down_proj.weight', dtype: 'F8_E4M3', shape: [H * 3, F], data: e4m3Data(H * 3 * F, r) },
    {
      name: 'model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv',
      dtype: 'F32',
      shape: [Math.ceil(200 / 128), Math.ceil(H / 128)],
      data: f32Data(Math.ceil(200 / 128) * Math.ceil(H / 128), r, 1e-4, 2e-3),
    },
    {
      name: 'model.position_ids',
      dtype: 'I64',
      shape: [32],
      data: new Uint8Array(new BigInt64Array(32).map((_, i) => BigInt(i)).buffer),
    },
  ]
  const b: Spec[] = [
    {
      name: 'model.layers.0.mlp.down_proj.weight_scale_inv',
      dtype: 'F32',
      shape: [Math.ceil((H * 3) / 128), Math.ceil(F / 128)],
      data: f32Data(Math.ceil((H * 3) / 128) * Math.ceil(F / 128), r, 1e-4, 2e-3),
    },
    {
      name: 'model.layers.0.self_attn.kv_a_proj_with_mqa.weight',
      dtype: 'F8_E4M3',
      shape: [200, H],
      data: e4m3Data(200 * H, r),
    },
    { name: 'model.norm.weight', dtype: 'F32', shape: [H], data: f32Data(H, r, 0.1, 1) },
    { name: 'lm_head.weight', dtype: 'BF16', shape: [256, H], data: bf16Data(256 * H, r) },
  ]
  const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']
  await writeSafetensors(join(dir, names[0]!), a, { format: 'pt' })
  await writeSafetensors(join(dir, names[1]!), b, { format: 'pt' })
  const weightMap: Record<string, string> = {}
  for (const t of a) weightMap[t.name] = names[0]!
  for (const t of b) weightMap[t.name] = names[1]!
  const total = [...a, ...b].reduce((s, t) => s + t.data.length, 0)
  writeFileSync(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
  )
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'deepseek_v3',
      quantization_config: { quant_method: 'fp8', weight_block_size: [128, 128] },
    }),
  )
  writeFileSync(join(dir, 'tokenizer.json'), '{"version":"1.0"}')
  return dir
}

/** One BF16 shard shaped like a small Llama layer. */
export async function writeBf16Model(dir: string, seed = 2, size = 1): Promise<string> {
  mkdirSync(dir, { recursive: true })
  const r = rng(seed)
  const H = 64 * size
  const specs: Spec[] = [
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [512, H], data: bf16Data(512 * H, r) },
    { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'BF16', shape: [H, H], data: bf16Data(H * H, r) },
    { name: 'model.layers.0.mlp.up_proj.weight', dtype: 'BF16', shape: [H * 4, H], data: bf16Data(H * 4 * H, r) },
    { name: 'model.layers.0.post_attention_layernorm.weight', dtype: 'BF16', shape: [H], data: bf16Data(H, r, 1) },
    { name: 'model.norm.weight', dtype: 'BF16', shape: [H], data: bf16Data(H, r, 1) },
  ]
  await writeSafetensors(join(dir, 'model.safetensors'), specs, { format: 'pt' })
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', hidden_size: H }))
  return dir
}
