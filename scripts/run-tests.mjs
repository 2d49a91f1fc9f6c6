#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner (TypeScript through tsx) and ends with the plain
// "N passed, N failed" line CI reads. Arguments narrow the run to files whose path contains any of them.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const filters = process.argv.slice(2)

function walk(dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...walk(p))
    else if (name.endsWith('.test.ts')) out.push(relative(root, p))
  }
  return out
}

const files = walk(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`)
  process.exit(1)
}

// One scratch folder per run: the TAP report, and the TMPDIR every test's temporary folders land in, so a run
// cleans up after itself (SHARDPRESS_KEEP_TEST_TMP=1 keeps it for a post-mortem).
const scratch = mkdtempSync(join(tmpdir(), 'shardpress-tests-'))
const tap = join(scratch, 'report.tap')
const testTmp = join(scratch, 'tmp')
mkdirSync(testTmp)
const res = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, FORCE_COLOR: '0', TMPDIR: testTmp } },
)
let pass = 0
let fail = 0
try {
  const text = readFileSync(tap, 'utf8')
  pass = Number(/^# pass (\d+)/m.exec(text)?.[1] ?? 0)
  fail = Number(/^# fail (\d+)/m.exec(text)?.[1] ?? 0)
} catch {
  fail = Math.max(fail, 1)
}
if (res.status !== 0 && fail === 0) fail = 1
if (process.env.SHARDPRESS_KEEP_TEST_TMP === '1') console.error(`test scratch kept in ${scratch}`)
else rmSync(scratch, { recursive: true, force: true })
console.log(`${pass} passed, ${fail} failed`)
process.exit(fail === 0 && res.status === 0 ? 0 : 1)
