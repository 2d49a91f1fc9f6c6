import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { after, test } from 'node:test'
import { mappedRegionCount } from '../../src-main/core/codec'
import { compressModel } from '../../src-main/core/pipeline/compress'
import { JOB_DIR_NAME } from '../../src-main/core/pipeline/compressed-model'
import { decompressModel, verifyModel } from '../../src-main/core/pipeline/decompress'
import { createPipelinePool } from '../../src-main/core/pipeline/pool'
import { makePlan } from '../../src-main/core/plan/plan'
import { shared, tempDir } from '../helpers/paths'
import { checkReconstruction } from './check'
import { writeBf16Model, writeFp8Model } from './fixtures'

const pool = createPipelinePool(2)
after(() => pool.close())

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')
const stories = shared('models', 'stories260K-hf')

test('lossless round trip of stories260K gives a sha256-identical shard and copies the side files', async () => {
  const out = tempDir()
  const rec = tempDir()
  const plan = makePlan('lossless', 0)
  const r = await compressModel({ model: stories, outDir: out, plan, pool })
  assert.equal(r.manifest.totals.lossyTensors, 0)
  assert.ok(r.manifest.totals.ratio > 1, 'lossless still saves bytes')
  assert.ok(existsSync(join(out, 'model.safetensors.spz')))
  assert.ok(existsSync(join(r.runDir, 'metrics.csv')))
  const rep = await decompressModel({ input: out, outDir: rec, pool })
  assert.equal(rep.ok, true)
  assert.equal(sha(join(rec, 'model.safetensors')), sha(join(stories, 'model.safetensors')))
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
    assert.equal(readFileSync(join(rec, f), 'utf8'), readFileSync(join(stories, f), 'utf8'))
})

test('REL 1e-3 on stories260K keeps every bound, and the headers stay byte-identical', async () => {
  const out = tempDir()
  const rec = tempDir()
  const plan = makePlan('rel', 1e-3)
  const r = await compressModel({ model: stories, outDir: out, plan, pool })
  assert.ok(r.manifest.totals.ratio > 2, `ratio ${r.manifest.totals.ratio}`)
  assert.equal(r.manifest.totals.maxOverBoundShare, 0)
  for (const m of r.metrics) assert.equal(m.overBoundShare, 0, m.tensor)
  const rep = await decompressModel({ input: out, outDir: rec, pool })
  assert.ok(
    rep.tensors.some((t) => t.checkedAgainstOriginal),
    'bounds checked against the original',
  )
  const s = await checkReconstruction(stories, rec, plan, ['model.safetensors'])
  assert.ok(s.lossy > 10 && s.lossless > 5, JSON.stringify(s))
  assert.ok(s.maxRatioToBound > 0.5 && s.maxRatioToBound <= 1, 'the bound is used, not wasted')
})

test('FP8 model with block scales in another shard: lossless identical, ABS bound held in dequantized units', async () => {
  const model = await writeFp8Model(tempDir())
  const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']
  const out = tempDir()
  const rec = tempDir()
  await compressModel({ model, outDir: out, plan: makePlan('lossless', 0), pool })
  await decompressModel({ input: out, outDir: rec, pool })
  for (const n of names) assert.equal(sha(join(rec, n)), sha(join(model, n)))
  assert.equal(sha(join(rec, 'model.safetensors.index.json')), sha(join(model, 'model.safetensors.index.json')))

  const plan = makePlan('abs', 2e-3)
  const out2 = tempDir()
  const rec2 = tempDir()
  const r = await compressModel({ model, outDir: out2, plan, pool })
  const fp8 = r.metrics.find((m) => m.tensor === 'model.layers.0.mlp.down_proj.weight')!
  assert.equal(fp8.method, 'abs')
  assert.equal(fp8.originalBytes, 192 * 192, 'ratios count the FP8 bytes on disk')
  assert.equal(r.metrics.find((m) => m.tensor.endsWith('down_proj.weight_scale_inv'))!.method, 'lossless')
  assert.equal(r.metrics.find((m) => m.tensor === 'model.position_ids')!.method, 'stored')
  await decompressModel({ input: out2, outDir: rec2, pool })
  const s = await checkReconstruction(model, rec2, plan, names)
  assert.ok(s.lossy >= 3, JSON.stringify(s))
})

test('BF16 Llama-like model under REL 1e-4 with a plan override', async () => {
  const model = await writeBf16Model(tempDir(), 3, 2)
  const plan = makePlan('rel', 1e-4, [{ name: '*.q_proj.weight', mode: 'lossless', label: 'keep q exact' }])
  const out = tempDir()
  const rec = tempDir()
  const r = await compressModel({ model, outDir: out, plan, pool })
  assert.equal(r.metrics.find((m) => m.tensor.endsWith('q_proj.weight'))!.rule, 'keep q exact')
  await decompressModel({ input: out, outDir: rec, pool })
  const s = await checkReconstruction(model, rec, plan, ['model.safetensors'])
  assert.ok(s.lossy >= 2)
  const v = await verifyModel({ input: out, original: model, pool })
  assert.equal(v.ok, true, JSON.stringify(v.problems))
})

test('a tensor whose bound check fails is rewritten losslessly, and the container stays consistent', async () => {
  const model = await writeFp8Model(tempDir(), 8)
  const out = tempDir()
  const rec = tempDir()
  const r = await compressModel({
    model,
    outDir: out,
    plan: makePlan('abs', 2e-3),
    pool,
    checkBoundScale: 0,
    chunkElements: 4096,
  })
  assert.deepEqual(
    r.metrics.filter((m) => m.method === 'abs').map((m) => [m.tensor, m.maxAbsErr]),
    [],
    'every lossy tensor fell back',
  )
  await decompressModel({ input: out, outDir: rec, pool })
  for (const n of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'])
    assert.equal(sha(join(rec, n)), sha(join(model, n)))
})

test('a cancelled compress keeps its partial work and the same command resumes to the same bytes', async () => {
  const model = await writeFp8Model(tempDir(), 9, 2)
  const ref = tempDir()
  const plan = makePlan('rel', 1e-3)
  await compressModel({ model, outDir: ref, plan, pool, chunkElements: 4096 })
  const out = tempDir()
  const ac = new AbortController()
  let events = 0
  await assert.rejects(
    compressModel({
      model,
      outDir: out,
      plan,
      pool,
      chunkElements: 4096,
      commitIntervalMs: 0,
      signal: ac.signal,
      onProgress: (p) => {
        if (++events === 3) ac.abort()
        assert.ok(p.bytesDone <= p.bytesTotal && p.tensorsTotal === 9)
      },
    }),
    (e: unknown) => (e as { code?: string }).code === 'CANCELLED',
  )
  const r = await compressModel({ model, outDir: out, plan, pool, chunkElements: 4096 })
  assert.equal(r.manifest.resumes, 1)
  for (const n of ['model-00001-of-00002.safetensors.spz', 'model-00002-of-00002.safetensors.spz'])
    assert.ok(readFileSync(join(out, n)).equals(readFileSync(join(ref, n))), n)
})

test("the encoder's own measurements match a decode-back check, chunk by chunk (BF16 REL and FP8 ABS)", async () => {
  const regions = mappedRegionCount()
  for (const [model, plan] of [
    [await writeBf16Model(tempDir(), 3, 2), makePlan('rel', 1e-3)],
    [await writeFp8Model(tempDir(), 6), makePlan('abs', 2e-3)],
  ] as const) {
    const plain = tempDir()
    const checked = tempDir()
    const a = await compressModel({ model, outDir: plain, plan, pool, chunkElements: 4096 })
    // decodeCheck throws DECODED_MISMATCH if any chunk decodes to other bytes or other error sums. It reads its
    // chunks into memory where the plain job compresses them from a mapping of the original: same containers.
    const b = await compressModel({ model, outDir: checked, plan, pool, chunkElements: 4096, decodeCheck: true })
    const strip = (ms: typeof a.metrics) => ms.map(({ ms: _, ...rest }) => rest)
    assert.deepEqual(strip(b.metrics), strip(a.metrics))
    assert.ok(
      a.metrics.some((m) => m.method === 'abs' && m.maxAbsErr > 0),
      'lossy tensors were measured',
    )
    // Mapped a few chunks at a time (windows, short last ones, tensors mapped twice) or read: the same bytes too.
    const windowed = tempDir()
    await compressModel({ model, outDir: windowed, plan, pool, chunkElements: 4096, mapWindowBytes: 5 * 4096 })
    for (const f of a.manifest.shards.map((s) => `${s.file}.spz`)) {
      assert.equal(sha(join(plain, f)), sha(join(checked, f)), f)
      assert.equal(sha(join(windowed, f)), sha(join(checked, f)), f)
    }
    // And the measured maxima are what an independent check against the original finds.
    const v = await verifyModel({ input: plain, original: model, pool })
    assert.equal(v.ok, true, JSON.stringify(v.problems))
    // Reconstructions decoded from mapped windows of the containers (large, small) or from reads are identical.
    const recs = [{}, { mapWindowBytes: 3000 }, { mapChunks: false }].map(() => tempDir())
    await decompressModel({ input: plain, outDir: recs[0]!, pool, original: false })
    await decompressModel({ input: plain, outDir: recs[1]!, pool, original: false, mapWindowBytes: 3000 })
    await decompressModel({ input: plain, outDir: recs[2]!, pool, original: false, mapChunks: false })
    for (const f of a.manifest.shards.map((s) => s.file))
      for (const rec of recs.slice(1)) assert.equal(sha(join(rec, f)), sha(join(recs[0]!, f)), f)
  }
  assert.equal(mappedRegionCount(), regions, 'every mapping of originals and containers was let go')
})

test('a finished shard whose journal says so is kept, and partials of it left by a killed rewrite are removed', async () => {
  // A run that lost part of its job folder (killed while removing it) rewrites a finished shard; killed again
  // after journaling that shard's end but before the rename, it leaves a whole partial beside the final file.
  const model = await writeBf16Model(tempDir(), 4)
  const out = tempDir()
  await compressModel({ model, outDir: out, plan: makePlan('rel', 1e-3), pool })
  const rec = tempDir()
  await decompressModel({ input: out, outDir: rec, pool, original: false })
  const shardFile = readdirSync(rec).find((n) => n.endsWith('.safetensors'))!
  const before = sha(join(rec, shardFile))
  const jobDir = join(rec, JOB_DIR_NAME)
  mkdirSync(jobDir)
  const fingerprint = createHash('sha256')
    .update(readFileSync(join(out, 'shardpress.json')))
    .update(resolve(out))
    .digest('hex')
  writeFileSync(join(jobDir, 'state.json'), JSON.stringify({ fingerprint }))
  const size = statSync(join(rec, shardFile)).size
  writeFileSync(join(jobDir, `${shardFile}.jsonl`), `${JSON.stringify({ finished: true, size })}\n`)
  copyFileSync(join(rec, shardFile), join(rec, `${shardFile}.partial-999999`))
  await decompressModel({ input: out, outDir: rec, pool, original: false })
  assert.deepEqual(
    readdirSync(rec).filter((n) => /partial|shardpress-job/.test(n)),
    [],
    'no leftovers',
  )
  assert.equal(sha(join(rec, shardFile)), before)
})
