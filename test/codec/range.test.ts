// The native chunk range (REL bounds) against the TypeScript one in pipeline/values.ts, value for value: every
// dtype, NaN/±Inf/−0, subnormals, odd lengths and alignments, FP8 block scales including zero/NaN/negative scales.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CodecError, chunkValueRange } from '../../src-main/core/codec'
import type { CodecDtype, Fp8BlockScales } from '../../src-main/core/codec/types'
import { chunkRange } from '../../src-main/core/pipeline/values'
import { WIDTH } from './checker'

/** Deterministic pseudo-random bytes (xorshift), so a failure reproduces. */
function bytes(n: number, seed: number): Uint8Array {
  let x = seed >>> 0 || 1
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** Random weights-like values encoded in dtype (no NaN/Inf unless `specials`). */
function values(dtype: CodecDtype, n: number, seed: number, specials: boolean): Uint8Array {
  const raw = bytes(n * WIDTH[dtype], seed)
  const dv = new DataView(raw.buffer)
  for (let i = 0; i < n; i++) {
    if (dtype === 'BF16' || dtype === 'F16') {
      // Keep exponents moderate so most values are finite.
      const hi =
        dtype === 'BF16'
          ? (raw[2 * i + 1]! & 0x80) | (0x38 + (raw[2 * i + 1]! & 0x07))
          : (raw[2 * i + 1]! & 0x80) | (0x28 + (raw[2 * i + 1]! & 0x0f))
      raw[2 * i + 1] = hi
    } else if (dtype === 'F32') dv.setFloat32(4 * i, (raw[4 * i]! - 128) * 0.013 * (1 + raw[4 * i + 1]!), true)
    else if (dtype === 'F64') dv.setFloat64(8 * i, (raw[8 * i]! - 128) * 1e-3 * (1 + raw[8 * i + 1]!), true)
    else if (dtype === 'F8_E4M3' && (raw[i]! & 0x7f) === 0x7f) raw[i] = raw[i]! & 0xf0
    else if (dtype === 'F8_E5M2' && (raw[i]! & 0x7c) === 0x7c) raw[i] = raw[i]! & 0x83
  }
  if (specials && n > 8) {
    const put = (i: number, v: number) => {
      if (dtype === 'BF16') dv.setUint16(2 * i, (new Uint32Array(new Float32Array([v]).buffer)[0]! >>> 16) | 0, true)
      else if (dtype === 'F16')
        dv.setUint16(2 * i, v === Number.POSITIVE_INFINITY ? 0x7c00 : Number.isNaN(v) ? 0x7e00 : 0x8000, true)
      else if (dtype === 'F32') dv.setFloat32(4 * i, v, true)
      else if (dtype === 'F64') dv.setFloat64(8 * i, v, true)
      else raw[i] = dtype === 'F8_E4M3' ? 0x7f : Number.isNaN(v) ? 0x7e : 0x7c
    }
    put(3, Number.NaN)
    put(n - 2, Number.POSITIVE_INFINITY)
    put(5, -0)
  }
  return raw
}

const same = (
  a: { min: number; max: number; nonFinite: number },
  b: { min: number; max: number; nonFinite: number },
  what: string,
) => {
  assert.ok(Object.is(a.min, b.min), `${what}: min ${a.min} vs ${b.min}`)
  assert.ok(Object.is(a.max, b.max), `${what}: max ${a.max} vs ${b.max}`)
  assert.equal(a.nonFinite, b.nonFinite, `${what}: nonFinite`)
}

test('native chunk range equals the TypeScript range for every dtype, length, alignment and special value', () => {
  for (const dtype of ['BF16', 'F16', 'F32', 'F64', 'F8_E4M3', 'F8_E5M2'] as const) {
    for (const n of [0, 1, 2, 7, 4096, 4097, 20000]) {
      for (const specials of [false, true]) {
        const b = values(dtype, n, n * 31 + (specials ? 7 : 3), specials)
        same(chunkValueRange(b, dtype), chunkRange(b, dtype), `${dtype} n=${n} specials=${specials}`)
        // Odd byte offset: the native scan must not assume alignment.
        const odd = new Uint8Array(b.length + 1)
        odd.set(b, 1)
        same(chunkValueRange(odd.subarray(1), dtype), chunkRange(b, dtype), `${dtype} n=${n} unaligned`)
      }
    }
  }
})

test('native chunk range under FP8 block scales, mid-tensor chunks, zero/negative/NaN scales', () => {
  const rows = 300
  const cols = 333 // not a multiple of the 128-column block
  const scaleCols = Math.ceil(cols / 128)
  const scales = new Float32Array(Math.ceil(rows / 128) * scaleCols)
  for (let i = 0; i < scales.length; i++) scales[i] = 1e-3 * (i + 1)
  for (const [dtype, specials] of [
    ['F8_E4M3', true],
    ['F8_E5M2', true],
    ['F8_E4M3', false],
    ['F8_E5M2', false],
  ] as const) {
    // With NaN/Inf codes, most block rows are walked value by value; without, blocks are scaled whole.
    const all = values(dtype, rows * cols, 99, specials)
    for (const variant of ['plain', 'zero', 'negative', 'nan', 'one'] as const) {
      const s = scales.slice()
      if (variant === 'zero') s[1] = 0
      if (variant === 'negative') s[2] = -0.5
      if (variant === 'nan') s[3] = Number.NaN
      if (variant === 'one') s.fill(1)
      const fp8: Fp8BlockScales = { cols, blockRows: 128, blockCols: 128, scaleCols, scales: s }
      for (const [first, count] of [
        [0, rows * cols],
        [cols * 5, cols * 130],
        [cols * 127, cols * 2],
        [cols * 299, cols],
        // Starting and ending mid-row and mid-block (the range pass cuts a window into blocks anywhere).
        [cols * 5 + 17, 1000],
        [cols * 120 + 300, cols * 9 + 31],
        [7, 40],
      ] as const) {
        const chunk = all.subarray(first, first + count)
        same(
          chunkValueRange(chunk, dtype, first, fp8),
          chunkRange(chunk, dtype, first, fp8),
          `${dtype} ${specials ? 'with' : 'without'} specials, ${variant} scales @${first}+${count}`,
        )
      }
    }
  }
  // A block geometry with a zero is refused, not divided by.
  const scales1 = new Float32Array(4).fill(1)
  for (const bad of [
    { cols: 4, blockRows: 0, blockCols: 2, scaleCols: 2, scales: scales1 },
    { cols: 4, blockRows: 2, blockCols: 0, scaleCols: 2, scales: scales1 },
    { cols: 0, blockRows: 2, blockCols: 2, scaleCols: 2, scales: scales1 },
  ])
    assert.throws(
      () => chunkValueRange(new Uint8Array(16), 'F8_E4M3', 0, bad),
      (e: unknown) => e instanceof CodecError && e.code === 'BAD_PARAMS',
    )
})

test('FP8 range with block scales: extremes in any block, vector body or tail, block rows cut by the span', () => {
  // 260 columns: two whole 128-column blocks and one of 4; block rows of 3, so spans end mid block row.
  const rows = 40
  const cols = 260
  const fp8: Fp8BlockScales = { cols, blockRows: 3, blockCols: 128, scaleCols: 3, scales: new Float32Array(14 * 3) }
  for (let i = 0; i < fp8.scales.length; i++) fp8.scales[i] = 0.25 + ((i * 7) % 11) / 3
  for (const dtype of ['F8_E4M3', 'F8_E5M2'] as const) {
    const big = dtype === 'F8_E4M3' ? 0x7e : 0x7b // the largest finite magnitudes
    for (const at of [0, 31, 32, 127, 128, 200, 255, 256, 259, 260 * 7 + 129, rows * cols - 1]) {
      for (const sign of [0, 0x80]) {
        const b = values(dtype, rows * cols, 3 + at, false)
        b[at] = big | sign
        for (const [first, count] of [
          [0, rows * cols],
          [at, 1],
          [Math.max(0, at - 40), 97],
          [cols * 4, cols * 5 + 3],
        ] as const) {
          if (first + count > b.length) continue
          const chunk = b.subarray(first, first + count)
          same(
            chunkValueRange(chunk, dtype, first, fp8),
            chunkRange(chunk, dtype, first, fp8),
            `${dtype} extreme ${sign ? '-' : '+'} at ${at}, span @${first}+${count}`,
          )
        }
      }
    }
  }
})

test('16-bit range: extremes in the vector body or the tail, all-negative chunks, ±0 only', () => {
  // ±1e30 in BF16, ±65504 (the largest finite half) in F16.
  const extreme = (dtype: 'BF16' | 'F16', sign: number) =>
    dtype === 'BF16' ? (sign > 0 ? 0x7149 : 0xf149) : sign > 0 ? 0x7bff : 0xfbff
  for (const dtype of ['BF16', 'F16'] as const) {
    const n = 4099 // 256 vector steps of 16 and a tail of 3
    for (const at of [0, 17, 4095, 4096, 4098]) {
      for (const sign of [1, -1]) {
        const b = values(dtype, n, 5 + at, false)
        const dv = new DataView(b.buffer)
        // All negative (sign bit set everywhere), or as generated; then one extreme planted at `at`.
        if (sign < 0) for (let i = 0; i < n; i++) b[2 * i + 1]! |= 0x80
        dv.setUint16(2 * at, extreme(dtype, sign), true)
        same(chunkValueRange(b, dtype), chunkRange(b, dtype), `${dtype} extreme ${sign} at ${at}`)
      }
    }
    const zeros = new Uint8Array(2 * n)
    const dz = new DataView(zeros.buffer)
    for (let i = 0; i < n; i++) dz.setUint16(2 * i, i % 3 === 0 ? 0x8000 : 0, true)
    same(chunkValueRange(zeros, dtype), chunkRange(zeros, dtype), `${dtype} ±0`)
  }
})
