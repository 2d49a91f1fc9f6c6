import { resolve } from 'node:path'
import { compressTensor, decompressTensor } from '../src-main/core/codec/index'
import { benchDir, readSingleTensor } from './bench-anchors'
const { data, shape } = readSingleTensor(resolve(benchDir, 'synthetic_bf16_2048x2048.safetensors'))
for (const outputDtype of [undefined, 'F32' as const]) {
  let bc = 1e9, bd = 1e9
  const c = compressTensor(data, { dtype: 'BF16', mode: 'abs', bound: 1e-3, shape, outputDtype })
  for (let r = 0; r < 20; r++) {
    let t = process.cpuUsage(); compressTensor(data, { dtype: 'BF16', mode: 'abs', bound: 1e-3, shape, outputDtype }); let u = process.cpuUsage(t); bc = Math.min(bc, (u.user + u.system) / 1e6)
    t = process.cpuUsage(); decompressTensor({ dtype: 'BF16', eb: c.eb, mode: 'abs', shape, chunks: c.chunks, chunkElements: c.chunkElements, outputDtype }); u = process.cpuUsage(t); bd = Math.min(bd, (u.user + u.system) / 1e6)
  }
  console.log(outputDtype ?? 'BF16', 'comp', (data.byteLength / 1e6 / bc).toFixed(0), 'decomp', (data.byteLength / 1e6 / bd).toFixed(0))
}
