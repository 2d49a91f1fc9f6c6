// The folder a compress job writes: one container per original shard, the copied side files (index, config,
// tokenizer) and shardpress.json, which lists them so decompress and verify need nothing else.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ContainerError } from '../container/errors'
import type { CompressionPlan } from '../plan/plan'

export const DESCRIPTOR_NAME = 'shardpress.json'
export const JOB_DIR_NAME = '.shardpress-job'

export interface CompressedModel {
  format: 'shardpress-compressed-model'
  version: 1
  /** Where the original model was (absolute); decompress checks bounds against it when it is still there. */
  source: string
  shards: { file: string; container: string; originalBytes: number; compressedBytes: number }[]
  /** Side files copied verbatim (config, tokenizer, shard index). */
  files: string[]
  plan: CompressionPlan
  codecVersion: number
  run?: string
}

export function readDescriptor(dir: string): CompressedModel {
  const path = join(dir, DESCRIPTOR_NAME)
  let v: CompressedModel
  try {
    v = JSON.parse(readFileSync(path, 'utf8'))
  } catch {
    throw new ContainerError(
      'NOT_A_CONTAINER',
      'This folder holds no finished compressed model (shardpress.json)',
      path,
    )
  }
  if (v?.format !== 'shardpress-compressed-model' || !Array.isArray(v.shards))
    throw new ContainerError('NOT_A_CONTAINER', 'shardpress.json does not describe a compressed model', path)
  if (v.version !== 1)
    throw new ContainerError('UNSUPPORTED_VERSION', `Compressed model version ${v.version} is not supported`, path)
  return v
}

/** Side files worth carrying along: everything small that is not a weight file. */
const SKIP = /\.(safetensors|bin|pt|pth|ckpt|gguf|onnx|h5|msgpack)$/i
const MAX_SIDE_FILE = 64 << 20

export function sideFiles(modelDir: string): string[] {
  const out: string[] = []
  for (const n of readdirSync(modelDir).sort()) {
    if (SKIP.test(n) || n.startsWith('.') || /\.partial-\d+$/.test(n)) continue
    const st = statSync(join(modelDir, n))
    if (st.isFile() && st.size <= MAX_SIDE_FILE) out.push(n)
  }
  return out
}

/** `weight_block_size` of an FP8 checkpoint's config.json (DeepSeek-V3: [128, 128]); undefined when absent. */
export function fp8BlockSize(modelDir: string): [number, number] | undefined {
  try {
    const cfg = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8'))
    const b = cfg?.quantization_config?.weight_block_size
    if (Array.isArray(b) && b.length === 2 && b.every((x) => Number.isInteger(x) && x > 0)) return [b[0], b[1]]
  } catch {}
  return undefined
}
