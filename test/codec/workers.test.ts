// The addon is context-aware and stateless: two worker threads compress and decompress at the same time.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'

const WORKER = `
import { parentPort, workerData } from 'node:worker_threads'
const { compressChunk, decompressChunk } = await import(workerData.codec)
const n = 50000
const input = new Uint8Array(n * 2)
let s = workerData.seed
for (let i = 0; i < n; i++) {
  s = (s * 1103515245 + 12345) >>> 0
  input[2 * i] = s & 0xff
  input[2 * i + 1] = 0x3c + ((s >>> 8) % 3) // bf16 values around 0.01..0.03
}
let same = true
for (let round = 0; round < 5; round++) {
  const p = { dtype: 'BF16', mode: 'lossless', eb: 0, rowLength: 100, firstElement: 0 }
  const c = compressChunk(input, p)
  const out = decompressChunk(c, p, n)
  for (let i = 0; i < input.length; i++) if (out[i] !== input[i]) { same = false; break }
}
parentPort.postMessage({ same, seed: workerData.seed })
`

test('two workers use the codec concurrently with identical results to the input', async () => {
  const codec = new URL('../../src-main/core/codec/index.ts', import.meta.url).href
  const run = (seed: number) =>
    new Promise<{ same: boolean; seed: number }>((resolve, reject) => {
      const w = new Worker(WORKER, { eval: true, workerData: { codec, seed }, execArgv: ['--import', 'tsx'] })
      w.once('message', resolve)
      w.once('error', reject)
    })
  const results = await Promise.all([run(1), run(2)])
  assert.deepEqual(results, [
    { same: true, seed: 1 },
    { same: true, seed: 2 },
  ])
})
