// The renderer's store driven against the real service over an in-memory transport: opening a model loads its
// summary and inventory, table lines filter/sort/group, estimates follow the plan (latest answer wins), job
// progress and results arrive through events, and generation columns track the first divergence.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, test } from 'node:test'
import type { PlanEstimate, ShardPressApi, TensorRow } from '../../src-main/core/api/contract'
import { createApiClient, memoryTransportPair, serveApi } from '../../src-main/core/api/proxy'
import { createShardPressService } from '../../src-main/core/api/service'
import { generateModel } from '../../src-main/core/synth'
import { type AppStore, createAppStore, firstDivergence, planAtBound } from '../../src-renderer/src/store'
import { initialTable, rowsToCsv, tableLines, visibleWindow } from '../../src-renderer/src/table'
import { tempDir } from '../helpers/paths'

let api: ShardPressApi
let modelDir: string
let made: { tensors: number; params: number }

before(async () => {
  const work = tempDir('shardpress-store-')
  const m = await generateModel('llama', join(work, 'tiny-llama'), { scale: 0.02, seed: 5 })
  modelDir = m.dir
  made = { tensors: m.tensors, params: m.params }
  const [a, b] = memoryTransportPair()
  serveApi(createShardPressService({ host: 'local', workDir: join(work, 'work'), workers: 0 }), b)
  api = createApiClient(a)
})

async function until(store: AppStore, ok: (s: ReturnType<AppStore['getState']>) => boolean, ms = 60_000) {
  const t0 = Date.now()
  while (!ok(store.getState())) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting for the store')
    await new Promise((r) => setTimeout(r, 20))
  }
}

test('opening a model fills the summary, the recent list and the inventory with statistics', async () => {
  const store = createAppStore(api)
  await store.getState().init()
  assert.equal(store.getState().info?.host, 'local')
  await store.getState().openModel(modelDir)
  const s = store.getState()
  assert.equal(s.error, null)
  assert.equal(s.model?.tensorCount, made.tensors)
  assert.equal(s.model?.parameters, made.params)
  assert.equal(s.model?.architecture, 'LlamaForCausalLM')
  assert.equal(s.recent[0]?.path, s.model?.path)
  assert.equal(s.inventory?.totals.tensors, made.tensors)
  assert.ok(s.inventory?.tensors.every((t) => t.stats !== null && t.stats.std > 0))
})

test('a bad path ends as one sentence in the banner, not an exception', async () => {
  const store = createAppStore(api)
  await store.getState().openModel('/definitely/not/a/model')
  assert.match(store.getState().error ?? '', /not\/a\/model/)
  assert.equal(store.getState().model, null)
  assert.equal(store.getState().busy, null)
})

test('table lines filter, sort and group the inventory rows', async () => {
  const inv = await api.getInventory({ path: modelDir })
  const rows = inv.tensors
  const byName = tableLines(rows, { ...initialTable, filter: 'mlp down' })
  assert.ok(byName.length > 0 && byName.every((l) => l.kind === 'tensor' && l.row.role === 'mlp_down'))
  const sorted = tableLines(rows, { ...initialTable, sortKey: 'bytes', sortDir: -1 })
  const bytes = sorted.map((l) => (l.kind === 'tensor' ? l.row.bytes : 0))
  assert.deepEqual(
    bytes,
    [...bytes].sort((a, b) => b - a),
  )
  const grouped = tableLines(rows, { ...initialTable, groupBy: 'layer' })
  const headers = grouped.filter((l) => l.kind === 'group')
  assert.equal(headers[0]?.kind === 'group' && headers[0].key, 'outside layers')
  const tensorsInGroups = headers.reduce((a, h) => a + (h.kind === 'group' ? h.tensors : 0), 0)
  assert.equal(tensorsInGroups, rows.length)
  assert.equal(grouped.length, rows.length + headers.length)
  const collapsed = tableLines(rows, { ...initialTable, groupBy: 'layer', collapsed: { 'layer 0': true } })
  const layer0 = headers.find((h) => h.kind === 'group' && h.key === 'layer 0')
  assert.equal(collapsed.length, grouped.length - (layer0?.kind === 'group' ? layer0.tensors : 0))
  const csv = rowsToCsv(rows.slice(0, 2))
  assert.equal(csv.split('\n').length, 4)
  assert.match(csv.split('\n')[1]!, /^model-\d+-of-\d+\.safetensors,model\.embed_tokens\.weight,BF16,/)
})

test('the windowing shows only the rows in view (plus overscan) for 100k rows', () => {
  assert.deepEqual(visibleWindow(100_000, 0, 560, 28, 8), { start: 0, end: 28 })
  assert.deepEqual(visibleWindow(100_000, 28 * 50_000, 560, 28, 8), { start: 49_992, end: 50_028 })
  assert.deepEqual(visibleWindow(100_000, 28 * 100_000, 560, 28, 8), { start: 99_992, end: 100_000 })
  const rows: TensorRow[] = Array.from({ length: 100_000 }, (_, i) => ({
    index: i,
    shard: 's',
    name: `t${i}`,
    dtype: 'BF16',
    shape: [i],
    elementCount: i,
    bytes: 2 * i,
    layer: i % 61,
    role: 'expert',
    group: 'experts',
    stats: null,
  }))
  const lines = tableLines(rows, { ...initialTable, groupBy: 'layer' })
  assert.equal(lines.length, 100_000 + 61)
})

test('moving the global bound changes the estimate; a stale answer never overwrites a newer one', async () => {
  const store = createAppStore(api)
  await store.getState().openModel(modelDir)
  await store.getState().refreshEstimate()
  const first = store.getState().estimate as PlanEstimate
  assert.ok(first.total.ratio > 1)
  store.getState().setGlobal({ bound: 3e-2 })
  store.getState().setGlobal({ bound: 1e-2 })
  await until(store, (s) => s.estimate !== first && s.plan.bound === 1e-2)
  await new Promise((r) => setTimeout(r, 200))
  const last = store.getState().estimate!
  const direct = await api.estimatePlan({ path: modelDir, plan: store.getState().plan })
  assert.equal(last.total.compressedBytes, direct.total.compressedBytes)
  assert.ok(last.total.ratio > first.total.ratio)
  store.getState().setGroup('mlp', { mode: 'lossless', bound: 0 })
  await until(store, (s) => s.estimate !== last)
  const mlp = store.getState().estimate!.groups.find((g) => g.key === 'mlp')!
  assert.equal(mlp.rmse, 0)
  await store.getState().refreshCurve()
  const ratios = store.getState().curve.map((p) => p.ratio)
  assert.ok(
    ratios.every((r, i) => i === 0 || r >= ratios[i - 1]! - 1e-9),
    `curve not monotone: ${ratios}`,
  )
  assert.deepEqual(planAtBound({ mode: 'lossless', bound: 1, groups: {} }, 1e-3), {
    mode: 'rel',
    bound: 1e-3,
    groups: {},
  })
})

test('a compression job reports progress through events and its result ends in the store', async () => {
  const store = createAppStore(api)
  await store.getState().init()
  await store.getState().openModel(modelDir)
  const seen: number[] = []
  const off = store.subscribe((s) => {
    for (const j of Object.values(s.jobs)) seen.push(j.bytesDone)
  })
  const jobId = await store.getState().startJob({ kind: 'compress', input: modelDir, plan: store.getState().plan })
  assert.ok(jobId)
  await until(store, (s) => s.results[jobId!] !== undefined)
  off()
  const job = store.getState().jobs[jobId!]!
  const result = store.getState().results[jobId!]!
  assert.equal(job.state, 'done')
  assert.equal(job.bytesDone, job.bytesTotal)
  assert.ok(job.bytesTotal > 0 && seen.some((b) => b > 0 && b < job.bytesTotal), 'no intermediate progress')
  assert.equal(result.tensors.length, made.tensors)
  assert.ok(result.ratio! > 1)
  const variants = await api.listVariants({ model: modelDir })
  assert.ok(variants.some((v) => v.kind === 'run' && v.source === job.output))
})

test('a plan saved to a file loads back as the same Tune plan', async () => {
  const file = join(tempDir('shardpress-plan-'), 'plan.json')
  const plan = { mode: 'abs' as const, bound: 2e-3, groups: { attention: { mode: 'rel' as const, bound: 1e-4 } } }
  const saved = await api.savePlan({ file, plan })
  assert.equal(saved.file, file)
  assert.deepEqual(await api.loadPlan({ file }), plan)
  await assert.rejects(api.loadPlan({ file: `${file}.missing` }), /cannot be read/)
})

test('the first divergence is the first position where two token lists differ', () => {
  assert.equal(firstDivergence(['a', 'b', 'c'], ['a', 'b', 'c']), null)
  assert.equal(firstDivergence(['a', 'b', 'c'], ['a', 'x', 'c']), 1)
  assert.equal(firstDivergence(['a'], ['a', 'b']), null)
  assert.equal(firstDivergence(['x'], ['y']), 0)
})
