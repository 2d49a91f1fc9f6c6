// The synthetic model presets: tensor names, shapes and dtypes of real checkpoint families, scaled.
//
// Geometry sources (full size, scale 1):
// - llama: meta-llama/Llama-3.2-1B config.json (hidden 2048, intermediate 8192, 16 layers, 32 heads, 8 KV heads,
//   head_dim 64, vocab 128256, tied embeddings, rope_theta 500000); untied like Llama-3.1-8B with `tied: false`.
// - gemma3: google/gemma-3-1b-it config.json, Gemma3ForCausalLM text model (hidden 1152, intermediate 6912,
//   26 layers, 4 heads, 1 KV head, head_dim 256, vocab 262144, q_norm/k_norm, pre/post feed-forward norms).
// - deepseek-v3: deepseek-ai/DeepSeek-V3 config.json and README_WEIGHTS.md (hidden 7168, intermediate 18432,
//   moe_intermediate 2048, 61 layers of which the first 3 dense (first_k_dense_replace), 128 heads,
//   q_lora_rank 1536, kv_lora_rank 512, qk_nope_head_dim 128, qk_rope_head_dim 64, v_head_dim 128,
//   256 routed experts + 1 shared, 8 per token, n_group 8, vocab 129280; FP8 E4M3 weights with F32
//   `weight_scale_inv` per 128×128 block; BF16 embeddings, norms, router (mlp.gate.weight) and lm_head; F32
//   mlp.gate.e_score_correction_bias). The multi-token-prediction layer 61 of the release is not generated.
import type { ValueModel } from './values'

export type SynthDtype = 'BF16' | 'F32' | 'F8_E4M3'
export type PresetName = 'llama' | 'gemma3' | 'deepseek-v3'
export const PRESETS: readonly PresetName[] = ['llama', 'gemma3', 'deepseek-v3']

export interface SynthTensor {
  name: string
  dtype: SynthDtype
  shape: number[]
  values: ValueModel
  /** For an FP8 weight: the name of its block-scale tensor (written right after it, in the same shard). */
  scaleTensor?: string
  /** For a block-scale tensor: the FP8 weight it belongs to. */
  scaleOf?: string
}

export interface TokenizerPlan {
  /** Total tokens (= config vocab_size). */
  vocabSize: number
  /** Special tokens placed before the byte-level vocabulary (ids 0…), in order. */
  leading: string[]
  /** Special tokens placed right after the byte-level vocabulary. */
  trailing: string[]
  /** Pattern for the filler tokens up to vocabSize; `{i}` is replaced by a counter. */
  filler: string
  bos: string
  eos: string
  pad?: string
  unk?: string
  addBos: boolean
}

export interface PresetPlan {
  preset: PresetName
  config: Record<string, unknown>
  generationConfig: Record<string, unknown>
  tensors: SynthTensor[]
  tokenizer: TokenizerPlan
  /** Digits of the shard count in file names (DeepSeek-V3 ships model-00001-of-000163). */
  totalDigits: number
  /** Shard size the real release uses, at scale 1. */
  maxShardBytes: number
  blockSize: number
}

export interface PresetOptions {
  scale: number
  tied?: boolean
  /** Override the (scaled) number of layers. */
  layers?: number
  /** Override the (scaled) number of routed experts (deepseek-v3). */
  experts?: number
}

const round = (x: number, m: number, min = m) => Math.max(min, Math.round(x / m) * m)
/** Counts (layers, experts, heads) shrink slower than widths so small models keep the real structure. */
const count = (full: number, scale: number, min: number) =>
  Math.max(min, Math.min(full, Math.round(full * Math.sqrt(scale))))

const weight = (fanIn: number): ValueModel => ({ std: 0.6 / Math.sqrt(fanIn) })
const EMBED: ValueModel = { std: 0.02, rowSigma: 0.3, colSigma: 0.15, outlierFraction: 0.004, outlierGain: 5 }
const NORM_ONE: ValueModel = { std: 0.08, center: 1, rowSigma: 0, colSigma: 0.3, outlierFraction: 0.01, outlierGain: 4 }
const NORM_ZERO: ValueModel = { std: 0.3, center: 0, rowSigma: 0, colSigma: 0.3, outlierFraction: 0.01, outlierGain: 4 }

function llamaPlan(o: PresetOptions): PresetPlan {
  const s = o.scale
  const headDim = s >= 0.5 ? 64 : round(64 * Math.sqrt(s) * 1.5, 8, 16)
  const kvHeads = count(8, s, 1)
  const heads = kvHeads * 4
  const hidden = heads * headDim
  const inter = round(8192 * s, 16, 32)
  const layers = o.layers ?? count(16, s, 2)
  const vocab = round(128256 * s, 64, 640)
  const tied = o.tied ?? true
  const tensors: SynthTensor[] = [
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [vocab, hidden], values: EMBED },
  ]
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`
    tensors.push(
      { name: `${p}self_attn.q_proj.weight`, dtype: 'BF16', shape: [heads * headDim, hidden], values: weight(hidden) },
      {
        name: `${p}self_attn.k_proj.weight`,
        dtype: 'BF16',
        shape: [kvHeads * headDim, hidden],
        values: weight(hidden),
      },
      {
        name: `${p}self_attn.v_proj.weight`,
        dtype: 'BF16',
        shape: [kvHeads * headDim, hidden],
        values: weight(hidden),
      },
      { name: `${p}self_attn.o_proj.weight`, dtype: 'BF16', shape: [hidden, heads * headDim], values: weight(hidden) },
      { name: `${p}mlp.gate_proj.weight`, dtype: 'BF16', shape: [inter, hidden], values: weight(hidden) },
      { name: `${p}mlp.up_proj.weight`, dtype: 'BF16', shape: [inter, hidden], values: weight(hidden) },
      { name: `${p}mlp.down_proj.weight`, dtype: 'BF16', shape: [hidden, inter], values: weight(inter) },
      { name: `${p}input_layernorm.weight`, dtype: 'BF16', shape: [hidden], values: NORM_ONE },
      { name: `${p}post_attention_layernorm.weight`, dtype: 'BF16', shape: [hidden], values: NORM_ONE },
    )
  }
  tensors.push({ name: 'model.norm.weight', dtype: 'BF16', shape: [hidden], values: NORM_ONE })
  if (!tied) tensors.push({ name: 'lm_head.weight', dtype: 'BF16', shape: [vocab, hidden], values: weight(hidden) })
  const tokenizer: TokenizerPlan = {
    vocabSize: vocab,
    leading: [],
    trailing: ['<|begin_of_text|>', '<|end_of_text|>'],
    filler: '<|reserved_special_token_{i}|>',
    bos: '<|begin_of_text|>',
    eos: '<|end_of_text|>',
    addBos: true,
  }
  return {
    preset: 'llama',
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: vocab,
      hidden_size: hidden,
      intermediate_size: inter,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      head_dim: headDim,
      hidden_act: 'silu',
      max_position_embeddings: 131072,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      rope_scaling: {
        factor: 32,
        high_freq_factor: 4,
        low_freq_factor: 1,
        original_max_position_embeddings: 8192,
        rope_type: 'llama3',
      },
      attention_bias: false,
      mlp_bias: false,
      tie_word_embeddings: tied,
      torch_dtype: 'bfloat16',
    },
    generationConfig: { do_sample: true, temperature: 0.6, top_p: 0.9 },
    tensors,
    tokenizer,
    totalDigits: 5,
    maxShardBytes: 5e9,
    blockSize: 128,
  }
}

function gemma3Plan(o: PresetOptions): PresetPlan {
  const s = o.scale
  const headDim = s >= 0.5 ? 256 : round(256 * Math.sqrt(s), 16, 32)
  const heads = count(4, s, 2)
  const kvHeads = 1
  const hidden = round(1152 * s, 16, 64)
  const inter = round(6912 * s, 16, 64)
  const layers = o.layers ?? count(26, s, 2)
  const vocab = round(262144 * s, 64, 640)
  const tensors: SynthTensor[] = [
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [vocab, hidden], values: EMBED },
  ]
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`
    tensors.push(
      { name: `${p}input_layernorm.weight`, dtype: 'BF16', shape: [hidden], values: NORM_ZERO },
      { name: `${p}self_attn.q_proj.weight`, dtype: 'BF16', shape: [heads * headDim, hidden], values: weight(hidden) },
      {
        name: `${p}self_attn.k_proj.weight`,
        dtype: 'BF16',
        shape: [kvHeads * headDim, hidden],
        values: weight(hidden),
      },
      {
        name: `${p}self_attn.v_proj.weight`,
        dtype: 'BF16',
        shape: [kvHeads * headDim, hidden],
        values: weight(hidden),
      },
      {
        name: `${p}self_attn.o_proj.weight`,
        dtype: 'BF16',
        shape: [hidden, heads * headDim],
        values: weight(heads * headDim),
      },
      { name: `${p}self_attn.q_norm.weight`, dtype: 'BF16', shape: [headDim], values: NORM_ZERO },
      { name: `${p}self_attn.k_norm.weight`, dtype: 'BF16', shape: [headDim], values: NORM_ZERO },
      { name: `${p}post_attention_layernorm.weight`, dtype: 'BF16', shape: [hidden], values: NORM_ZERO },
      { name: `${p}pre_feedforward_layernorm.weight`, dtype: 'BF16', shape: [hidden], values: NORM_ZERO },
      { name: `${p}mlp.gate_proj.weight`, dtype: 'BF16', shape: [inter, hidden], values: weight(hidden) },
      { name: `${p}mlp.up_proj.weight`, dtype: 'BF16', shape: [inter, hidden], values: weight(hidden) },
      { name: `${p}mlp.down_proj.weight`, dtype: 'BF16', shape: [hidden, inter], values: weight(inter) },
      { name: `${p}post_feedforward_layernorm.weight`, dtype: 'BF16', shape: [hidden], values: NORM_ZERO },
    )
  }
  tensors.push({ name: 'model.norm.weight', dtype: 'BF16', shape: [hidden], values: NORM_ZERO })
  if (o.tied === false)
    tensors.push({ name: 'lm_head.weight', dtype: 'BF16', shape: [vocab, hidden], values: weight(hidden) })
  return {
    preset: 'gemma3',
    config: {
      architectures: ['Gemma3ForCausalLM'],
      model_type: 'gemma3_text',
      vocab_size: vocab,
      hidden_size: hidden,
      intermediate_size: inter,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      head_dim: headDim,
      hidden_activation: 'gelu_pytorch_tanh',
      max_position_embeddings: 32768,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      rope_local_base_freq: 10000,
      rope_scaling: null,
      query_pre_attn_scalar: headDim,
      sliding_window: 512,
      sliding_window_pattern: 6,
      final_logit_softcapping: null,
      attn_logit_softcapping: null,
      attention_bias: false,
      tie_word_embeddings: o.tied !== false,
      torch_dtype: 'bfloat16',
      pad_token_id: 0,
      eos_token_id: 1,
      bos_token_id: 2,
    },
    generationConfig: { bos_token_id: 2, eos_token_id: [1, 106], pad_token_id: 0, top_k: 64, top_p: 0.95 },
    tensors,
    tokenizer: {
      vocabSize: vocab,
      leading: ['<pad>', '<eos>', '<bos>', '<unk>'],
      trailing: ['<start_of_turn>', '<end_of_turn>'],
      filler: '<unused{i}>',
      bos: '<bos>',
      eos: '<eos>',
      pad: '<pad>',
      unk: '<unk>',
      addBos: true,
    },
    totalDigits: 5,
    maxShardBytes: 5e9,
    blockSize: 128,
  }
}

function deepseekPlan(o: PresetOptions): PresetPlan {
  const s = o.scale
  const hidden = round(7168 * s, 16, 64)
  const inter = round(18432 * s, 16, 64)
  const moeInter = round(2048 * s, 16, 32)
  const qLora = round(1536 * s, 16, 32)
  const kvLora = round(512 * s, 16, 16)
  const heads = count(128, s, 2)
  const nope = 128
  const rope = 64
  const vHead = 128
  const layers = o.layers ?? count(61, s, 4)
  const dense = Math.min(3, layers - 1)
  const experts = o.experts ?? Math.max(8, Math.round((256 * Math.sqrt(s)) / 8) * 8)
  const vocab = round(129280 * s, 64, 640)
  const B = 128
  const tensors: SynthTensor[] = [
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [vocab, hidden], values: EMBED },
  ]
  const fp8 = (name: string, rows: number, cols: number) => {
    tensors.push(
      { name, dtype: 'F8_E4M3', shape: [rows, cols], values: weight(cols), scaleTensor: `${name}_scale_inv` },
      {
        name: `${name}_scale_inv`,
        dtype: 'F32',
        shape: [Math.ceil(rows / B), Math.ceil(cols / B)],
        values: { std: 0 },
        scaleOf: name,
      },
    )
  }
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`
    tensors.push({ name: `${p}input_layernorm.weight`, dtype: 'BF16', shape: [hidden], values: NORM_ONE })
    fp8(`${p}self_attn.q_a_proj.weight`, qLora, hidden)
    tensors.push({ name: `${p}self_attn.q_a_layernorm.weight`, dtype: 'BF16', shape: [qLora], values: NORM_ONE })
    fp8(`${p}self_attn.q_b_proj.weight`, heads * (nope + rope), qLora)
    fp8(`${p}self_attn.kv_a_proj_with_mqa.weight`, kvLora + rope, hidden)
    tensors.push({ name: `${p}self_attn.kv_a_layernorm.weight`, dtype: 'BF16', shape: [kvLora], values: NORM_ONE })
    fp8(`${p}self_attn.kv_b_proj.weight`, heads * (nope + vHead), kvLora)
    fp8(`${p}self_attn.o_proj.weight`, hidden, heads * vHead)
    tensors.push({ name: `${p}post_attention_layernorm.weight`, dtype: 'BF16', shape: [hidden], values: NORM_ONE })
    if (l < dense) {
      fp8(`${p}mlp.gate_proj.weight`, inter, hidden)
      fp8(`${p}mlp.up_proj.weight`, inter, hidden)
      fp8(`${p}mlp.down_proj.weight`, hidden, inter)
    } else {
      tensors.push(
        { name: `${p}mlp.gate.weight`, dtype: 'BF16', shape: [experts, hidden], values: weight(hidden) },
        {
          name: `${p}mlp.gate.e_score_correction_bias`,
          dtype: 'F32',
          shape: [experts],
          values: { std: 0.05, rowSigma: 0, colSigma: 0 },
        },
      )
      for (let e = 0; e < experts; e++) {
        fp8(`${p}mlp.experts.${e}.gate_proj.weight`, moeInter, hidden)
        fp8(`${p}mlp.experts.${e}.up_proj.weight`, moeInter, hidden)
        fp8(`${p}mlp.experts.${e}.down_proj.weight`, hidden, moeInter)
      }
      fp8(`${p}mlp.shared_experts.gate_proj.weight`, moeInter, hidden)
      fp8(`${p}mlp.shared_experts.up_proj.weight`, moeInter, hidden)
      fp8(`${p}mlp.shared_experts.down_proj.weight`, hidden, moeInter)
    }
  }
  tensors.push(
    { name: 'model.norm.weight', dtype: 'BF16', shape: [hidden], values: NORM_ONE },
    { name: 'lm_head.weight', dtype: 'BF16', shape: [vocab, hidden], values: weight(hidden) },
  )
  return {
    preset: 'deepseek-v3',
    config: {
      architectures: ['DeepseekV3ForCausalLM'],
      model_type: 'deepseek_v3',
      vocab_size: vocab,
      hidden_size: hidden,
      intermediate_size: inter,
      moe_intermediate_size: moeInter,
      num_hidden_layers: layers,
      num_nextn_predict_layers: 0,
      num_attention_heads: heads,
      num_key_value_heads: heads,
      q_lora_rank: qLora,
      kv_lora_rank: kvLora,
      qk_nope_head_dim: nope,
      qk_rope_head_dim: rope,
      v_head_dim: vHead,
      n_routed_experts: experts,
      n_shared_experts: 1,
      num_experts_per_tok: Math.min(8, experts),
      n_group: 8,
      topk_group: 4,
      first_k_dense_replace: dense,
      moe_layer_freq: 1,
      norm_topk_prob: true,
      routed_scaling_factor: 2.5,
      scoring_func: 'sigmoid',
      topk_method: 'noaux_tc',
      hidden_act: 'silu',
      max_position_embeddings: 163840,
      rms_norm_eps: 1e-6,
      rope_theta: 10000,
      rope_scaling: {
        beta_fast: 32,
        beta_slow: 1,
        factor: 40,
        mscale: 1.0,
        mscale_all_dim: 1.0,
        original_max_position_embeddings: 4096,
        type: 'yarn',
      },
      attention_bias: false,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      bos_token_id: 0,
      eos_token_id: 1,
      quantization_config: {
        activation_scheme: 'dynamic',
        fmt: 'e4m3',
        quant_method: 'fp8',
        weight_block_size: [B, B],
      },
    },
    generationConfig: { bos_token_id: 0, eos_token_id: 1, do_sample: true, temperature: 0.6, top_p: 0.95 },
    tensors,
    tokenizer: {
      vocabSize: vocab,
      leading: ['<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>', '<｜▁pad▁｜>'],
      trailing: [],
      filler: '<｜place▁holder▁no▁{i}｜>',
      bos: '<｜begin▁of▁sentence｜>',
      eos: '<｜end▁of▁sentence｜>',
      pad: '<｜▁pad▁｜>',
      addBos: true,
    },
    totalDigits: 6,
    maxShardBytes: 4.3e9,
    blockSize: B,
  }
}

export function presetPlan(preset: PresetName, opts: PresetOptions): PresetPlan {
  switch (preset) {
    case 'llama':
      return llamaPlan(opts)
    case 'gemma3':
      return gemma3Plan(opts)
    case 'deepseek-v3':
      return deepseekPlan(opts)
  }
}
