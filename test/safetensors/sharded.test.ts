// Sharded models: opening by folder, index file, single file or loose shards, and the index's weight_map checked
// against the shards (missing shard, tensor missing from its shard, tensor not in the index), each named.
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  type Dtype,
  readShardIndex,
  SafetensorsError,
  type SafetensorsErrorCode,
  ShardedSafetensors,
  writeSafetensors,
} from '../../src-main/core/safetensors'
import { tempDir } from '../helpers/paths'
import { pattern, rawFile, writeFixture } from './fixtures'

const SHARDS: Record<string, string[]> = {
  'model-00001-of-00003.safetensors': ['model.embed_tokens.weight', 'model.layers.0.mlp.up_proj.weight'],
  'model-00002-of-00003.safetensors': ['model.layers.0.self_attn.q_proj.weight', 'model.layers.1.mlp.up_proj.weight'],
  'model-00003-of-00003.safetensors': ['lm_head.weight', 'model.norm.weight'],
}

/** Writes a 3-shard model; `edit` may change the weight_map or shards before the index is written. */
async function makeModel(edit?: (weightMap: Record<string, string>, dir: string) => void): Promise<string> {
  const dir = tempDir('shardpress-st-sharded-')
  const weightMap: Record<string, string> = {}
  let seed = 1
  let total = 0
  for (const [shard, names] of Object.entries(SHARDS)) {
    const specs = names.map((name) => {
      const dtype: Dtype = name.includes('norm') ? 'F32' : 'BF16'
      const shape = name.includes('norm') ? [8] : [16, 8]
      const data = pattern(dtype === 'F32' ? 32 : 256, seed++)
      total += data.length
      return { name, dtype, shape, data }
    })
    await writeSafetensors(join(dir, shard), specs, { format: 'pt' })
    for (const n of names) weightMap[n] = shard
  }
  edit?.(weightMap, dir)
  writeFileSync(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
  )
  return dir
}

async function expectCode(p: Promise<unknown>, code: SafetensorsErrorCode, tensor?: string, file?: string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, String(e))
    assert.equal(e.code, code, e.message)
    if (tensor !== undefined) {
      assert.equal(e.tensor, tensor)
      assert.ok(e.message.includes(JSON.stringify(tensor)), e.message)
    }
    if (file !== undefined) assert.equal(e.file, file)
    assert.ok(e.message.includes(e.file), e.message)
    assert.match(e.message, /^[^\n]+\.$/)
    return true
  })
}

test('a folder with an index opens every shard in name order and locates each tensor', async () => {
  const dir = await makeModel()
  const model = await ShardedSafetensors.open(dir)
  try {
    assert.equal(model.dir, dir)
    assert.equal(model.index?.totalSize, 5 * 256 + 32)
    assert.deepEqual(
      model.shards.map((s) => s.path.split('/').pop()),
      Object.keys(SHARDS),
    )
    assert.equal(model.tensors.length, 6)
    assert.deepEqual(
      model.tensors.map((t) => t.info.name),
      model.shards.flatMap((s) => s.tensors.map((t) => t.name)),
    )
    const { shard, info } = model.locate('model.norm.weight')
    assert.ok(shard.path.endsWith('model-00003-of-00003.safetensors'))
    assert.equal(info.dtype, 'F32')
    assert.deepEqual(await shard.read(info.name), pattern(32, 6))
    await expectCode(
      Promise.resolve().then(() => model.locate('nope')),
      'TENSOR_NOT_FOUND',
      'nope',
    )
  } finally {
    await model.close()
  }
  const byIndex = await ShardedSafetensors.open(join(dir, 'model.safetensors.index.json'))
  assert.equal(byIndex.shards.length, 3)
  await byIndex.close()
})

test('a single file and a folder of loose shards open without an index', async () => {
  const dir = await makeModel()
  rmSync(join(dir, 'model.safetensors.index.json'))
  const loose = await ShardedSafetensors.open(dir)
  assert.equal(loose.index, undefined)
  assert.equal(loose.tensors.length, 6)
  await loose.close()
  const single = await ShardedSafetensors.open(join(dir, 'model-00002-of-00003.safetensors'))
  assert.deepEqual(
    single.tensors.map((t) => t.info.name),
    SHARDS['model-00002-of-00003.safetensors'],
  )
  await single.close()
})

test('an index naming a missing shard is SHARD_MISSING, naming the shard and a tensor', async () => {
  const dir = await makeModel((wm) => {
    wm['model.extra.weight'] = 'model-00004-of-00003.safetensors'
  })
  await expectCode(
    ShardedSafetensors.open(dir),
    'SHARD_MISSING',
    'model.extra.weight',
    join(dir, 'model-00004-of-00003.safetensors'),
  )
})

test('a tensor the index puts in a shard that lacks it is TENSOR_MISSING_FROM_SHARD', async () => {
  const dir = await makeModel((wm) => {
    wm['model.layers.9.ghost.weight'] = 'model-00002-of-00003.safetensors'
  })
  await expectCode(
    ShardedSafetensors.open(dir),
    'TENSOR_MISSING_FROM_SHARD',
    'model.layers.9.ghost.weight',
    join(dir, 'model-00002-of-00003.safetensors'),
  )
})

test('a tensor in a shard but not in the index is TENSOR_NOT_IN_INDEX', async () => {
  const dir = await makeModel((wm) => {
    delete wm['model.layers.1.mlp.up_proj.weight']
  })
  await expectCode(
    ShardedSafetensors.open(dir),
    'TENSOR_NOT_IN_INDEX',
    'model.layers.1.mlp.up_proj.weight',
    join(dir, 'model-00002-of-00003.safetensors'),
  )
})

test('a tensor the index maps to another shard is TENSOR_NOT_IN_INDEX for the shard that holds it', async () => {
  const dir = await makeModel((_wm, d) => {
    // Shard 3 also gets a copy of a shard-1 tensor.
    writeFileSync(
      join(d, 'model-00003-of-00003.safetensors'),
      rawFile(
        {
          __metadata__: { format: 'pt' },
          'lm_head.weight': { dtype: 'BF16', shape: [16, 8], data_offsets: [0, 256] },
          'model.embed_tokens.weight': { dtype: 'BF16', shape: [16, 8], data_offsets: [256, 512] },
          'model.norm.weight': { dtype: 'F32', shape: [8], data_offsets: [512, 544] },
        },
        { data: 544 },
      ),
    )
  })
  await expectCode(ShardedSafetensors.open(dir), 'TENSOR_NOT_IN_INDEX', 'model.embed_tokens.weight')
})

test('a broken shard reports its own error and file', async () => {
  const dir = await makeModel((_wm, d) => {
    writeFixture(d, 'model-00002-of-00003.safetensors', rawFile('{"a":1}'))
  })
  await expectCode(
    ShardedSafetensors.open(dir),
    'INVALID_HEADER_DESERIALIZATION',
    'a',
    join(dir, 'model-00002-of-00003.safetensors'),
  )
})

test('bad index files are INDEX_INVALID', async () => {
  const dir = tempDir('shardpress-st-index-')
  const cases: [string, string, string?][] = [
    ['not json', '{"weight_map": {'],
    ['no weight_map', '{"metadata": {"total_size": 3}}'],
    ['weight_map of numbers', '{"weight_map": {"a": 1}}', 'a'],
    ['duplicate tensor', '{"weight_map": {"a": "x.safetensors", "a": "y.safetensors"}}', 'a'],
    ['path escaping the folder', '{"weight_map": {"a": "../x.safetensors"}}', 'a'],
    ['absolute path', '{"weight_map": {"a": "/etc/x.safetensors"}}', 'a'],
    ['negative total_size', '{"metadata": {"total_size": -1}, "weight_map": {}}'],
    ['array', '[]'],
    ['weight_map that is an array', '{"weight_map": ["a.safetensors"]}'],
    ['weight_map given twice', '{"weight_map": {"a": "x.safetensors"}, "weight_map": {}}'],
    ['empty shard name', '{"weight_map": {"a": "x.safetensors", "b": ""}}', 'b'],
    ['shard given as an object', '{"weight_map": {"a": {"file": "x.safetensors"}}}', 'a'],
  ]
  for (const [i, [what, text, tensor]] of cases.entries()) {
    const p = join(dir, `case${i}.safetensors.index.json`)
    writeFileSync(p, text)
    await expectCode(readShardIndex(p), 'INDEX_INVALID', tensor, p).catch((e) => {
      throw new Error(`${what}: ${e}`)
    })
  }
  const ok = join(dir, 'ok.json')
  writeFileSync(ok, '{"metadata": {"total_size": 1.2e3}, "weight_map": {"__proto__": "a.safetensors"}}')
  const idx = await readShardIndex(ok)
  assert.equal(idx.totalSize, 1200)
  assert.equal(Object.keys(idx.weightMap)[0], '__proto__')
})

test('loose shards that share a tensor name are DUPLICATE_TENSOR; an empty folder is SHARD_MISSING', async () => {
  const dir = tempDir('shardpress-st-loose-')
  const spec = [{ name: 'w', dtype: 'U8' as Dtype, shape: [2], data: pattern(2) }]
  await writeSafetensors(join(dir, 'a.safetensors'), spec)
  await writeSafetensors(join(dir, 'b.safetensors'), spec)
  await expectCode(ShardedSafetensors.open(dir), 'DUPLICATE_TENSOR', 'w', join(dir, 'b.safetensors'))
  const empty = join(dir, 'empty')
  mkdirSync(empty)
  await expectCode(ShardedSafetensors.open(empty), 'SHARD_MISSING', undefined, empty)
  await expectCode(ShardedSafetensors.open(join(dir, 'nothing-here')), 'IO_ERROR')
})
