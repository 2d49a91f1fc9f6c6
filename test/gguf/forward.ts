// A float64 forward pass with Hugging Face semantics (rotate-half RoPE, RMSNorm, GQA, SwiGLU / GELU-tanh, tied
// output) over a tiny model's HF tensors: the yardstick llama.cpp's results on our converted GGUF must meet.
import type { TensorSource } from '../../src-main/core/gguf'

export interface ForwardConfig {
  family: 'llama' | 'qwen2' | 'gemma'
  hidden: number
  heads: number
  kvHeads: number
  headDim: number
  layers: number
  eps: number
  theta: number
}

type Matrix = { rows: number; cols: number; data: Float64Array }

async function load(src: TensorSource, name: string): Promise<Matrix> {
  const t = src.tensors.find((x) => x.name === name)
  if (!t) throw new Error(`no tensor ${name}`)
  const bytes = await src.read(name)
  const f32 = new Float32Array(new Uint8Array(bytes).buffer)
  return { rows: t.shape[0]!, cols: t.shape[1] ?? 1, data: Float64Array.from(f32) }
}

const matvec = (m: Matrix, x: Float64Array): Float64Array => {
  const out = new Float64Array(m.rows)
  for (let r = 0; r < m.rows; r++) {
    let s = 0
    for (let c = 0; c < m.cols; c++) s += m.data[r * m.cols + c]! * x[c]!
    out[r] = s
  }
  return out
}

function rmsNorm(x: Float64Array, w: Matrix, eps: number, plusOne: boolean): Float64Array {
  let ss = 0
  for (const v of x) ss += v * v
  const inv = 1 / Math.sqrt(ss / x.length + eps)
  return x.map((v, i) => v * inv * ((plusOne ? 1 : 0) + w.data[i]!))
}

function rope(v: Float64Array, nHeads: number, hd: number, pos: number, theta: number): Float64Array {
  const out = Float64Array.from(v)
  for (let h = 0; h < nHeads; h++) {
    for (let j = 0; j < hd / 2; j++) {
      const angle = pos * theta ** ((-2 * j) / hd)
      const a = v[h * hd + j]!
      const b = v[h * hd + j + hd / 2]!
      out[h * hd + j] = a * Math.cos(angle) - b * Math.sin(angle)
      out[h * hd + j + hd / 2] = b * Math.cos(angle) + a * Math.sin(angle)
    }
  }
  return out
}

const silu = (x: number) => x / (1 + Math.exp(-x))
const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))

/** Next-token log-probabilities after the last of `tokens`. */
export async function referenceLogProbs(
  src: TensorSource,
  cfg: ForwardConfig,
  tokens: number[],
): Promise<Float64Array> {
  const gemma = cfg.family === 'gemma'
  const embed = await load(src, 'model.embed_tokens.weight')
  const hd = cfg.headDim
  const xs = tokens.map((t) => {
    const row = embed.data.slice(t * cfg.hidden, (t + 1) * cfg.hidden)
    return gemma ? row.map((v) => v * Math.fround(Math.sqrt(cfg.hidden))) : row
  })
  for (let l = 0; l < cfg.layers; l++) {
    const p = `model.layers.${l}.`
    const w = async (n: string) => load(src, p + n)
    const [inNorm, wq, wk, wv, wo, postNorm, wg, wu, wd] = await Promise.all(
      [
        'input_layernorm.weight',
        'self_attn.q_proj.weight',
        'self_attn.k_proj.weight',
        'self_attn.v_proj.weight',
        'self_attn.o_proj.weight',
        'post_attention_layernorm.weight',
        'mlp.gate_proj.weight',
        'mlp.up_proj.weight',
        'mlp.down_proj.weight',
      ].map(w),
    )
    const bias = cfg.family === 'qwen2'
    const [bq, bk, bv] = bias
      ? await Promise.all(['self_attn.q_proj.bias', 'self_attn.k_proj.bias', 'self_attn.v_proj.bias'].map(w))
      : [null, null, null]
    const addBias = (x: Float64Array, b: Matrix | null) => (b ? x.map((v, i) => v + b.data[i]!) : x)
    const qs: Float64Array[] = []
    const ks: Float64Array[] = []
    const vs: Float64Array[] = []
    xs.forEach((x, pos) => {
      const h = rmsNorm(x, inNorm!, cfg.eps, gemma)
      qs.push(rope(addBias(matvec(wq!, h), bq!), cfg.heads, hd, pos, cfg.theta))
      ks.push(rope(addBias(matvec(wk!, h), bk!), cfg.kvHeads, hd, pos, cfg.theta))
      vs.push(addBias(matvec(wv!, h), bv!))
    })
    for (let pos = 0; pos < xs.length; pos++) {
      const attn = new Float64Array(cfg.heads * hd)
      for (let h = 0; h < cfg.heads; h++) {
        const kvh = Math.floor(h / (cfg.heads / cfg.kvHeads))
        const scores = []
        for (let t = 0; t <= pos; t++) {
          let s = 0
          for (let d = 0; d < hd; d++) s += qs[pos]![h * hd + d]! * ks[t]![kvh * hd + d]!
          scores.push(s / Math.sqrt(hd))
        }
        const max = Math.max(...scores)
        const e = scores.map((s) => Math.exp(s - max))
        const z = e.reduce((a, b) => a + b, 0)
        for (let t = 0; t <= pos; t++) {
          for (let d = 0; d < hd; d++) attn[h * hd + d]! += (e[t]! / z) * vs[t]![kvh * hd + d]!
        }
      }
      const o = matvec(wo!, attn)
      const x = xs[pos]!.map((v, i) => v + o[i]!)
      const h2 = rmsNorm(x, postNorm!, cfg.eps, gemma)
      const g = matvec(wg!, h2)
      const u = matvec(wu!, h2)
      const act = g.map((v, i) => (gemma ? geluTanh(v) : silu(v)) * u[i]!)
      const down = matvec(wd!, act)
      xs[pos] = x.map((v, i) => v + down[i]!)
    }
  }
  const final = rmsNorm(xs[xs.length - 1]!, await load(src, 'model.norm.weight'), cfg.eps, gemma)
  const logits = matvec(embed, final)
  let max = Number.NEGATIVE_INFINITY
  for (const v of logits) max = Math.max(max, v)
  let z = 0
  for (const v of logits) z += Math.exp(v - max)
  const lse = max + Math.log(z)
  return logits.map((v) => v - lse)
}
