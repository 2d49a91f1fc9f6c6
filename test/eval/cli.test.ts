// The `gguf` and `eval` commands end to end, parsed the way src-main/cli/main.ts parses every command.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { after, test } from 'node:test'
import { parseArgs } from 'node:util'
import type { Command, CommandContext } from '../../src-main/cli/command'
import { evalCommand } from '../../src-main/cli/commands/eval'
import { gguf } from '../../src-main/cli/commands/gguf'
import { GgufFile } from '../../src-main/core/gguf'
import { shared, tempDir } from '../helpers/paths'

const work = tempDir('shardpress-cli-eval-')
// Folders converted for eval go to the cache; keep this test's conversions inside its own temp folder.
process.env.SHARDPRESS_GGUF_CACHE = join(work, 'cache')
after(() => rmSync(work, { recursive: true, force: true }))

async function run(cmd: Command, argv: string[]): Promise<string> {
  const { values, positionals } = parseArgs({ args: argv, options: cmd.options, allowPositionals: true, strict: true })
  const stdout = new PassThrough()
  let out = ''
  stdout.on('data', (d) => {
    out += String(d)
  })
  const ctx: CommandContext = {
    values: values as CommandContext['values'],
    positionals,
    stdout,
    stderr: new PassThrough(),
    progress: () => {},
    signal: new AbortController().signal,
  }
  assert.equal((await cmd.run(ctx)) ?? 0, 0)
  return out
}

test('gguf writes a Q4_0 file atomically and reports its bits per weight', async () => {
  const file = join(work, 'stories-q4_0.gguf')
  const out = await run(gguf, [shared('models', 'stories260K-hf'), '-o', file, '--type', 'q4_0'])
  assert.match(out, /6\.9408 bits\/weight over 259,328 weights/)
  assert.deepEqual(
    readdirSync(work).filter((f) => f.includes('partial')),
    [],
  )
  const g = await GgufFile.open(file)
  assert.equal(g.get('general.file_type'), 2)
  await g.close()
  await assert.rejects(run(gguf, [shared('models', 'stories260K-hf'), '-o', file, '--type', 'q5_k']), /--type q5_k/)
})

test('eval prints perplexity, and kld and top1 with --against; --out writes the run files', async () => {
  const text = shared('data', 'tinystories-valid-1k', 'tinystories_valid_first1000.txt')
  const out = await run(evalCommand, [
    join(work, 'stories-q4_0.gguf'),
    '--against',
    shared('models', 'stories260K-hf'),
    '--text',
    text,
    '--prompts',
    shared('data', 'prompts', 'prompts.json'),
    '--ctx',
    '64',
    '--chunks',
    '4',
    '--max-tokens',
    '8',
    '--out',
    join(work, 'results'),
    '--run',
    'q4',
  ])
  assert.match(out, /perplexity\s+\d+\.\d+ ± /)
  assert.match(out, /kld\s+\d\.\d+e[-+]\d+/)
  assert.match(out, /top1\s+0\.\d+/)
  assert.match(out, /generations \d+\/20 identical/)
  assert.ok(existsSync(join(work, 'results', 'eval_summary_q4.csv')))
  assert.ok(existsSync(join(work, 'results', 'decompressed_q4_outputs.txt')))
  const json = JSON.parse(
    await run(evalCommand, [
      shared('models', 'stories260K-gguf', 'stories260K.gguf'),
      '--text',
      text,
      '--ctx',
      '64',
      '--chunks',
      '2',
      '--json',
    ]),
  )
  assert.equal(json.variants[0].perplexity.chunks, 2)
  await assert.rejects(run(evalCommand, [shared('models', 'stories260K-hf')]), /--text FILE/)
})

test('eval takes a compressed run: reconstructed, evaluated against the original, temporary folder removed', async () => {
  const { compressModel } = await import('../../src-main/core/pipeline')
  const { makePlan } = await import('../../src-main/core/plan')
  const runDir = join(work, 'stories-abs1e-3')
  await compressModel({ model: shared('models', 'stories260K-hf'), outDir: runDir, plan: makePlan('abs', 1e-3) })
  const out = await run(evalCommand, [
    runDir,
    '--text',
    shared('data', 'tinystories-valid-1k', 'tinystories_valid_first1000.txt'),
    '--ctx',
    '128',
    '--chunks',
    '2',
    '--against',
    shared('models', 'stories260K-hf'),
    '--json',
  ])
  const report = JSON.parse(out) as {
    variants: { source: string; divergence?: { kld: { mean: number }; top1: { rate: number } } }[]
  }
  const d = report.variants[0]!.divergence!
  // A 1e-3 bound moves the model a little but keeps it close: small but non-zero divergence.
  assert.ok(d.kld.mean > 0 && d.kld.mean < 0.01, `kld ${d.kld.mean}`)
  assert.ok(d.top1.rate > 0.95, `top1 ${d.top1.rate}`)
  assert.ok(!existsSync(report.variants[0]!.source), 'the temporary reconstruction is removed')
})
