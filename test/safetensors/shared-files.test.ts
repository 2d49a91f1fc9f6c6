// Reading then writing each shared .safetensors file gives identical bytes: the header rebuilt by buildHeader in
// the layout the file was written with, the data streamed by ranges through SafetensorsWriter.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildHeader, detectHeaderLayout, SafetensorsFile, SafetensorsWriter } from '../../src-main/core/safetensors'
import { shared, tempDir } from '../helpers/paths'

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** Each shared file, with the header layout it was written in (found by detectHeaderLayout, checked here). */
const files = [
  // Written by a Python script that puts __metadata__ after the tensors; tensors are in reference order (all F32,
  // by name), so only the metadata position differs from the reference writer.
  { path: shared('models', 'stories260K-hf', 'model.safetensors'), tensors: 47, metadataPosition: 'last' },
  { path: shared('models', 'lora-gpt2-tigrinya', 'adapter_model.safetensors'), tensors: 72, metadataPosition: 'first' },
  { path: shared('bench', 'lora_gpt2_stack_bf16_46080x8.safetensors'), tensors: 1, metadataPosition: 'first' },
  { path: shared('bench', 'stories260K_stack_bf16_3192x64.safetensors'), tensors: 1, metadataPosition: 'first' },
  { path: shared('bench', 'synthetic_bf16_2048x2048.safetensors'), tensors: 1, metadataPosition: 'first' },
] as const

const out = tempDir('shardpress-st-shared-')

for (const f of files) {
  const name = f.path.split('/').slice(-2).join('/')
  test(`rewriting ${name} gives byte-identical output`, {
    skip: !existsSync(f.path) && 'shared file missing',
  }, async () => {
    const original = readFileSync(f.path)
    const sf = await SafetensorsFile.open(f.path)
    try {
      assert.equal(sf.tensors.length, f.tensors)
      assert.deepEqual(sf.metadata, { format: 'pt' })
      const layout = detectHeaderLayout(sf.header)
      assert.deepEqual(layout, { order: 'reference', metadataPosition: f.metadataPosition })
      // The reference writer's header (reference order, metadata first) equals the original exactly when the
      // file was written that way.
      const reference = buildHeader(sf.tensors, sf.metadata)
      assert.equal(reference.json.equals(sf.header.rawJson), f.metadataPosition === 'first')
      const rebuilt = buildHeader(sf.tensors, sf.metadata, layout)
      assert.deepEqual(rebuilt.json, sf.header.rawJson)
      assert.deepEqual(
        rebuilt.tensors.map((t) => [t.name, t.begin, t.end]),
        sf.tensors.map((t) => [t.name, t.begin, t.end]),
      )

      const target = join(out, `${name.replace('/', '_')}`)
      const w = await SafetensorsWriter.create(target, sf.tensors, sf.metadata, {
        rawHeaderJson: rebuilt.json,
      })
      const chunk = 1 << 20
      for (const t of w.tensors) {
        for (let at = 0; at < t.byteLength; at += chunk) {
          await w.write(await sf.read(t.name, at, Math.min(t.byteLength, at + chunk)))
        }
      }
      await w.finish()
      assert.equal(sha256(readFileSync(target)), sha256(original))
    } finally {
      await sf.close()
    }
  })
}

test('the stories260K rewrite matches the sha256 its PROVENANCE.md records', {
  skip: !existsSync(files[0].path),
}, () => {
  const rewritten = join(out, 'stories260K-hf_model.safetensors')
  assert.equal(sha256(readFileSync(rewritten)), 'c549afd8464a1250200b5338d39d23d0bf096c7f6578944268d40512c133daa6')
})
