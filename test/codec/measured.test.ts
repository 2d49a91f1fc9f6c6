// compressChunkMeasured: the chunk bytes, the CRC-32s of the input, of the chunk and of what the decoder produces and
// the error sums must equal what compressChunk + decompressChunk + zlib crc32 + compareChunk give, for every dtype and mode.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { crc32 } from 'node:zlib'
import {
  type ChunkCodecParams,
  type CodecDtype,
  compressChunk,
  compressChunkMeasured,
  compressChunkMeasuredInto,
  decompressChunk,
  type Fp8BlockScales,
} from '../../src-main/core/codec/index'
import { compareChunk, sameErrorSums } from '../../src-main/core/pipeline/values'
import { WIDTH } from './checker'
import { encodeValues, FP8_TABLES, type Pattern, patternTensor, patternValues, quantizedLayout, rng } from './fixtures'

/** The same bytes at an odd byteOffset. */
function unaligned(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.byteLength + 1)
  copy.set(bytes, 1)
  return copy.subarray(1)
}

/** Asserts measured == compress + decode + crc32 + compareChunk (sums to rounding); returns the sums. */
function check(input: Uint8Array, p: ChunkCodecParams, checkEb: number, label: string) {
  const n = input.byteLength / WIDTH[p.dtype]
  const m = compressChunkMeasured(input, p, checkEb)
  assert.deepStrictEqual(m.compressed, compressChunk(input, p), `${label}: compressed bytes`)
  const decoded = decompressChunk(m.compressed, p, n)
  assert.equal(m.decodedCrc, crc32(decoded) >>> 0, `${label}: decodedCrc`)
  assert.equal(m.inputCrc, crc32(input) >>> 0, `${label}: inputCrc`)
  assert.equal(m.compressedCrc, crc32(m.compressed) >>> 0, `${label}: compressedCrc`)
  // Into a target (dirty, larger than needed), with and without the input's CRC: the same chunk and figures.
  const target = new Uint8Array(m.compressed.length + 5000).fill(0xa5)
  for (const inputCrc of [true, false]) {
    const into = compressChunkMeasuredInto(input, p, checkEb, target, { inputCrc })
    assert.deepStrictEqual(target.subarray(0, into.length), m.compressed, `${label}: bytes into a target`)
    assert.equal(into.compressedCrc, m.compressedCrc, `${label}: compressedCrc into a target`)
    assert.equal(into.decodedCrc, m.decodedCrc, `${label}: decodedCrc into a target`)
    assert.equal(into.inputCrc, inputCrc ? m.inputCrc : undefined, `${label}: inputCrc ${inputCrc ? '' : 'not '}asked`)
    assert.deepStrictEqual(into.sums, m.sums, `${label}: sums into a target`)
  }
  const reference = compareChunk(input, decoded, p.dtype, checkEb, p.firstElement, p.fp8)
  assert.ok(
    sameErrorSums(m.sums, reference),
    `${label}: sums ${JSON.stringify(m.sums)} vs ${JSON.stringify(reference)}`,
  )
  return m.sums
}

const DTYPES: CodecDtype[] = ['BF16', 'F16', 'F32', 'F64', 'F8_E4M3', 'F8_E5M2']
const PATTERNS: Pattern[] = ['weights', 'constant', 'allNaN', 'huge', 'subnormal', 'specials', 'ramp', 'stacked']
// 7 × 15000: past the size where 16-bit chunks count codes, over several digest blocks and a partial one.
const SHAPES: number[][] = [[0], [1], [7], [33, 17], [5, 1000], [3, 9000], [7, 15000]]

test('measured compress matches compress + decode + crc32 + compareChunk for every dtype, mode and shape', () => {
  let cases = 0
  let lossyChunks = 0
  for (const dtype of DTYPES) {
    for (const shape of SHAPES) {
      const n = shape.reduce((a, b) => a * b, 1)
      const rowLength = Math.max(1, shape[shape.length - 1] ?? 1)
      for (const pattern of PATTERNS) {
        const input = patternTensor(dtype, pattern, n, cases + 11)
        for (const eb of [0, 1e-4, 1e-2, 0.3]) {
          const p: ChunkCodecParams = { dtype, mode: eb > 0 ? 'abs' : 'lossless', eb, rowLength, firstElement: 0 }
          const label = `${dtype} ${shape.join('x')} ${pattern} eb=${eb}`
          check(input, p, eb, label)
          check(unaligned(input), p, eb, `${label} unaligned`)
          const c = compressChunk(input, p)
          if (c[2] === 2) lossyChunks++
          cases++
        }
      }
    }
  }
  assert.equal(cases, DTYPES.length * SHAPES.length * PATTERNS.length * 4)
  assert.ok(lossyChunks > 100, `only ${lossyChunks} chunks took the quantized path`)
})

test('measured sums count errors above a check bound tighter than the coding bound', () => {
  for (const dtype of DTYPES) {
    const input = patternTensor(dtype, 'weights', 20000, 5)
    const p: ChunkCodecParams = { dtype, mode: 'abs', eb: 1e-2, rowLength: 100, firstElement: 0 }
    const sums = check(input, p, 1e-3, `${dtype} tight`)
    assert.ok(sums.over > 0, `${dtype}: no value over the tighter bound`)
    assert.equal(check(input, p, 1e-2, `${dtype} own bound`).over, 0)
    assert.ok(sums.sumSq > 0 && sums.maxAbs <= 1e-2)
  }
})

test('measured sums take the value-by-value path where sums overflow or NaN sits in one block only', () => {
  // F64 errors near 1e200 square to Inf: values.ts falls back to its exact pass, and so must the native sums.
  const huge = patternTensor('F64', 'huge', 3000, 2)
  check(huge, { dtype: 'F64', mode: 'abs', eb: 1e200, rowLength: 3000, firstElement: 0 }, 1e200, 'F64 overflow')
  for (const dtype of ['BF16', 'F32', 'F8_E5M2'] as const) {
    const values = patternValues('weights', 30000, 9, 1)
    values[9000] = Number.NaN
    values[20000] = Number.NEGATIVE_INFINITY
    values[20001] = -0
    values[25000] = 0
    const input = encodeValues(dtype, values, dtype === 'F8_E5M2' ? FP8_TABLES[dtype] : undefined)
    const p: ChunkCodecParams = { dtype, mode: 'abs', eb: 1e-3, rowLength: 300, firstElement: 0 }
    check(input, p, 1e-3, `${dtype} one NaN block`)
    check(unaligned(input), p, 1e-3, `${dtype} one NaN block unaligned`)
  }
  // Only zeros: Math.min/max order −0 below +0.
  for (const dtype of ['BF16', 'F32', 'F64'] as const) {
    const zeros = encodeValues(dtype, [0, -0, 0, -0, 0])
    const s = check(zeros, { dtype, mode: 'abs', eb: 1e-3, rowLength: 5, firstElement: 0 }, 1e-3, `${dtype} zeros`)
    assert.ok(Object.is(s.min, -0) && Object.is(s.max, 0))
  }
})

/** A scale grid for a rows × cols FP8 tensor with blocks of br × bc, awkward scales at the given indices. */
function scaleGrid(rows: number, cols: number, br: number, bc: number, special: number[] = []): Fp8BlockScales {
  const scaleCols = Math.ceil(cols / bc)
  const scales = new Float32Array(Math.ceil(rows / br) * scaleCols)
  for (let k = 0; k < scales.length; k++) scales[k] = 2 ** -(k % 7) * 3e-3 * (1 + (k % 3) / 7)
  const odd = [0, Number.NaN, Number.POSITIVE_INFINITY, -1e-3, 1e-30]
  special.forEach((k, j) => {
    scales[k % scales.length] = odd[j % odd.length] ?? 0
  })
  return { cols, blockRows: br, blockCols: bc, scaleCols, scales }
}

test('measured FP8 with block scales: partial blocks, chunks starting mid block row, odd scales', () => {
  for (const dtype of ['F8_E4M3', 'F8_E5M2'] as const) {
    for (const [rows, cols, br, bc] of [
      [40, 300, 16, 128],
      [9, 7, 4, 4],
      [300, 130, 128, 128],
    ] as const) {
      const fp8 = scaleGrid(rows, cols, br, bc, [1, 4, 6, 9, 11])
      const all = patternTensor(dtype, 'weights', rows * cols, rows + cols)
      const allSpecials = patternTensor(dtype, 'specials', rows * cols, 3)
      for (const [label, input] of [
        ['weights', all],
        ['specials', allSpecials],
      ] as const) {
        for (const firstRow of [0, 3, Math.floor(rows / 2)]) {
          const sub = input.subarray(firstRow * cols)
          for (const eb of [0, 1e-5, 1e-3, 5e-2]) {
            const p: ChunkCodecParams = {
              dtype,
              mode: eb > 0 ? 'abs' : 'lossless',
              eb,
              rowLength: cols,
              firstElement: firstRow * cols,
              fp8,
            }
            const name = `${dtype} ${rows}x${cols}/${br}x${bc} ${label} from row ${firstRow} eb=${eb}`
            check(sub, p, eb, name)
            check(unaligned(sub), p, eb / 2, `${name} unaligned, half bound`)
          }
        }
      }
    }
  }
})

test('measured 16-bit chunks large enough for code counts: escapes, specials, predictor, lossless fallback', () => {
  // Chunks of 40,000+ elements take their sums from per-code counts (native/src/measure/codes.hpp).
  const n = 48000
  const cols = 400
  const predicted: number[] = []
  for (const dtype of ['BF16', 'F16'] as const) {
    const weights = patternValues('weights', n, 21, 1)
    // Escapes, NaN, ±Inf and −0 scattered over many 8192-element blocks.
    const specials = weights.slice()
    for (let i = 0; i < n; i += 997) specials[i] = [Number.NaN, Number.POSITIVE_INFINITY, -0, 0, -1e30][(i / 997) % 5]!
    // Embedding-like rows: a per-column offset far above the noise, so the column-offset predictor pays.
    const r = rng(4)
    const offsets = Array.from({ length: cols }, () => (r() - 0.5) * 2)
    const embedding = weights.map((w, i) => offsets[i % cols]! + w * 0.01)
    // Larger offsets, every 101st element of the opposite sign: residuals beyond the alphabet, which the predictor
    // turns into exact escapes (F16 at eb 2e-3 takes Lorenzo 2D with ~250 of them).
    const flipped = weights.map((w, i) => (i % 101 === 0 ? -8 : 8) * offsets[i % cols]! + w * 0.08)
    // All ≥ 0, NaN in every 8192-element block, +0 before −0: compareChunk takes such blocks value by value, whose
    // range keeps the first zero (+0), where per-code counts would say −0; the element pass must answer.
    const nonNegative = weights.map((w, i) => [0, Number.NaN, -0][i % 8192] ?? Math.abs(w))
    for (const [label, values] of [
      ['weights', weights],
      ['specials', specials],
      ['embedding', embedding],
      ['flipped', flipped],
      ['nonNegative', nonNegative],
    ] as const) {
      const input = encodeValues(dtype, values)
      for (const eb of [1e-4, 2e-3, 3e-2]) {
        const p: ChunkCodecParams = { dtype, mode: 'abs', eb, rowLength: cols, firstElement: 0 }
        const name = `${dtype} ${label} eb=${eb}`
        const sums = check(input, p, eb, name)
        check(input, p, eb / 3, `${name} tighter check`)
        check(unaligned(input), p, eb, `${name} unaligned`)
        assert.equal(sums.count, n)
        const layout = quantizedLayout(compressChunk(input, p))
        if (layout && layout.predictor !== 0) predicted.push(layout.escapes)
      }
      // Below half an ulp the quantized chunk is no smaller: lossless fallback, all errors zero.
      const p: ChunkCodecParams = { dtype, mode: 'abs', eb: 1e-9, rowLength: cols, firstElement: 0 }
      const s = check(input, p, 1e-9, `${dtype} ${label} lossless fallback`)
      assert.ok(s.sumAbs === 0 && s.over === 0 && s.maxAbs === 0)
    }
  }
  assert.ok(predicted.length > 0, 'no chunk took a predictor')
})
