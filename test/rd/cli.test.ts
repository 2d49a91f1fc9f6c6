// The rd and tune commands: option checking reaches the user as usage errors, and the table prints real columns.
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import { type CommandContext, UsageError } from '../../src-main/cli/command'
import { rd, rdTable } from '../../src-main/cli/commands/rd'
import { tune } from '../../src-main/cli/commands/tune'
import type { RdResult } from '../../src-main/core/rd'

function ctx(positionals: string[], values: CommandContext['values']): CommandContext {
  return {
    values,
    positionals,
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    progress: () => {},
    signal: new AbortController().signal,
  }
}

test('rd and tune check their options before any work', async () => {
  await assert.rejects(rd.run(ctx(['m'], { bounds: '1e-3,-1' })), UsageError)
  await assert.rejects(rd.run(ctx(['m'], { bounds: '1e-3', mode: 'lossless' })), /--mode must be abs or rel/)
  await assert.rejects(tune.run(ctx(['m'], {})), /give --target-kld X or --target-ppl-ratio Y/)
  await assert.rejects(tune.run(ctx(['m'], { 'target-ppl-ratio': '0.5' })), /--target-ppl-ratio 0.5 is not valid/)
  await assert.rejects(tune.run(ctx(['m'], { 'target-kld': 'x' })), /--target-kld x is not valid/)
})

test('rdTable prints one aligned row per variant', () => {
  const m = { ppl: 3.6, pplRatio: 1.02, kld: 0.0123, kldStderr: 0, top1: 0.9, meanAbsDeltaP: 0, tokens: 1 }
  const r = {
    rows: [
      { kind: 'baseline', label: 'Q4_0', bitsPerWeight: 6.9408, metrics: m },
      { kind: 'original', label: 'original (F32 GGUF)', bitsPerWeight: 32, metrics: { ...m, kld: 0, pplRatio: 1 } },
    ],
  } as unknown as RdResult
  const lines = rdTable(r).split('\n')
  assert.equal(lines.length, 3)
  assert.match(lines[0]!, /^variant\s+bits\/weight\s+ratio\s+max \|err\|\s+PPL\s+PPL ratio\s+mean KLD\s+top-1$/)
  assert.match(lines[1]!, /^Q4_0\s+6\.941\s+3\.6000\s+1\.0200\s+1\.230e-2\s+0\.9000$/)
  assert.match(lines[2]!, /^original \(F32 GGUF\)\s+32\.000\s+3\.6000\s+1\.0000\s+0\s+0\.9000$/)
})
