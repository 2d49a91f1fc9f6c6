// The worker pool with tasks posted ahead (depth): every task gets its own answer, no worker holds more than
// `depth`, errors and a dying worker reject exactly the tasks they concern, and close cancels the rest.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { test } from 'node:test'
import { CancelledError, spawnWorker, WorkerPool, WorkerTaskError } from '../../src-main/core/util/workers'
import type { EchoTask } from '../helpers/echo-worker'
import { repoRoot, tempDir } from '../helpers/paths'

type Echo = { value: number; waiting: number; threadId: number; script: string }
const url = new URL('../helpers/echo-worker.ts', import.meta.url)

/** Runs fn with a pool of `size` echo workers holding `depth` tasks each, closing the pool whatever happens. */
async function withPool(size: number, depth: number, fn: (pool: WorkerPool<EchoTask, Echo>) => Promise<void>) {
  const pool = new WorkerPool<EchoTask, Echo>(url, size, { depth })
  try {
    await fn(pool)
  } finally {
    await pool.close()
  }
}

test('depth 2: each task answered with its own result, at most one waiting per worker, both workers used', () =>
  withPool(2, 2, async (pool) => {
    assert.equal(pool.tasksPerWorker, 2)
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => pool.run({ value: i, ms: 3 })))
    assert.deepEqual(
      results.map((r) => r.value),
      Array.from({ length: 24 }, (_, i) => i),
    )
    assert.ok(Math.max(...results.map((r) => r.waiting)) <= 1, 'a worker held more than two tasks')
    assert.ok(
      results.some((r) => r.waiting === 1),
      'no task was ever posted ahead',
    )
    assert.equal(new Set(results.map((r) => r.threadId)).size, 2)
  }))

test('depth 1 keeps one task per worker', () =>
  withPool(2, 1, async (pool) => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.run({ value: i, ms: 2 })))
    assert.ok(results.every((r) => r.waiting === 0))
  }))

test('a failing task rejects alone; the task posted behind it on the same worker still succeeds', () =>
  withPool(1, 2, async (pool) => {
    const a = pool.run({ value: 1, ms: 5, fail: true })
    const b = pool.run({ value: 2, ms: 1 })
    await assert.rejects(a, (e: unknown) => e instanceof WorkerTaskError && e.code === 'BOOM')
    assert.equal((await b).value, 2)
  }))

test('a worker that exits rejects every task posted to it; the other worker finishes the queue', () =>
  withPool(2, 2, async (pool) => {
    // Posting spreads tasks over workers before giving any a second: tasks 0 and 2 go to one worker.
    const dying = pool.run({ value: 0, ms: 0, exit: true })
    const first = pool.run({ value: 1, ms: 20 })
    const behind = pool.run({ value: 2, ms: 0 })
    const later = pool.run({ value: 3, ms: 0 })
    await assert.rejects(dying, /exited with code 3/)
    await assert.rejects(behind, /exited with code 3/)
    assert.equal((await first).value, 1)
    assert.equal((await later).value, 3)
    assert.equal(pool.size, 1)
  }))

test('close cancels queued and posted tasks', async () => {
  const pool = new WorkerPool<EchoTask, Echo>(url, 1, { depth: 2 })
  const tasks = Array.from({ length: 4 }, (_, i) => pool.run({ value: i, ms: 50 }))
  for (const t of tasks) t.catch(() => {})
  await pool.close()
  for (const t of tasks) await assert.rejects(t, (e: unknown) => e instanceof CancelledError)
  await assert.rejects(pool.run({ value: 9, ms: 0 }), (e: unknown) => e instanceof CancelledError)
})

test('a TypeScript worker runs bundled into JavaScript, and through tsx when bundling is turned off', async () => {
  await withPool(1, 1, async (pool) => {
    const r = await pool.run({ value: 1, ms: 0 })
    assert.equal(r.value, 1)
    assert.match(r.script, /node_modules\/\.cache\/shardpress-workers\/echo-worker-[0-9a-f]{16}\.mjs$/)
  })
  const before = process.env.SHARDPRESS_WORKER_BUNDLE
  process.env.SHARDPRESS_WORKER_BUNDLE = '0'
  try {
    await withPool(1, 1, async (pool) => {
      const r = await pool.run({ value: 2, ms: 0 })
      assert.equal(r.value, 2)
      assert.match(r.script, /test\/helpers\/echo-worker\.ts$/)
    })
  } finally {
    if (before === undefined) delete process.env.SHARDPRESS_WORKER_BUNDLE
    else process.env.SHARDPRESS_WORKER_BUNDLE = before
  }
})

test('writing a new bundle of a worker removes its stale bundles, and only those', async () => {
  // A project of its own (esbuild found through a link), so the cache it prunes is this test's.
  const root = tempDir('sp-bundles-')
  mkdirSync(join(root, 'node_modules'))
  symlinkSync(join(repoRoot, 'node_modules', 'esbuild'), join(root, 'node_modules', 'esbuild'))
  writeFileSync(join(root, 'package.json'), '{"type":"module"}')
  const script = join(root, 'tiny.ts')
  writeFileSync(
    script,
    `import { parentPort } from 'node:worker_threads'\nparentPort?.postMessage(${Date.now()} as number)\n`,
  )
  const cache = join(root, 'node_modules', '.cache', 'shardpress-workers')
  mkdirSync(cache, { recursive: true })
  const hour = Date.now() / 1000 - 3600
  const stale = join(cache, `tiny-${'a'.repeat(16)}.mjs`)
  const recent = join(cache, `tiny-${'b'.repeat(16)}.mjs`)
  const otherWorker = join(cache, `tinier-${'c'.repeat(16)}.mjs`)
  for (const f of [stale, recent, otherWorker]) writeFileSync(f, '')
  utimesSync(stale, hour, hour)
  utimesSync(otherWorker, hour, hour)
  const w = spawnWorker(script)
  try {
    assert.equal(typeof (await once(w, 'message'))[0], 'number')
  } finally {
    await w.terminate()
  }
  const left = readdirSync(cache).filter((f) => f.endsWith('.mjs'))
  assert.ok(!left.includes(basename(stale)), 'a bundle older than ten minutes goes')
  assert.ok(left.includes(basename(recent)), 'a recent bundle stays (another process may be starting it)')
  assert.ok(left.includes(basename(otherWorker)), "another worker's bundle stays")
  assert.equal(left.filter((f) => /^tiny-[0-9a-f]{16}\.mjs$/.test(f)).length, 2, 'the new bundle and the recent one')
})
