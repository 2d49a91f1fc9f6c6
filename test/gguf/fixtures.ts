// Tiny generated models for tests: a config.json, a real tokenizer copied next to it, and random weights fed
// through the converter's TensorSource seam (no safetensors needed).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { convertToGguf, type SourceTensor, type TensorSource } from '../../src-main/core/gguf'
import { shared } from '../helpers/paths'

export const tokenizerDir = (name: string): string => shared('data', 'tokenizers', name)

/** llama.cpp's test cases for a vocab name (gpt-2, llama-spm). */
export const vectors = (name: string) =>
  readVectors(
    shared('data', 'tokenizers', 'llamacpp-test-vectors', `ggml-vocab-${name}.gguf.inp`),
    shared('data', 'tokenizers', 'llamacpp-test-vectors', `ggml-vocab-${name}.gguf.out`),
  )

/** A one-layer random model with the named shared tokenizer, converted to a Q8_0 GGUF under `work`. */
export async function tinyGguf(
  work: string,
  name: string,
  architecture: TinyModelOptions['architecture'],
  vocabSize: number,
): Promise<{ dir: string; file: string }> {
  const dir = join(work, name)
  mkdirSync(dir)
  const tensorSource = makeTinyModel(dir, { architecture, tokenizerDir: tokenizerDir(name), vocabSize })
  const file = join(work, `${name}.gguf`)
  await convertToGguf(dir, file, { type: 'q8_0', tensorSource })
  return { dir, file }
}

export interface TinyModelOptions {
  architecture:
    | 'LlamaForCausalLM'
    | 'MistralForCausalLM'
    | 'Qwen3ForCausalLM'
    | 'Qwen2ForCausalLM'
    | 'GemmaForCausalLM'
    | 'Gemma2ForCausalLM'
    | 'Gemma3ForCausalLM'
  tokenizerDir: string
  vocabSize: number
  hidden?: number
  heads?: number
  kvHeads?: number
  headDim?: number
  ffn?: number
  layers?: number
  extraConfig?: Record<string, unknown>
  /** Spread of the random weights (default 0.04); larger gives peaked next-token distributions. */
  scale?: number
  /** Random norm weights around their neutral value instead of exactly neutral. */
  randomNorms?: boolean
}

/** Writes config.json and the tokenizer files into `dir` and returns a source of random F32 weights. */
export function makeTinyModel(dir: string, o: TinyModelOptions): TensorSource {
  const hidden = o.hidden ?? 32
  const heads = o.heads ?? 2
  const kvHeads = o.kvHeads ?? 1
  const headDim = o.headDim ?? hidden / heads
  const ffn = o.ffn ?? 64
  const layers = o.layers ?? 1
  const qwen3 = o.architecture === 'Qwen3ForCausalLM'
  const gemma = o.architecture.startsWith('Gemma')
  const gemma2 = o.architecture === 'Gemma2ForCausalLM' || o.architecture === 'Gemma3ForCausalLM'
  const qkNorm = qwen3 || o.architecture === 'Gemma3ForCausalLM'
  const qkvBias = o.architecture === 'Qwen2ForCausalLM'
  const config = {
    architectures: [o.architecture],
    vocab_size: o.vocabSize,
    hidden_size: hidden,
    intermediate_size: ffn,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: 256,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    ...o.extraConfig,
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2))
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    if (existsSync(join(o.tokenizerDir, f))) copyFileSync(join(o.tokenizerDir, f), join(dir, f))
  }
  const tensors: SourceTensor[] = [{ name: 'model.embed_tokens.weight', dtype: 'F32', shape: [o.vocabSize, hidden] }]
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`
    tensors.push(
      { name: `${p}input_layernorm.weight`, dtype: 'F32', shape: [hidden] },
      { name: `${p}self_attn.q_proj.weight`, dtype: 'F32', shape: [heads * headDim, hidden] },
      { name: `${p}self_attn.k_proj.weight`, dtype: 'F32', shape: [kvHeads * headDim, hidden] },
      { name: `${p}self_attn.v_proj.weight`, dtype: 'F32', shape: [kvHeads * headDim, hidden] },
      { name: `${p}self_attn.o_proj.weight`, dtype: 'F32', shape: [hidden, heads * headDim] },
      { name: `${p}post_attention_layernorm.weight`, dtype: 'F32', shape: [hidden] },
      { name: `${p}mlp.gate_proj.weight`, dtype: 'F32', shape: [ffn, hidden] },
      { name: `${p}mlp.up_proj.weight`, dtype: 'F32', shape: [ffn, hidden] },
      { name: `${p}mlp.down_proj.weight`, dtype: 'F32', shape: [hidden, ffn] },
    )
    if (qkvBias) {
      tensors.push(
        { name: `${p}self_attn.q_proj.bias`, dtype: 'F32', shape: [heads * headDim] },
        { name: `${p}self_attn.k_proj.bias`, dtype: 'F32', shape: [kvHeads * headDim] },
        { name: `${p}self_attn.v_proj.bias`, dtype: 'F32', shape: [kvHeads * headDim] },
      )
    }
    if (qkNorm) {
      tensors.push(
        { name: `${p}self_attn.q_norm.weight`, dtype: 'F32', shape: [headDim] },
        { name: `${p}self_attn.k_norm.weight`, dtype: 'F32', shape: [headDim] },
      )
    }
    if (gemma2) {
      tensors.push(
        { name: `${p}pre_feedforward_layernorm.weight`, dtype: 'F32', shape: [hidden] },
        { name: `${p}post_feedforward_layernorm.weight`, dtype: 'F32', shape: [hidden] },
      )
    }
  }
  tensors.push({ name: 'model.norm.weight', dtype: 'F32', shape: [hidden] })
  return {
    tensors,
    read: async (name) => {
      const t = tensors.find((x) => x.name === name)!
      const n = t.shape.reduce((a, b) => a * b, 1)
      // Seeded by the name, so reading a tensor twice gives the same values.
      let seed = [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 12345)
      const rand = (): number => {
        seed = (seed * 1664525 + 1013904223) >>> 0
        return seed / 2 ** 32 - 0.5
      }
      // Gemma stores norms as w − 1, so 0 there means a unit norm as well.
      const neutral = gemma ? 0 : 1
      const values = name.endsWith('norm.weight')
        ? new Float32Array(n).map(() => neutral + (o.randomNorms ? rand() * 0.5 : 0))
        : new Float32Array(n).map(() => rand() * (o.scale ?? 0.04))
      return new Uint8Array(values.buffer)
    },
  }
}

/** llama.cpp's tokenizer test cases: inputs and expected ids (no BOS). */
export function readVectors(inp: string, out: string): { text: string; ids: number[] }[] {
  const ids = readFileSync(out, 'utf8').split('\n')
  if (ids.at(-1) === '') ids.pop() // both files end with a separator/newline
  const texts = readFileSync(inp, 'utf8').split('\n__ggml_vocab_test__\n').slice(0, ids.length)
  return texts.map((text, i) => ({
    text,
    ids: (ids[i] ?? '').trim().split(/\s+/).filter(Boolean).map(Number),
  }))
}

const BYTE_TO_CHAR: string[] = (() => {
  const keep: number[] = []
  for (let b = 33; b <= 126; b++) keep.push(b)
  for (let b = 161; b <= 172; b++) keep.push(b)
  for (let b = 174; b <= 255; b++) keep.push(b)
  const map: string[] = new Array(256)
  let extra = 0
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++)
  return map
})()

/**
 * A plain reference of HF's byte-level BPE (normalizer, split regex, GPT-2 byte map, merges by rank) written from
 * tokenizer.json's semantics, to check llama.cpp's tokenization of our GGUF where no llama.cpp vectors exist.
 */
export function byteLevelBpe(tokenizerJson: string): (text: string) => number[] {
  const tok = JSON.parse(readFileSync(tokenizerJson, 'utf8'))
  const vocab: Record<string, number> = tok.model.vocab
  const rank = new Map<string, number>()
  ;(tok.model.merges as (string | string[])[]).forEach((m, r) => {
    const [a, b] = Array.isArray(m) ? m : m.split(' ')
    rank.set(`${a}\u0000${b}`, r)
  })
  const pt = tok.pre_tokenizer
  const source: string =
    pt.type === 'Sequence'
      ? pt.pretokenizers.find((p: { type: string }) => p.type === 'Split').pattern.Regex
      : "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
  const split = new RegExp(source, 'gu')
  const nfc = tok.normalizer?.type === 'NFC'
  const encoder = new TextEncoder()
  return (text) => {
    const ids: number[] = []
    for (const piece of (nfc ? text.normalize('NFC') : text).match(split) ?? []) {
      let parts = [...encoder.encode(piece)].map((b) => BYTE_TO_CHAR[b]!)
      for (;;) {
        let best = -1
        let bestRank = Number.POSITIVE_INFINITY
        for (let i = 0; i + 1 < parts.length; i++) {
          const r = rank.get(`${parts[i]}\u0000${parts[i + 1]}`)
          if (r !== undefined && r < bestRank) {
            bestRank = r
            best = i
          }
        }
        if (best < 0) break
        parts = [...parts.slice(0, best), parts[best]! + parts[best + 1]!, ...parts.slice(best + 2)]
      }
      for (const p of parts) ids.push(vocab[p]!)
    }
    return ids
  }
}
