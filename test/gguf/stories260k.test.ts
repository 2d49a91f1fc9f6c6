// HF → GGUF on a real model: stories260K converted from safetensors must match llama.cpp's own GGUF tensor by
// tensor, tokenize the 1000 validation stories identically and generate the same greedy continuation.
import assert from 'node:assert/strict'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { readGgufFileInfo } from 'node-llama-cpp'
import { EvalSession } from '../../src-main/core/eval'
import { convertToGguf, GgmlType, GgufFile, quantizeQ4_0, quantizeQ8_0 } from '../../src-main/core/gguf'
import { shared, tempDir } from '../helpers/paths'

const hf = shared('models', 'stories260K-hf')
const refGguf = shared('models', 'stories260K-gguf', 'stories260K.gguf')
const dir = tempDir('shardpress-gguf-')
const f32File = join(dir, 'stories260K-f32.gguf')
// FIDELITY.md / PROVENANCE.md: llama.cpp's greedy 30 tokens after "Once upon a time".
const GREEDY_30 = [
  432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265,
  282, 295, 433, 426, 385, 328, 432,
]

before(async () => {
  await convertToGguf(hf, f32File, { type: 'f32' })
})

test('F32 conversion is byte-identical to llama.cpp GGUF for every tensor (tied output aside)', async () => {
  const ours = await GgufFile.open(f32File)
  const ref = await GgufFile.open(refGguf)
  try {
    assert.equal(ours.tensors.length, ref.tensors.length - 1)
    assert.ok(!ours.tensors.some((t) => t.name === 'output.weight'))
    for (const t of ref.tensors) {
      if (t.name === 'output.weight') continue
      const mine = ours.tensor(t.name)
      assert.deepEqual(mine.ne, t.ne, t.name)
      assert.equal(mine.type, GgmlType.F32, t.name)
      assert.ok(
        Buffer.from(await ours.read(t.name)).equals(Buffer.from(await ref.read(t.name))),
        `${t.name} bytes differ`,
      )
      assert.equal(mine.offset % 32, 0)
    }
    // The loader is type-strict: check the exact GGUF types of the keys llama.cpp reads.
    const types = Object.fromEntries(
      [...ours.metadata].map(([k, v]) => [k, v.type === 'arr' ? `arr:${v.itemType}` : v.type]),
    )
    assert.equal(types['general.architecture'], 'str')
    assert.equal(types['llama.context_length'], 'u32')
    assert.equal(types['llama.block_count'], 'u32')
    assert.equal(types['llama.attention.head_count_kv'], 'u32')
    assert.equal(types['llama.attention.layer_norm_rms_epsilon'], 'f32')
    assert.equal(types['llama.rope.freq_base'], 'f32')
    assert.equal(types['general.file_type'], 'u32')
    assert.equal(types['tokenizer.ggml.tokens'], 'arr:str')
    assert.equal(types['tokenizer.ggml.scores'], 'arr:f32')
    assert.equal(types['tokenizer.ggml.token_type'], 'arr:i32')
    assert.equal(types['tokenizer.ggml.bos_token_id'], 'u32')
    assert.equal(types['tokenizer.ggml.add_bos_token'], 'bool')
    assert.deepEqual(ours.get('tokenizer.ggml.tokens'), ref.get('tokenizer.ggml.tokens'))
    assert.deepEqual(ours.get('tokenizer.ggml.token_type'), ref.get('tokenizer.ggml.token_type'))
    assert.equal(ours.get('llama.attention.head_count_kv'), 4)
    assert.equal(ours.get('llama.rope.dimension_count'), 8)
  } finally {
    await ours.close()
    await ref.close()
  }
  // node-llama-cpp's own parser reads it too.
  const info = await readGgufFileInfo(f32File)
  assert.equal(info.metadata.general.architecture, 'llama')
  assert.equal(info.tensorInfo?.length, 47)
})

test('Q8_0 and Q4_0 baselines quantize every 2-D weight, keep norms F32 and 172-wide down_proj F16', async () => {
  const ref = await GgufFile.open(refGguf)
  try {
    for (const [type, ggml, quantize, bpw] of [
      ['q8_0', GgmlType.Q8_0, quantizeQ8_0, 10.0918] as const,
      ['q4_0', GgmlType.Q4_0, quantizeQ4_0, 6.9408] as const,
    ]) {
      const file = join(dir, `stories260K-${type}.gguf`)
      const r = await convertToGguf(hf, file, { type })
      // 259,328 weights in 36 matrices; ffn_down (172 columns) counts at its real F16 size.
      assert.equal(r.weightCount, 259328)
      assert.equal(Number(r.bitsPerWeight.toFixed(4)), bpw)
      const g = await GgufFile.open(file)
      try {
        assert.equal(g.get('general.file_type'), type === 'q8_0' ? 7 : 2)
        for (const t of g.tensors) {
          const want = t.ne.length === 1 ? GgmlType.F32 : t.name.includes('ffn_down') ? GgmlType.F16 : ggml
          assert.equal(t.type, want, t.name)
        }
        // Our quantized bytes are the reference formula applied to llama.cpp's F32 values.
        for (const name of ['token_embd.weight', 'blk.0.attn_q.weight', 'blk.4.ffn_up.weight']) {
          const src = await ref.read(name)
          const values = new Float32Array(src.buffer, src.byteOffset, src.byteLength / 4)
          assert.ok(Buffer.from(await g.read(name)).equals(Buffer.from(quantize(values))), name)
        }
      } finally {
        await g.close()
      }
    }
  } finally {
    await ref.close()
  }
})

let session: EvalSession
before(async () => {
  session = await EvalSession.open({ threads: 1 })
})
after(async () => {
  await session?.dispose()
  rmSync(dir, { recursive: true, force: true })
})

test('the converted model tokenizes all 1000 validation stories like llama.cpp GGUF and generates the same 30 tokens', async () => {
  const ours = await session.load(f32File)
  const ref = await session.load(refGguf)
  try {
    const text = readFileSync(shared('data', 'tinystories-valid-1k', 'tinystories_valid_first1000.txt'), 'utf8')
    const stories = text
      .split('<|endoftext|>')
      .map((s) => s.trim())
      .filter(Boolean)
    assert.equal(stories.length, 1000)
    let tokens = 0
    for (const s of stories) {
      const a = ours.tokenize(s)
      assert.deepEqual(a, ref.tokenize(s))
      tokens += a.length
    }
    assert.ok(tokens > 300_000)
    assert.deepEqual(ours.tokenize('Once upon a time'), [1, 403, 407, 261, 378])
    for (const m of [ours, ref]) {
      const seq = await m.sequenceFor(64)
      const out: number[] = []
      for await (const t of seq.evaluate(m.tokenize('Once upon a time'), { temperature: 0 })) {
        out.push(t)
        if (out.length === 30) break
      }
      assert.deepEqual(out, GREEDY_30, m.path)
    }
  } finally {
    await ours.dispose()
    await ref.dispose()
  }
})
