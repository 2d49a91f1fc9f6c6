// Jobs through the service contract: a cancelled compression ends as 'cancelled' and resumes to the same result,
// a sweep reports one point per bound, reconstruct writes a loadable model, and verify checks the bounds.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { before, test } from 'node:test'
import type { JobProgress, JobResult, ShardPressApi } from '../../src-main/core/api/contract'
import { createApiClient, memoryTransportPair, serveApi } from '../../src-main/core/api/proxy'
import { createShardPressService } from '../../src-main/core/api/service'
import { generateModel } from '../../src-main/core/synth'
import { tempDir } from '../helpers/paths'

let api: ShardPressApi
let modelDir: string
let work: string
const events: JobProgress[] = []

before(async () => {
  work = tempDir('shardpress-jobs-')
  modelDir = (await generateModel('llama', join(work, 'model'), { scale: 0.04, seed: 9 })).dir
  const [a, b] = memoryTransportPair()
  serveApi(createShardPressService({ host: 'local', workDir: join(work, 'work'), workers: 1 }), b)
  api = createApiClient(a)
  api.onJobProgress((p) => events.push(p))
  await api.openModel({ path: modelDir })
})

async function finished(jobId: string): Promise<JobResult> {
  for (;;) {
    const job = (await api.listJobs()).find((j) => j.jobId === jobId)!
    if (job.state !== 'running' && job.state !== 'queued') return api.getJobResult({ jobId })
    await new Promise((r) => setTimeout(r, 20))
  }
}

const plan = { mode: 'rel' as const, bound: 1e-3, groups: {} }

test('a cancelled compression says so and starting it again resumes to the same result', async () => {
  const output = join(work, 'out-cancel')
  const { jobId } = await api.startJob({ kind: 'compress', input: modelDir, output, plan })
  await api.cancelJob({ jobId })
  const cancelled = await finished(jobId)
  assert.equal(cancelled.state, 'cancelled')
  assert.match(cancelled.error ?? '', /resume/i)
  const again = await finished(
    (await api.startJob({ kind: 'compress', input: modelDir, output, plan, resume: true })).jobId,
  )
  assert.equal(again.state, 'done')
  const fresh = await finished(
    (await api.startJob({ kind: 'compress', input: modelDir, output: join(work, 'out-fresh'), plan })).jobId,
  )
  assert.equal(again.compressedBytes, fresh.compressedBytes)
  assert.equal(again.tensors.length, fresh.tensors.length)
  assert.ok(events.some((e) => e.jobId === jobId && e.state === 'cancelled'))
})

test('reconstruct writes the model back and verify checks it against the original', async () => {
  const compressed = join(work, 'out-fresh')
  const rebuilt = join(work, 'rebuilt')
  const r = await finished((await api.startJob({ kind: 'decompress', input: compressed, output: rebuilt })).jobId)
  assert.equal(r.state, 'done', r.error ?? '')
  assert.ok(existsSync(join(rebuilt, 'config.json')))
  const summary = await api.openModel({ path: rebuilt })
  const original = await api.openModel({ path: modelDir })
  assert.equal(summary.tensorCount, original.tensorCount)
  assert.equal(summary.bytes, original.bytes)
  const v = await finished((await api.startJob({ kind: 'verify', input: compressed, original: modelDir })).jobId)
  assert.equal(v.state, 'done', v.error ?? '')
  assert.ok(v.tensors.length > 0)
  await assert.rejects(api.startJob({ kind: 'verify', input: modelDir }), /not a compressed model folder/)
})

test('a sweep reports ratio and error for every bound, looser bounds compressing more', async () => {
  const bounds = [1e-4, 1e-3, 1e-2]
  const r = await finished(
    (await api.startJob({ kind: 'sweep', input: modelDir, output: join(work, 'sweep'), plan, bounds })).jobId,
  )
  assert.equal(r.state, 'done', r.error ?? '')
  assert.deepEqual(
    r.sweep.map((p) => p.bound),
    bounds,
  )
  for (let i = 1; i < r.sweep.length; i++) {
    assert.ok(r.sweep[i]!.ratio > r.sweep[i - 1]!.ratio)
    assert.ok(r.sweep[i]!.maxAbsError > r.sweep[i - 1]!.maxAbsError)
  }
})
