import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { compressModel } from '../../src-main/core/pipeline/compress'
import { decompressModel } from '../../src-main/core/pipeline/decompress'
import { createPipelinePool } from '../../src-main/core/pipeline/pool'
import { makePlan } from '../../src-main/core/plan/plan'
import { generateModel } from '../../src-main/core/synth'
import { tempDir } from '../helpers/paths'
import { checkReconstruction } from './check'

const pool = createPipelinePool(2)
after(() => pool.close())
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')
const shardsOf = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.safetensors'))

for (const [preset, scale] of [
  ['llama', 0.05],
  ['deepseek-v3', 0.02],
] as const) {
  test(`generated ${preset}: lossless is sha256-identical, REL 1e-3 keeps every bound (checked independently)`, async () => {
    const model = tempDir()
    await generateModel(preset, model, { scale, seed: 4, layers: 2, experts: 4 })
    const shards = shardsOf(model)
    assert.ok(shards.length >= 2)

    const out = tempDir()
    const rec = tempDir()
    await compressModel({ model, outDir: out, plan: makePlan('lossless', 0), pool })
    await decompressModel({ input: out, outDir: rec, pool })
    for (const s of shards) assert.equal(sha(join(rec, s)), sha(join(model, s)), s)
    assert.equal(sha(join(rec, 'model.safetensors.index.json')), sha(join(model, 'model.safetensors.index.json')))

    const plan = makePlan('rel', 1e-3)
    const out2 = tempDir()
    const rec2 = tempDir()
    const r = await compressModel({ model, outDir: out2, plan, pool })
    assert.ok(r.manifest.totals.ratio > 1.5, `ratio ${r.manifest.totals.ratio}`)
    for (const m of r.metrics) assert.equal(m.overBoundShare, 0, m.tensor)
    if (preset === 'deepseek-v3') {
      const fp8 = r.metrics.filter((m) => m.dtype === 'F8_E4M3')
      assert.ok(fp8.length > 0 && fp8.every((m) => m.originalBytes === m.elements), 'FP8 counted at one byte a value')
      assert.ok(
        fp8.some((m) => m.method === 'abs'),
        'some FP8 weights compressed in dequantized units',
      )
      assert.ok(r.metrics.filter((m) => m.role === 'fp8_scale').every((m) => m.method === 'lossless'))
    }
    await decompressModel({ input: out2, outDir: rec2, pool })
    const s = await checkReconstruction(model, rec2, plan, shards)
    assert.ok(s.lossy > 3, JSON.stringify(s))
  })
}
