import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  addSums,
  chunkRange,
  chunkValues,
  compareChunk,
  compareValues,
  emptySums,
  valueRange,
} from '../../src-main/core/pipeline/values'

test('error sums count values over the bound and treat NaN/Inf exactly', () => {
  const a = new Float64Array([1, 2, 3, Number.NaN, Number.POSITIVE_INFINITY, -0])
  const ok = compareValues(a, new Float64Array([1.1, 2, 2.95, Number.NaN, Number.POSITIVE_INFINITY, 0]), 0.1)
  assert.equal(ok.over, 0)
  assert.ok(Math.abs(ok.maxAbs - 0.1) < 1e-12)
  assert.deepEqual([ok.min, ok.max], [-0, 3])
  const bad = compareValues(a, new Float64Array([1.2, 2, 3, 0, Number.NEGATIVE_INFINITY, 0]), 0.1)
  assert.equal(bad.over, 3)
  const fast = compareValues(new Float64Array([0, 1, 2]), new Float64Array([0, 1.5, 2]), 0.25)
  assert.deepEqual(fast, { count: 3, sumAbs: 0.5, sumSq: 0.25, maxAbs: 0.5, over: 1, min: 0, max: 2 })
  assert.deepEqual(valueRange(new Float64Array([3, Number.NaN, -1])), { min: -1, max: 3, nonFinite: 1 })
})

test('BF16, F32 and scaled E4M3 bytes decode to the right values and compare chunk-wise', () => {
  // BF16 0x3F80 = 1, 0xC000 = −2; E4M3 0x38 = 1, 0x40 = 2 (× block scale).
  assert.deepEqual([...chunkValues(new Uint8Array([0x80, 0x3f, 0x00, 0xc0]), 'BF16')], [1, -2])
  const fp8 = { cols: 2, blockRows: 1, blockCols: 1, scaleCols: 2, scales: new Float32Array([0.5, 4, 2, 8]) }
  assert.deepEqual([...chunkValues(new Uint8Array([0x38, 0x40, 0x38, 0x40]), 'F8_E4M3', 0, fp8)], [0.5, 8, 2, 16])
  // Second row of the same matrix, as a chunk starting at element 2.
  assert.deepEqual([...chunkValues(new Uint8Array([0x38, 0x40]), 'F8_E4M3', 2, fp8)], [2, 16])
  const s = compareChunk(new Uint8Array([0x38, 0x40]), new Uint8Array([0x40, 0x40]), 'F8_E4M3', 1.5, 2, fp8)
  assert.equal(s.over, 1, '2 → 4 after scaling by 2 exceeds 1.5')
  assert.equal(s.maxAbs, 2)
  const f32 = new Uint8Array(new Float32Array([1.5, -2]).buffer)
  const f32b = new Uint8Array(new Float32Array([1.5, -2.25]).buffer)
  assert.equal(compareChunk(f32, f32b, 'F32', 0.25).over, 0)
  assert.equal(compareChunk(f32, f32b, 'F32', 0.2).over, 1)
})

test('chunk ranges skip NaN/Inf and match the whole-array range across scratch blocks', async () => {
  const { chunkRange } = await import('../../src-main/core/pipeline/values')
  const f = new Float32Array(20000).map((_, i) => Math.sin(i) * (i % 7))
  f[123] = Number.NaN
  f[19999] = Number.POSITIVE_INFINITY
  const r = chunkRange(new Uint8Array(f.buffer), 'F32')
  assert.equal(r.nonFinite, 2)
  assert.deepEqual(
    [r.min, r.max],
    [
      valueRange(chunkValues(new Uint8Array(f.buffer), 'F32')).min,
      valueRange(chunkValues(new Uint8Array(f.buffer), 'F32')).max,
    ],
  )
})

test('the fused chunk loops give bit-identical sums and ranges to block-wise compareValues/valueRange', () => {
  // Reference: decode everything to float64, then compare block by block (8192 values) and add up, as documented.
  const reference = (o: Uint8Array, r: Uint8Array, dtype: 'BF16' | 'F32' | 'F8_E4M3', eb: number) => {
    const a = chunkValues(o, dtype)
    const b = chunkValues(r, dtype)
    let sums = emptySums()
    let range = { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, nonFinite: 0 }
    for (let s = 0; s < a.length; s += 8192) {
      sums = addSums(sums, compareValues(a.subarray(s, s + 8192), b.subarray(s, s + 8192), eb))
      const v = valueRange(a.subarray(s, s + 8192))
      range = {
        min: Math.min(range.min, v.min),
        max: Math.max(range.max, v.max),
        nonFinite: range.nonFinite + v.nonFinite,
      }
    }
    sums.count = a.length
    return { sums, range }
  }
  const same = (x: object, y: object) => {
    for (const [k, v] of Object.entries(y)) assert.ok(Object.is((x as Record<string, number>)[k], v), `${k}: ${v}`)
  }
  let seed = 9
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0
    return seed / 2 ** 32
  }
  const n = 20001 // odd, and more than two blocks
  const f = new Float32Array(n)
  // Magnitudes over many octaves, so the float sums round and their order shows.
  for (let i = 0; i < n; i++) f[i] = (rnd() - 0.5) * 2 ** Math.floor(rnd() * 80 - 60)
  f[5] = -0
  f[17000] = Number.NaN // one block with NaN goes the exact way
  const g = f.map((x, i) => (i === 17000 ? Number.NaN : x * (1 + (rnd() - 0.5) * 2e-2)))
  const bf = (x: Float32Array) => {
    const u = new Uint16Array(x.length)
    const w = new Uint32Array(x.buffer, x.byteOffset, x.length)
    for (let i = 0; i < x.length; i++) u[i] = w[i]! >>> 16
    return new Uint8Array(u.buffer)
  }
  const e4 = (x: Float32Array) => Uint8Array.from(x, (v, i) => (Number.isNaN(v) ? 0x7f : (i % 126) | (i & 0x80)))
  const cases = [
    ['F32', new Uint8Array(f.buffer), new Uint8Array(g.buffer)],
    ['BF16', bf(f), bf(g)],
    ['F8_E4M3', e4(f), e4(g).map((c, i) => (i % 3 ? c : c ^ 1))],
  ] as const
  for (const [dtype, o, r] of cases) {
    const eb = 1e-3
    const want = reference(o, r, dtype, eb)
    same(compareChunk(o, r, dtype, eb), want.sums)
    same(chunkRange(o, dtype), want.range)
    // An odd byte offset takes the general (scratch) path; it must agree as well.
    const shifted = new Uint8Array(o.length + 1).fill(0)
    shifted.set(o, 1)
    if (dtype !== 'F8_E4M3') same(compareChunk(shifted.subarray(1), r, dtype, eb), want.sums)
  }
})
