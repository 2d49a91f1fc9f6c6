// Conversion rules on small hand-made inputs: the Q/K row un-permutation, which storage type each tensor gets,
// Llama-3 rope factors, SentencePiece scores from merge ranks, and typed errors for what we cannot convert.
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import {
  convertToGguf,
  GgmlType,
  type GgufError,
  loadVocab,
  storageType,
  unpermuteHeads,
} from '../../src-main/core/gguf'
import { llama3RopeFactors } from '../../src-main/core/gguf/architectures'
import { shared, tempDir } from '../helpers/paths'

const work = tempDir('shardpress-rules-')
after(() => rmSync(work, { recursive: true, force: true }))

test('un-permute maps HF rotate-half rows to interleaved pairs per head (dst 2j+i = src i·hd/2+j)', () => {
  // Two heads of head_dim 4, one byte per row: rows are their own indices.
  const rows = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7])
  assert.deepEqual([...unpermuteHeads(rows, 8, 2)], [0, 2, 1, 3, 4, 6, 5, 7])
  // Rows of several bytes move as a whole.
  const wide = Uint8Array.from([0, 0, 1, 1, 2, 2, 3, 3])
  assert.deepEqual([...unpermuteHeads(wide, 4, 1)], [0, 0, 2, 2, 1, 1, 3, 3])
  assert.throws(
    () => unpermuteHeads(rows, 8, 3),
    (e: GgufError) => e.code === 'GGUF_SHAPE',
  )
})

test('storage types: norms and 1-D F32, matrices in the output type, rows not a multiple of 32 stay F16', () => {
  assert.equal(storageType('blk.0.attn_norm.weight', [64], 'q4_0'), GgmlType.F32)
  assert.equal(storageType('blk.0.attn_q.bias', [64], 'f16'), GgmlType.F32)
  assert.equal(storageType('blk.0.attn_q_norm.weight', [8], 'bf16'), GgmlType.F32)
  assert.equal(storageType('token_embd.weight', [64, 512], 'q4_0'), GgmlType.Q4_0)
  assert.equal(storageType('blk.0.ffn_down.weight', [172, 64], 'q8_0'), GgmlType.F16)
  assert.equal(storageType('blk.0.ffn_down.weight', [172, 64], 'bf16'), GgmlType.BF16)
})

test('Llama-3 rope scaling becomes rope_freqs factors: 1 for short wavelengths, factor for long ones', () => {
  const f = llama3RopeFactors({
    head_dim: 128,
    rope_theta: 500000,
    rope_scaling: {
      rope_type: 'llama3',
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    },
  })!
  assert.equal(f.length, 64)
  assert.equal(f[0], 1)
  assert.equal(f[63], 8)
  for (let i = 1; i < 64; i++) assert.ok(f[i]! >= f[i - 1]!)
  assert.equal(llama3RopeFactors({ head_dim: 128, rope_scaling: null }), null)
})

test('SentencePiece-style vocab: byte/control types and scores ordered like the merges', () => {
  const v = loadVocab(shared('models', 'stories260K-hf'), 512)
  assert.equal(v.model, 'llama')
  assert.deepEqual(v.tokenTypes.slice(0, 4), [2, 3, 3, 6])
  assert.equal(v.bos, 1)
  assert.equal(v.eos, 2)
  assert.equal(v.addBos, true)
  assert.equal(v.addSpacePrefix, true)
  // llama.cpp's original file scores token 259+k as −k; ours must order merged tokens the same way.
  const merged = v.scores!.slice(259, 400)
  for (let i = 1; i < merged.length; i++) assert.ok(merged[i]! < merged[i - 1]!, `score order at ${259 + i}`)
})

test('unsupported architectures and missing files give typed errors', async () => {
  const dir = join(work, 'bert')
  mkdirSync(dir)
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ architectures: ['BertModel'] }))
  await assert.rejects(
    convertToGguf(dir, join(work, 'x.gguf'), { type: 'f32' }),
    (e: GgufError) => e.code === 'GGUF_UNSUPPORTED_ARCH',
  )
  await assert.rejects(
    convertToGguf(join(work, 'nowhere'), join(work, 'x.gguf'), { type: 'f32' }),
    (e: GgufError) => e.code === 'GGUF_MISSING_FILE',
  )
})
