// The decoder trusts nothing: truncated, bit-flipped and random chunks must give a CodecError, never a crash,
// a hang or a wrong-length result.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type ChunkCodecParams,
  CodecError,
  compressChunk,
  compressChunkMeasured,
  decompressChunk,
  decompressChunkInto,
} from '../../src-main/core/codec/index'
import { encodeValues, gaussian, rng } from './fixtures'

function weights(n: number, seed: number): Uint8Array {
  const r = rng(seed)
  return encodeValues(
    'BF16',
    Array.from({ length: n }, () => gaussian(r) * 0.02),
  )
}

function decodeOrError(chunk: Uint8Array, p: ChunkCodecParams, n: number): 'ok' | string {
  try {
    const out = decompressChunk(chunk, p, n)
    assert.equal(out.byteLength, n * 2)
    return 'ok'
  } catch (err) {
    assert.ok(err instanceof CodecError, `expected CodecError, got ${String(err)}`)
    return err.code
  }
}

const PARAMS: ChunkCodecParams[] = [
  { dtype: 'BF16', mode: 'abs', eb: 1e-3, rowLength: 64, firstElement: 0 },
  { dtype: 'BF16', mode: 'lossless', eb: 0, rowLength: 64, firstElement: 0 },
]

test('every truncation of a chunk is reported as an error', () => {
  const n = 3000
  const input = weights(n, 1)
  for (const p of PARAMS) {
    const chunk = compressChunk(input, p)
    assert.equal(decodeOrError(chunk, p, n), 'ok')
    for (let len = 0; len < chunk.byteLength; len += len < 64 ? 1 : 37) {
      const code = decodeOrError(chunk.subarray(0, len), p, n)
      assert.notEqual(code, 'ok', `a chunk cut to ${len} of ${chunk.byteLength} bytes decoded`)
    }
  }
})

test('bit flips anywhere in a chunk are caught (checksum or structure)', () => {
  const n = 2000
  const input = weights(n, 2)
  const r = rng(99)
  for (const p of PARAMS) {
    const chunk = compressChunk(input, p)
    const codes = new Set<string>()
    for (let k = 0; k < 400; k++) {
      const bad = chunk.slice()
      const at = Math.floor(r() * bad.byteLength)
      bad[at] = (bad[at] ?? 0) ^ (1 << Math.floor(r() * 8))
      const code = decodeOrError(bad, p, n)
      assert.notEqual(code, 'ok', `flip at byte ${at} went unnoticed`)
      codes.add(code)
    }
    assert.ok(codes.size >= 2, `expected several kinds of error, saw ${[...codes].join(', ')}`)
  }
})

test('random garbage and wrong sizes never crash the decoder', () => {
  const r = rng(5)
  for (let k = 0; k < 300; k++) {
    const len = Math.floor(r() * 200)
    const junk = new Uint8Array(len).map(() => Math.floor(r() * 256))
    if (len > 4) {
      junk[0] = 0xb5 // right magic and version so decoding goes deeper
      junk[1] = 1
      junk[2] = Math.floor(r() * 3)
      junk[3] = 0
    }
    const n = Math.floor(r() * 100)
    if (len > 8) new DataView(junk.buffer).setUint32(4, n, true)
    const p = PARAMS[k % 2] as ChunkCodecParams
    const code = decodeOrError(junk, p, n)
    if (code === 'ok') assert.ok(n === 0 || len >= 12, 'garbage decoded')
  }
  assert.throws(() => decompressChunk(new Uint8Array(0), PARAMS[0] as ChunkCodecParams, 10), { code: 'TRUNCATED' })
  assert.throws(() => compressChunk(new Uint8Array(3), PARAMS[0] as ChunkCodecParams), { code: 'BAD_PARAMS' })
  assert.throws(() => compressChunk(new Uint8Array(4), { ...(PARAMS[0] as ChunkCodecParams), eb: Number.NaN }), {
    code: 'BAD_PARAMS',
  })
})

/** Rows whose scale changes every 32 rows (like a stack of matrices): the encoder picks block contexts. */
function stackedWeights(rows: number, cols: number, seed: number): Uint8Array {
  const r = rng(seed)
  const v: number[] = []
  for (let i = 0; i < rows; i++) {
    const scale = 0.004 * 2 ** ((Math.floor(i / 32) * 7) % 5)
    for (let c = 0; c < cols; c++) v.push(gaussian(r) * scale)
  }
  return encodeValues('BF16', v)
}

test('context-coded and predicted chunks also reject every corruption', () => {
  const cols = 64
  const rows = 256
  const stacked = stackedWeights(rows, cols, 8)
  const ramp = encodeValues(
    'BF16',
    Array.from({ length: rows * cols }, (_, i) => (i % cols) * 0.05 - 1.5),
  )
  const p: ChunkCodecParams = { dtype: 'BF16', mode: 'abs', eb: 1e-3, rowLength: cols, firstElement: 0 }
  const withContexts = compressChunk(stacked, p)
  assert.equal(withContexts[13], 1, 'the stacked tensor should be coded with block contexts (flags byte)')
  const predicted = compressChunk(ramp, p)
  assert.notEqual(predicted[12], 0, 'the column ramp should be coded with a predictor')
  const r = rng(17)
  for (const chunk of [withContexts, predicted]) {
    assert.equal(decodeOrError(chunk, p, rows * cols), 'ok')
    for (let len = 0; len < chunk.byteLength; len += 1 + Math.floor(r() * 50)) {
      assert.notEqual(decodeOrError(chunk.subarray(0, len), p, rows * cols), 'ok')
    }
    for (let k = 0; k < 300; k++) {
      const bad = chunk.slice()
      const at = Math.floor(r() * bad.byteLength)
      bad[at] = (bad[at] ?? 0) ^ (1 << Math.floor(r() * 8))
      assert.notEqual(decodeOrError(bad, p, rows * cols), 'ok', `flip at byte ${at} went unnoticed`)
    }
  }
})

test('F32 output: chunks say so, decode only with it, reject every truncation, and no flip changes values unnoticed', () => {
  const n = 3000
  const input = weights(n, 3)
  const r = rng(23)
  for (const base of PARAMS) {
    const p: ChunkCodecParams = { ...base, outputDtype: 'F32' }
    const chunk = compressChunk(input, p)
    assert.equal(chunk[1], 4, 'F32-output chunks are version 4')
    assert.equal(decompressChunk(chunk, p, n).byteLength, n * 4)
    // The setting must match both ways: a version-4 wide chunk read as BF16, a BF16 chunk read as F32.
    assert.throws(() => decompressChunk(chunk, base, n), { code: 'CORRUPT_CHUNK' })
    assert.throws(() => decompressChunk(compressChunk(input, base), p, n), { code: 'CORRUPT_CHUNK' })
    const lowered = chunk.slice()
    lowered[1] = 3 // a version-3 decoder's chunk cannot decode to F32
    assert.throws(() => decompressChunk(lowered, p, n), { code: 'CORRUPT_CHUNK' })
    for (let len = 0; len < chunk.byteLength; len += len < 64 ? 1 : 41) {
      assert.throws(() => decompressChunk(chunk.subarray(0, len), p, n), { name: 'CodecError' })
    }
    // A flip gives an error, or (where it changes nothing the decoder produces) the very same values.
    const good = decompressChunk(chunk, p, n)
    let errors = 0
    for (let k = 0; k < 300; k++) {
      const bad = chunk.slice()
      const at = Math.floor(r() * bad.byteLength)
      bad[at] = (bad[at] ?? 0) ^ (1 << Math.floor(r() * 8))
      try {
        assert.deepEqual(decompressChunk(bad, p, n), good, `a flip at byte ${at} changed the output unnoticed`)
      } catch (err) {
        if (!(err instanceof CodecError)) throw err
        errors++
      }
    }
    assert.ok(errors > 290, `only ${errors} of 300 flips were reported`)
  }
  const abs = PARAMS[0] as ChunkCodecParams
  // Only 16-bit floats widen; the measured path compares in one dtype and refuses it.
  assert.throws(() => compressChunk(new Uint8Array(8), { ...abs, dtype: 'F32', outputDtype: 'F32' }), {
    code: 'BAD_PARAMS',
  })
  assert.throws(() => compressChunkMeasured(input, { ...abs, outputDtype: 'F32' }, 1e-3), { code: 'BAD_PARAMS' })
  const chunk = compressChunk(input, { ...abs, outputDtype: 'F32' })
  assert.throws(() => decompressChunkInto(chunk, { ...abs, outputDtype: 'F32' }, n, new Uint8Array(n * 2)), {
    code: 'BAD_PARAMS',
  })
})
