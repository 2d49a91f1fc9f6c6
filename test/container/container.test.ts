import assert from 'node:assert/strict'
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { ContainerError } from '../../src-main/core/container/errors'
import {
  CONTAINER_VERSION,
  type ContainerIndex,
  decodeIndex,
  encodeIndex,
  PREAMBLE_SIZE,
  TRAILER_SIZE,
} from '../../src-main/core/container/format'
import { ContainerReader } from '../../src-main/core/container/reader'
import { ContainerWriter } from '../../src-main/core/container/writer'
import { compressModel } from '../../src-main/core/pipeline/compress'
import { decompressModel, verifyModel } from '../../src-main/core/pipeline/decompress'
import { createPipelinePool } from '../../src-main/core/pipeline/pool'
import { makePlan } from '../../src-main/core/plan/plan'
import { tempDir } from '../helpers/paths'
import { rng, writeFp8Model } from '../pipeline/fixtures'

const sampleIndex: ContainerIndex = {
  codecVersion: 1,
  shardSize: 1234,
  tensors: [
    {
      name: 'a.weight',
      dtype: 'F8_E4M3',
      shape: [4, 3],
      method: 'abs',
      mode: 'rel',
      bound: 1e-3,
      eb: 0.0125,
      min: -2,
      max: 10.5,
      rowLength: 3,
      elementCount: 12,
      byteLength: 12,
      begin: 0,
      crc: 0xdeadbeef,
      sha256: Buffer.alloc(32, 7),
      fp8: { scaleTensor: 'a.weight_scale_inv', blockRows: 128, blockCols: 128 },
      chunks: [
        { offset: 100, length: 7, firstElement: 0, elementCount: 6, crc: 1, decodedCrc: 2 },
        { offset: 107, length: 9, firstElement: 6, elementCount: 6, crc: 3, decodedCrc: 4 },
      ],
    },
    {
      name: 'ids',
      dtype: 'I64',
      shape: [],
      method: 'stored',
      mode: 'lossless',
      bound: 0,
      eb: 0,
      min: Number.NaN,
      max: Number.NaN,
      rowLength: 1,
      elementCount: 1,
      byteLength: 8,
      begin: 12,
      crc: 5,
      chunks: [{ offset: 116, length: 8, firstElement: 0, elementCount: 1, crc: 6, decodedCrc: 6 }],
    },
  ],
}

test('the binary index encodes and decodes every field', () => {
  const back = decodeIndex(encodeIndex(sampleIndex), 'x.spz')
  assert.deepEqual(back, sampleIndex)
})

test('an index whose chunks leave a gap in the tensor is refused with CORRUPT_INDEX', () => {
  const bad = structuredClone(sampleIndex)
  bad.tensors[0]!.chunks[1]!.firstElement = 7
  assert.throws(
    () => decodeIndex(encodeIndex(bad), 'x.spz'),
    (e: unknown) => e instanceof ContainerError && e.code === 'CORRUPT_INDEX' && e.tensor === 'a.weight',
  )
})

test('a written container opens, and a version from the future is named UNSUPPORTED_VERSION', async () => {
  const dir = tempDir()
  const header = Buffer.from(
    JSON.stringify({ x: { dtype: 'U8', shape: [3], data_offsets: [0, 3] }, __metadata__: { format: 'pt' } }),
  )
  const p = join(dir, 'x.spz')
  const w = await ContainerWriter.create(p, header)
  const off = await w.append(new Uint8Array([1, 2, 3]))
  const { crc32 } = await import('node:zlib')
  await w.finish({
    codecVersion: 1,
    shardSize: 8 + header.length + 3,
    tensors: [
      {
        name: 'x',
        dtype: 'U8',
        shape: [3],
        method: 'stored',
        mode: 'lossless',
        bound: 0,
        eb: 0,
        min: Number.NaN,
        max: Number.NaN,
        rowLength: 3,
        elementCount: 3,
        byteLength: 3,
        begin: 0,
        crc: crc32(new Uint8Array([1, 2, 3])),
        chunks: [
          {
            offset: off,
            length: 3,
            firstElement: 0,
            elementCount: 3,
            crc: crc32(new Uint8Array([1, 2, 3])),
            decodedCrc: crc32(new Uint8Array([1, 2, 3])),
          },
        ],
      },
    ],
  })
  const r = await ContainerReader.open(p)
  assert.ok(r.headerJson.equals(header))
  assert.deepEqual([...(await r.readChunk(r.tensor('x'), 0))], [1, 2, 3])
  await r.close()

  const b = readFileSync(p)
  b.writeUInt16LE(CONTAINER_VERSION + 1, 8)
  writeFileSync(p, b)
  await assert.rejects(
    ContainerReader.open(p),
    (e: unknown) => e instanceof ContainerError && e.code === 'UNSUPPORTED_VERSION',
  )
  b.write('NOTSPZ!!', 0, 'latin1')
  writeFileSync(p, b)
  await assert.rejects(
    ContainerReader.open(p),
    (e: unknown) => e instanceof ContainerError && e.code === 'NOT_A_CONTAINER',
  )
})

// One real compressed model, damaged in many ways.
const pool = createPipelinePool(2)
let model = ''
let clean = ''
let spz = ''
let reference: Buffer
before(async () => {
  model = await writeFp8Model(tempDir(), 5)
  clean = tempDir()
  await compressModel({ model, outDir: clean, plan: makePlan('abs', 2e-3), pool, chunkElements: 4096 })
  spz = 'model-00001-of-00002.safetensors.spz'
  const rec = tempDir()
  await decompressModel({ input: clean, outDir: rec, pool, original: false })
  reference = readFileSync(join(rec, 'model-00001-of-00002.safetensors'))
})
after(() => pool.close())

const NAMED = new Set([
  'NOT_A_CONTAINER',
  'UNSUPPORTED_VERSION',
  'TRUNCATED',
  'CORRUPT_PREAMBLE',
  'CORRUPT_HEADER',
  'CORRUPT_INDEX',
  'CORRUPT_CHUNK',
  'DECODED_MISMATCH',
  'TENSOR_CHECKSUM_MISMATCH',
  'INCONSISTENT',
  'MISSING_SCALE',
])

/** Copies the clean compressed model and lets `damage` alter its first container. */
function damagedCopy(damage: (b: Buffer, path: string) => void): string {
  const dir = tempDir()
  for (const f of ['shardpress.json', spz, 'model-00002-of-00002.safetensors.spz', 'config.json'])
    copyFileSync(join(clean, f), join(dir, f))
  const p = join(dir, spz)
  damage(readFileSync(p), p)
  return dir
}

test('every flipped byte of a container (all structural bytes, sampled data bytes) gives a named error', async () => {
  const size = readFileSync(join(clean, spz)).length
  const r = rng(9)
  const positions = new Set<number>()
  for (let i = 0; i < PREAMBLE_SIZE + 64; i++) positions.add(i)
  for (let i = size - TRAILER_SIZE - 300; i < size; i++) positions.add(i)
  while (positions.size < 600) positions.add(Math.floor(r() * size))
  let failures = 0
  for (const pos of positions) {
    const dir = damagedCopy((b, p) => {
      b[pos] = b[pos]! ^ (1 << Math.floor(r() * 8))
      writeFileSync(p, b)
    })
    const v = await verifyModel({ input: dir, original: false, pool })
    if (v.ok) {
      failures++
      continue
    }
    for (const pr of v.problems) assert.ok(NAMED.has(pr.code), `byte ${pos}: unnamed error ${pr.code} ${pr.message}`)
  }
  assert.equal(failures, 0, 'a damaged container was accepted')
})

test('a container cut at any length is refused with a named error', async () => {
  const size = readFileSync(join(clean, spz)).length
  const r = rng(11)
  const cuts = [0, 7, 31, 32, 100, size - 1, size - TRAILER_SIZE, size - TRAILER_SIZE - 1]
  for (let i = 0; i < 40; i++) cuts.push(Math.floor(r() * size))
  for (const cut of cuts) {
    const dir = damagedCopy((_b, p) => truncateSync(p, cut))
    await assert.rejects(
      decompressModel({ input: dir, outDir: tempDir(), pool, original: false }),
      (e: unknown) => e instanceof ContainerError && NAMED.has(e.code),
      `cut at ${cut}`,
    )
  }
})

test('decompress of a damaged data byte stops with CORRUPT_CHUNK naming the tensor, and writes no final file', async () => {
  const c = await ContainerReader.open(join(clean, spz))
  const t = c.tensors.find((x) => x.method === 'abs')!
  const at = t.chunks[0]!.offset + 3
  await c.close()
  const dir = damagedCopy((b, p) => {
    b[at] = b[at]! ^ 0x10
    writeFileSync(p, b)
  })
  const out = tempDir()
  await assert.rejects(
    decompressModel({ input: dir, outDir: out, pool, original: false }),
    (e: unknown) => e instanceof ContainerError && e.code === 'CORRUPT_CHUNK' && e.tensor === t.name,
  )
  const { readdirSync } = await import('node:fs')
  assert.ok(!readdirSync(out).includes('model-00001-of-00002.safetensors'))
  assert.ok(reference.length > 0)
})
