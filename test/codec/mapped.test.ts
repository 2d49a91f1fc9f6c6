// Mapped file regions as codec inputs: every chunk call gives the same answer for a region as for the same bytes
// read into memory, from any offset (not page-aligned) and on worker threads; a region past the end of the file is
// refused by name, an unmapped one is refused as a bad parameter, and every mapping is let go.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  type ChunkCodecParams,
  CodecError,
  chunkValueRange,
  chunkValueRangeAsync,
  compressChunk,
  compressChunkMeasured,
  crc32,
  decompressChunk,
  decompressChunkInto,
  mapFileRegion,
  mappedRegionCount,
  mappingSupported,
  sliceRegion,
  unmapFileRegion,
} from '../../src-main/core/codec/index'
import { createPipelinePool } from '../../src-main/core/pipeline/pool'
import type { CompressResult } from '../../src-main/core/pipeline/tasks'
import { tempDir } from '../helpers/paths'
import { type Pattern, patternTensor } from './fixtures'

const skip = !mappingSupported() && 'no file mapping on this system'

/** A file holding `pad` bytes of junk, then the tensor bytes, then junk again. */
async function fileWith(bytes: Uint8Array, pad: number) {
  const path = join(tempDir('sp-mapped-'), 'data.bin')
  const all = new Uint8Array(pad + bytes.length + 100).fill(0x5a)
  all.set(bytes, pad)
  writeFileSync(path, all)
  return { path, fh: await open(path, 'r') }
}

test('a mapped region reads as the same bytes: compress, measure, range, CRC and decode agree', { skip }, async () => {
  const before = mappedRegionCount()
  for (const dtype of ['BF16', 'F32', 'F8_E4M3'] as const) {
    const n = 20_000
    const bytes = patternTensor(dtype, 'weights', n, 5)
    const p: ChunkCodecParams = { dtype, mode: 'abs', eb: 1e-3, rowLength: 200, firstElement: 0 }
    // An odd offset: the mapping starts on a page boundary, the region does not.
    const { fh } = await fileWith(bytes, 4096 * 3 + 777)
    try {
      const region = await mapFileRegion(fh.fd, 4096 * 3 + 777, bytes.length)
      assert.equal(region.length, bytes.length)
      assert.deepEqual(compressChunk(region, p), compressChunk(bytes, p))
      const m = compressChunkMeasured(region, p, p.eb)
      const e = compressChunkMeasured(bytes, p, p.eb)
      assert.deepEqual(m, e)
      assert.deepEqual(chunkValueRange(region, dtype), chunkValueRange(bytes, dtype))
      // On a libuv thread, with a first element other than 0: the same answer.
      assert.deepEqual(await chunkValueRangeAsync(region, dtype, 4000), chunkValueRange(bytes, dtype, 4000))
      // With pieces: the same range, and each piece's CRC (the last one shorter), from the same pass.
      const B = bytes.length / n
      for (const piece of [3000 * B, 7 * B, n * B, 2 * n * B]) {
        const { crcs, ...range } = await chunkValueRangeAsync(region, dtype, 4000, undefined, piece)
        assert.deepEqual(range, chunkValueRange(bytes, dtype, 4000), `${dtype} range in pieces of ${piece}`)
        const expected: number[] = []
        for (let at = 0; at < bytes.length; at += piece) expected.push(crc32(bytes.subarray(at, at + piece)))
        assert.deepEqual(crcs, expected, `${dtype} CRCs of pieces of ${piece} bytes`)
      }
      await assert.rejects(chunkValueRangeAsync(region, dtype, 0, undefined, B + 0.5), /pieceBytes/)
      if (B > 1) await assert.rejects(chunkValueRangeAsync(region, dtype, 0, undefined, B + 1), /pieceBytes/)
      assert.equal(crc32(region), crc32(bytes))
      unmapFileRegion(region)

      // Decoding from a mapped compressed chunk.
      const packed = compressChunk(bytes, p)
      const { fh: fh2 } = await fileWith(packed, 13)
      try {
        const r2 = await mapFileRegion(fh2.fd, 13, packed.length)
        const target = new Uint8Array(bytes.length)
        decompressChunkInto(r2, p, n, target)
        assert.deepEqual(target, decompressChunk(packed, p, n))
        assert.deepEqual(decompressChunk(r2, p, n), target)
        unmapFileRegion(r2)
      } finally {
        await fh2.close()
      }
    } finally {
      await fh.close()
    }
  }
  assert.equal(mappedRegionCount(), before, 'every region was let go')
})

test('a region reaching past the end of the file is refused as PAST_END; an unmapped one as BAD_PARAMS', {
  skip,
}, async () => {
  const bytes = patternTensor('BF16', 'weights', 1000, 1)
  const { fh } = await fileWith(bytes, 100)
  try {
    const size = (await fh.stat()).size
    await assert.rejects(
      mapFileRegion(fh.fd, 100, size),
      (e: unknown) => e instanceof CodecError && e.code === 'PAST_END',
    )
    await assert.rejects(mapFileRegion(fh.fd, 0, 0), (e: unknown) => e instanceof CodecError && e.code === 'BAD_PARAMS')
    const r = await mapFileRegion(fh.fd, 100, bytes.length)
    assert.equal(unmapFileRegion(r), true)
    assert.equal(unmapFileRegion(r), false, 'a region is let go once')
    assert.throws(
      () => crc32(r),
      (e: unknown) => e instanceof CodecError && e.code === 'BAD_PARAMS',
    )
  } finally {
    await fh.close()
  }
})

test('a region stays readable after its file is closed, and workers compress from it', { skip }, async () => {
  const n = 1 << 16
  const bytes = patternTensor('BF16', 'weights', n, 9)
  const { fh } = await fileWith(bytes, 4096)
  const region = await mapFileRegion(fh.fd, 4096, bytes.length)
  await fh.close()
  const pool = createPipelinePool(2)
  try {
    const p: ChunkCodecParams = { dtype: 'BF16', mode: 'abs', eb: 1e-3, rowLength: 256, firstElement: 0 }
    const target = new Uint8Array(new SharedArrayBuffer(bytes.length + 64))
    const r = (await pool.run({
      kind: 'compress',
      bytes: region,
      target,
      params: p,
      elementCount: n,
      decodeCheck: false,
      file: 'data.bin',
      tensor: 't',
    })) as CompressResult
    assert.deepEqual(target.subarray(0, r.length), compressChunk(bytes, p))
    assert.equal(r.inputCrc, crc32(bytes))
  } finally {
    await pool.close()
    unmapFileRegion(region)
  }
})

test('slices of a region read their own bytes and keep the mapping while held', { skip }, async () => {
  const before = mappedRegionCount()
  const n = 30_000
  const bytes = patternTensor('BF16', 'weights', n, 4)
  const { fh } = await fileWith(bytes, 999)
  const whole = await mapFileRegion(fh.fd, 999, bytes.length)
  await fh.close()
  const p: ChunkCodecParams = { dtype: 'BF16', mode: 'abs', eb: 1e-3, rowLength: 100, firstElement: 0 }
  // Three chunks of 10,000 elements, as the pipeline cuts a tensor mapped whole.
  const slices = [0, 1, 2].map((k) => sliceRegion(whole, k * 20_000, 20_000))
  assert.equal(unmapFileRegion(whole), true, 'the whole region goes first')
  for (const [k, s] of slices.entries()) {
    const part = bytes.subarray(k * 20_000, (k + 1) * 20_000)
    assert.deepEqual(
      compressChunk(s, { ...p, firstElement: k * 10_000 }),
      compressChunk(part, { ...p, firstElement: k * 10_000 }),
    )
    assert.equal(crc32(s), crc32(part))
  }
  assert.throws(
    () => sliceRegion(slices[0]!, 10_000, 10_001),
    (e: unknown) => e instanceof CodecError && e.code === 'BAD_PARAMS',
  )
  assert.throws(
    () => sliceRegion(whole, 0, 1),
    (e: unknown) => e instanceof CodecError && e.code === 'BAD_PARAMS',
  )
  for (const s of slices) unmapFileRegion(s)
  assert.equal(mappedRegionCount(), before)
})

test('a range pass in pieces matches separate range and CRC passes, every dtype and length', { skip }, async () => {
  const before = mappedRegionCount()
  const patterns: Pattern[] = ['weights', 'specials', 'allNaN', 'subnormal', 'huge', 'constant', 'ramp']
  // Lengths around the fused kernel's 64-byte blocks and its two-block minimum, and a few large odd ones.
  const lengths = [1, 15, 16, 31, 32, 33, 63, 64, 65, 95, 96, 97, 127, 128, 129, 1000, 4099, 65_537]
  for (const dtype of ['BF16', 'F16', 'F32', 'F8_E5M2'] as const) {
    for (const [k, pattern] of patterns.entries()) {
      const n = 70_001
      const bytes = patternTensor(dtype, pattern, n, 40 + k)
      const { fh } = await fileWith(bytes, 999)
      try {
        const B = bytes.length / n
        for (const len of lengths) {
          const region = await mapFileRegion(fh.fd, 999, len * B)
          for (const piece of [len * B, 31 * B, 1000 * B]) {
            if (piece === 0) continue
            const { crcs, ...range } = await chunkValueRangeAsync(region, dtype, 0, undefined, piece)
            const part = bytes.subarray(0, len * B)
            assert.deepEqual(range, chunkValueRange(part, dtype), `${dtype} ${pattern} ${len} in pieces of ${piece}`)
            const expected: number[] = []
            for (let at = 0; at < part.length; at += piece) expected.push(crc32(part.subarray(at, at + piece)))
            assert.deepEqual(crcs, expected, `${dtype} ${pattern} ${len}: CRCs of pieces of ${piece}`)
          }
          unmapFileRegion(region)
        }
      } finally {
        await fh.close()
      }
    }
  }
  assert.equal(mappedRegionCount(), before)
})

test('the async range pass takes block scales along and refuses memory it could not hold', { skip }, async () => {
  // 256 KB: past the 64 KB blocks a pass with pieces scans at a time, so blocks start inside scale blocks.
  const rows = 1024
  const cols = 256
  const bytes = patternTensor('F8_E4M3', 'weights', rows * cols, 8)
  const scales = Float32Array.from({ length: 16 }, (_, i) => 0.5 + i * (i % 3 ? 1 : -0.03))
  const fp8 = { cols, blockRows: 128, blockCols: 128, scaleCols: 2, scales }
  const { fh } = await fileWith(bytes, 321)
  try {
    const region = await mapFileRegion(fh.fd, 321, bytes.length)
    const expected = chunkValueRange(bytes, 'F8_E4M3', 0, fp8)
    const pending = chunkValueRangeAsync(region, 'F8_E4M3', 0, fp8)
    const inPieces = chunkValueRangeAsync(region, 'F8_E4M3', 0, fp8, 50_000)
    scales.fill(1000) // the native side works on its own copy
    assert.deepEqual(await pending, expected)
    const { crcs, ...range } = await inPieces
    assert.deepEqual(range, expected)
    assert.equal(crcs?.length, Math.ceil(bytes.length / 50_000))
    unmapFileRegion(region)
    await assert.rejects(
      chunkValueRangeAsync(region, 'F8_E4M3'),
      (e: unknown) => e instanceof CodecError && e.code === 'BAD_PARAMS',
    )
  } finally {
    await fh.close()
  }
})
