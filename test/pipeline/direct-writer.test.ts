// The reconstruction writer: O_DIRECT blocks from placed buffers, the partial block kept until it fills, bounced
// writes for unplaced bytes, sync/reopen at odd lengths, and the same file with plain writes.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { DIRECT_BLOCK, DirectWriter } from '../../src-main/core/pipeline/direct-writer'
import { noiseBytes as noise } from '../helpers/noise'

/** Appends `data` in pieces of the given sizes, every other piece placed in a shared buffer as the pipeline does. */
async function appendPieces(w: DirectWriter, data: Uint8Array, sizes: number[], from = 0): Promise<number> {
  let at = from
  for (let k = 0; at < data.length; k++) {
    const n = Math.min(sizes[k % sizes.length]!, data.length - at)
    const piece = data.subarray(at, at + n)
    if (k % 2 === 0) {
      const slot = new Uint8Array(new SharedArrayBuffer(n + DIRECT_BLOCK))
      const o = w.alignedOffset(slot, w.position)
      slot.set(piece, o)
      assert.equal(await w.append(slot.subarray(o, o + n)), at)
    } else {
      assert.equal(await w.append(piece), at)
    }
    at += n
  }
  return at
}

for (const direct of [true, false]) {
  test(`writes, syncs and reopens at odd lengths (${direct ? 'O_DIRECT where available' : 'plain writes'})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sp-direct-'))
    try {
      const path = join(dir, 'out.safetensors')
      const data = noise(3 * (1 << 20) + 12_345, 5)
      const sizes = [8, 1234, 4096, 1 << 20, 3, 700_001, 4095, 4097, 65_536 + 7]
      let w = await DirectWriter.create(path, { direct })
      if (!direct) assert.equal(w.isDirect, false)
      const half = 1_500_001
      await appendPieces(w, data.subarray(0, half), sizes)
      await w.sync()
      assert.equal(statSync(path).size, half, 'a sync leaves the file exactly as long as what was appended')
      assert.deepEqual(new Uint8Array(readFileSync(path)), data.subarray(0, half))
      await w.append(data.subarray(half, half + 10_000))
      await w.close()
      // A resumed run keeps a journaled prefix that ends mid-block and appends the rest.
      const keep = 1_234_567
      w = await DirectWriter.reopen(path, keep, { direct })
      assert.equal(w.position, keep)
      const end = await appendPieces(w, data, sizes.slice().reverse(), keep)
      assert.equal(end, data.length)
      await w.sync()
      await w.close()
      assert.equal(statSync(path).size, data.length)
      assert.ok(Buffer.from(readFileSync(path)).equals(Buffer.from(data)), 'file content differs')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test('a sync while appends are queued covers exactly what was appended before it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-direct-'))
  try {
    const path = join(dir, 'out.bin')
    const data = noise(200_000, 9)
    const w = await DirectWriter.create(path)
    const pending = [w.append(data.subarray(0, 5000)), w.sync(), w.append(data.subarray(5000, 9001))]
    pending.push(w.append(data.subarray(9001)))
    await Promise.all(pending)
    await w.close()
    assert.ok(Buffer.from(readFileSync(path)).equals(Buffer.from(data)))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
