// Discovery of a model on disk: a folder (with a shard index, one model.safetensors, or loose shards), a single
// .safetensors file, or an index .json; plus the files around the weights (config.json, generation_config.json,
// tokenizer files) and the architecture named by config.json. Only headers are read.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { type Dtype, type SafetensorsFile, ShardedSafetensors, type TensorInfo } from '../safetensors'
import { ModelError } from './errors'
import { classifyTensor, type TensorClass } from './roles'

export type ModelLayout = 'index' | 'single' | 'shards'

export interface ModelShard {
  /** File name (the index's spelling), e.g. model-00001-of-00002.safetensors. */
  file: string
  path: string
  fileSize: number
  /** Bytes before the data section (8 + JSON header). */
  headerBytes: number
  tensors: number
  metadata?: Record<string, string>
}

export interface ModelTensor extends TensorClass {
  /** Position in the model: shard order, then data order within the shard. */
  index: number
  name: string
  shard: string
  shardPath: string
  dtype: Dtype
  shape: number[]
  elementCount: number
  bytes: number
  /** Absolute offset of the first data byte in its shard. */
  fileOffset: number
}

export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'tokenizer.model',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'chat_template.jinja',
]

export interface ModelInfo {
  /** What the user gave, resolved. */
  path: string
  dir: string
  /** A display name: the folder name (or the file name of a lone shard outside a model folder). */
  name: string
  layout: ModelLayout
  indexPath?: string
  shards: ModelShard[]
  tensors: ModelTensor[]
  config?: Record<string, unknown>
  generationConfig?: Record<string, unknown>
  /** config.json `architectures[0]`, e.g. LlamaForCausalLM. */
  architecture: string | null
  modelType: string | null
  files: { config?: string; generationConfig?: string; tokenizer: string[]; adapterConfig?: string }
  /** Open shards for reading tensor data. */
  readonly store: ShardedSafetensors
  tensor(name: string): ModelTensor | undefined
  close(): Promise<void>
}

function readJson(path: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ModelError('READ_FAILED', path, `Could not read ${path}: ${(err as Error).message}.`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ModelError('CONFIG_INVALID', path, `${path} is not valid JSON (${(err as Error).message}).`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ModelError('CONFIG_INVALID', path, `${path} does not hold a JSON object.`)
  }
  return value as Record<string, unknown>
}

/** Opens a model folder or file: validates every shard header, classifies every tensor. */
export async function openModel(path: string): Promise<ModelInfo> {
  const p = resolve(path)
  if (!existsSync(p)) throw new ModelError('NOT_FOUND', p, `${p} does not exist.`)
  const isDir = statSync(p).isDirectory()
  if (!isDir && !p.endsWith('.safetensors') && !p.endsWith('.json')) {
    throw new ModelError('NOT_A_MODEL', p, `${p} is not a folder, a .safetensors file or a shard index.`)
  }
  const store = await ShardedSafetensors.open(p)
  try {
    const dir = isDir ? p : dirname(p)
    const layout: ModelLayout = store.index ? 'index' : store.shards.length === 1 ? 'single' : 'shards'
    const names = readdirSync(dir)
    const files: ModelInfo['files'] = {
      tokenizer: TOKENIZER_FILES.filter((f) => names.includes(f)).map((f) => join(dir, f)),
    }
    let config: Record<string, unknown> | undefined
    let generationConfig: Record<string, unknown> | undefined
    if (names.includes('config.json')) {
      files.config = join(dir, 'config.json')
      config = readJson(files.config)
    }
    if (names.includes('generation_config.json')) {
      files.generationConfig = join(dir, 'generation_config.json')
      generationConfig = readJson(files.generationConfig)
    }
    if (names.includes('adapter_config.json')) files.adapterConfig = join(dir, 'adapter_config.json')
    const archs = config?.architectures
    const architecture = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : null
    const modelType = typeof config?.model_type === 'string' ? config.model_type : null

    const shards: ModelShard[] = store.shards.map((s: SafetensorsFile) => {
      const shard: ModelShard = {
        file: basename(s.path),
        path: s.path,
        fileSize: s.fileSize,
        headerBytes: s.header.dataStart,
        tensors: s.tensors.length,
      }
      if (s.metadata) shard.metadata = s.metadata
      return shard
    })
    const tensors: ModelTensor[] = store.tensors.map(
      ({ shard, info }: { shard: SafetensorsFile; info: TensorInfo }, index) => ({
        index,
        name: info.name,
        shard: basename(shard.path),
        shardPath: shard.path,
        dtype: info.dtype,
        shape: info.shape,
        elementCount: info.elementCount,
        bytes: info.byteLength,
        fileOffset: info.fileOffset,
        ...classifyTensor(info.name),
      }),
    )
    const byName = new Map(tensors.map((t) => [t.name, t]))
    const single = !isDir && p.endsWith('.safetensors')
    const info: ModelInfo = {
      path: p,
      dir,
      name: single && !files.config ? basename(p) : basename(dir),
      layout,
      shards,
      tensors,
      architecture,
      modelType,
      files,
      store,
      tensor: (name) => byName.get(name),
      close: () => store.close(),
    }
    if (store.index) info.indexPath = store.index.path
    if (config) info.config = config
    if (generationConfig) info.generationConfig = generationConfig
    return info
  } catch (err) {
    await store.close()
    throw err
  }
}
