import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { repoRoot, shared, tempDir } from '../helpers/paths'

/** Runs the CLI the way `npm run -s cli -- ARGS` does. */
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src-main/cli/main.ts', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

function bin(...args: string[]) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'shardpress.mjs'), ...args], {
    cwd: tempDir(),
    encoding: 'utf8',
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

function assertOneLineError(r: { code: number | null; stdout: string; stderr: string }, ...mentions: string[]) {
  assert.notEqual(r.code, 0)
  const lines = r.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, r.stderr)
  assert.doesNotMatch(r.stderr, /\n\s+at /)
  assert.match(lines[0]!, /^shardpress/)
  for (const m of mentions) assert.ok(lines[0]!.includes(m), `${lines[0]} should mention ${m}`)
}

test('inventory --json - prints the stories260K inventory: 47 tensors, 260,032 parameters, all F32, with roles', () => {
  const r = cli('inventory', shared('models', 'stories260K-hf'), '--json', '-')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '', 'quiet when stderr is not a terminal')
  const inv = JSON.parse(r.stdout)
  assert.deepEqual(inv.totals, { tensors: 47, params: 260032, bytes: 1040128 })
  assert.equal(inv.tensors.length, 47)
  assert.ok(inv.tensors.every((t: { dtype: string }) => t.dtype === 'F32'))
  assert.ok(inv.tensors.every((t: { role: string }) => typeof t.role === 'string' && t.role !== 'other'))
  assert.equal(inv.tensors.find((t: { name: string }) => t.name === 'model.norm.weight').role, 'norm')
  assert.equal(typeof inv.tensors[0].stats.std, 'number')
})

test('a truncated shard fails with one line naming the file, exit 1, no stack trace', () => {
  const dir = tempDir()
  const file = join(dir, 'model.safetensors')
  writeFileSync(file, readFileSync(shared('models', 'stories260K-hf', 'model.safetensors')).subarray(0, 500_000))
  assertOneLineError(cli('inventory', file), file, 'INCOMPLETE_BUFFER')
})

test('a header with a bad tensor offset names the file and the tensor', () => {
  const dir = tempDir()
  const file = join(dir, 'bad.safetensors')
  const header = JSON.stringify({
    'x.weight': { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    'y.weight': { dtype: 'F32', shape: [2], data_offsets: [16, 24] },
  }).padEnd(96, ' ')
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(header.length))
  writeFileSync(file, Buffer.concat([len, Buffer.from(header), Buffer.alloc(24)]))
  assertOneLineError(cli('inventory', file, '--json', '-'), file, 'y.weight')
})

test('usage errors: missing path, unknown option, unknown command, bad scale — one line, exit 2', () => {
  for (const args of [
    ['inventory'],
    ['inventory', '.', '--bogus'],
    ['frobnicate'],
    ['synth', 'llama', tempDir(), '--scale', '7'],
  ]) {
    const r = cli(...args)
    assert.equal(r.code, 2, args.join(' '))
    assert.equal(r.stderr.trimEnd().split('\n').length, 1)
  }
  const missing = cli('inventory', join(tempDir(), 'nope'))
  assertOneLineError(missing, 'nope', 'NOT_FOUND')
})

test('bin/shardpress.mjs runs synth and inventory from any folder; --help lists the commands', () => {
  const help = bin('--help')
  assert.equal(help.code, 0)
  assert.match(help.stdout, /inventory/)
  assert.match(help.stdout, /synth/)
  const dir = join(tempDir(), 'model')
  const s = bin('synth', 'deepseek-v3', dir, '--scale', '0.01', '--seed', '5', '--layers', '4', '--experts', '8')
  assert.equal(s.code, 0, s.stderr)
  assert.match(s.stdout, /^deepseek-v3: [\d,]+ tensors/)
  assert.ok(existsSync(join(dir, 'model.safetensors.index.json')))
  const csv = join(tempDir(), 'inventory.csv')
  const i = bin('inventory', dir, '--csv', csv)
  assert.equal(i.code, 0, i.stderr)
  assert.match(i.stdout, /DeepseekV3ForCausalLM/)
  assert.match(i.stdout, /F8_E4M3/)
  const rows = readFileSync(csv, 'utf8').trimEnd().split('\n')
  assert.ok(rows.some((r) => r.includes('model.layers.3.mlp.experts.7.gate_proj.weight,F8_E4M3,')))
  // A folder that already holds a model is not overwritten without --force.
  copyFileSync(csv, join(dir, 'keep.csv'))
  assertOneLineError(bin('synth', 'llama', dir, '--scale', '0.02'), dir)
})
