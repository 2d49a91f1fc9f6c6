// The report renders from a rate–distortion result: report.md and a self-contained report.html exist, every chart
// is a well-formed SVG whose points sit where the numbers say, tables carry the figures, the finding is stated.
import assert from 'node:assert/strict'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { compareAtBaselines, findingText, type RdResult, type RdRow } from '../../src-main/core/rd'
import { lineChartSvg, writeReport } from '../../src-main/core/report'
import { tempDir } from '../helpers/paths'
import { assertWellFormedXml } from './xml'

const work = tempDir('shardpress-report-')
after(() => rmSync(work, { recursive: true, force: true }))

const metrics = (kld: number, pplRatio: number) => ({
  ppl: 3.5 * pplRatio,
  pplRatio,
  kld,
  kldStderr: kld / 10,
  top1: 1 - kld,
  meanAbsDeltaP: kld / 3,
  tokens: 1000,
})

function point(run: string, bound: number, bpw: number): NonNullable<RdRow['point']> {
  return {
    label: `abs ${bound}`,
    run,
    runDir: `/runs/${run}`,
    plan: { version: 1, mode: 'abs', bound, llmDefaults: false, rules: [] },
    bitsPerWeight: bpw,
    fileBitsPerWeight: bpw + 0.4,
    originalBytes: 1_000_000,
    compressedBytes: Math.round((1_000_000 * bpw) / 32),
    ratio: 32 / bpw,
    maxAbsErr: bound * 0.9999,
    boundKept: true,
    groups: {
      attention: { weights: 100, originalBytes: 400, compressedBytes: 80, ratio: 5, maxAbsErr: bound },
      mlp: { weights: 300, originalBytes: 1200, compressedBytes: 200, ratio: 6, maxAbsErr: bound },
    },
    metrics: metrics(0, 1),
    seconds: 1,
  }
}

function sampleResult(): RdResult {
  const lossy = [
    [0.001, 8.0, 5e-4, 1.0004],
    [0.004, 6.0, 6e-3, 1.005],
    [0.016, 4.0, 1.1e-1, 1.1],
  ].map(([bound, bpw, kld, r], i): RdRow => {
    const p = point(`run_00${i + 1}`, bound!, bpw!)
    p.metrics = metrics(kld!, r!)
    return {
      kind: 'lossy',
      label: p.label,
      mode: 'abs',
      bound: bound!,
      bitsPerWeight: bpw!,
      metrics: p.metrics,
      point: p,
    }
  })
  const rows: RdRow[] = [
    { kind: 'original', label: 'original (F32 GGUF)', bitsPerWeight: 32, metrics: metrics(0, 1) },
    { kind: 'baseline', label: 'Q8_0', bitsPerWeight: 10.09, metrics: metrics(1.2e-3, 1.0035) },
    { kind: 'baseline', label: 'Q4_0', bitsPerWeight: 6.94, metrics: metrics(1.6e-1, 1.14) },
    ...lossy,
  ]
  const r: RdResult = {
    model: '/models/tiny',
    outDir: work,
    ctx: 256,
    method: 'documents',
    chunks: 32,
    tokens: 6000,
    referencePpl: 3.55,
    rows,
    atBaselineSize: compareAtBaselines(rows),
    finding: '',
  }
  r.finding = findingText(r)
  return r
}

test('same-size comparison interpolates log KLD between the bracketing runs', () => {
  const r = sampleResult()
  const q4 = r.atBaselineSize.find((a) => a.baseline === 'Q4_0')!
  // 6.94 lies between 6.0 (6e-3) and 8.0 (5e-4): t = 0.47.
  const t = (6.94 - 6) / 2
  assert.ok(Math.abs(q4.lossyKld! - Math.exp(Math.log(6e-3) + t * (Math.log(5e-4) - Math.log(6e-3)))) < 1e-12)
  const q8 = r.atBaselineSize.find((a) => a.baseline === 'Q8_0')!
  assert.equal(q8.lossyKld, undefined, '10.09 bits/weight is outside the sweep')
  assert.match(r.finding, /At Q4_0's size \(6\.94 bits\/weight as stored\)/)
  assert.match(r.finding, /keeps the model closer to the original than Q4_0/)
  assert.match(r.finding, /No pair of bound-sweep runs brackets Q8_0's size/)
  // Q4_0's nominal 4.5 bits/weight (rows of whole blocks) lies between 4.0 (0.11) and 6.0 (6e-3): t = 0.25.
  const nominal = Math.exp(Math.log(0.11) + 0.25 * (Math.log(6e-3) - Math.log(0.11)))
  assert.equal(q4.nominalBitsPerWeight, 4.5)
  assert.ok(Math.abs(q4.lossyKldAtNominal! - nominal) < 1e-12)
  assert.equal(q8.lossyKldAtNominal, undefined)
  assert.match(
    r.finding,
    new RegExp(`Even at Q4_0's nominal 4.5 bits/weight .* reaches ${nominal.toExponential(2)} \\(`),
  )
  assert.match(
    r.finding,
    /smallest lossy variant at least as close as Q8_0 \(abs 0\.001\) takes 8\.00 bits\/weight, 21 % less/,
  )
})

test('the finding says so when quantization wins', () => {
  const r = sampleResult()
  const q4 = r.rows.find((x) => x.label === 'Q4_0')!
  q4.metrics = metrics(1e-4, 1.0001)
  r.atBaselineSize = compareAtBaselines(r.rows)
  assert.match(findingText(r), /Q4_0 keeps the model closer to the original\./)
})

test('writes report.md, a self-contained report.html and well-formed SVG charts with the numbers', async () => {
  const r = sampleResult()
  const files = await writeReport(join(work, 'out'), {
    title: 'Tiny & test',
    model: { path: '/models/tiny', params: 259_328 },
    textSource: 'stories.txt',
    rd: r,
    verify: [{ run: 'run_001', ok: true, tensors: 47, problems: [] }],
    notes: ['a note'],
  })
  for (const f of [files.markdown, files.html, ...files.charts]) assert.ok(existsSync(f), f)
  assert.deepEqual(
    files.charts.map((c) => c.split('/').pop()),
    ['rd-kld.svg', 'rd-ppl.svg', 'ratio-vs-bound.svg', 'group-ratio.svg'],
  )
  for (const c of files.charts) {
    const svg = readFileSync(c, 'utf8')
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'))
    assertWellFormedXml(svg)
  }
  const md = readFileSync(files.markdown, 'utf8')
  assert.ok(md.startsWith('# Tiny & test'))
  assert.ok(md.includes(r.finding))
  assert.ok(md.includes('| Q4_0 | baseline | 6.940 | 3.9900 | 1.1400 | 1.600e-1 | 0.8400 | 5.333e-2 |'))
  assert.ok(md.includes('| run_001 | abs 0.001 | ×4.00 | 8.000 | 8.400 | 9.999e-4 | yes | ok (47 tensors) |'))
  assert.ok(md.includes('| abs 0.004 | ×5.00 | ×6.00 |'))
  assert.ok(md.includes('![Rate–distortion: mean KL divergence vs bits per weight](rd-kld.svg)'))
  const html = readFileSync(files.html, 'utf8')
  assert.ok(html.includes('<h1>Tiny &amp; test</h1>'))
  assert.equal((html.match(/<img alt="[^"]+" src="data:image\/svg\+xml;base64,/g) ?? []).length, 4)
  assert.ok(!/src="(?!data:)/.test(html), 'no external resources')
  // The chart's embedded SVG decodes to the file written next to it.
  const b64 = /src="data:image\/svg\+xml;base64,([^"]+)"/.exec(html)![1]!
  assert.equal(Buffer.from(b64, 'base64').toString('utf8'), readFileSync(files.charts[0]!, 'utf8'))
})

test('a log-scale chart places points by decade and skips values it cannot show', () => {
  const svg = lineChartSvg({
    title: 't',
    xLabel: 'x',
    yLabel: 'y',
    yLog: true,
    series: [
      {
        name: 's',
        color: '#000',
        points: [
          { x: 0, y: 1e-3 },
          { x: 10, y: 1e-1 },
          { x: 5, y: 0 },
        ],
      },
    ],
    width: 400,
    height: 300,
  })
  assertWellFormedXml(svg)
  const circles = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])])
  // Two plotted points plus the legend's marker; y = 0 has no place on a log axis.
  assert.equal(circles.length, 3)
  const [a, b] = circles as [number[], number[]]
  // Plot area: x 72…376, y 244…40; the axis spans the decades 1e-3…1e-1 exactly.
  assert.deepEqual(a, [72, 244])
  assert.deepEqual(b, [376, 40])
})
