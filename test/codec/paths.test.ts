// The encoder's faster paths must not change what is guaranteed: 15-bit models (wide alphabets) and the
// per-thread memo of the 16-bit grid quantizer (kept across chunks for one bound) round-trip within the bound,
// checked by the independent checker.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type ChunkCodecParams, compressChunk, decompressChunk } from '../../src-main/core/codec/index'
import { checkBound } from './checker'
import { encodeValues, gaussian, rng } from './fixtures'

function noise(n: number, sigma: number, seed: number): Uint8Array {
  const r = rng(seed)
  return encodeValues(
    'BF16',
    Array.from({ length: n }, () => gaussian(r) * sigma),
  )
}

/** Model precision of a single-model quantized chunk: the low 3 bits of its table's first byte, plus 9. */
function scaleBits(chunk: Uint8Array): number {
  assert.equal(chunk[2], 2, 'expected a quantized chunk')
  assert.equal(chunk[13], 0, 'expected a single-model chunk')
  let i = 14
  for (;;) {
    const b = chunk[i++] ?? 0
    if (b < 0x80) break
  }
  return ((chunk[i] ?? 0) & 7) + 9
}

function params(eb: number, rowLength = 1024): ChunkCodecParams {
  return { dtype: 'BF16', mode: 'abs', eb, rowLength, firstElement: 0 }
}

test('wide alphabets take a 15-bit model, narrow ones stay at 14 bits or below, both within the bound', () => {
  const n = 1 << 20
  const x = noise(n, 0.02, 5)
  for (const [eb, wide] of [
    [4.4e-4, true],
    [1e-3, false],
  ] as const) {
    const p = params(eb)
    const chunk = compressChunk(x, p)
    const sb = scaleBits(chunk)
    if (wide) assert.equal(sb, 15, `eb ${eb}: a 1,000-symbol alphabet should take 15-bit precision`)
    else assert.ok(sb <= 14, `eb ${eb}: ${sb}-bit model for a narrow alphabet`)
    const check = checkBound('BF16', x, decompressChunk(chunk, p, n), eb)
    assert.ok(check.ok, `eb ${eb}: ${check.firstBad}`)
  }
})

test('the quantizer memo follows the bound: interleaved bounds give the same chunks as fresh ones', () => {
  const n = 20000
  const a = noise(n, 0.02, 6)
  const b = noise(n, 0.05, 7)
  const first = compressChunk(a, params(1e-3, 100))
  const other = compressChunk(b, params(3e-3, 100))
  const again = compressChunk(a, params(1e-3, 100))
  assert.deepEqual(again, first)
  assert.ok(checkBound('BF16', a, decompressChunk(first, params(1e-3, 100), n), 1e-3).ok)
  assert.ok(checkBound('BF16', b, decompressChunk(other, params(3e-3, 100), n), 3e-3).ok)
  // The same values under a coarser bound after the memo was filled for a finer one.
  const coarse = compressChunk(a, params(3e-3, 100))
  assert.ok(checkBound('BF16', a, decompressChunk(coarse, params(3e-3, 100), n), 3e-3).ok)
  assert.ok(coarse.byteLength < first.byteLength)
})
