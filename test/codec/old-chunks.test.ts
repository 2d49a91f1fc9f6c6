// Chunks written by an earlier codec (version 2, whose chunks carry a multiply-xor checksum and say version 1 or
// 2) decode to exactly the bytes that codec decoded them to, and every chunk written now is version 3 with the
// zlib CRC-32 of its decoded bytes in its header.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { crc32 } from 'node:zlib'
import { compressChunk, decompressChunk } from '../../src-main/core/codec'
import type { ChunkCodecParams } from '../../src-main/core/codec/types'

interface Fixture {
  name: string
  version: number
  params: Omit<ChunkCodecParams, 'fp8'> & { fp8?: { scales: number[] } & Record<string, number> }
  elements: number
  chunk: string
  decodedSha256: string
}

const fixtures = (
  JSON.parse(readFileSync(new URL('./fixtures/codec-v2-chunks.json', import.meta.url), 'utf8')) as {
    chunks: Fixture[]
  }
).chunks
const paramsOf = (f: Fixture): ChunkCodecParams =>
  ({
    ...f.params,
    ...(f.params.fp8 ? { fp8: { ...f.params.fp8, scales: Float32Array.from(f.params.fp8.scales) } } : {}),
  }) as ChunkCodecParams

test('chunks of codec version 2 decode unchanged (versions 1 and 2, BF16 lossy and lossless, scaled FP8)', () => {
  assert.deepEqual(
    fixtures.map((f) => f.version),
    [1, 1, 2],
  )
  for (const f of fixtures) {
    const chunk = Buffer.from(f.chunk, 'base64')
    const decoded = decompressChunk(chunk, paramsOf(f), f.elements)
    assert.equal(createHash('sha256').update(decoded).digest('hex'), f.decodedSha256, f.name)
    // A flipped checksum byte is still caught under the old checksum.
    const bad = Uint8Array.from(chunk)
    bad[9]! ^= 0x10
    assert.throws(() => decompressChunk(bad, paramsOf(f), f.elements), /checksum/i, f.name)
  }
})

test('chunks written now are version 3 and carry the CRC-32 of their decoded bytes', () => {
  for (const f of fixtures) {
    const p = paramsOf(f)
    const original = decompressChunk(Buffer.from(f.chunk, 'base64'), p, f.elements)
    const chunk = compressChunk(original, p)
    assert.equal(chunk[1], 3, f.name)
    const decoded = decompressChunk(chunk, p, f.elements)
    const header = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).readUInt32LE(8)
    assert.equal(header, crc32(decoded) >>> 0, f.name)
  }
})
