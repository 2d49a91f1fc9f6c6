// Real tokenizers put into tiny generated models: the GGUF loads in node-llama-cpp and reproduces llama.cpp's own
// tokenizer test vectors (gpt-2 vectors with the GPT-2 tokenizer, llama-spm vectors with the Llama-2 tokenizer.json).
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { EvalSession } from '../../src-main/core/eval'
import { classifyPreTokenizer, GgufFile, TokenType } from '../../src-main/core/gguf'
import { tempDir } from '../helpers/paths'
import { tinyGguf, vectors } from './fixtures'

const work = tempDir('shardpress-tok-')
let session: EvalSession

before(async () => {
  session = await EvalSession.open({ threads: 1 })
})
after(async () => {
  await session?.dispose()
  rmSync(work, { recursive: true, force: true })
})

test('GPT-2 tokenizer → gpt2/gpt-2 GGUF reproduces all llama.cpp gpt-2 test vectors', async () => {
  const { file } = await tinyGguf(work, 'gpt2', 'LlamaForCausalLM', 50257)
  const g = await GgufFile.open(file)
  try {
    assert.equal(g.get('tokenizer.ggml.model'), 'gpt2')
    assert.equal(g.get('tokenizer.ggml.pre'), 'gpt-2')
    assert.equal((g.get('tokenizer.ggml.merges') as string[]).length, 50000)
    assert.equal((g.get('tokenizer.ggml.tokens') as string[])[262], '\u0120the')
    assert.equal(g.get('tokenizer.ggml.eos_token_id'), 50256)
  } finally {
    await g.close()
  }
  const m = await session.load(file)
  try {
    const cases = vectors('gpt-2')
    assert.equal(cases.length, 46) // 46 cases (one is the empty string); the files end with a separator
    for (const c of cases) assert.deepEqual(m.tokenize(c.text, false), c.ids, JSON.stringify(c.text))
  } finally {
    await m.dispose()
  }
})

test('Llama-2 tokenizer.json → llama (SPM) GGUF reproduces all llama.cpp llama-spm test vectors', async () => {
  const { file } = await tinyGguf(work, 'llama2', 'LlamaForCausalLM', 32000)
  const g = await GgufFile.open(file)
  try {
    assert.equal(g.get('tokenizer.ggml.model'), 'llama')
    assert.equal(g.get('tokenizer.ggml.add_space_prefix'), true)
    const types = g.get('tokenizer.ggml.token_type') as number[]
    assert.deepEqual(types.slice(0, 4), [TokenType.unknown, TokenType.control, TokenType.control, TokenType.byte])
  } finally {
    await g.close()
  }
  const m = await session.load(file)
  try {
    const cases = vectors('llama-spm')
    assert.equal(cases.length, 46) // 46 cases (one is the empty string); the files end with a separator
    for (const c of cases) assert.deepEqual(m.tokenize(c.text, false), c.ids, JSON.stringify(c.text))
    assert.deepEqual(m.tokenize('Hello world'), [1, 15043, 3186])
  } finally {
    await m.dispose()
  }
})

test('pre-tokenizers are named from tokenizer.json, and unknown ones are refused', () => {
  assert.equal(classifyPreTokenizer({ type: 'ByteLevel', add_prefix_space: false, use_regex: true }), 'gpt-2')
  assert.equal(
    classifyPreTokenizer({
      type: 'Sequence',
      pretokenizers: [
        { type: 'Digits', individual_digits: true },
        { type: 'ByteLevel', use_regex: true },
      ],
    }),
    'smollm',
  )
  assert.throws(
    () => classifyPreTokenizer({ type: 'Whitespace' }),
    (e: Error & { code?: string }) => e.code === 'GGUF_UNSUPPORTED_TOKENIZER',
  )
})
