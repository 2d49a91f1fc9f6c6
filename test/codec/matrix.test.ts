// Round-trip matrix: dtypes × modes × bounds × shapes, every result checked by the independent checker.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type CodecDtype,
  compressChunk,
  compressTensor,
  decompressChunk,
  decompressChunkInto,
  decompressTensor,
  type ErrorMode,
  maxCompressedChunkSize,
  resolveBound,
} from '../../src-main/core/codec/index'
import { checkBound, checkBoundWide, valueAt, WIDTH } from './checker'
import { encodeValues, type Pattern, patternTensor } from './fixtures'

const DTYPES: CodecDtype[] = ['BF16', 'F16', 'F32', 'F64', 'F8_E4M3', 'F8_E5M2']
const SHAPES: number[][] = [[0], [1], [7], [33, 17], [64, 64], [5, 1000], [512, 40]]
const PATTERNS: Pattern[] = ['weights', 'constant', 'allNaN', 'huge', 'subnormal', 'specials', 'ramp', 'stacked']
const BOUNDS: Array<{ mode: ErrorMode; bound: number }> = [
  { mode: 'lossless', bound: 0 },
  { mode: 'abs', bound: 1e-5 },
  { mode: 'abs', bound: 1e-3 },
  { mode: 'abs', bound: 0.1 },
  { mode: 'rel', bound: 1e-3 },
  { mode: 'rel', bound: 1e-2 },
]

test('every dtype × mode × bound × shape × pattern round-trips within the bound', () => {
  let cases = 0
  for (const dtype of DTYPES) {
    for (const shape of SHAPES) {
      const n = shape.reduce((a, b) => a * b, 1)
      for (const pattern of PATTERNS) {
        const input = patternTensor(dtype, pattern, n, cases + 1)
        for (const { mode, bound } of BOUNDS) {
          const c = compressTensor(input, { dtype, mode, bound, shape, chunkElements: 16384 })
          const out = decompressTensor({
            dtype,
            eb: c.eb,
            mode,
            shape,
            chunks: c.chunks,
            chunkElements: c.chunkElements,
          })
          const r = checkBound(dtype, input, out, mode === 'lossless' ? 0 : c.eb)
          assert.ok(r.ok, `${dtype} ${shape.join('x')} ${pattern} ${mode} ${bound}: ${r.firstBad}`)
          for (let k = 0; k < c.chunks.length; k++) {
            const chunk = c.chunks[k] ?? new Uint8Array()
            assert.ok(chunk.byteLength <= maxCompressedChunkSize(c.chunkElements[k] ?? 0, dtype))
          }
          cases++
        }
      }
    }
  }
  assert.equal(cases, DTYPES.length * SHAPES.length * PATTERNS.length * BOUNDS.length)
})

test('BF16 and F16 with F32 output: every shape × pattern × bound round-trips within the bound', () => {
  let cases = 0
  for (const dtype of ['BF16', 'F16'] as const) {
    for (const shape of SHAPES) {
      const n = shape.reduce((a, b) => a * b, 1)
      for (const pattern of PATTERNS) {
        const input = patternTensor(dtype, pattern, n, cases + 7)
        for (const { mode, bound } of BOUNDS) {
          const o = { dtype, mode, bound, shape, chunkElements: 16384, outputDtype: 'F32' as const }
          const c = compressTensor(input, o)
          const out = decompressTensor({ ...o, eb: c.eb, chunks: c.chunks, chunkElements: c.chunkElements })
          const r = checkBoundWide(dtype, input, out, mode === 'lossless' ? 0 : c.eb)
          assert.ok(r.ok, `${dtype}→F32 ${shape.join('x')} ${pattern} ${mode} ${bound}: ${r.firstBad}`)
          for (let k = 0; k < c.chunks.length; k++) {
            const chunk = c.chunks[k] ?? new Uint8Array()
            assert.ok(chunk.byteLength <= maxCompressedChunkSize(c.chunkElements[k] ?? 0, dtype))
          }
          cases++
        }
      }
    }
  }
  assert.equal(cases, 2 * SHAPES.length * PATTERNS.length * BOUNDS.length)
})

test('F32 output costs fewer bits than BF16 output where a BF16 ulp is near the bound, and the same elsewhere', () => {
  // Weights of σ = 0.02: a BF16 ulp there is about 1.2e-4. At eb = 1e-4 a BF16 centre can take one code per bin,
  // an F32 centre two; at eb = 1e-2 the grid is far finer than the bound and both outputs bin alike.
  const shape = [256, 256]
  const input = patternTensor('BF16', 'weights', 256 * 256, 3)
  const size = (bound: number, outputDtype?: 'F32') =>
    compressTensor(input, { dtype: 'BF16', mode: 'abs', bound, shape, outputDtype }).bytes
  assert.ok(size(1e-4, 'F32') < size(1e-4) * 0.97, `eb 1e-4: F32 ${size(1e-4, 'F32')} vs BF16 ${size(1e-4)}`)
  assert.ok(Math.abs(size(1e-2, 'F32') - size(1e-2)) < size(1e-2) * 0.01)
})

test('lossy bf16 weights compress well below their raw size and use most of the bound', () => {
  const shape = [256, 256]
  const input = patternTensor('BF16', 'weights', 65536, 42)
  const c = compressTensor(input, { dtype: 'BF16', mode: 'abs', bound: 1e-3, shape })
  const out = decompressTensor({
    dtype: 'BF16',
    eb: c.eb,
    mode: 'abs',
    shape,
    chunks: c.chunks,
    chunkElements: c.chunkElements,
  })
  const r = checkBound('BF16', input, out, 1e-3)
  assert.ok(r.ok, r.firstBad)
  assert.ok(r.maxErr > 0.5e-3, `max error ${r.maxErr} should use the bound`)
  assert.ok(input.byteLength / c.bytes > 2.5, `ratio ${input.byteLength / c.bytes}`)
})

test('lossless bf16 weights are bit-exact and smaller than raw', () => {
  const input = patternTensor('BF16', 'weights', 65536, 7)
  const c = compressTensor(input, { dtype: 'BF16', mode: 'lossless', bound: 0, shape: [65536] })
  const out = decompressTensor({
    dtype: 'BF16',
    eb: 0,
    mode: 'lossless',
    shape: [65536],
    chunks: c.chunks,
    chunkElements: c.chunkElements,
  })
  assert.deepEqual(out, input)
  assert.ok(input.byteLength / c.bytes > 1.4, `ratio ${input.byteLength / c.bytes}`)
})

test('a small tensor pays little side information', () => {
  // 4,096 values at ABS 1e-3: the coded size stays close to the ideal order-0 size of its indices.
  const input = patternTensor('BF16', 'weights', 4096, 11)
  const counts = new Map<number, number>()
  for (let i = 0; i < 4096; i++) {
    const q = Math.round(valueAt('BF16', input, i) / 2e-3)
    counts.set(q, (counts.get(q) ?? 0) + 1)
  }
  let bits = 0
  for (const c of counts.values()) bits -= c * Math.log2(c / 4096)
  const chunk = compressChunk(input, { dtype: 'BF16', mode: 'abs', eb: 1e-3, rowLength: 64, firstElement: 0 })
  assert.ok(chunk.byteLength < (bits / 8) * 1.1 + 40, `${chunk.byteLength} bytes vs ideal ${(bits / 8).toFixed(0)}`)
})

test('FP8 with block scales: bounds hold in dequantized units and codes stay under the same scales', () => {
  const rows = 48
  const cols = 40
  const blockRows = 16
  const blockCols = 16
  const scaleCols = Math.ceil(cols / blockCols)
  const scales = new Float32Array(Math.ceil(rows / blockRows) * scaleCols)
  for (let k = 0; k < scales.length; k++) scales[k] = 2 ** -(k % 5) * 0.01
  const fp8 = { cols, blockRows, blockCols, scaleCols, scales }
  for (const dtype of ['F8_E4M3', 'F8_E5M2'] as const) {
    const input = patternTensor(dtype, 'weights', rows * cols, 3)
    for (const mode of ['lossless', 'abs', 'rel'] as const) {
      const bound = mode === 'abs' ? 1e-5 : mode === 'rel' ? 0.05 : 0
      const c = compressTensor(input, { dtype, mode, bound, shape: [rows, cols], fp8, chunkElements: 16 * cols })
      const out = decompressTensor({
        dtype,
        eb: c.eb,
        mode,
        shape: [rows, cols],
        fp8,
        chunks: c.chunks,
        chunkElements: c.chunkElements,
      })
      const r = checkBound(dtype, input, out, mode === 'lossless' ? 0 : c.eb, fp8)
      assert.ok(r.ok, `${dtype} ${mode}: ${r.firstBad}`)
    }
  }
})

test('chunks starting beyond 2^32 elements and decoding into a caller buffer work', () => {
  const input = patternTensor('BF16', 'weights', 640, 9)
  const p = { dtype: 'BF16', mode: 'abs', eb: 1e-3, rowLength: 64, firstElement: 2 ** 33 } as const
  const chunk = compressChunk(input, p)
  const target = new Uint8Array(2000)
  decompressChunkInto(chunk, p, 640, target.subarray(100, 100 + 1280))
  assert.deepEqual(target.subarray(100, 1380), decompressChunk(chunk, p, 640))
  assert.ok(checkBound('BF16', input, target.subarray(100, 1380), 1e-3).ok)
  assert.equal(target[99], 0)
  assert.equal(target[1380], 0)
  assert.throws(() => decompressChunkInto(chunk, p, 640, target.subarray(0, 10)), { code: 'BAD_PARAMS' })
})

test('resolveBound follows SZ3 REL and treats a flat tensor as lossless', () => {
  assert.equal(resolveBound('abs', 1e-3, -5, 5), 1e-3)
  assert.equal(resolveBound('rel', 1e-2, -1, 3), 0.04)
  assert.equal(resolveBound('rel', 1e-2, 2, 2), 0)
  assert.equal(resolveBound('lossless', 1e-2, 0, 1), 0)
  assert.throws(() => resolveBound('abs', -1, 0, 1), { code: 'BAD_PARAMS' })
})

test('decompressChunk refuses a chunk decoded with the wrong element count or dtype', () => {
  const input = patternTensor('F32', 'weights', 100, 5)
  const p = { dtype: 'F32', mode: 'abs', eb: 1e-3, rowLength: 10, firstElement: 0 } as const
  const chunk = compressChunk(input, p)
  assert.throws(() => decompressChunk(chunk, p, 99), { code: 'SIZE_MISMATCH' })
  assert.throws(() => decompressChunk(chunk, { ...p, dtype: 'F64' }, 100), { name: 'CodecError' })
  assert.equal(WIDTH.F32 * 100, decompressChunk(chunk, p, 100).byteLength)
})

test('the independent checker itself rejects a value moved beyond the bound and a changed NaN payload', () => {
  const input = encodeValues('BF16', [0.5, Number.NaN, -0, 1])
  const moved = input.slice()
  moved[0] = (moved[0] ?? 0) + 1 // one bf16 ulp at 0.5 = 2^-8
  assert.equal(checkBound('BF16', input, moved, 1e-3).ok, false)
  assert.equal(checkBound('BF16', input, moved, 1e-2).ok, true)
  const nan = input.slice()
  nan[2] = (nan[2] ?? 0) ^ 1
  assert.equal(checkBound('BF16', input, nan, 1).ok, false)
  const negZero = input.slice()
  negZero[5] = 0 // −0 → +0
  assert.equal(checkBound('BF16', input, negZero, 1).ok, false)
})
