// compressChunkInto: the same bytes as compressChunk, written into a caller's buffer (nothing allocated per chunk),
// with the length returned; a target too small or overlapping the input is refused by name.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type ChunkCodecParams,
  CodecError,
  compressChunk,
  compressChunkInto,
  maxCompressedChunkSize,
} from '../../src-main/core/codec/index'
import { patternTensor } from './fixtures'

test('compressChunkInto writes compressChunk bytes at the start of the target and returns their length', () => {
  for (const dtype of ['BF16', 'F32', 'F8_E4M3'] as const) {
    for (const eb of [0, 1e-3]) {
      const n = 5000
      const input = patternTensor(dtype, 'weights', n, 3)
      const p: ChunkCodecParams = { dtype, mode: eb > 0 ? 'abs' : 'lossless', eb, rowLength: 100, firstElement: 0 }
      const target = new Uint8Array(new SharedArrayBuffer(maxCompressedChunkSize(n, dtype) + 7)).fill(0xee)
      const length = compressChunkInto(input, p, target)
      const expected = compressChunk(input, p)
      assert.equal(length, expected.length)
      assert.deepEqual(target.subarray(0, length), expected)
      assert.ok(
        target.subarray(length).every((b) => b === 0xee),
        'nothing written past the chunk',
      )
    }
  }
})

test('compressChunkInto refuses a target too small or overlapping the input', () => {
  const input = patternTensor('BF16', 'weights', 4096, 5)
  const p: ChunkCodecParams = { dtype: 'BF16', mode: 'lossless', eb: 0, rowLength: 64, firstElement: 0 }
  const code = (f: () => unknown) => {
    try {
      f()
      return 'ok'
    } catch (e) {
      assert.ok(e instanceof CodecError)
      return e.code
    }
  }
  assert.equal(
    code(() => compressChunkInto(input, p, new Uint8Array(10))),
    'BAD_PARAMS',
  )
  const shared = new Uint8Array(input.length * 3)
  shared.set(input)
  assert.equal(
    code(() => compressChunkInto(shared.subarray(0, input.length), p, shared.subarray(input.length / 2))),
    'BAD_PARAMS',
  )
})
