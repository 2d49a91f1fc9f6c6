import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { ContainerReader } from '../../src-main/core/container/reader'
import { repoRoot, tempDir } from '../helpers/paths'
import { rng, writeFp8Model } from './fixtures'

const child = join(import.meta.dirname, 'kill-child.ts')

/** Runs the child; kills it with SIGKILL after `killAfterMs` (if given). Resolves with how it ended. */
function run(
  args: string[],
  killAfterMs?: number,
): Promise<{ code: number | null; signal: string | null; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now()
    const p = spawn(process.execPath, ['--import', 'tsx', child, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let err = ''
    p.stderr.on('data', (d) => {
      err += d
    })
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => p.kill('SIGKILL'), killAfterMs)
    p.on('error', reject)
    p.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer)
      if (code !== 0 && signal === null) reject(new Error(`child failed (${code}): ${err}`))
      else resolve({ code, signal, ms: Date.now() - t0 })
    })
  })
}

const finalNames = (dir: string, suffix: string) => readdirSync(dir).filter((n) => n.endsWith(suffix))
const same = (a: string, b: string) => readFileSync(a).equals(readFileSync(b))

test('SIGKILL at random moments during compress and reconstruct: no partial file under a final name, resume gives the same bytes', async () => {
  const model = await writeFp8Model(tempDir(), 21, 3)
  const shards = readdirSync(model).filter((n) => n.endsWith('.safetensors'))
  const r = rng(77)

  // Uninterrupted reference runs, which also tell how long a job takes here.
  const refOut = tempDir()
  const refRec = tempDir()
  const tc = (await run(['compress', model, refOut])).ms
  const td = (await run(['decompress', refOut, refRec])).ms
  for (const s of shards) assert.ok(existsSync(join(refRec, s)))

  // Kills land at random moments; a run that happens to finish before its kill is checked too, and the next
  // attempts start in a fresh folder. Attempts go on until enough kills landed (bounded, so the test cannot hang).
  let kills = 0
  let midway = 0
  for (const [op, from, ref, suffix, t] of [
    ['compress', model, refOut, '.spz', tc],
    ['decompress', refOut, refRec, '.safetensors', td],
  ] as const) {
    const checkFinished = (out: string, what: string) => {
      const finals = finalNames(out, suffix).sort()
      assert.deepEqual(finals, finalNames(ref, suffix).sort())
      for (const n of finals)
        assert.ok(same(join(out, n), join(ref, n)), `${op}: ${what} ${n} differs from an uninterrupted run`)
      assert.deepEqual(
        readdirSync(out).filter((n) => /partial|shardpress-job/.test(n)),
        [],
        'no leftovers',
      )
    }
    let out = tempDir()
    let opKills = 0
    let opMidway = 0
    let killedSinceFresh = false
    for (let attempt = 0; attempt < 40 && (opKills < 6 || opMidway < 2); attempt++) {
      // Kill anywhere from process start-up to the end of a normal run.
      const res = await run([op, from, out], Math.floor(150 + r() * t))
      if (res.signal !== 'SIGKILL') {
        // The run finished first: its output must be whole; continue in a fresh folder.
        checkFinished(out, killedSinceFresh ? 'resumed' : 'finished')
        out = tempDir()
        killedSinceFresh = false
        continue
      }
      kills++
      opKills++
      killedSinceFresh = true
      // Killed while a shard was half written: the next run has to resume it.
      if (readdirSync(out).some((n) => /\.partial-\d+$/.test(n))) {
        midway++
        opMidway++
      }
      // Anything under a final name must be complete and equal to the reference.
      for (const n of finalNames(out, suffix)) {
        assert.ok(same(join(out, n), join(ref, n)), `${op}: ${n} under its final name after a kill is incomplete`)
        if (suffix === '.spz') await (await ContainerReader.open(join(out, n))).close()
      }
      if (existsSync(join(out, 'shardpress.json')) && op === 'compress') {
        for (const s of shards) assert.ok(existsSync(join(out, `${s}.spz`)))
      }
    }
    await run([op, from, out])
    checkFinished(out, 'resumed')
  }
  assert.ok(kills >= 10, `only ${kills} runs were killed`)
  assert.ok(midway >= 4, `only ${midway} kills left a half-written shard to resume`)
})
