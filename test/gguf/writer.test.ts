// The GGUF writer on its own: every metadata type round-trips with its exact type, tensors are aligned and in
// order, node-llama-cpp's parser agrees, the file appears only when complete, and bad input is refused.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { readGgufFileInfo } from 'node-llama-cpp'
import { GgmlType, type GgufError, GgufFile, GgufWriter } from '../../src-main/core/gguf'
import { tempDir } from '../helpers/paths'

const work = tempDir('shardpress-gguf-writer-')
after(() => rmSync(work, { recursive: true, force: true }))

test('metadata of every GGUF type and aligned tensors round-trip', async () => {
  const file = join(work, 'all-types.gguf')
  const w = new GgufWriter(file)
  w.set('t.u8', { type: 'u8', value: 255 })
  w.set('t.i8', { type: 'i8', value: -128 })
  w.set('t.u16', { type: 'u16', value: 65535 })
  w.set('t.i16', { type: 'i16', value: -32768 })
  w.u32('t.u32', 4294967295)
  w.i32('t.i32', -2147483648)
  w.f32('t.f32', 1e-5)
  w.bool('t.bool', true)
  w.str('t.str', 'héllo ▁ 🦙')
  w.set('t.u64', { type: 'u64', value: 2n ** 63n })
  w.set('t.i64', { type: 'i64', value: -5n })
  w.set('t.f64', { type: 'f64', value: Math.PI })
  w.array('t.arr.str', 'str', ['a', '', 'ü'])
  w.array('t.arr.f32', 'f32', [0.5, -1])
  w.array('t.arr.i32', 'i32', [1, -2, 3])
  const a = new Uint8Array(3 * 4).fill(7)
  const b = new Uint8Array(32 * 2 * 2).fill(9)
  w.addTensor({ name: 'a', ne: [3], type: GgmlType.F32, data: async () => a })
  w.addTensor({ name: 'b', ne: [32, 2], type: GgmlType.F16, data: async () => b })
  const r = await w.write()
  assert.equal(r.bytes, readFileSync(file).length)

  const g = await GgufFile.open(file)
  try {
    assert.equal(g.version, 3)
    const kv = (k: string) => g.metadata.get(k)
    assert.deepEqual(kv('t.u8'), { type: 'u8', value: 255 })
    assert.deepEqual(kv('t.i8'), { type: 'i8', value: -128 })
    assert.deepEqual(kv('t.i16'), { type: 'i16', value: -32768 })
    assert.deepEqual(kv('t.u32'), { type: 'u32', value: 4294967295 })
    assert.deepEqual(kv('t.i32'), { type: 'i32', value: -2147483648 })
    assert.deepEqual(kv('t.f32'), { type: 'f32', value: Math.fround(1e-5) })
    assert.deepEqual(kv('t.bool'), { type: 'bool', value: true })
    assert.deepEqual(kv('t.str'), { type: 'str', value: 'héllo ▁ 🦙' })
    assert.deepEqual(kv('t.u64'), { type: 'u64', value: 2n ** 63n })
    assert.deepEqual(kv('t.i64'), { type: 'i64', value: -5n })
    assert.deepEqual(kv('t.f64'), { type: 'f64', value: Math.PI })
    assert.deepEqual(g.get('t.arr.str'), ['a', '', 'ü'])
    assert.deepEqual(kv('t.arr.i32'), { type: 'arr', itemType: 'i32', values: [1, -2, 3] })
    assert.deepEqual(
      g.tensors.map((t) => [t.name, t.offset, t.byteLength]),
      [
        ['a', 0, 12],
        ['b', 32, 128],
      ],
    )
    assert.equal(g.dataOffset % 32, 0)
    assert.deepEqual([...(await g.read('b'))], [...b])
    assert.equal(r.bytes, g.dataOffset + 32 + 128)
  } finally {
    await g.close()
  }
  const info = await readGgufFileInfo(file, { readTensorInfo: true })
  assert.equal(info.version, 3)
  assert.equal(info.tensorInfo?.[1]?.name, 'b')
})

test('a failing tensor leaves no file behind; duplicates, bad values and partial blocks are refused', async () => {
  const file = join(work, 'broken.gguf')
  const w = new GgufWriter(file)
  w.addTensor({ name: 'x', ne: [4], type: GgmlType.F32, data: async () => new Uint8Array(12) })
  await assert.rejects(w.write(), (e: GgufError) => e.code === 'GGUF_SHAPE' && e.tensor === 'x')
  assert.equal(existsSync(file), false)
  assert.deepEqual(
    readdirSync(work).filter((f) => f.startsWith('broken')),
    [],
  )
  assert.throws(
    () => w.u32('k', 1).u32('k', 2),
    (e: GgufError) => e.code === 'GGUF_DUPLICATE',
  )
  assert.throws(
    () => w.addTensor({ name: 'x', ne: [4], type: GgmlType.F32, data: async () => new Uint8Array(16) }),
    (e: GgufError) => e.code === 'GGUF_DUPLICATE',
  )
  assert.throws(() => w.addTensor({ name: 'q', ne: [40, 2], type: GgmlType.Q8_0, data: async () => new Uint8Array(0) }))
  const v = new GgufWriter(join(work, 'bad-value.gguf'))
  v.u32('neg', -1)
  await assert.rejects(v.write(), (e: GgufError) => e.code === 'GGUF_BAD_VALUE')
  await assert.rejects(GgufFile.open(join(work, 'nothing.gguf')))
})
