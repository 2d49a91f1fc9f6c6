import { resolve } from 'node:path'
import { compressTensor, decompressTensor } from '../src-main/core/codec/index'
import { benchDir, readSingleTensor } from './bench-anchors'
const { data, shape } = readSingleTensor(resolve(benchDir, 'synthetic_bf16_2048x2048.safetensors'))
const outputDtype = process.argv[2] === 'F32' ? 'F32' as const : undefined
const c = compressTensor(data, { dtype: 'BF16', mode: 'abs', bound: 1e-3, shape, outputDtype })
for (let r = 0; r < 200; r++) decompressTensor({ dtype: 'BF16', eb: c.eb, mode: 'abs', shape, chunks: c.chunks, chunkElements: c.chunkElements, outputDtype })
