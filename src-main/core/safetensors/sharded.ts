// A model split over several safetensors shards: reads model.safetensors.index.json (or takes a single file or
// a folder of loose shards), opens every shard's header and checks the index's weight_map against the shards.

import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path'
import { ioError, q, SafetensorsError } from './errors'
import { SafetensorsFile } from './file'
import type { TensorInfo } from './header'
import { JsonFloat, JsonParser, JsonSyntaxError, type JsonValue } from './json'

export interface ShardIndex {
  totalSize?: number
  weightMap: Record<string, string>
  path: string
}

export const INDEX_NAME = 'model.safetensors.index.json'

function invalid(path: string, what: string, tensor?: string): SafetensorsError {
  return new SafetensorsError('INDEX_INVALID', path, `The shard index ${path} ${what}.`, tensor)
}

/** Reads and checks a `*.safetensors.index.json`; INDEX_INVALID on bad JSON or schema. */
export async function readShardIndex(path: string): Promise<ShardIndex> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw ioError(path, 'read', err)
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1) // editors sometimes save JSON with a BOM
  const scanner = new IndexScanner(text)
  try {
    scanner.scan()
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw invalid(path, `is not valid JSON (${err.message})`)
    throw err
  }
  if (scanner.duplicate) {
    const inMap = scanner.duplicate.path[0] === 'weight_map' && scanner.duplicate.path.length === 1
    throw invalid(path, `lists ${q(scanner.duplicate.key)} twice`, inMap ? scanner.duplicate.key : undefined)
  }
  const root = scanner.root
  if (!root) throw invalid(path, 'is not a JSON object')
  const weightMap = scanner.weightMap
  if (!weightMap) throw invalid(path, 'has no "weight_map" object')
  if (scanner.badEntry !== undefined) {
    const tensor = scanner.badEntry
    throw invalid(path, `maps tensor ${q(tensor)} to something other than a shard file name`, tensor)
  }
  const safeShards = new Set<string>() // a model has a few hundred shard names for up to ~100k tensors
  for (const tensor in weightMap) {
    const shard = weightMap[tensor]!
    if (safeShards.has(shard)) continue
    const norm = normalize(shard)
    if (isAbsolute(shard) || norm === '..' || norm.startsWith(`..${sep}`) || shard.includes('\0')) {
      throw invalid(path, `maps tensor ${q(tensor)} to ${q(shard)}, which lies outside the model folder`, tensor)
    }
    safeShards.add(shard)
  }
  const index: ShardIndex = { weightMap, path }
  const meta = root.get('metadata')
  if (meta !== undefined && meta !== null) {
    if (!(meta instanceof Map)) throw invalid(path, 'has a "metadata" entry that is not an object')
    const ts = meta.get('total_size')
    if (ts !== undefined && ts !== null) {
      // Some writers store total_size as a float (e.g. 1.5e10); accept any non-negative integral value.
      const v = typeof ts === 'number' ? ts : ts instanceof JsonFloat ? ts.value : -1
      if (!Number.isSafeInteger(v) || v < 0) throw invalid(path, 'has a "total_size" that is not a byte count')
      index.totalSize = v
    }
  }
  return index
}

/**
 * Reads an index: `weight_map` (often ~100k entries) goes straight into its record with one hash lookup per
 * entry; everything else through the generic strict parser.
 */
class IndexScanner extends JsonParser {
  root: Map<string, JsonValue> | undefined
  weightMap: Record<string, string> | undefined
  /** First tensor whose shard is not a non-empty string. */
  badEntry: string | undefined

  scan(): void {
    const s = this.s
    this.skipWs()
    if (s.charCodeAt(this.pos) !== 0x7b) {
      this.value(0)
      this.end()
      return
    }
    const root = new Map<string, JsonValue>()
    this.pos++
    this.skipWs()
    if (s.charCodeAt(this.pos) === 0x7d) {
      this.pos++
      this.end()
      this.root = root
      return
    }
    for (;;) {
      if (s.charCodeAt(this.pos) !== 0x22) this.fail('expected a string key')
      const key = this.string()
      this.skipWs()
      if (s.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':'")
      this.pos++
      this.skipWs()
      this.path[0] = key
      if (root.has(key)) {
        this.value(1)
        if (!this.duplicate) this.duplicate = { path: [], key }
      } else if (key === 'weight_map' && s.charCodeAt(this.pos) === 0x7b) {
        this.weightMap = this.stringMap()
        root.set(key, null)
      } else root.set(key, this.value(1))
      this.skipWs()
      const c = s.charCodeAt(this.pos)
      if (c === 0x2c) {
        this.pos++
        this.skipWs()
      } else if (c === 0x7d) {
        this.pos++
        this.end()
        this.root = root
        return
      } else this.fail("expected ',' or '}'")
    }
  }

  private end(): void {
    this.skipWs()
    if (this.pos < this.s.length) this.fail('trailing characters after the JSON value')
  }

  private stringMap(): Record<string, string> {
    const s = this.s
    const out: Record<string, string> = Object.create(null)
    this.pos++
    this.skipWs()
    if (s.charCodeAt(this.pos) === 0x7d) {
      this.pos++
      return out
    }
    for (;;) {
      if (s.charCodeAt(this.pos) !== 0x22) this.fail('expected a string key')
      const key = this.string()
      this.skipWs()
      if (s.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':'")
      this.pos++
      this.skipWs()
      this.path[1] = key
      let v: string
      if (s.charCodeAt(this.pos) === 0x22) v = this.string()
      else {
        this.value(2)
        v = ''
      }
      if (v === '' && this.badEntry === undefined) this.badEntry = key
      if (out[key] !== undefined) {
        if (!this.duplicate) this.duplicate = { path: ['weight_map'], key }
      } else out[key] = v
      this.skipWs()
      const c = s.charCodeAt(this.pos)
      if (c === 0x2c) {
        this.pos++
        this.skipWs()
      } else if (c === 0x7d) {
        this.pos++
        return out
      } else this.fail("expected ',' or '}'")
    }
  }
}

export interface LocatedTensor {
  shard: SafetensorsFile
  info: TensorInfo
}

export class ShardedSafetensors {
  readonly dir: string
  readonly index?: ShardIndex
  /** in shard-name order */
  readonly shards: SafetensorsFile[]
  private readonly byName: Map<string, LocatedTensor>

  private constructor(dir: string, shards: SafetensorsFile[], byName: Map<string, LocatedTensor>, index?: ShardIndex) {
    this.dir = dir
    this.shards = shards
    this.byName = byName
    if (index) this.index = index
  }

  /**
   * Opens a folder with an index, an index .json, one .safetensors file, or a folder of loose *.safetensors.
   * Every shard's header is validated; an index is checked against the shards (SHARD_MISSING,
   * TENSOR_MISSING_FROM_SHARD, TENSOR_NOT_IN_INDEX).
   */
  static async open(pathOrDir: string): Promise<ShardedSafetensors> {
    const p = resolve(pathOrDir)
    let isDir: boolean
    try {
      isDir = (await stat(p)).isDirectory()
    } catch (err) {
      throw ioError(p, 'open', err)
    }
    if (!isDir) {
      if (p.endsWith('.json')) return ShardedSafetensors.openIndex(await readShardIndex(p))
      return ShardedSafetensors.openLoose(dirname(p), [basename(p)])
    }
    let names: string[]
    try {
      names = await readdir(p)
    } catch (err) {
      throw ioError(p, 'list', err)
    }
    if (names.includes(INDEX_NAME)) return ShardedSafetensors.openIndex(await readShardIndex(join(p, INDEX_NAME)))
    const indexes = names.filter((n) => n.endsWith('.safetensors.index.json')).sort()
    if (indexes.length === 1) return ShardedSafetensors.openIndex(await readShardIndex(join(p, indexes[0]!)))
    const loose = names.filter((n) => n.endsWith('.safetensors')).sort()
    if (loose.length === 0) {
      throw new SafetensorsError('SHARD_MISSING', p, `The folder ${p} contains no .safetensors file.`)
    }
    return ShardedSafetensors.openLoose(p, loose)
  }

  private static async openLoose(dir: string, names: string[]): Promise<ShardedSafetensors> {
    const shards = await openAll(names.map((n) => join(dir, n)))
    const byName = new Map<string, LocatedTensor>()
    try {
      for (const shard of shards) {
        for (const info of shard.tensors) {
          const prev = byName.get(info.name)
          if (prev) {
            throw new SafetensorsError(
              'DUPLICATE_TENSOR',
              shard.path,
              `Tensor ${q(info.name)} is in both ${prev.shard.path} and ${shard.path}.`,
              info.name,
            )
          }
          byName.set(info.name, { shard, info })
        }
      }
    } catch (err) {
      await closeAll(shards)
      throw err
    }
    return new ShardedSafetensors(dir, shards, byName)
  }

  private static async openIndex(index: ShardIndex): Promise<ShardedSafetensors> {
    const dir = dirname(index.path)
    const firstTensorOf = new Map<string, string>()
    for (const [tensor, shard] of Object.entries(index.weightMap)) {
      if (!firstTensorOf.has(shard)) firstTensorOf.set(shard, tensor)
    }
    const shardNames = [...firstTensorOf.keys()].sort()
    for (const name of shardNames) {
      const path = join(dir, name)
      let ok = false
      try {
        ok = (await stat(path)).isFile()
      } catch {}
      if (!ok) {
        const tensor = firstTensorOf.get(name)!
        throw new SafetensorsError(
          'SHARD_MISSING',
          path,
          `The shard ${path} named by ${index.path} (for tensor ${q(tensor)} and others) does not exist.`,
          tensor,
        )
      }
    }
    const shards = await openAll(shardNames.map((n) => join(dir, n)))
    const byShardName = new Map(shardNames.map((n, i) => [n, shards[i]!]))
    const byName = new Map<string, LocatedTensor>()
    try {
      for (const [tensor, shardName] of Object.entries(index.weightMap)) {
        const shard = byShardName.get(shardName)!
        if (!shard.has(tensor)) {
          throw new SafetensorsError(
            'TENSOR_MISSING_FROM_SHARD',
            shard.path,
            `Tensor ${q(tensor)} is mapped by ${index.path} to ${shard.path}, which does not contain it.`,
            tensor,
          )
        }
        byName.set(tensor, { shard, info: shard.tensor(tensor) })
      }
      for (const shard of shards) {
        for (const info of shard.tensors) {
          const located = byName.get(info.name)
          if (!located || located.shard !== shard) {
            const also = located ? ` (it maps that name to ${located.shard.path})` : ''
            throw new SafetensorsError(
              'TENSOR_NOT_IN_INDEX',
              shard.path,
              `Tensor ${q(info.name)} in ${shard.path} is not listed for that shard in ${index.path}${also}.`,
              info.name,
            )
          }
        }
      }
    } catch (err) {
      await closeAll(shards)
      throw err
    }
    return new ShardedSafetensors(dir, shards, byName, index)
  }

  /** The shard holding a tensor and its description; throws TENSOR_NOT_FOUND. */
  locate(name: string): LocatedTensor {
    const t = this.byName.get(name)
    if (!t) {
      const where = this.index?.path ?? this.dir
      throw new SafetensorsError(
        'TENSOR_NOT_FOUND',
        where,
        `The model at ${where} has no tensor named ${q(name)}.`,
        name,
      )
    }
    return t
  }

  /** All tensors, in shard order then data order. */
  get tensors(): LocatedTensor[] {
    const out: LocatedTensor[] = []
    for (const shard of this.shards) for (const info of shard.tensors) out.push({ shard, info })
    return out
  }

  async close(): Promise<void> {
    await closeAll(this.shards)
  }
}

async function openAll(paths: string[]): Promise<SafetensorsFile[]> {
  const out: SafetensorsFile[] = []
  try {
    // One at a time: a model can have hundreds of shards and each open holds a file descriptor.
    for (const p of paths) out.push(await SafetensorsFile.open(p))
  } catch (err) {
    await closeAll(out)
    throw err
  }
  return out
}

async function closeAll(files: SafetensorsFile[]): Promise<void> {
  await Promise.all(files.map((f) => f.close().catch(() => {})))
}
