// Writes a synthetic model: shards (greedy in state-dict order, like huggingface_hub's split), the shard index,
// config.json, generation_config.json and tokenizer files. Tensor data is generated in block rows and streamed to
// the safetensors writer, so memory stays bounded whatever the shard size.
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { SafetensorsWriter } from '../safetensors'
import { writeFileAtomic } from '../util/atomic'
import { type ProgressListener, throttleProgress } from '../util/progress'
import { type PresetName, type PresetPlan, presetPlan, type SynthTensor } from './presets'
import { streamSeed } from './random'
import { buildTokenizer } from './tokenizer'
import { MatrixSource, quantizeBlockRow, toBf16 } from './values'

export interface GenerateOptions {
  /** Width scale: 1 is the real model's size; tests use about 0.01–0.05. Default 1/16 (the built-in model). */
  scale?: number
  seed?: number
  /** Tie lm_head to the embeddings (llama, gemma3). */
  tied?: boolean
  /** Number of shards; default: as many as the release's shard size needs, at least 2. */
  shards?: number
  /** Write only these shards (1-based), e.g. one full-size DeepSeek-V3 shard for a benchmark; no index then. */
  onlyShards?: number[]
  layers?: number
  experts?: number
  onProgress?: ProgressListener
  signal?: AbortSignal
}

export interface GeneratedModel {
  dir: string
  preset: PresetName
  files: string[]
  shards: { file: string; tensors: number; bytes: number }[]
  tensors: number
  params: number
  bytes: number
}

/** The app's built-in default model: `shardpress synth llama <dir>` with these settings. */
export const DEFAULT_MODEL = {
  preset: 'llama' as PresetName,
  scale: 1 / 16,
  seed: 1,
  tied: true,
  name: 'shardpress-llama-synth',
}

const ROW_CHUNK_BYTES = 8 << 20

function byteLength(t: SynthTensor): number {
  const n = t.shape.reduce((a, b) => a * b, 1)
  return t.dtype === 'F32' ? n * 4 : t.dtype === 'BF16' ? n * 2 : n
}

/**
 * Splits tensors into shards in state-dict order; an FP8 weight and its scales always share a shard.
 * `maxBytes`: greedy like huggingface_hub (a new shard when the next tensor would overflow);
 * `count`: exactly that many shards (when there are enough tensors), cut at even byte boundaries.
 */
export function assignShards(tensors: SynthTensor[], limit: { maxBytes: number } | { count: number }): SynthTensor[][] {
  const units: SynthTensor[][] = []
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i]!
    if (t.scaleTensor && tensors[i + 1]?.name === t.scaleTensor) {
      units.push([t, tensors[i + 1]!])
      i++
    } else units.push([t])
  }
  const sizes = units.map((u) => u.reduce((a, t) => a + byteLength(t), 0))
  const total = sizes.reduce((a, b) => a + b, 0)
  const shards: SynthTensor[][] = []
  let cur: SynthTensor[] = []
  let size = 0
  let before = 0
  units.forEach((u, i) => {
    const b = sizes[i]!
    let cut: boolean
    if ('maxBytes' in limit) cut = cur.length > 0 && size + b > limit.maxBytes
    else {
      // Cut when this unit's middle lies past the next even boundary, keeping enough units for the rest.
      const k = shards.length + 1
      const unitsLeft = units.length - i
      const shardsLeft = limit.count - shards.length
      cut = cur.length > 0 && shardsLeft > 1 && (before + b / 2 > (k * total) / limit.count || unitsLeft < shardsLeft)
    }
    if (cut) {
      shards.push(cur)
      cur = []
      size = 0
    }
    cur.push(...u)
    size += b
    before += b
  })
  if (cur.length > 0) shards.push(cur)
  return shards
}

export function shardFileName(i: number, n: number, totalDigits: number): string {
  return `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(totalDigits, '0')}.safetensors`
}

/** Streams one tensor's bytes to `write` in pieces of about 8 MB. Block scales of FP8 weights go to `scalesOut`. */
async function streamTensor(
  t: SynthTensor,
  seed: number,
  blockSize: number,
  scalesOut: Map<string, Float32Array>,
  write: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  if (t.scaleOf) {
    const scales = scalesOut.get(t.scaleOf)
    if (!scales) throw new Error(`scales of ${t.scaleOf} were not generated before ${t.name}`)
    scalesOut.delete(t.scaleOf)
    await write(new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength))
    return
  }
  const rows = t.shape.length >= 2 ? t.shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1
  const cols = t.shape.length >= 1 ? t.shape[t.shape.length - 1]! : 1
  const src = new MatrixSource(rows, cols, t.values, streamSeed(seed, t.name))
  if (t.dtype === 'F8_E4M3') {
    const scaleCols = Math.ceil(cols / blockSize)
    const scales = new Float32Array(Math.ceil(rows / blockSize) * scaleCols)
    const values = new Float32Array(blockSize * cols)
    const codes = new Uint8Array(blockSize * cols)
    for (let r = 0, br = 0; r < rows; r += blockSize, br++) {
      const n = Math.min(blockSize, rows - r)
      src.fill(values, n)
      quantizeBlockRow(values, n, cols, blockSize, codes, scales.subarray(br * scaleCols, (br + 1) * scaleCols))
      // The writer keeps a reference until its gather buffer copies it: hand it a copy of this block row.
      await write(codes.slice(0, n * cols))
    }
    scalesOut.set(t.name, scales)
    return
  }
  const bpe = t.dtype === 'F32' ? 4 : 2
  const rowsPer = Math.max(1, Math.floor(ROW_CHUNK_BYTES / (cols * bpe)))
  const values = new Float32Array(Math.min(rows, rowsPer) * cols)
  for (let r = 0; r < rows; r += rowsPer) {
    const n = Math.min(rowsPer, rows - r)
    const v = values.subarray(0, n * cols)
    src.fill(v, n)
    if (t.dtype === 'F32') await write(new Uint8Array(v.buffer.slice(0, n * cols * 4)))
    else {
      const out = new Uint16Array(n * cols)
      toBf16(v, out)
      await write(new Uint8Array(out.buffer))
    }
  }
}

/** Generates a synthetic model of a preset into `outDir` (created if needed). */
export async function generateModel(
  preset: PresetName,
  outDir: string,
  opts: GenerateOptions = {},
): Promise<GeneratedModel> {
  const scale = opts.scale ?? DEFAULT_MODEL.scale
  if (!(scale > 0 && scale <= 1)) throw new Error(`scale must be in (0, 1], got ${scale}`)
  const seed = opts.seed ?? 1
  const plan: PresetPlan = presetPlan(preset, {
    scale,
    ...(opts.tied !== undefined ? { tied: opts.tied } : {}),
    ...(opts.layers !== undefined ? { layers: opts.layers } : {}),
    ...(opts.experts !== undefined ? { experts: opts.experts } : {}),
  })
  const total = plan.tensors.reduce((a, t) => a + byteLength(t), 0)
  // Full-size models split like the release (max shard size); small ones into `shards` (default 2) even parts.
  const shards =
    opts.shards === undefined && total > 2 * plan.maxShardBytes
      ? assignShards(plan.tensors, { maxBytes: plan.maxShardBytes })
      : assignShards(plan.tensors, { count: Math.max(1, opts.shards ?? 2) })
  const names = shards.map((_, i) => shardFileName(i, shards.length, plan.totalDigits))
  const only = opts.onlyShards ? new Set(opts.onlyShards) : null
  if (only)
    for (const k of only)
      if (k < 1 || k > shards.length) throw new Error(`shard ${k} does not exist (1…${shards.length})`)

  mkdirSync(outDir, { recursive: true })
  const tok = buildTokenizer(plan.tokenizer)
  const config = {
    ...plan.config,
    bos_token_id: tok.bosId,
    eos_token_id: tok.eosId,
    ...(tok.padId !== null ? { pad_token_id: tok.padId } : {}),
  }
  const files: string[] = []
  const put = (name: string, text: string) => {
    writeFileAtomic(join(outDir, name), text)
    files.push(name)
  }
  put(
    'generation_config.json',
    `${JSON.stringify({ ...plan.generationConfig, bos_token_id: tok.bosId, eos_token_id: tok.eosId }, null, 2)}\n`,
  )
  for (const [name, text] of Object.entries(tok.files)) put(name, text)

  const selected = shards.map((s, i) => ({ s, i })).filter(({ i }) => !only || only.has(i + 1))
  const bytesTotal = selected.reduce((a, { s }) => a + s.reduce((b, t) => b + byteLength(t), 0), 0)
  const tensorsTotal = selected.reduce((a, { s }) => a + s.length, 0)
  const progress = throttleProgress(opts.onProgress)
  let bytesDone = 0
  let tensorsDone = 0
  const out: GeneratedModel['shards'] = []
  for (const { s, i } of selected) {
    const file = names[i]!
    const writer = await SafetensorsWriter.create(
      join(outDir, file),
      s.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
      { format: 'pt' },
      { order: 'given' },
    )
    try {
      const scales = new Map<string, Float32Array>()
      for (const t of s) {
        await streamTensor(t, seed, plan.blockSize, scales, async (chunk) => {
          if (opts.signal?.aborted) throw new Error('cancelled')
          await writer.write(chunk)
          bytesDone += chunk.byteLength
          progress({ phase: 'synth', bytesDone, bytesTotal, tensorsDone, tensorsTotal, current: file })
        })
        tensorsDone++
      }
      await writer.finish()
    } catch (err) {
      await writer.abort()
      throw err
    }
    files.push(file)
    out.push({ file, tensors: s.length, bytes: s.reduce((a, t) => a + byteLength(t), 0) })
    progress({ phase: 'synth', bytesDone, bytesTotal, tensorsDone, tensorsTotal, current: file })
  }
  if (!only) {
    const weightMap: Record<string, string> = {}
    shards.forEach((s, i) => {
      for (const t of s) weightMap[t.name] = names[i]!
    })
    const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    put(
      'model.safetensors.index.json',
      `${JSON.stringify({ metadata: { total_size: total }, weight_map: sorted }, null, 2)}\n`,
    )
  } else {
    // A partial model must not look complete: no index that names shards that are not there.
    rmSync(join(outDir, 'model.safetensors.index.json'), { force: true })
  }
  // config.json comes last: its presence marks a complete model folder.
  put('config.json', `${JSON.stringify(config, null, 2)}\n`)
  const params = plan.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0)
  return { dir: outDir, preset, files, shards: out, tensors: plan.tensors.length, params, bytes: total }
}
