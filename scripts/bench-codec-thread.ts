// A worker thread of `npm run bench:pipeline`: compresses, then decompresses, the same shared samples as the
// one-core measurement, each pass started on the main thread's word, so N of these running at once show what the
// machine gives N threads of the codec alone (shared caches, memory bandwidth, clock) without any pipeline.
import { parentPort, workerData } from 'node:worker_threads'
import { compressChunkInto, decompressChunkInto, maxCompressedChunkSize } from '../src-main/core/codec'
import type { ChunkCodecParams } from '../src-main/core/codec/types'

export interface CodecThreadSample {
  /** Offsets into the shared input and packed buffers. */
  at: number
  length: number
  packedAt: number
  packedLength: number
  n: number
  p: ChunkCodecParams
}

const { input, packed, samples } = workerData as { input: Uint8Array; packed: Uint8Array; samples: CodecThreadSample[] }

// Reused buffers, as the one-core measurement and the pipeline's workers use.
const target = new Uint8Array(samples.reduce((a, s) => Math.max(a, maxCompressedChunkSize(s.n, s.p.dtype)), 0))
const scratch = new Uint8Array(samples.reduce((a, s) => Math.max(a, s.length), 0))

parentPort!.on('message', (pass: 'compress' | 'decompress') => {
  if (pass === 'compress')
    for (const s of samples) compressChunkInto(input.subarray(s.at, s.at + s.length), s.p, target)
  else
    for (const s of samples)
      decompressChunkInto(
        packed.subarray(s.packedAt, s.packedAt + s.packedLength),
        s.p,
        s.n,
        scratch.subarray(0, s.length),
      )
  parentPort!.postMessage(pass)
})
parentPort!.postMessage('ready')
