// The Tune estimate against real compression runs: on the shared stories260K (F32), a generated Llama (BF16) and
// a generated DeepSeek-V3 (FP8 with block scales), the estimated compressed size (container file bytes) is within
// 10 % of what the compress job then writes, for lossless, ABS and REL plans.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, test } from 'node:test'
import type { TunePlan } from '../../src-main/core/api/contract'
import { createShardPressService } from '../../src-main/core/api/service'
import { generateModel } from '../../src-main/core/synth'
import { shared, tempDir } from '../helpers/paths'

const work = tempDir('shardpress-calibration-')
const service = createShardPressService({ host: 'local', workDir: join(work, 'work'), workers: 2 })
let llama: string
let deepseek: string

before(async () => {
  llama = (await generateModel('llama', join(work, 'llama'), { scale: 0.05, seed: 21 })).dir
  deepseek = (await generateModel('deepseek-v3', join(work, 'deepseek'), { scale: 0.01, seed: 3 })).dir
})

async function compare(model: string, plan: TunePlan): Promise<{ estimated: number; actual: number }> {
  await service.openModel({ path: model })
  const estimate = await service.estimatePlan({ path: model, plan })
  const { jobId } = await service.startJob({ kind: 'compress', input: model, plan })
  for (;;) {
    await new Promise((r) => setTimeout(r, 50))
    const job = (await service.listJobs()).find((j) => j.jobId === jobId)!
    if (job.state === 'running' || job.state === 'queued') continue
    const result = await service.getJobResult({ jobId })
    assert.equal(result.state, 'done', result.error ?? '')
    return { estimated: estimate.total.compressedBytes, actual: result.compressedBytes! }
  }
}

const plans: [string, TunePlan][] = [
  ['lossless', { mode: 'lossless', bound: 1e-3, groups: {} }],
  ['rel 1e-4', { mode: 'rel', bound: 1e-4, groups: {} }],
  ['rel 1e-3', { mode: 'rel', bound: 1e-3, groups: {} }],
  ['abs 1e-3, mlp rel 1e-4', { mode: 'abs', bound: 1e-3, groups: { mlp: { mode: 'rel', bound: 1e-4 } } }],
]

for (const [label, plan] of plans) {
  test(`stories260K, ${label}: estimate within 10 % of the compressed size`, async (t) => {
    const { estimated, actual } = await compare(shared('models', 'stories260K-hf'), plan)
    const err = estimated / actual - 1
    t.diagnostic(`estimated ${estimated.toFixed(0)} B, actual ${actual} B (${(err * 100).toFixed(1)} %)`)
    assert.ok(
      Math.abs(err) < 0.1,
      `estimated ${estimated.toFixed(0)} B, actual ${actual} B (${(err * 100).toFixed(1)} %)`,
    )
  })
  test(`generated llama (BF16), ${label}: estimate within 10 % of the compressed size`, async (t) => {
    const { estimated, actual } = await compare(llama, plan)
    const err = estimated / actual - 1
    t.diagnostic(`estimated ${estimated.toFixed(0)} B, actual ${actual} B (${(err * 100).toFixed(1)} %)`)
    assert.ok(
      Math.abs(err) < 0.1,
      `estimated ${estimated.toFixed(0)} B, actual ${actual} B (${(err * 100).toFixed(1)} %)`,
    )
  })
}

for (const [label, plan] of [plans[0]!, plans[2]!, plans[3]!]) {
  test(`generated deepseek-v3 (FP8), ${label}: estimate within 10 % of the compressed size`, async (t) => {
    const { estimated, actual } = await compare(deepseek, plan)
    const err = estimated / actual - 1
    t.diagnostic(`estimated ${estimated.toFixed(0)} B, actual ${actual} B (${(err * 100).toFixed(1)} %)`)
    assert.ok(
      Math.abs(err) < 0.1,
      `estimated ${estimated.toFixed(0)} B, actual ${actual} B (${(err * 100).toFixed(1)} %)`,
    )
  })
}
