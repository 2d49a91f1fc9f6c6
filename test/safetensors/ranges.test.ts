// Positional reads: byte ranges of a tensor, readInto, and tensors beyond 2 GiB and 4 GiB (a sparse file, so the
// test costs a few kilobytes of disk): opening reads only the header, reads go straight to the offsets asked for.
import assert from 'node:assert/strict'
import { closeSync, ftruncateSync, openSync, rmSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { buildHeader, SafetensorsError, SafetensorsFile } from '../../src-main/core/safetensors'
import { tempDir } from '../helpers/paths'
import { pattern } from './fixtures'

const GiB = 2 ** 30
const BIG = 4 * GiB + 64 // bytes of the big tensor: past both the 2 GiB and the 4 GiB marks
const marks = [
  { at: 0, bytes: pattern(32, 1) },
  { at: 2 * GiB - 16, bytes: pattern(32, 2) }, // straddles 2 GiB
  { at: 4 * GiB - 8, bytes: pattern(40, 3) }, // straddles 4 GiB
  { at: BIG - 32, bytes: pattern(32, 4) }, // the last bytes
]
const tail = pattern(24, 5)
let file = ''
let sf: SafetensorsFile

before(async () => {
  file = join(tempDir('shardpress-st-ranges-'), 'sparse.safetensors')
  const { json, tensors } = buildHeader(
    [
      { name: 'big', dtype: 'BF16', shape: [BIG / 2] },
      { name: 'tail', dtype: 'U8', shape: [24] },
    ],
    { format: 'pt' },
    { order: 'given' },
  )
  const fd = openSync(file, 'w')
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  writeSync(fd, len, 0, 8, 0)
  writeSync(fd, json, 0, json.length, 8)
  const dataStart = 8 + json.length
  ftruncateSync(fd, dataStart + tensors[1]!.end)
  for (const m of marks) writeSync(fd, m.bytes, 0, m.bytes.length, dataStart + m.at)
  writeSync(fd, tail, 0, tail.length, dataStart + tensors[1]!.begin)
  closeSync(fd)
  sf = await SafetensorsFile.open(file)
})

after(async () => {
  await sf?.close()
  rmSync(file, { force: true }) // sparse, but a 4 GiB apparent size would still puzzle anyone listing /tmp
})

test('a 4 GiB tensor opens with correct offsets (the file is sparse: its data is never read on open)', () => {
  const big = sf.tensor('big')
  assert.equal(big.byteLength, BIG)
  assert.equal(big.elementCount, BIG / 2)
  assert.equal(big.fileOffset, sf.header.dataStart)
  assert.equal(sf.tensor('tail').begin, BIG)
  assert.equal(sf.fileSize, statSync(file).size)
  assert.ok(statSync(file).blocks * 512 < 16 * 2 ** 20, 'the fixture should be sparse')
})

test('range reads return the exact bytes at, across and past the 2 GiB and 4 GiB marks', async () => {
  for (const m of marks) {
    assert.deepEqual(await sf.read('big', m.at, m.at + m.bytes.length), m.bytes, `at ${m.at}`)
  }
  // A range overlapping a mark and the zeros beside it.
  const around = await sf.read('big', 2 * GiB - 24, 2 * GiB + 24)
  assert.deepEqual(around, Buffer.concat([Buffer.alloc(8), marks[1]!.bytes, Buffer.alloc(8)]))
  assert.deepEqual(await sf.read('tail'), tail)
  assert.deepEqual(await sf.read('tail', 20), tail.subarray(20))
  assert.equal((await sf.read('tail', 5, 5)).length, 0)
})

test('readInto fills a caller buffer from any offset and stops at the end of the tensor', async () => {
  const target = new Uint8Array(48)
  assert.equal(await sf.readInto('big', target, 4 * GiB - 8), 48)
  assert.deepEqual(Buffer.from(target.subarray(0, 40)), marks[2]!.bytes)
  assert.equal(await sf.readInto('big', target, BIG - 32), 32)
  assert.deepEqual(Buffer.from(target.subarray(0, 32)), marks[3]!.bytes)
  assert.equal(await sf.readInto('big', target, BIG), 0)
  const small = new Uint8Array(10)
  assert.equal(await sf.readInto('tail', small, 3), 10)
  assert.deepEqual(Buffer.from(small), tail.subarray(3, 13))
})

test('ranges outside the tensor are RANGE_OUT_OF_BOUNDS naming file and tensor', async () => {
  const bad: [number, number | undefined][] = [
    [-1, 4],
    [8, 4],
    [0, 25],
    [1.5, 4],
    [25, undefined],
  ]
  for (const [start, end] of bad) {
    await assert.rejects(sf.read('tail', start, end), (e: unknown) => {
      assert.ok(e instanceof SafetensorsError)
      assert.equal(e.code, 'RANGE_OUT_OF_BOUNDS')
      assert.equal(e.tensor, 'tail')
      assert.ok(e.message.includes(file))
      return true
    })
  }
  await assert.rejects(
    sf.readInto('big', new Uint8Array(4), BIG + 1),
    (e: unknown) => e instanceof SafetensorsError && e.code === 'RANGE_OUT_OF_BOUNDS',
  )
})

test('a file truncated after opening gives IO_ERROR, not short data', async () => {
  const copy = join(tempDir('shardpress-st-trunc-'), 'shrinking.safetensors')
  const { json } = buildHeader([{ name: 'x', dtype: 'U8', shape: [4096] }])
  const fd = openSync(copy, 'w')
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  writeSync(fd, Buffer.concat([len, json, pattern(4096)]))
  closeSync(fd)
  const f = await SafetensorsFile.open(copy)
  const fd2 = openSync(copy, 'r+')
  ftruncateSync(fd2, 8 + json.length + 100)
  closeSync(fd2)
  await assert.rejects(
    f.read('x'),
    (e: unknown) => e instanceof SafetensorsError && e.code === 'IO_ERROR' && e.tensor === 'x',
  )
  await f.close()
})
