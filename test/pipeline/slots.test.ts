// Chunk slots: buffers are reused, large outputs start on a 2 MiB boundary (huge pages where the system grants
// them, for O_DIRECT writes), and memoryOffset answers for any power-of-two unit.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { adviseHugePages, CodecError, memoryOffset } from '../../src-main/core/codec'
import { ChunkSlots } from '../../src-main/core/pipeline/pool'

test('large slot outputs start on a 2 MiB boundary and hold what was asked; small ones are plain', () => {
  const slots = new ChunkSlots()
  const big = slots.take(0, (4 << 20) + 4096)
  assert.equal(memoryOffset(big.output, 2 << 20), 0)
  assert.equal(big.output.length, (4 << 20) + 4096)
  big.output.fill(7)
  assert.ok(big.output.every((b) => b === 7))
  const small = slots.take(100, 1000)
  assert.ok(small.output.length >= 1000 && small.input.length >= 100)
  slots.give(big)
  assert.equal(slots.take(0, 4 << 20), big, 'a slot is reused while large enough')
})

test('memoryOffset takes a power-of-two unit; adviseHugePages never claims more than the aligned interior', () => {
  const b = new Uint8Array(new SharedArrayBuffer(5 << 20))
  const off2m = memoryOffset(b, 2 << 20)
  assert.ok(off2m >= 0 && off2m < 2 << 20)
  assert.equal(memoryOffset(b, 4096), off2m % 4096)
  assert.equal(memoryOffset(b), off2m % 4096)
  assert.throws(
    () => memoryOffset(b, 3000),
    (e: unknown) => e instanceof CodecError && e.code === 'BAD_PARAMS',
  )
  const start = (2 << 20) - off2m
  const interior = Math.floor((b.length - (start % (2 << 20))) / (2 << 20)) * (2 << 20)
  const granted = adviseHugePages(b)
  assert.ok(granted === 0 || granted === interior, `${granted} of ${interior}`)
  assert.equal(adviseHugePages(new Uint8Array(1000)), 0)
})
