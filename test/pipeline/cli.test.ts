import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseArgs } from 'node:util'
import type { Command, CommandContext } from '../../src-main/cli/command'
import { compress } from '../../src-main/cli/commands/compress'
import { decompress } from '../../src-main/cli/commands/decompress'
import { sweep } from '../../src-main/cli/commands/sweep'
import { verify } from '../../src-main/cli/commands/verify'
import { shared, tempDir } from '../helpers/paths'

/** Runs a command object the way the CLI does (parseArgs with its options), capturing stdout. */
async function cli(cmd: Command, args: string[]): Promise<{ code: number; out: string }> {
  const { values, positionals } = parseArgs({ args, options: cmd.options, allowPositionals: true, strict: true })
  let out = ''
  const sink = {
    write: (s: string) => {
      out += s
      return true
    },
  } as unknown as NodeJS.WritableStream
  const ctx: CommandContext = {
    values: values as CommandContext['values'],
    positionals,
    stdout: sink,
    stderr: sink,
    progress: () => {},
    signal: new AbortController().signal,
  }
  return { code: (await cmd.run(ctx)) ?? 0, out }
}

const stories = shared('models', 'stories260K-hf')

test('compress, verify, decompress and sweep from the command line, with --json output', async () => {
  const out = tempDir()
  const c = await cli(compress, [stories, '-o', out, '--mode', 'rel', '--bound', '1e-3', '--workers', '2', '--json'])
  const j = JSON.parse(c.out)
  assert.equal(j.manifest.plan.mode, 'rel')
  assert.ok(j.manifest.totals.ratio > 2)
  assert.match(j.runDir, /runs\/run_001$/)

  const v = await cli(verify, [out, '--original', stories, '--workers', '2'])
  assert.equal(v.code, 0)
  assert.match(v.out, /^OK: 1 container\(s\), 47 tensors decoded/)

  const rec = tempDir()
  const d = await cli(decompress, [out, '-o', rec, '--workers', '2'])
  assert.match(d.out, /lossy tensors checked against the original/)

  // A damaged container makes verify exit 1 and name the problem.
  const spz = join(out, 'model.safetensors.spz')
  const b = readFileSync(spz)
  b[b.length >> 1] ^= 0xff
  writeFileSync(spz, b)
  const bad = await cli(verify, [out, '--workers', '2'])
  assert.equal(bad.code, 1)
  assert.match(bad.out, /FAILED: 1 problem\(s\):\n {2}\[CORRUPT_CHUNK\]/)

  const sw = tempDir()
  const s = await cli(sweep, [stories, '-o', sw, '--bounds', '1e-5,1e-4,1e-3', '--workers', '2'])
  const lines = s.out.trim().split('\n')
  assert.equal(lines.length, 5, s.out)
  assert.match(lines[1]!, /^run_001 +rel +0\.00001 +default/)
  assert.match(lines[3]!, /^run_003 +rel +0.001/)
  const res = JSON.parse(readFileSync(join(sw, 'sweep.json'), 'utf8'))
  const ratios = res.charts.ratioVsBound.map((r: { ratio: number }) => r.ratio)
  assert.ok(ratios[0] < ratios[1] && ratios[1] < ratios[2], `ratio grows with the bound: ${ratios}`)
  assert.ok(res.charts.perRole.some((r: { role: string }) => r.role === 'embedding'))
  // Running the same sweep again reuses the finished runs.
  const again = await cli(sweep, [stories, '-o', sw, '--bounds', '1e-5,1e-4,1e-3', '--workers', '2', '--json'])
  assert.deepEqual(
    JSON.parse(again.out).rows.map((r: { run: string }) => r.run),
    ['run_001', 'run_002', 'run_003'],
  )
})
