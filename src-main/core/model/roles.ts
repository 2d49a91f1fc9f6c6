// What each tensor is, from its name: layer index, role and tuning group, for the checkpoint namings of
// Llama/Mistral/Qwen2, Gemma (1–3), DeepSeek-V3 (MLA + MoE + FP8 scales), Mixtral, GPT-2 and PEFT LoRA adapters.

export type TensorRole =
  | 'embedding'
  | 'attn_q'
  | 'attn_k'
  | 'attn_v'
  | 'attn_o'
  /** Fused q/k/v projection (GPT-2 c_attn, qkv_proj, W_pack). */
  | 'attn_qkv'
  /** MLA joint key/value projection (DeepSeek kv_a_proj_with_mqa, kv_b_proj). */
  | 'attn_kv'
  | 'mlp_gate'
  | 'mlp_up'
  | 'mlp_down'
  | 'expert'
  | 'router'
  | 'norm'
  | 'lm_head'
  | 'fp8_scale'
  | 'bias'
  | 'lora'
  | 'other'

/** Coarse groups the Tune view offers one setting for. */
export type TensorGroup = 'attention' | 'mlp' | 'experts' | 'embedding' | 'lm_head' | 'norm' | 'other'

export interface TensorClass {
  role: TensorRole
  group: TensorGroup
  /** Transformer block index, null outside the blocks (embeddings, final norm, lm_head). */
  layer: number | null
  /** Routed expert number, or 'shared' for DeepSeek/Qwen shared experts; only for role 'expert'. */
  expert?: number | 'shared'
  /** For experts: which projection ('gate' | 'up' | 'down'). */
  part?: 'gate' | 'up' | 'down'
  /** For LoRA factors and FP8 scales and biases: the role of the module they belong to. */
  target?: TensorRole
}

const LAYER_RE = /(?:^|\.)(?:layers|layer|h|blocks|block|decoder\.layers)\.(\d+)\./
const EXPERT_RE = /\.experts\.(\d+)\./

/** The projection a module name denotes, ignoring experts/LoRA wrappers. */
function moduleRole(mod: string): TensorRole | null {
  // Order matters: more specific names first.
  if (/(^|\.)(lm_head|output|shared_head\.head|embed_out)$/.test(mod)) return 'lm_head'
  if (/(^|\.)(embed_tokens|wte|wpe|tok_embeddings|word_embeddings|embeddings|embed|position_embeddings)$/.test(mod))
    return 'embedding'
  if (/(norm|layernorm|ln_\d|ln_f|ln|rmsnorm)$/i.test(mod.split('.').pop() ?? '')) return 'norm'
  const leaf = mod.split('.').pop() ?? ''
  switch (leaf) {
    case 'q_proj':
    case 'q_a_proj':
    case 'q_b_proj':
    case 'wq':
    case 'query':
      return 'attn_q'
    case 'k_proj':
    case 'wk':
    case 'key':
      return 'attn_k'
    case 'v_proj':
    case 'wv':
    case 'value':
      return 'attn_v'
    case 'kv_a_proj_with_mqa':
    case 'kv_b_proj':
      return 'attn_kv'
    case 'c_attn':
    case 'qkv_proj':
    case 'W_pack':
    case 'query_key_value':
    case 'Wqkv':
      return 'attn_qkv'
    case 'o_proj':
    case 'wo':
    case 'out_proj':
    case 'dense':
      return 'attn_o'
    case 'gate_proj':
    case 'w1':
      return 'mlp_gate'
    case 'up_proj':
    case 'w3':
    case 'c_fc':
    case 'fc1':
    case 'gate_up_proj':
    case 'dense_h_to_4h':
      return 'mlp_up'
    case 'down_proj':
    case 'w2':
    case 'fc2':
    case 'dense_4h_to_h':
      return 'mlp_down'
    case 'gate':
    case 'router':
    case 'shared_expert_gate':
      return 'router'
    case 'c_proj':
      // GPT-2 uses c_proj for both the attention output and the MLP down projection.
      return /(^|\.)(attn|attention)\.c_proj$/.test(mod) ? 'attn_o' : 'mlp_down'
    default:
      return null
  }
}

function groupOf(role: TensorRole, mod: string): TensorGroup {
  switch (role) {
    case 'embedding':
      return 'embedding'
    case 'lm_head':
      return 'lm_head'
    case 'norm':
      return 'norm'
    case 'expert':
    case 'router':
      return 'experts'
    case 'attn_q':
    case 'attn_k':
    case 'attn_v':
    case 'attn_o':
    case 'attn_qkv':
    case 'attn_kv':
      return 'attention'
    case 'mlp_gate':
    case 'mlp_up':
    case 'mlp_down':
      return /shared_expert/.test(mod) ? 'experts' : 'mlp'
    default:
      return 'other'
  }
}

/** Classifies one tensor by its name (the shape is not needed: names in these checkpoints are unambiguous). */
export function classifyTensor(name: string): TensorClass {
  const layerMatch = LAYER_RE.exec(name)
  const layer = layerMatch ? Number(layerMatch[1]) : null

  // PEFT LoRA adapters: base_model.model.<module>.lora_A.weight
  const lora = /^(.*)\.lora_(A|B|embedding_A|embedding_B|magnitude_vector)(\.[^.]+)*$/.exec(name)
  if (lora) {
    const target = moduleRole(lora[1]) ?? 'other'
    return { role: 'lora', group: 'other', layer, target }
  }

  // FP8 block scales (DeepSeek-V3 `weight_scale_inv`, compressed-tensors `weight_scale`, activation `input_scale`).
  const scale = /^(.*)\.(weight_scale_inv|weight_scale|input_scale|scale_inv)$/.exec(name)
  if (scale) {
    const target = moduleRole(scale[1]) ?? undefined
    return { role: 'fp8_scale', group: 'other', layer, ...(target ? { target } : {}) }
  }

  const dot = name.lastIndexOf('.')
  const suffix = dot >= 0 ? name.slice(dot + 1) : ''
  const mod =
    suffix === 'weight' || suffix === 'bias' || suffix === 'e_score_correction_bias' ? name.slice(0, dot) : name

  if (suffix === 'e_score_correction_bias') return { role: 'router', group: 'experts', layer }
  if (/(^|\.)rotary_emb\.inv_freq$/.test(name) || /(^|\.)attn\.(masked_)?bias$/.test(name)) {
    return { role: 'other', group: 'other', layer }
  }

  const expertMatch = EXPERT_RE.exec(name)
  const role = moduleRole(mod)
  const isShared = /\.shared_experts?\./.test(name)
  if ((expertMatch || isShared) && role && role.startsWith('mlp_')) {
    const part = role === 'mlp_gate' ? 'gate' : role === 'mlp_up' ? 'up' : 'down'
    const expert = expertMatch ? Number(expertMatch[1]) : 'shared'
    if (suffix === 'bias') return { role: 'bias', group: 'experts', layer, expert, part, target: 'expert' }
    return { role: 'expert', group: 'experts', layer, expert, part }
  }

  if (role === null) return { role: 'other', group: 'other', layer }
  if (suffix === 'bias' && role !== 'norm') {
    return { role: 'bias', group: groupOf(role, mod), layer, target: role }
  }
  return { role, group: groupOf(role, mod), layer }
}
