// The main job end to end, as `npm run demo -- --hub …` runs it: a small generated Llama is served by a local
// fake Hub, downloaded, compressed at two bounds, reconstructed, verified and evaluated against Q8_0, Q4_0 and the
// original on text the model sampled itself; the report holds the real figures of those runs.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { RdResult } from '../../src-main/core/rd'
import { generateModel } from '../../src-main/core/synth'
import { repoRoot, tempDir } from '../helpers/paths'
import { type FakeHub, folderFiles, startFakeHub } from '../hub/fake-hub'
import { assertWellFormedXml } from '../report/xml'

const work = tempDir('shardpress-demo-')
let hub: FakeHub

before(async () => {
  const src = join(work, 'source')
  await generateModel('llama', src, { scale: 1 / 32, layers: 2, seed: 5 })
  hub = await startFakeHub({ 'shardpress/tiny-llama': folderFiles(src) })
})
after(async () => {
  await hub?.close()
  rmSync(work, { recursive: true, force: true })
})

/** Runs a script without blocking this process's event loop (the fake Hub answers from it). */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('error', fail)
    child.on('close', (status) => ok({ status, stdout, stderr }))
  })
}

test('npm run demo -- --hub: download → compress → reconstruct → verify → evaluate → report', async () => {
  const out = join(work, 'results')
  const res = await run([
    '--import',
    'tsx',
    'scripts/demo.ts',
    '--hub',
    'shardpress/tiny-llama',
    '--hub-url',
    hub.url,
    '--out',
    out,
    '--bounds',
    '1e-4,1e-2',
    '--chunks',
    '4',
    '--ctx',
    '64',
    '--workers',
    '1',
  ])
  assert.equal(res.status, 0, `${res.stdout}\n${res.stderr}`)
  assert.match(res.stderr, /downloading shardpress\/tiny-llama/)
  assert.match(res.stderr, /download 100%/)
  const model = join(out, 'model', 'shardpress--tiny-llama')
  assert.ok(existsSync(join(model, 'model.safetensors.index.json')))
  const rd = JSON.parse(readFileSync(join(out, 'rd.json'), 'utf8')) as RdResult
  assert.deepEqual(
    rd.rows.map((r) => r.label),
    ['original (F32 GGUF)', 'Q8_0', 'Q4_0', 'rel 0.0001', 'rel 0.01'],
  )
  assert.equal(rd.method, 'documents')
  assert.equal(rd.chunks, 4)
  const [, q8, q4, fine, coarse] = rd.rows
  assert.ok(q8!.bitsPerWeight > 8 && q8!.bitsPerWeight < 8.6, 'Q8_0: 8.5 bits/weight when rows are whole blocks')
  assert.ok(q4!.bitsPerWeight > 4 && q4!.bitsPerWeight < 4.6)
  assert.ok(fine!.bitsPerWeight > coarse!.bitsPerWeight && fine!.metrics.kld <= coarse!.metrics.kld)
  for (const r of [fine!, coarse!]) assert.ok(r.point!.boundKept)
  const md = readFileSync(join(out, 'report.md'), 'utf8')
  assert.ok(md.includes('shardpress/tiny-llama from the Hugging Face Hub'))
  assert.ok(md.includes(rd.finding))
  assert.ok(
    md.includes(`| rel 0.01 | lossy | ${coarse!.bitsPerWeight.toFixed(3)} | ${coarse!.metrics.ppl.toFixed(4)} |`),
  )
  // Both runs were verified value by value against the original.
  assert.equal((md.match(/\| yes \| ok \(\d+ tensors\) \|/g) ?? []).length, 2)
  assert.ok(md.includes('sampled from the original model'))
  for (const c of ['rd-kld.svg', 'rd-ppl.svg', 'ratio-vs-bound.svg', 'group-ratio.svg'])
    assertWellFormedXml(readFileSync(join(out, c), 'utf8'))
  assert.ok(readFileSync(join(out, 'report.html'), 'utf8').includes('data:image/svg+xml;base64,'))
})

test('npm run demo rejects contradictory options with a one-line message', () => {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--model', 'a', '--hub', 'b/c'], {
    cwd: repoRoot,
    encoding: 'utf8',
  })
  assert.equal(res.status, 2)
  assert.equal(res.stderr.trim(), 'demo: give --model or --hub, not both.')
})
