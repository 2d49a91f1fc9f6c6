// The Qwen3 tokenizer in a tiny generated qwen3 model. No llama.cpp vectors apply (theirs are GPT-2 and Llama-2
// ids), so llama.cpp's tokenization of our GGUF is checked against a plain byte-level BPE over the same
// tokenizer.json on the same 46 test strings; that reference is itself checked on the GPT-2 vectors first.
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { EvalSession } from '../../src-main/core/eval'
import { GgufFile, TokenType } from '../../src-main/core/gguf'
import { tempDir } from '../helpers/paths'
import { byteLevelBpe, tinyGguf, tokenizerDir, vectors } from './fixtures'

const work = tempDir('shardpress-qwen3-')
let session: EvalSession

before(async () => {
  session = await EvalSession.open({ threads: 1 })
})
after(async () => {
  await session?.dispose()
  rmSync(work, { recursive: true, force: true })
})

test('the byte-level BPE reference agrees with llama.cpp gpt-2 vectors (so it is a fair judge for Qwen3)', () => {
  const reference = byteLevelBpe(join(tokenizerDir('gpt2'), 'tokenizer.json'))
  for (const c of vectors('gpt-2')) assert.deepEqual(reference(c.text), c.ids, JSON.stringify(c.text))
})

test('Qwen3 tokenizer → gpt2/qwen2 GGUF in a qwen3 model loads, keeps its specials and tokenizes like byte-level BPE', async () => {
  const { file } = await tinyGguf(work, 'qwen3', 'Qwen3ForCausalLM', 151936)
  const g = await GgufFile.open(file)
  try {
    assert.equal(g.get('general.architecture'), 'qwen3')
    assert.equal(g.get('qwen3.attention.key_length'), 16)
    assert.ok(g.tensors.some((t) => t.name === 'blk.0.attn_q_norm.weight'))
    assert.equal(g.get('tokenizer.ggml.model'), 'gpt2')
    assert.equal(g.get('tokenizer.ggml.pre'), 'qwen2')
    const tokens = g.get('tokenizer.ggml.tokens') as string[]
    const types = g.get('tokenizer.ggml.token_type') as number[]
    assert.equal(tokens.length, 151936)
    assert.equal(tokens[151645], '<|im_end|>')
    assert.equal(types[151645], TokenType.control)
    assert.equal(types[151700], TokenType.unused) // padding up to config.json's vocab_size
    assert.equal(g.get('tokenizer.ggml.eos_token_id'), 151645)
    assert.equal(g.get('tokenizer.ggml.padding_token_id'), 151643)
    assert.equal(g.get('tokenizer.ggml.add_bos_token'), false)
    assert.ok(String(g.get('tokenizer.chat_template')).includes('<|im_start|>'))
  } finally {
    await g.close()
  }
  const reference = byteLevelBpe(join(tokenizerDir('qwen3'), 'tokenizer.json'))
  const m = await session.load(file)
  try {
    assert.equal(m.bos, null) // add_bos_token false
    const cases = vectors('gpt-2')
    assert.equal(cases.length, 46)
    const differ: string[] = []
    for (const c of cases) {
      const ours = m.tokenize(c.text, false)
      assert.equal(m.detokenize(ours), c.text, 'round trip')
      if (JSON.stringify(ours) !== JSON.stringify(reference(c.text))) differ.push(c.text)
    }
    assert.deepEqual(differ, [])
    assert.deepEqual(m.model.tokenize('<|im_start|>user', true).slice(0, 1), [151644])
  } finally {
    await m.dispose()
  }
})
