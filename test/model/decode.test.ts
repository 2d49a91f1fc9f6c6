import assert from 'node:assert/strict'
import { test } from 'node:test'
import { codeTable, decodeBf16, decodeToFloat64 } from '../../src-main/core/model/decode'

test('BF16 decodes by shifting into the top half of a float32', () => {
  const bytes = new Uint8Array(new Uint16Array([0x3f80, 0xc000, 0x7f80, 0xff80, 0x7fc0, 0x0000, 0x8000, 0x3e80]).buffer)
  assert.deepEqual(Array.from(decodeBf16(bytes)), [1, -2, Infinity, -Infinity, Number.NaN, 0, -0, 0.25])
  assert.deepEqual(Array.from(decodeToFloat64('BF16', bytes)), [1, -2, Infinity, -Infinity, Number.NaN, 0, -0, 0.25])
})

test('F16 values, subnormals and specials', () => {
  const t = codeTable('F16')
  assert.equal(t[0x3c00], 1)
  assert.equal(t[0xc000], -2)
  assert.equal(t[0x7bff], 65504)
  assert.equal(t[0x0001], 2 ** -24)
  assert.equal(t[0x7c00], Infinity)
  assert.equal(t[0xfc00], -Infinity)
  assert.ok(Number.isNaN(t[0x7e00]!))
})

test('FP8 E4M3FN: max 448, NaN only at S.1111.111, subnormal step 2^-9', () => {
  const t = codeTable('F8_E4M3')
  assert.equal(t[0x7e], 448)
  assert.equal(t[0xfe], -448)
  assert.ok(Number.isNaN(t[0x7f]!))
  assert.ok(Number.isNaN(t[0xff]!))
  assert.equal(t[0x01], 2 ** -9)
  assert.equal(t[0x08], 2 ** -6)
  assert.equal(t[0x38], 1)
  assert.equal(t[0x78], 256)
  assert.equal(t.filter((v) => !Number.isFinite(v)).length, 2)
})

test('FP8 E5M2 has infinities; FNUZ variants have one NaN at 0x80 and no negative zero', () => {
  const e5 = codeTable('F8_E5M2')
  assert.equal(e5[0x7c], Infinity)
  assert.equal(e5[0xfc], -Infinity)
  assert.equal(e5[0x7b], 57344)
  assert.ok(Number.isNaN(e5[0x7d]!))
  const fnuz = codeTable('F8_E4M3FNUZ')
  assert.ok(Number.isNaN(fnuz[0x80]!))
  assert.equal(fnuz[0x7f], 240)
  assert.equal(fnuz.filter((v) => Number.isNaN(v)).length, 1)
  const e5fnuz = codeTable('F8_E5M2FNUZ')
  assert.equal(e5fnuz[0x7f], 57344)
  assert.ok(Number.isNaN(e5fnuz[0x80]!))
  const e8 = codeTable('F8_E8M0')
  assert.equal(e8[127], 1)
  assert.equal(e8[0], 2 ** -127)
  assert.ok(Number.isNaN(e8[255]!))
})

test('integers and 64-bit types decode to numbers', () => {
  assert.deepEqual(Array.from(decodeToFloat64('I8', new Uint8Array([0xff, 0x7f, 0x80]))), [-1, 127, -128])
  assert.deepEqual(Array.from(decodeToFloat64('I16', new Uint8Array(new Int16Array([-300, 7]).buffer))), [-300, 7])
  assert.deepEqual(Array.from(decodeToFloat64('I64', new Uint8Array(new BigInt64Array([-5n, 1n << 40n]).buffer))), [
    -5,
    2 ** 40,
  ])
  assert.deepEqual(Array.from(decodeToFloat64('F64', new Uint8Array(new Float64Array([0.1, -3]).buffer))), [0.1, -3])
  // An odd byte offset (a tensor inside a larger buffer) still decodes.
  const b = new Uint8Array(9)
  b.set(new Uint8Array(new Float32Array([1.5, -2]).buffer), 1)
  assert.deepEqual(Array.from(decodeToFloat64('F32', b.subarray(1))), [1.5, -2])
})
