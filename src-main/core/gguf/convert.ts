// HF model folder → GGUF: config.json decides the architecture, tensors come from a TensorSource (the model's
// safetensors by default, or reconstructed tensors fed by the pipeline), and the output type decides each
// tensor's storage: F32/F16/BF16, or our own Q8_0/Q4_0 blocks ("pure": every 2-D weight, norms F32).
import { existsSync, readFileSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { type Architecture, architectureFor, type HfConfig, headDim, llama3RopeFactors } from './architectures'
import { GgmlType, GgufFileType, tensorByteLength } from './constants'
import { GgufError } from './errors'
import {
  bf16BitsToNumber,
  f16BitsToNumber,
  f32ToBf16Bits,
  f32ToF16Bits,
  quantizeQ4_0,
  quantizeQ8_0,
  toBf16,
  toF16,
} from './quant'
import { openSafetensorsSource, type TensorSource } from './source'
import { loadVocab, writeVocab } from './tokenizer'
import { GgufWriter } from './writer'

export type GgufOutputType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0'
export const GGUF_OUTPUT_TYPES: readonly GgufOutputType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0']

export interface ConvertOptions {
  type: GgufOutputType
  /** Where tensor bytes come from; defaults to the folder's safetensors. */
  tensorSource?: TensorSource
  /** `general.name`; defaults to the folder name. */
  name?: string
  onProgress?: (done: number, total: number, tensor: string) => void
}

export interface ConvertedTensor {
  name: string
  hfName: string | null
  ne: number[]
  type: number
  bytes: number
}

export interface ConvertResult {
  file: string
  /** File size in bytes. */
  bytes: number
  tensors: ConvertedTensor[]
  /** Weights in 2-D matrices (what bits/weight is counted over; norms and biases are not). */
  weightCount: number
  /** Bytes those matrices take as stored (a tensor kept F16 because its rows are not whole blocks counts in full). */
  weightBytes: number
  bitsPerWeight: number
  architecture: string
}

const TYPE_OF: Record<GgufOutputType, number> = {
  f32: GgmlType.F32,
  f16: GgmlType.F16,
  bf16: GgmlType.BF16,
  q8_0: GgmlType.Q8_0,
  q4_0: GgmlType.Q4_0,
}
const FILE_TYPE_OF: Record<GgufOutputType, number> = {
  f32: GgufFileType.F32,
  f16: GgufFileType.F16,
  bf16: GgufFileType.BF16,
  q8_0: GgufFileType.Q8_0,
  q4_0: GgufFileType.Q4_0,
}

/** Source values as float32, whatever the stored dtype. */
export function decodeToF32(bytes: Uint8Array, dtype: string, tensor = ''): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  switch (dtype) {
    case 'F32':
      // A fresh copy (Buffer#slice would be a view into a shared pool), so callers may edit values in place.
      // Assumes a little-endian host, as every Electron target is.
      return new Float32Array(new Uint8Array(bytes).buffer)
    case 'F16':
    case 'BF16': {
      const out = new Float32Array(bytes.byteLength / 2)
      const dec = dtype === 'F16' ? f16BitsToNumber : bf16BitsToNumber
      for (let i = 0; i < out.length; i++) out[i] = dec(view.getUint16(i * 2, true))
      return out
    }
    case 'F64': {
      const out = new Float32Array(bytes.byteLength / 8)
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true)
      return out
    }
    default:
      throw new GgufError(
        'GGUF_UNSUPPORTED_DTYPE',
        `Tensor ${tensor} is ${dtype}; GGUF conversion reads F32, F16, BF16, F64.`,
        {
          tensor,
        },
      )
  }
}

/** Rounds x to the source dtype's precision, so an edit made "in the source dtype" matches convert_hf_to_gguf. */
function roundToDtype(x: number, dtype: string): number {
  if (dtype === 'BF16') return bf16BitsToNumber(f32ToBf16Bits(x))
  if (dtype === 'F16') return f16BitsToNumber(f32ToF16Bits(x))
  return Math.fround(x)
}

/**
 * Reorders rows of an [n_head·hd, cols] matrix (or a bias, cols = 1) from HF's rotate-half layout to llama.cpp's
 * interleaved one: dst row h·hd + 2j + i = src row h·hd + i·hd/2 + j. Works on raw bytes, so any dtype.
 */
export function unpermuteHeads(bytes: Uint8Array, rows: number, nHead: number, tensor = ''): Uint8Array {
  if (rows % nHead !== 0 || (rows / nHead) % 2 !== 0) {
    throw new GgufError('GGUF_SHAPE', `Tensor ${tensor} has ${rows} rows, not ${nHead} heads of an even size.`, {
      tensor,
    })
  }
  const rowBytes = bytes.byteLength / rows
  const hd = rows / nHead
  const out = new Uint8Array(bytes.byteLength)
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < hd / 2; j++) {
        const dst = h * hd + 2 * j + i
        const src = h * hd + i * (hd / 2) + j
        out.set(bytes.subarray(src * rowBytes, (src + 1) * rowBytes), dst * rowBytes)
      }
    }
  }
  return out
}

function encode(values: Float32Array, type: number): Uint8Array {
  switch (type) {
    case GgmlType.F32:
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
    case GgmlType.F16:
      return toF16(values)
    case GgmlType.BF16:
      return toBf16(values)
    case GgmlType.Q8_0:
      return quantizeQ8_0(values)
    default:
      return quantizeQ4_0(values)
  }
}

const SOURCE_TYPE: Record<string, number> = { F32: GgmlType.F32, F16: GgmlType.F16, BF16: GgmlType.BF16 }

/** Which ggml type a tensor is stored as for this output type (llama.cpp's choices, FORMATS.md §C). */
export function storageType(gguf: string, ne: number[], out: GgufOutputType): number {
  if (ne.length === 1 || gguf.endsWith('norm.weight')) return GgmlType.F32
  const t = TYPE_OF[out]
  // Q8_0/Q4_0 blocks run along rows; a row that is not whole blocks stays F16 (llama.cpp's fallback).
  if ((t === GgmlType.Q8_0 || t === GgmlType.Q4_0) && ne[0]! % 32 !== 0) return GgmlType.F16
  return t
}

export function readConfig(modelDir: string): HfConfig {
  const file = join(modelDir, 'config.json')
  if (!existsSync(file)) throw new GgufError('GGUF_MISSING_FILE', `${modelDir} has no config.json.`, { file })
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as HfConfig
  } catch (err) {
    throw new GgufError('GGUF_BAD_CONFIG', `${file} is not valid JSON: ${(err as Error).message}.`, { file })
  }
}

/** Converts the HF model folder `modelDir` to the GGUF file `outFile`. */
export async function convertToGguf(modelDir: string, outFile: string, opts: ConvertOptions): Promise<ConvertResult> {
  if (!GGUF_OUTPUT_TYPES.includes(opts.type)) {
    throw new GgufError('GGUF_BAD_VALUE', `Output type ${opts.type} is not one of ${GGUF_OUTPUT_TYPES.join(', ')}.`)
  }
  const cfg = readConfig(modelDir)
  const arch: Architecture = architectureFor(cfg)
  const source = opts.tensorSource ?? (await openSafetensorsSource(modelDir))
  try {
    const byHf = new Map(source.tensors.map((t) => [t.name, t]))
    const hasLmHead = byHf.has('lm_head.weight')
    const embed = byHf.get('model.embed_tokens.weight') ?? byHf.get('language_model.model.embed_tokens.weight')
    if (!embed) {
      throw new GgufError('GGUF_MISSING_TENSOR', `${modelDir} has no model.embed_tokens.weight.`, {
        tensor: 'model.embed_tokens.weight',
      })
    }
    const vocab = loadVocab(modelDir, embed.shape[0])
    const nEmbdRows = embed.shape[0]!
    if (vocab.tokens.length !== nEmbdRows) {
      throw new GgufError(
        'GGUF_SHAPE',
        `The tokenizer has ${vocab.tokens.length} tokens but the embedding has ${nEmbdRows} rows.`,
        { tensor: embed.name },
      )
    }

    const w = new GgufWriter(outFile)
    w.str('general.architecture', arch.name)
    w.str('general.type', 'model')
    w.str('general.name', opts.name ?? basename(modelDir))
    arch.writeMetadata(w, cfg)
    w.u32('general.file_type', FILE_TYPE_OF[opts.type])
    w.u32('general.quantization_version', 2)
    writeVocab(w, vocab)

    const tensors: ConvertedTensor[] = []
    const ropeFactors = arch.name === 'llama' ? llama3RopeFactors(cfg) : null
    if (ropeFactors) {
      const data = new Uint8Array(ropeFactors.buffer)
      w.addTensor({ name: 'rope_freqs.weight', ne: [ropeFactors.length], type: GgmlType.F32, data: async () => data })
      tensors.push({
        name: 'rope_freqs.weight',
        hfName: null,
        ne: [ropeFactors.length],
        type: GgmlType.F32,
        bytes: data.length,
      })
    }
    let weightCount = 0
    let weightBytes = 0
    const plan: { hf: (typeof source.tensors)[number]; gguf: string; ne: number[]; type: number }[] = []
    for (const t of source.tensors) {
      const gguf = arch.mapName(t.name)
      if (gguf === null) continue
      if (gguf === 'output.weight' && arch.alwaysTied) continue
      if (t.shape.length < 1 || t.shape.length > 4) {
        throw new GgufError('GGUF_SHAPE', `Tensor ${t.name} has ${t.shape.length} dims; GGUF keeps 1 to 4.`, {
          tensor: t.name,
        })
      }
      const ne = [...t.shape].reverse()
      plan.push({ hf: t, gguf, ne, type: storageType(gguf, ne, opts.type) })
    }
    // llama.cpp's own order: token_embd first, then blocks by index; keep the source order otherwise.
    const order = (g: string): number => {
      if (g.startsWith('token_embd')) return -2
      if (g.startsWith('output')) return 1e9
      const m = /^blk\.(\d+)\./.exec(g)
      return m ? Number(m[1]) : -1
    }
    plan.sort((a, b) => order(a.gguf) - order(b.gguf))

    let done = 0
    for (const p of plan) {
      const { hf, gguf, ne, type } = p
      const bytes = tensorByteLength(type, ne)
      if (ne.length >= 2) {
        weightCount += ne.reduce((a, b) => a * b, 1)
        weightBytes += bytes
      }
      tensors.push({ name: gguf, hfName: hf.name, ne, type, bytes })
      w.addTensor({
        name: gguf,
        ne,
        type,
        data: async () => {
          let raw = await source.read(hf.name)
          const nHead = arch.permuteHeads(gguf)
          if (nHead !== null) raw = unpermuteHeads(raw, hf.shape[0]!, nHead, hf.name)
          let out: Uint8Array
          if (arch.addOneToNorm(gguf)) {
            const v = decodeToF32(raw, hf.dtype, hf.name)
            for (let i = 0; i < v.length; i++) v[i] = roundToDtype(v[i]! + 1, hf.dtype)
            out = encode(v, type)
          } else if (SOURCE_TYPE[hf.dtype] === type) {
            out = raw // same storage type: bytes pass through untouched
          } else {
            out = encode(decodeToF32(raw, hf.dtype, hf.name), type)
          }
          opts.onProgress?.(++done, plan.length, gguf)
          return out
        },
      })
    }
    if (!hasLmHead && !arch.alwaysTied && cfg.tie_word_embeddings === false) {
      throw new GgufError(
        'GGUF_MISSING_TENSOR',
        `${modelDir} has no lm_head.weight but says its embeddings are not tied.`,
        {
          tensor: 'lm_head.weight',
        },
      )
    }
    const written = await w.write()
    return {
      file: outFile,
      bytes: statSync(outFile).size || written.bytes,
      tensors,
      weightCount,
      weightBytes,
      bitsPerWeight: weightCount ? (weightBytes * 8) / weightCount : 0,
      architecture: arch.name,
    }
  } finally {
    if (!opts.tensorSource) await source.close?.()
  }
}

export { headDim }
