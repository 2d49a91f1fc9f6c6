// Measures header build and parse for a large model header (run: node --import tsx test/safetensors/bench-header.ts).
// Prints a table; timings are informative only and never decide a test.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildHeader, parseHeader, readShardIndex, type TensorSpec } from '../../src-main/core/safetensors'
import { tempDir } from '../helpers/paths'

const specs: TensorSpec[] = []
for (let l = 0; l < 46; l++) {
  for (let e = 0; e < 500; e++) {
    for (const p of ['gate_proj', 'up_proj', 'down_proj', 'scale'] as const) {
      specs.push({
        name: `model.layers.${l}.mlp.experts.${e}.${p}.weight`,
        dtype: p === 'scale' ? 'F32' : 'BF16',
        shape: p === 'scale' ? [2048] : [2048, 7168],
      })
    }
  }
}
const best = async (fn: () => unknown, runs = 5): Promise<number> => {
  let min = Number.POSITIVE_INFINITY
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    await fn()
    min = Math.min(min, performance.now() - t0)
  }
  return min
}
let built = buildHeader(specs, { format: 'pt' })
const tBuild = await best(() => {
  built = buildHeader(specs, { format: 'pt' })
})
const size = 8 + built.json.length + built.tensors.at(-1)!.end
const tParse = await best(() => parseHeader(built.json, size, 'bench.safetensors'))
const text = built.json.toString('utf8')
const tJsonParse = await best(() => JSON.parse(text))
const weightMap = Object.fromEntries(
  specs.map((t, i) => [t.name, `model-${String(1 + (i >> 9)).padStart(5, '0')}-of-00180.safetensors`]),
)
const indexText = JSON.stringify({ metadata: { total_size: size }, weight_map: weightMap }, null, 2)
const indexPath = join(tempDir('shardpress-bench-'), 'model.safetensors.index.json')
writeFileSync(indexPath, indexText)
const tIndex = await best(() => readShardIndex(indexPath))
const tIndexJson = await best(() => JSON.parse(indexText))
console.log('| 92k-tensor input | bytes | ours ms | JSON.parse of same text ms |')
console.log('|---|---|---|---|')
console.log(`| parseHeader (validated) | ${built.json.length} | ${tParse.toFixed(1)} | ${tJsonParse.toFixed(1)} |`)
console.log(`| buildHeader (reference order) | ${built.json.length} | ${tBuild.toFixed(1)} | – |`)
console.log(
  `| readShardIndex (file read + checks) | ${indexText.length} | ${tIndex.toFixed(1)} | ${tIndexJson.toFixed(1)} |`,
)
