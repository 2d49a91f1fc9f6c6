// The native CRC-32 (folded with carry-less multiplies where the CPU has them) against node:zlib's, which wrote
// every checksum already in containers: same values for every length, offset, continuation and kind of buffer.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { crc32 as zlibCrc32 } from 'node:zlib'
import { CodecError, copyBytes, crc32, crc32Combine, memoryOffset } from '../../src-main/core/codec/index'
import { noiseBytes as noise } from '../helpers/noise'

test('known CRC-32 values', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926)
  assert.equal(crc32(new Uint8Array(0)), 0)
  assert.equal(crc32(new Uint8Array(1_000_000).fill(0x61)), 0xdc25bfbc)
})

test('crc32 equals zlib for lengths 0..300 at every offset mod 16, and continued', () => {
  const b = noise(400, 1)
  for (let off = 0; off < 16; off++)
    for (let n = 0; n <= 300; n++) {
      const v = b.subarray(off, off + n)
      const want = zlibCrc32(v)
      assert.equal(crc32(v), want, `length ${n} offset ${off}`)
      const cut = n >> 1
      assert.equal(crc32(v.subarray(cut), crc32(v.subarray(0, cut))), want, `continued at ${cut} of ${n}`)
    }
})

test('crc32 equals zlib on megabytes, in pieces, and on shared memory', () => {
  const big = noise((3 << 20) + 77, 2)
  assert.equal(crc32(big), zlibCrc32(big))
  let c = 0
  for (let at = 0, step = 1; at < big.length; at += step, step = (step * 7 + 13) % 90_001) {
    c = crc32(big.subarray(at, at + step), c)
  }
  assert.equal(c, zlibCrc32(big))
  const shared = new Uint8Array(new SharedArrayBuffer(1 << 20))
  shared.set(big.subarray(0, shared.length))
  assert.equal(crc32(shared.subarray(3)), zlibCrc32(big.subarray(3, shared.length)))
  assert.equal(crc32(Buffer.from(big.subarray(0, 5000)), 0xffffffff), zlibCrc32(big.subarray(0, 5000), 0xffffffff))
})

test('memoryOffset is the address modulo 4096: views move it by their byte offset', () => {
  const b = new Uint8Array(new SharedArrayBuffer(1 << 16))
  const o = memoryOffset(b)
  assert.ok(o >= 0 && o < 4096)
  assert.equal(memoryOffset(b.subarray(100)), (o + 100) % 4096)
  assert.equal(memoryOffset(b.subarray(5000)), (o + 5000) % 4096)
})

test('copyBytes copies into the start of a target between shared and plain buffers, and refuses a short target', () => {
  const src = noise(100_003, 8)
  const shared = new Uint8Array(new SharedArrayBuffer(200_000)).fill(7)
  copyBytes(shared.subarray(5), src)
  assert.deepEqual(shared.subarray(5, 5 + src.length), src)
  assert.equal(shared[4], 7)
  assert.equal(shared[5 + src.length], 7, 'nothing past the source length is touched')
  const plain = new Uint8Array(src.length)
  copyBytes(plain, shared.subarray(5, 5 + src.length))
  assert.deepEqual(plain, src)
  // Overlapping views of one buffer: a memmove.
  copyBytes(shared.subarray(0), shared.subarray(5, 5 + src.length))
  assert.deepEqual(shared.subarray(0, src.length), src)
  assert.throws(
    () => copyBytes(new Uint8Array(10), src),
    (e: unknown) => e instanceof CodecError && e.code === 'BAD_PARAMS',
  )
})

test('crc32Combine joins the CRCs of two pieces into the CRC of both, at every split and length', () => {
  const big = noise((2 << 20) + 13, 3)
  const want = zlibCrc32(big)
  for (const cut of [0, 1, 7, 4096, 65_537, 1 << 20, big.length - 1, big.length]) {
    const a = big.subarray(0, cut)
    const b = big.subarray(cut)
    assert.equal(crc32Combine(zlibCrc32(a), zlibCrc32(b), b.length), want, `split at ${cut}`)
  }
  // Many pieces in order, as the pipeline joins a tensor's chunks.
  let c = 0
  for (let at = 0, step = 1; at < big.length; at += step, step = (step * 5 + 11) % 300_007) {
    const piece = big.subarray(at, at + step)
    c = crc32Combine(c, zlibCrc32(piece), piece.length)
  }
  assert.equal(c, want)
  // Appending zero bytes is a pure shift: crc(A ‖ 0^n) from crc(A) and crc(0^n).
  const zeros = new Uint8Array(100_000)
  assert.equal(crc32Combine(zlibCrc32(big), zlibCrc32(zeros), zeros.length), zlibCrc32(Buffer.concat([big, zeros])))
  assert.throws(() => crc32Combine(0, 0, -1), RangeError)
})
