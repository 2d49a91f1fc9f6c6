// What differs between the HF model families we convert (FORMATS.md §C): the GGUF architecture name, tensor name
// mapping, the metadata keys with their exact types, and per-tensor value changes (Q/K un-permute, Gemma's +1).
import { GgufError } from './errors'
import type { GgufWriter } from './writer'

export type HfConfig = Record<string, unknown>

export interface Architecture {
  /** `general.architecture` */
  name: 'llama' | 'qwen2' | 'qwen3' | 'gemma' | 'gemma2' | 'gemma3'
  /** HF tensor name → GGUF tensor name, or null for tensors GGUF does not keep. */
  mapName(hf: string): string | null
  /** Rows of this tensor are reordered for llama.cpp's interleaved rope (q uses n_head, k uses n_kv_head). */
  permuteHeads(gguf: string): number | null
  /** Gemma stores norm weights as w − 1; GGUF wants w. */
  addOneToNorm(gguf: string): boolean
  /** Writes `<arch>.*` keys. */
  writeMetadata(w: GgufWriter, cfg: HfConfig): void
  /** The model reuses token_embd as the output matrix when it has no lm_head. */
  alwaysTied: boolean
}

function num(cfg: HfConfig, key: string, file = 'config.json'): number {
  const v = cfg[key]
  if (typeof v !== 'number') {
    throw new GgufError('GGUF_BAD_CONFIG', `${file} has no numeric ${key}, which GGUF needs.`, { file })
  }
  return v
}

function opt(cfg: HfConfig, key: string): number | undefined {
  const v = cfg[key]
  return typeof v === 'number' ? v : undefined
}

export function headDim(cfg: HfConfig): number {
  return opt(cfg, 'head_dim') ?? num(cfg, 'hidden_size') / num(cfg, 'num_attention_heads')
}

const LAYER_PARTS: Record<string, string> = {
  input_layernorm: 'attn_norm',
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'self_attn.q_norm': 'attn_q_norm',
  'self_attn.k_norm': 'attn_k_norm',
  post_attention_layernorm: 'ffn_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
}

// Gemma 2/3 have a norm on both sides of each block: the "post attention" one is not the FFN's input norm.
const GEMMA2_PARTS: Record<string, string> = {
  ...LAYER_PARTS,
  post_attention_layernorm: 'post_attention_norm',
  pre_feedforward_layernorm: 'ffn_norm',
  post_feedforward_layernorm: 'post_ffw_norm',
}

function nameMapper(parts: Record<string, string>): (hf: string) => string | null {
  return (hf) => {
    const name = hf.replace(/^language_model\./, '')
    if (name.endsWith('rotary_emb.inv_freq')) return null
    const suffix = name.endsWith('.weight') ? '.weight' : name.endsWith('.bias') ? '.bias' : ''
    const stem = name.slice(0, name.length - suffix.length)
    if (stem === 'model.embed_tokens') return `token_embd${suffix}`
    if (stem === 'model.norm') return `output_norm${suffix}`
    if (stem === 'lm_head') return `output${suffix}`
    const m = /^model\.layers\.(\d+)\.(.+)$/.exec(stem)
    if (m) {
      const part = parts[m[2]!]
      if (part) return `blk.${m[1]}.${part}${suffix}`
    }
    throw new GgufError('GGUF_UNSUPPORTED_ARCH', `Tensor ${hf} has no GGUF name in this architecture.`, { tensor: hf })
  }
}

function writeCommon(w: GgufWriter, a: string, cfg: HfConfig, withHeadDim: boolean): void {
  w.u32(`${a}.context_length`, num(cfg, 'max_position_embeddings'))
  w.u32(`${a}.embedding_length`, num(cfg, 'hidden_size'))
  w.u32(`${a}.block_count`, num(cfg, 'num_hidden_layers'))
  w.u32(`${a}.feed_forward_length`, num(cfg, 'intermediate_size'))
  w.u32(`${a}.attention.head_count`, num(cfg, 'num_attention_heads'))
  w.u32(`${a}.attention.head_count_kv`, opt(cfg, 'num_key_value_heads') ?? num(cfg, 'num_attention_heads'))
  const theta = opt(cfg, 'rope_theta')
  if (theta !== undefined) w.f32(`${a}.rope.freq_base`, theta)
  w.f32(`${a}.attention.layer_norm_rms_epsilon`, opt(cfg, 'rms_norm_eps') ?? 1e-6)
  if (withHeadDim && opt(cfg, 'head_dim') !== undefined) {
    w.u32(`${a}.attention.key_length`, headDim(cfg))
    w.u32(`${a}.attention.value_length`, headDim(cfg))
  }
  const vocab = opt(cfg, 'vocab_size')
  if (vocab !== undefined) w.u32(`${a}.vocab_size`, vocab)
}

function writeRopeScaling(w: GgufWriter, a: string, cfg: HfConfig): void {
  const rs = cfg.rope_scaling as HfConfig | null | undefined
  if (!rs) return
  const type = (rs.rope_type ?? rs.type) as string | undefined
  if (type === 'linear' || type === 'yarn') {
    w.str(`${a}.rope.scaling.type`, type)
    w.f32(`${a}.rope.scaling.factor`, num(rs, 'factor', 'config.json rope_scaling'))
    const orig = opt(rs, 'original_max_position_embeddings')
    if (orig !== undefined) w.u32(`${a}.rope.scaling.original_context_length`, orig)
  }
}

/** Llama-3's rope scaling as an F32 `rope_freqs.weight` of head_dim/2 factors, as convert_hf_to_gguf computes it. */
export function llama3RopeFactors(cfg: HfConfig): Float32Array | null {
  const rs = cfg.rope_scaling as HfConfig | null | undefined
  if (!rs || (rs.rope_type ?? rs.type) !== 'llama3') return null
  const base = opt(cfg, 'rope_theta') ?? 10000
  const dim = headDim(cfg)
  const factor = opt(rs, 'factor') ?? 8
  const lowFreqFactor = opt(rs, 'low_freq_factor') ?? 1
  const highFreqFactor = opt(rs, 'high_freq_factor') ?? 4
  const oldContext = opt(rs, 'original_max_position_embeddings') ?? 8192
  const lowWavelen = oldContext / lowFreqFactor
  const highWavelen = oldContext / highFreqFactor
  const out = new Float32Array(dim / 2)
  for (let i = 0; i < dim / 2; i++) {
    const freq = 1 / base ** ((2 * i) / dim)
    const wavelen = (2 * Math.PI) / freq
    if (wavelen < highWavelen) out[i] = 1
    else if (wavelen > lowWavelen) out[i] = factor
    else {
      const smooth = (oldContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
      out[i] = 1 / ((1 - smooth) / factor + smooth)
    }
  }
  return out
}

const llama = (cfg: HfConfig): Architecture => {
  const nHead = num(cfg, 'num_attention_heads')
  const nKv = opt(cfg, 'num_key_value_heads') ?? nHead
  return {
    name: 'llama',
    mapName: nameMapper(LAYER_PARTS),
    permuteHeads: (g) => (/\.attn_q\.(weight|bias)$/.test(g) ? nHead : /\.attn_k\.(weight|bias)$/.test(g) ? nKv : null),
    addOneToNorm: () => false,
    alwaysTied: false,
    writeMetadata(w, c) {
      writeCommon(w, 'llama', c, true)
      w.u32('llama.rope.dimension_count', headDim(c))
      writeRopeScaling(w, 'llama', c)
    },
  }
}

const qwen = (name: 'qwen2' | 'qwen3'): Architecture => ({
  name,
  mapName: nameMapper(LAYER_PARTS),
  permuteHeads: () => null, // NEOX rope: HF's rotate-half layout is what llama.cpp expects
  addOneToNorm: () => false,
  alwaysTied: false,
  writeMetadata(w, c) {
    writeCommon(w, name, c, name === 'qwen3')
    writeRopeScaling(w, name, c)
  },
})

const gemma = (name: 'gemma' | 'gemma2' | 'gemma3'): Architecture => ({
  name,
  mapName: nameMapper(name === 'gemma' ? LAYER_PARTS : GEMMA2_PARTS),
  permuteHeads: () => null,
  addOneToNorm: (g) => g.endsWith('norm.weight'),
  alwaysTied: true,
  writeMetadata(w, c) {
    writeCommon(w, name, c, false)
    w.u32(`${name}.attention.key_length`, headDim(c))
    w.u32(`${name}.attention.value_length`, headDim(c))
    const sw = opt(c, 'sliding_window')
    if (name !== 'gemma' && sw !== undefined) w.u32(`${name}.attention.sliding_window`, sw)
    if (name === 'gemma2') {
      w.f32('gemma2.attn_logit_softcapping', opt(c, 'attn_logit_softcapping') ?? 50)
      w.f32('gemma2.final_logit_softcapping', opt(c, 'final_logit_softcapping') ?? 30)
    }
    if (name === 'gemma3') writeRopeScaling(w, name, c)
  },
})

/** The architecture of a model folder's config.json (`architectures[0]`). */
export function architectureFor(cfg: HfConfig): Architecture {
  const arch = Array.isArray(cfg.architectures) ? String(cfg.architectures[0]) : String(cfg.model_type ?? '')
  switch (arch) {
    case 'LlamaForCausalLM':
    case 'MistralForCausalLM':
    case 'llama':
    case 'mistral':
      return llama(cfg)
    case 'Qwen2ForCausalLM':
    case 'qwen2':
      return qwen('qwen2')
    case 'Qwen3ForCausalLM':
    case 'qwen3':
      return qwen('qwen3')
    case 'GemmaForCausalLM':
    case 'gemma':
      return gemma('gemma')
    case 'Gemma2ForCausalLM':
    case 'gemma2':
      return gemma('gemma2')
    case 'Gemma3ForCausalLM':
    case 'gemma3_text':
      return gemma('gemma3')
    default:
      throw new GgufError(
        'GGUF_UNSUPPORTED_ARCH',
        `Architecture ${arch} is not converted to GGUF yet (supported: Llama, Mistral, Qwen2, Qwen3, Gemma 1–3).`,
      )
  }
}
