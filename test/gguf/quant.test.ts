// Q8_0 / Q4_0 blocks and half-precision conversion against vectors written by hand from ggml's reference
// formulas (FORMATS.md §D), including the negative halves where Math.round and C's roundf disagree.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  bf16BitsToNumber,
  dequantizeQ4_0,
  dequantizeQ8_0,
  f16BitsToNumber,
  f32ToBf16Bits,
  f32ToF16Bits,
  quantizeQ4_0,
  quantizeQ8_0,
} from '../../src-main/core/gguf'

function block(values: number[]): Float32Array {
  const out = new Float32Array(32)
  out.set(values)
  return out
}

test('f32 → f16 rounds to nearest even, handles subnormals, overflow, NaN and signed zero', () => {
  assert.equal(f32ToF16Bits(1), 0x3c00)
  assert.equal(f32ToF16Bits(-2), 0xc000)
  assert.equal(f32ToF16Bits(0.5), 0x3800)
  assert.equal(f32ToF16Bits(-0), 0x8000)
  assert.equal(f32ToF16Bits(65504), 0x7bff)
  assert.equal(f32ToF16Bits(65520), 0x7c00) // halfway to the next binade rounds to even: infinity
  assert.equal(f32ToF16Bits(65519), 0x7bff)
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00) // tie → even mantissa 0
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02) // tie → even mantissa 2
  assert.equal(f32ToF16Bits(2 ** -24), 0x0001) // smallest subnormal
  assert.equal(f32ToF16Bits(2 ** -25), 0x0000) // exact tie with 0 → even (0)
  assert.equal(f32ToF16Bits(3 * 2 ** -25), 0x0002) // tie between 1 and 2 → 2
  assert.equal(f32ToF16Bits(2 ** -14 - 2 ** -25), 0x0400) // rounds up into the smallest normal
  assert.equal(f32ToF16Bits(Number.POSITIVE_INFINITY), 0x7c00)
  assert.equal(f32ToF16Bits(Number.NaN) & 0x7c00, 0x7c00)
  assert.notEqual(f32ToF16Bits(Number.NaN) & 0x3ff, 0)
  for (const h of [0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0xbc01, 0xfbff])
    assert.equal(f32ToF16Bits(f16BitsToNumber(h)), h)
})

test('f32 → bf16 rounds to nearest even and keeps NaN quiet', () => {
  assert.equal(f32ToBf16Bits(1), 0x3f80)
  assert.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80) // tie → even
  assert.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82)
  assert.equal(f32ToBf16Bits(-1 - 2 ** -7), 0xbf81)
  assert.equal(f32ToBf16Bits(Number.NaN), 0x7fc0)
  assert.equal(bf16BitsToNumber(0x4049), 3.140625)
})

test('Q8_0: d = amax/127 as fp16, q = roundf(x/d) with halves away from zero', () => {
  // amax 127 → d = 1, id = 1: q is roundf(x) itself.
  const a = block([127, 0.5, -0.5, 2.5, -2.5, 1.4999999, -1.4999999, -127, 0.49999997, -126.5])
  const qa = quantizeQ8_0(a)
  assert.equal(qa.length, 34)
  const expectA = [0x00, 0x3c, 127, 1, 0xff, 3, 0xfd, 1, 0xff, 0x81, 0, 0x81, ...new Array(22).fill(0)]
  assert.deepEqual([...qa], expectA)
  // amax 63.5 → d = 0.5 (fp16 0x3800), id = 2; a second block follows the first directly.
  const b = block([0.25, -0.25, 0.75, -0.75, 63.5, -63.5, 0.2, -0.3])
  const qb = quantizeQ8_0(new Float32Array([...b, ...new Float32Array(32)]))
  assert.equal(qb.length, 68)
  assert.deepEqual([...qb.subarray(0, 10)], [0x00, 0x38, 1, 0xff, 2, 0xfe, 127, 0x81, 0, 0xff])
  assert.deepEqual([...qb.subarray(34)], new Array(34).fill(0)) // all-zero block: d = 0, id = 0
  assert.deepEqual([...dequantizeQ8_0(qb).subarray(0, 8)], [0.5, -0.5, 1, -1, 63.5, -63.5, 0, -0.5])
})

test('Q4_0: d = signed max/−8, nibble = min(15, trunc(x/d + 8.5)), low nibble k, high nibble k+16', () => {
  // Signed max −8 → d = 1 (fp16 0x3c00), id = 1.
  const x = new Array(32).fill(0)
  Object.assign(x, { 0: -8, 1: 7, 2: 7.6, 3: -0.5, 4: 0.5, 5: -2.5, 6: -7.5, 7: -7.6 })
  Object.assign(x, { 16: -1.5, 17: 2.5, 18: -6.5, 19: 6.49 })
  const q = quantizeQ4_0(block(x))
  assert.equal(q.length, 18)
  // element → nibble: −8→0, 7→15, 7.6→15 (clamped), −0.5→8, 0.5→9, −2.5→6, −7.5→1, −7.6→0, zeros→8,
  // −1.5→7, 2.5→11, −6.5→2, 6.49→14
  const lo = [0, 15, 15, 8, 9, 6, 1, 0, 8, 8, 8, 8, 8, 8, 8, 8]
  const hi = [7, 11, 2, 14, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]
  assert.deepEqual([...q], [0x00, 0x3c, ...lo.map((l, k) => l | (hi[k]! << 4))])
})

test('Q4_0 takes the first of two equal magnitudes as the signed max', () => {
  const first = quantizeQ4_0(block([4, -4, 1]))
  // max = +4 → d = −0.5 (fp16 0xb800), id = −2: 4 → 0, −4 → trunc(16.5) = 16 → 15, 1 → trunc(6.5) = 6
  assert.deepEqual([...first.subarray(0, 5)], [0x00, 0xb8, 0x80 | 0x00, 0x80 | 15, 0x80 | 6])
  const second = quantizeQ4_0(block([-4, 4, 1]))
  // max = −4 → d = 0.5 (0x3800), id = 2: −4 → 0, 4 → 15, 1 → trunc(10.5) = 10
  assert.deepEqual([...second.subarray(0, 5)], [0x00, 0x38, 0x80 | 0, 0x80 | 15, 0x80 | 10])
  assert.deepEqual([...dequantizeQ4_0(second).subarray(0, 3)], [-4, 3.5, 1])
})

test('Q8_0 and Q4_0 stay within their step on random data and refuse partial blocks', () => {
  let seed = 7
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0
    return (seed / 2 ** 32) * 2 - 1
  }
  const v = new Float32Array(32 * 50).map(() => rand() * 0.1)
  const d8 = dequantizeQ8_0(quantizeQ8_0(v))
  const d4 = dequantizeQ4_0(quantizeQ4_0(v))
  for (let b = 0; b < 50; b++) {
    const slice = v.subarray(b * 32, b * 32 + 32)
    const amax = Math.max(...slice.map(Math.abs))
    // Half a step, plus what storing d as fp16 (11-bit mantissa) moves the largest levels by.
    const fp16Slack = amax * 2 ** -10
    for (let j = 0; j < 32; j++) {
      assert.ok(Math.abs(d8[b * 32 + j]! - slice[j]!) <= (amax / 127) * 0.5 + fp16Slack)
      // Q4_0's grid is [−8, 7]·d: a value near −max is clamped to level 7, a full step away.
      assert.ok(Math.abs(d4[b * 32 + j]! - slice[j]!) <= amax / 8 + fp16Slack)
    }
  }
  assert.throws(() => quantizeQ8_0(new Float32Array(31)), RangeError)
  assert.throws(() => quantizeQ4_0(new Float32Array(40)), RangeError)
})
