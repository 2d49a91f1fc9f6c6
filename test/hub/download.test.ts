// Hub download against a local server that answers the routes @huggingface/hub calls (tree listing, resolve with
// Range): the right files arrive byte-identical, an interrupted file resumes with a Range request, a corrupted
// file is refused by its SHA-256, and a repo without weights is an error.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { downloadModel, HubError, wantedFile } from '../../src-main/core/hub'
import type { ProgressEvent } from '../../src-main/core/util/progress'
import { tempDir } from '../helpers/paths'
import { type FakeFile, type FakeHub, startFakeHub } from './fake-hub'

const bytes = (n: number, seed: number) => {
  const b = new Uint8Array(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    b[i] = x >>> 24
  }
  return b
}

const repoFiles: FakeFile[] = [
  { path: 'config.json', data: new TextEncoder().encode('{"model_type":"llama"}'), lfs: false },
  { path: 'tokenizer.json', data: new TextEncoder().encode('{"model":{}}'), lfs: false },
  { path: 'model-00001-of-00002.safetensors', data: bytes(300_000, 1), lfs: true },
  { path: 'model-00002-of-00002.safetensors', data: bytes(120_000, 2), lfs: true },
  { path: 'model.safetensors.index.json', data: new TextEncoder().encode('{"weight_map":{}}'), lfs: false },
  { path: 'README.md', data: new TextEncoder().encode('# card'), lfs: false },
  { path: 'onnx/model.onnx', data: bytes(1000, 3), lfs: true },
]

let hub: FakeHub
let hubUrl = ''
const work = tempDir('shardpress-hub-')

before(async () => {
  hub = await startFakeHub({ 'tiny/llama': repoFiles, 'tiny/empty': [repoFiles[0]!] })
  hubUrl = hub.url
})
after(async () => {
  await hub.close()
  rmSync(work, { recursive: true, force: true })
})

test('wantedFile keeps weights, config and tokenizer at the top level only', () => {
  assert.ok(wantedFile('model.safetensors'))
  assert.ok(wantedFile('tokenizer.model'))
  assert.ok(wantedFile('model.safetensors.index.json'))
  assert.ok(!wantedFile('README.md'))
  assert.ok(!wantedFile('onnx/model.safetensors'))
  assert.ok(!wantedFile('pytorch_model.bin'))
})

test('downloads the weights, index, config and tokenizer byte-identical, with progress', async () => {
  const out = join(work, 'a')
  const events: ProgressEvent[] = []
  const r = await downloadModel({ repo: 'tiny/llama', outDir: out, hubUrl, onProgress: (e) => events.push(e) })
  const expected = repoFiles.filter((f) => wantedFile(f.path)).map((f) => f.path)
  assert.deepEqual(r.files.map((f) => f.path).sort(), [...expected].sort())
  assert.ok(r.files.every((f) => f.status === 'downloaded'))
  for (const f of repoFiles.filter((x) => wantedFile(x.path)))
    assert.deepEqual(new Uint8Array(readFileSync(join(out, f.path))), f.data, f.path)
  assert.deepEqual(readdirSync(out).sort(), [...expected].sort(), 'no partial or state files left behind')
  assert.equal(r.bytes, 300_000 + 120_000 + 22 + 12 + 17)
  const last = events[events.length - 1]!
  assert.equal(last.bytesDone, last.bytesTotal)
  assert.equal(last.tensorsDone, expected.length)
  assert.ok(events.some((e) => e.bytesDone > 0 && e.bytesDone < e.bytesTotal))

  // A second run finds every file complete and fetches nothing.
  const before = hub.requests.length
  const again = await downloadModel({ repo: 'tiny/llama', outDir: out, hubUrl })
  assert.ok(again.files.every((f) => f.status === 'present'))
  assert.equal(hub.requests.slice(before).filter((q) => q.url.includes('/resolve/')).length, 0)
})

test('an interrupted file resumes from its partial with a Range request', async () => {
  const out = join(work, 'b')
  const big = repoFiles[2]!
  hub.cutOnce.set(big.path, 100_000)
  await assert.rejects(downloadModel({ repo: 'tiny/llama', outDir: out, hubUrl }), (err: unknown) => {
    assert.ok(err instanceof HubError)
    assert.equal(err.code, 'HUB_REQUEST_FAILED')
    return true
  })
  assert.ok(!existsSync(join(out, big.path)), 'no half file under the final name')
  const partials = readdirSync(out).filter((n) => n.startsWith(`${big.path}.partial-`))
  assert.equal(partials.length, 1)
  const kept = readFileSync(join(out, partials[0]!)).length
  assert.ok(kept > 0 && kept < big.data.length)

  const before = hub.requests.length
  const r = await downloadModel({ repo: 'tiny/llama', outDir: out, hubUrl })
  const bigFile = r.files.find((f) => f.path === big.path)!
  assert.equal(bigFile.status, 'resumed')
  assert.deepEqual(new Uint8Array(readFileSync(join(out, big.path))), big.data)
  const ranged = hub.requests.slice(before).filter((q) => q.url.endsWith(big.path) && q.range !== 'bytes=0-0')
  assert.deepEqual(
    ranged.map((q) => q.range),
    [`bytes=${kept}-${big.data.length - 1}`],
  )
})

test('a file that does not match its SHA-256 is refused and removed', async () => {
  const out = join(work, 'c')
  hub.corrupt.add(repoFiles[3]!.path)
  try {
    await assert.rejects(downloadModel({ repo: 'tiny/llama', outDir: out, hubUrl }), (err: unknown) => {
      assert.ok(err instanceof HubError)
      assert.equal(err.code, 'HUB_CHECKSUM_MISMATCH')
      assert.equal(err.file, repoFiles[3]!.path)
      return true
    })
  } finally {
    hub.corrupt.clear()
  }
  assert.ok(!readdirSync(out).some((n) => n.startsWith(repoFiles[3]!.path)))
})

test('a repo without safetensors, a missing repo and a bad name are errors with codes', async () => {
  const out = join(work, 'd')
  await assert.rejects(downloadModel({ repo: 'tiny/empty', outDir: out, hubUrl }), { code: 'HUB_NO_WEIGHTS' })
  await assert.rejects(downloadModel({ repo: 'tiny/missing', outDir: out, hubUrl }), { code: 'HUB_REQUEST_FAILED' })
  await assert.rejects(downloadModel({ repo: '../etc', outDir: out, hubUrl }), { code: 'HUB_BAD_REPO' })
})
