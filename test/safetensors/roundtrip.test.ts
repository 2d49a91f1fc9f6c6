// The writer's output passes the reader and matches the reference writer's bytes: every dtype, scalars, empty
// tensors, odd names, streaming in chunks, verbatim headers, and atomic appearance (abort leaves nothing).
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  buildHeader,
  compareUtf8,
  DTYPE_BITS,
  DTYPE_REFERENCE_ORDER,
  type Dtype,
  detectHeaderLayout,
  parseHeader,
  SafetensorsError,
  SafetensorsFile,
  SafetensorsWriter,
  type TensorSpec,
  writeSafetensors,
} from '../../src-main/core/safetensors'
import { tempDir } from '../helpers/paths'
import { pattern, rawFile, writeFixture } from './fixtures'

const dir = tempDir('shardpress-st-roundtrip-')

function bytesFor(dtype: Dtype, shape: number[]): number {
  return (shape.reduce((a, b) => a * b, 1) * DTYPE_BITS[dtype]) / 8
}

test('every dtype, scalars and empty tensors survive write then read, in reference order and aligned', async () => {
  const specs: (TensorSpec & { data: Uint8Array })[] = []
  let seed = 1
  const add = (name: string, dtype: Dtype, shape: number[]) =>
    specs.push({ name, dtype, shape, data: pattern(bytesFor(dtype, shape), seed++) })
  for (const dtype of DTYPE_REFERENCE_ORDER) {
    const bits = DTYPE_BITS[dtype]
    add(`${dtype}.matrix`, dtype, bits === 6 ? [4, 3] : bits === 4 ? [3, 2] : [3, 5])
    add(`${dtype}.empty`, dtype, [0])
    add(`${dtype}.empty2d`, dtype, [7, 0])
    if (bits % 8 === 0) add(`${dtype}.scalar`, dtype, [])
  }
  const file = join(dir, 'all-dtypes.safetensors')
  await writeSafetensors(file, specs, { format: 'pt', note: 'all dtypes' })
  const sf = await SafetensorsFile.open(file)
  try {
    assert.deepEqual(sf.metadata, { format: 'pt', note: 'all dtypes' })
    assert.equal(sf.tensors.length, specs.length)
    for (const s of specs) {
      const info = sf.tensor(s.name)
      assert.equal(info.dtype, s.dtype)
      assert.deepEqual(info.shape, s.shape)
      assert.equal(info.byteLength, s.data.length)
      assert.equal(
        info.elementCount,
        s.shape.reduce((a, b) => a * b, 1),
      )
      assert.deepEqual(await sf.read(s.name), Buffer.from(s.data))
      const size = Math.max(1, DTYPE_BITS[s.dtype] / 8)
      assert.equal(info.fileOffset % size, 0, `${s.name} is not naturally aligned`)
    }
    // Reference order: dtype rank descending, then name.
    const ranks = sf.tensors.map((t) => DTYPE_REFERENCE_ORDER.indexOf(t.dtype))
    for (let i = 1; i < ranks.length; i++) {
      assert.ok(ranks[i - 1]! >= ranks[i]!)
      if (ranks[i - 1] === ranks[i]) assert.ok(sf.tensors[i - 1]!.name < sf.tensors[i]!.name)
    }
    assert.equal(sf.tensors[0]!.dtype, 'U64')
    assert.equal(sf.header.headerLength % 8, 0)
    assert.equal(readFileSync(file).subarray(8, 9).toString(), '{')
  } finally {
    await sf.close()
  }
})

test('output is byte-identical to the reference writer on its own test vectors', () => {
  const f32 = Buffer.from(new Float32Array([0, 1, 2, 3, 4, 5]).buffer)
  const file = (specs: TensorSpec[], data: Buffer[], meta?: Record<string, string>) => {
    const { json } = buildHeader(specs, meta)
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(json.length))
    return [...Buffer.concat([len, json, ...data])]
  }
  // safetensors tensor.rs test_serialization
  assert.deepEqual(
    file([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3] }], [f32]),
    [
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34,
      70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95,
      111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0,
      64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ],
  )
  // test_serialization_forced_alignement: 7 padding spaces
  const aligned = file([{ name: 'attn0', dtype: 'F32', shape: [1, 1, 2, 3] }], [f32])
  assert.equal(aligned[0], 72)
  assert.deepEqual(aligned.slice(73, 80), [32, 32, 32, 32, 32, 32, 32])
  // test_empty, without and with metadata
  assert.deepEqual(file([], []), [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
  assert.deepEqual(
    file([], [], { framework: 'pt' }),
    [
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114,
      97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ],
  )
})

test('names with quotes, control characters, non-ASCII and "__proto__" round-trip, ordered by UTF-8 bytes', async () => {
  const names = ['', 'a"b\\c', 'tab\there', 'ñ', '\u{1F600}', '\uFFFD', '__proto__', 'constructor', '0']
  const specs = names.map((name, i) => ({ name, dtype: 'U8' as Dtype, shape: [2], data: pattern(2, i + 1) }))
  const file = join(dir, 'names.safetensors')
  await writeSafetensors(file, specs, { __proto__x: 'a', 'quote"': 'new\nline' })
  const sf = await SafetensorsFile.open(file)
  try {
    assert.deepEqual(
      sf.tensors.map((t) => t.name),
      [...names].sort(compareUtf8),
    )
    // U+FFFD sorts before U+1F600 in UTF-8 although its UTF-16 unit is larger than a surrogate.
    assert.ok(sf.tensors.findIndex((t) => t.name === '\uFFFD') < sf.tensors.findIndex((t) => t.name === '\u{1F600}'))
    for (const s of specs) assert.deepEqual(await sf.read(s.name), Buffer.from(s.data))
    assert.equal(sf.metadata?.['quote"'], 'new\nline')
  } finally {
    await sf.close()
  }
})

test('"given" order keeps the caller order and the reader still accepts it', async () => {
  const specs = [
    { name: 'z', dtype: 'U8' as Dtype, shape: [3], data: pattern(3, 1) },
    { name: 'a', dtype: 'F64' as Dtype, shape: [1], data: pattern(8, 2) },
  ]
  const file = join(dir, 'given.safetensors')
  await writeSafetensors(file, specs, undefined, { order: 'given' })
  const sf = await SafetensorsFile.open(file)
  assert.deepEqual(
    sf.tensors.map((t) => [t.name, t.begin, t.end]),
    [
      ['z', 0, 3],
      ['a', 3, 11],
    ],
  )
  assert.equal(sf.metadata, undefined)
  await sf.close()
})

test('the reader accepts what the reference accepts: whitespace around the JSON, unknown fields, null metadata, shared empty ranges', () => {
  const header = Buffer.from(
    ` \n{ "__metadata__" : null, "b" : {"dtype":"U8","shape":[0],"data_offsets":[2,2],"extra":[1,{"k":2.5}]},` +
      ` "a":{"data_offsets":[0,2],"shape":[2],"dtype":"I8"}, "c":{"dtype":"U8","shape":[0],"data_offsets":[2,2]} }\t  `,
  )
  const h = parseHeader(header, 8 + header.length + 2, 'lenient.safetensors')
  assert.equal(h.metadata, undefined)
  assert.deepEqual(
    h.tensors.map((t) => [t.name, t.begin, t.end]),
    [
      ['a', 0, 2],
      ['b', 2, 2],
      ['c', 2, 2],
    ],
  )
  assert.equal(h.dataStart, 8 + header.length)
  assert.deepEqual(h.rawJson, header)
})

test('big integers are exact: 2^53+1 is not rounded to 2^53', () => {
  // If 9007199254740993 were parsed as a double it would become ...992 and TENSOR_INVALID_INFO would be reported
  // instead of INCOMPLETE_BUFFER for the mismatching total.
  const header = Buffer.from('{"a":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,9007199254740993]}}')
  assert.throws(
    () => parseHeader(header, 8 + header.length + 1, 'big.safetensors'),
    (e: unknown) =>
      e instanceof SafetensorsError && e.code === 'INCOMPLETE_BUFFER' && e.message.includes('9007199254740993'),
  )
  const mismatch = Buffer.from('{"a":{"dtype":"U8","shape":[9007199254740992],"data_offsets":[0,9007199254740993]}}')
  assert.throws(
    () => parseHeader(mismatch, 8 + mismatch.length + 1, 'big.safetensors'),
    (e: unknown) => e instanceof SafetensorsError && e.code === 'TENSOR_INVALID_INFO',
  )
})

test('the streaming writer takes any chunking and produces the same bytes as writeSafetensors', async () => {
  const specs = [
    { name: 'w', dtype: 'BF16' as Dtype, shape: [300, 700], data: pattern(420_000, 3) },
    { name: 'b', dtype: 'F32' as Dtype, shape: [5], data: pattern(20, 4) },
    { name: 'f4', dtype: 'F4' as Dtype, shape: [10], data: pattern(5, 5) },
  ]
  const whole = join(dir, 'whole.safetensors')
  await writeSafetensors(whole, specs, { format: 'pt' })
  const streamed = join(dir, 'streamed.safetensors')
  const w = await SafetensorsWriter.create(streamed, specs, { format: 'pt' })
  assert.deepEqual(
    w.tensors.map((t) => t.name),
    ['b', 'w', 'f4'],
  )
  const all = Buffer.concat(w.tensors.map((t) => specs.find((s) => s.name === t.name)!.data))
  let at = 0
  for (const size of [1, 2, 3, 1000, 70_000, 300_000]) {
    await w.write(all.subarray(at, at + size))
    at += size
  }
  await w.write(all.subarray(at))
  assert.equal(w.bytesWritten, w.dataLength)
  await w.finish()
  assert.deepEqual(readFileSync(streamed), readFileSync(whole))
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.includes('.partial-')),
    [],
  )
})

test('a written file appears only at finish; abort leaves neither the file nor the partial', async () => {
  const sub = tempDir('shardpress-st-atomic-')
  const final = join(sub, 'model.safetensors')
  const specs = [{ name: 'x', dtype: 'F32' as Dtype, shape: [4] }]
  const w = await SafetensorsWriter.create(final, specs)
  await w.write(pattern(8))
  assert.equal(existsSync(final), false)
  assert.deepEqual(readdirSync(sub), [`model.safetensors.partial-${process.pid}`])
  await w.abort()
  assert.deepEqual(readdirSync(sub), [])

  const w2 = await SafetensorsWriter.create(final, specs)
  await w2.write(pattern(12))
  await assert.rejects(w2.finish(), (e: unknown) => {
    assert.ok(e instanceof SafetensorsError)
    assert.equal(e.code, 'INCOMPLETE_BUFFER')
    assert.equal(e.tensor, 'x')
    return true
  })
  assert.deepEqual(readdirSync(sub), [])

  const w3 = await SafetensorsWriter.create(final, specs)
  await assert.rejects(
    w3.write(pattern(17)),
    (e: unknown) => e instanceof SafetensorsError && e.code === 'RANGE_OUT_OF_BOUNDS',
  )
  await w3.write(pattern(16))
  await w3.finish()
  assert.deepEqual(readdirSync(sub), ['model.safetensors'])
  await assert.rejects(w3.write(pattern(1)), (e: unknown) => e instanceof SafetensorsError && e.code === 'IO_ERROR')
})

test('writeSafetensors refuses data of the wrong length and leaves no file', async () => {
  const sub = tempDir('shardpress-st-badlen-')
  const final = join(sub, 'bad.safetensors')
  await assert.rejects(
    writeSafetensors(final, [{ name: 'x', dtype: 'BF16', shape: [3], data: pattern(5) }]),
    (e: unknown) => e instanceof SafetensorsError && e.code === 'TENSOR_INVALID_INFO' && e.tensor === 'x',
  )
  assert.deepEqual(readdirSync(sub), [])
})

test('buildHeader refuses what the format cannot hold', () => {
  const codeOf = (fn: () => unknown) => {
    try {
      fn()
    } catch (e) {
      return e instanceof SafetensorsError ? e.code : String(e)
    }
    return 'ok'
  }
  assert.equal(
    codeOf(() =>
      buildHeader([
        { name: 'a', dtype: 'U8', shape: [1] },
        { name: 'a', dtype: 'U8', shape: [2] },
      ]),
    ),
    'DUPLICATE_TENSOR',
  )
  assert.equal(
    codeOf(() => buildHeader([{ name: 'a', dtype: 'F12' as Dtype, shape: [1] }])),
    'UNKNOWN_DTYPE',
  )
  assert.equal(
    codeOf(() => buildHeader([{ name: 'a', dtype: 'F4', shape: [3] }])),
    'MISALIGNED_SLICE',
  )
  assert.equal(
    codeOf(() => buildHeader([{ name: 'a', dtype: 'U8', shape: [-1] }])),
    'TENSOR_INVALID_INFO',
  )
  assert.equal(
    codeOf(() => buildHeader([{ name: '__metadata__', dtype: 'U8', shape: [1] }])),
    'TENSOR_INVALID_INFO',
  )
  assert.equal(
    codeOf(() => buildHeader([{ name: 'a\ud800', dtype: 'U8', shape: [1] }])),
    'TENSOR_INVALID_INFO',
  )
  assert.equal(
    codeOf(() => buildHeader([], { epoch: 3 as unknown as string })),
    'INVALID_HEADER_DESERIALIZATION',
  )
  assert.equal(
    codeOf(() => buildHeader([{ name: 'a', dtype: 'F6_E3M2', shape: [4] }])),
    'ok',
  )
})

test('a verbatim header (rawHeaderJson) is written byte for byte and its tensors drive the data order', async () => {
  const raw = Buffer.from(
    '{"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},"__metadata__":{"k":"v"}}   ',
  )
  const src = rawFile(raw, { data: Buffer.from([1, 2, 3]), pad: false })
  const final = join(dir, 'verbatim.safetensors')
  const specs: TensorSpec[] = [
    { name: 'a', dtype: 'U8', shape: [1] },
    { name: 'b', dtype: 'U8', shape: [2] },
  ]
  const w = await SafetensorsWriter.create(final, specs, undefined, { rawHeaderJson: raw })
  assert.deepEqual(
    w.tensors.map((t) => t.name),
    ['b', 'a'],
  )
  await w.write(Buffer.from([1, 2, 3]))
  await w.finish()
  assert.deepEqual(readFileSync(final), src)
  // No buildHeader layout reproduces this header (names out of order, 3 trailing spaces instead of the padding).
  const sf = await SafetensorsFile.open(final)
  assert.equal(detectHeaderLayout(sf.header), undefined)
  await sf.close()
  await assert.rejects(
    SafetensorsWriter.create(join(dir, 'mismatch.safetensors'), [{ name: 'a', dtype: 'U8', shape: [2] }], undefined, {
      rawHeaderJson: raw,
    }),
    (e: unknown) => e instanceof SafetensorsError && e.code === 'TENSOR_INVALID_INFO' && e.tensor === 'a',
  )
})

test('an unknown tensor is TENSOR_NOT_FOUND and reading after close is an IO_ERROR', async () => {
  const file = writeFixture(
    dir,
    'closed.safetensors',
    rawFile({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, { data: 16 }),
  )
  const sf = await SafetensorsFile.open(file)
  assert.throws(
    () => sf.tensor('nope'),
    (e: unknown) => e instanceof SafetensorsError && e.code === 'TENSOR_NOT_FOUND' && e.tensor === 'nope',
  )
  assert.deepEqual(await sf.read('t'), readFileSync(file).subarray(-16))
  await sf.close()
  await assert.rejects(sf.read('t', 0, 4), (e: unknown) => e instanceof SafetensorsError && e.code === 'IO_ERROR')
})
