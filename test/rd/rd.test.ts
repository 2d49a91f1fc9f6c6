// Rate–distortion and auto-tune on stories260K, for real (few documents to stay fast): sizes are the stored bytes,
// the original scores itself exactly, the baselines and lossy runs order as they must, the report renders from the
// run, and auto-tune returns the smallest measured plan meeting its target, saved as a loadable plan.
import assert from 'node:assert/strict'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { parseMetricsCsv } from '../../src-main/core/pipeline/sweep'
import { loadPlan } from '../../src-main/core/plan'
import { autoTune, FidelityBench, type RdResult, rateDistortion, TuneError } from '../../src-main/core/rd'
import { writeReport } from '../../src-main/core/report'
import { shared, tempDir } from '../helpers/paths'
import { assertWellFormedXml } from '../report/xml'

const model = shared('models', 'stories260K-hf')
const text = readFileSync(shared('data', 'tinystories-valid-1k', 'tinystories_valid_first1000.txt'), 'utf8')
const work = tempDir('shardpress-rd-')
/** stories260K's 36 weight matrices (embedding tied, q/k/v/o, gate/up/down × 5 layers). */
const MATRIX_WEIGHTS = 259_328
let bench: FidelityBench
let rd: RdResult

before(async () => {
  bench = await FidelityBench.open({ reference: model, text, ctx: 128, chunks: 8, cacheDir: join(work, 'cache') })
})
after(async () => {
  await bench?.dispose()
  rmSync(work, { recursive: true, force: true })
})

test('rate–distortion: stored sizes, the original exact, Q8_0/Q4_0 and lossy runs in order', async () => {
  rd = await rateDistortion({ model, outDir: join(work, 'rd'), text, bounds: [2e-3, 1.6e-2], bench, workers: 1 })
  assert.equal(rd.method, 'documents')
  assert.equal(rd.chunks, 8)
  const [orig, q8, q4, fine, coarse] = rd.rows
  assert.deepEqual(
    rd.rows.map((r) => r.label),
    ['original (F32 GGUF)', 'Q8_0', 'Q4_0', 'abs 0.002', 'abs 0.016'],
  )
  assert.equal(orig!.bitsPerWeight, 32)
  assert.ok(orig!.metrics.kld < 1e-6 && orig!.metrics.top1 === 1 && Math.abs(orig!.metrics.pplRatio - 1) < 1e-6)
  // Real GGUF tensor bytes: down_proj (172 columns) stays F16 in both baselines.
  assert.ok(Math.abs(q8!.bitsPerWeight - 10.0918) < 1e-3)
  assert.ok(Math.abs(q4!.bitsPerWeight - 6.9408) < 1e-3)
  assert.ok(q8!.metrics.kld < q4!.metrics.kld)
  assert.ok(fine!.metrics.kld < coarse!.metrics.kld && fine!.bitsPerWeight > coarse!.bitsPerWeight)
  assert.ok(fine!.metrics.kld > 0)
  for (const r of [fine!, coarse!]) {
    const p = r.point!
    assert.ok(p.boundKept && p.maxAbsErr <= r.bound! && p.maxAbsErr > r.bound! * 0.9)
    // bits/weight recomputed independently from the run's metrics.csv: compressed bytes of the 2-D weights.
    const rows = parseMetricsCsv(readFileSync(join(p.runDir, 'metrics.csv'), 'utf8'))
    const mats = rows.filter((m) => m.role !== 'norm')
    assert.equal(
      mats.reduce((a, m) => a + m.elements, 0),
      MATRIX_WEIGHTS,
    )
    const bytes = mats.reduce((a, m) => a + m.compressedBytes, 0)
    assert.equal(p.bitsPerWeight, (bytes * 8) / MATRIX_WEIGHTS)
    assert.ok(
      rows.filter((m) => m.role === 'norm').every((m) => m.method !== 'abs'),
      'norms stay exact',
    )
    assert.ok(!existsSync(join(p.runDir, 'reconstructed')), 'reconstruction removed once measured')
  }
  assert.ok(existsSync(join(work, 'rd', 'rd.json')) && existsSync(join(work, 'rd', 'rd.csv')))
  const csv = readFileSync(join(work, 'rd', 'rd.csv'), 'utf8')
    .trim()
    .split('\n')
  assert.equal(csv.length, 6)
  assert.ok(csv[2]!.startsWith(`baseline,"Q8_0",,,${q8!.bitsPerWeight},`))
})

test('the report renders from the real run', async () => {
  assert.ok(rd, 'needs the rate–distortion run')
  const files = await writeReport(join(work, 'rd'), {
    title: 'stories260K',
    model: { path: model },
    textSource: 'x',
    rd,
  })
  const md = readFileSync(files.markdown, 'utf8')
  const q4 = rd.rows[2]!
  assert.ok(md.includes(`| Q4_0 | baseline | ${q4.bitsPerWeight.toFixed(3)} | ${q4.metrics.ppl.toFixed(4)} |`))
  assert.ok(md.includes(rd.finding) && rd.finding.length > 50)
  for (const c of files.charts) assertWellFormedXml(readFileSync(c, 'utf8'))
  // The KLD chart holds one marker per plotted variant: 2 lossy + 2 baselines (+ legend markers).
  const svg = readFileSync(join(work, 'rd', 'rd-kld.svg'), 'utf8')
  assert.equal((svg.match(/<title>error-bounded[^<]*abs 0\.0\d+: /g) ?? []).length, 2)
  assert.equal((svg.match(/<rect [^>]*><title>Q[48]_0 \(llama\.cpp block format\) Q[48]_0: /g) ?? []).length, 2)
})

test('auto-tune finds the smallest measured plan meeting a KLD target and saves it', async () => {
  assert.ok(rd, 'needs the rate–distortion run')
  // A target between the two sweep points, so the bracket and bisection both have work to do.
  const target = Math.sqrt(rd.rows[3]!.metrics.kld * rd.rows[4]!.metrics.kld)
  const r = await autoTune({
    model,
    outDir: join(work, 'tune'),
    text,
    target: { kld: target },
    startBound: 4e-3,
    maxRuns: 5,
    bench,
    // The sweep's runs stand in for global candidates with the same bound (4e-3 × 4 = 1.6e-2 is one of them).
    measured: rd.rows.flatMap((x) => (x.point ? [x.point] : [])),
    workers: 1,
  })
  assert.equal(r.steps.length, 5)
  assert.equal(r.steps[0]!.phase, 'bracket')
  assert.ok(r.best, 'some plan met the target')
  const meeting = r.steps.filter((s) => s.meets)
  assert.ok(meeting.every((s) => s.metrics.kld <= target))
  assert.ok(r.steps.filter((s) => !s.meets).every((s) => s.metrics.kld > target))
  assert.equal(r.best!.compressedBytes, Math.min(...meeting.map((s) => s.compressedBytes)))
  assert.ok(r.best!.metrics.kld <= target)
  const plan = loadPlan(r.planFile!)
  assert.deepEqual(plan, r.best!.plan)
  assert.ok(existsSync(join(r.best!.runDir, 'model', 'shardpress.json')), 'the winner keeps its compressed model')
  const borrowed = r.steps.find((st) => st.bound === 1.6e-2)!
  assert.ok(borrowed && !borrowed.meets)
  assert.equal(borrowed.bitsPerWeight, rd.rows[4]!.bitsPerWeight)
  assert.ok(existsSync(join(rd.rows[4]!.point!.runDir, 'model')), "a borrowed run keeps its study's files")
  const losers = r.steps.filter((s) => s.run !== r.best!.run && s.run !== r.bestGlobal?.run)
  for (const s of losers) assert.ok(!existsSync(join(work, 'tune', 'runs', s.run, 'model')))
})

test('auto-tune refuses a target it cannot use', async () => {
  await assert.rejects(
    autoTune({ model, outDir: join(work, 'bad'), text, target: {}, bench }),
    (e: unknown) => e instanceof TuneError && e.code === 'TUNE_BAD_TARGET',
  )
  await assert.rejects(
    autoTune({ model, outDir: join(work, 'bad'), text, target: { pplRatio: 0.9 }, bench }),
    (e: unknown) => e instanceof TuneError && e.code === 'TUNE_BAD_TARGET',
  )
})
