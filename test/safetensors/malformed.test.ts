// The catalogue of broken files: each one is refused with its named error code, a one-sentence message naming
// the file (and the tensor when there is one), in the reference reader's rule order, without crash or hang.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  parseHeader,
  SafetensorsError,
  type SafetensorsErrorCode,
  SafetensorsFile,
} from '../../src-main/core/safetensors'
import { parseHeaderJson } from '../../src-main/core/safetensors/header'
import { tempDir } from '../helpers/paths'
import { pattern, rawFile, writeFixture } from './fixtures'

interface Case {
  name: string
  bytes: Buffer
  code: SafetensorsErrorCode
  tensor?: string
}

const t = (dtype: string, shape: (number | string)[], begin: number | string, end: number | string): string =>
  `{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${begin},${end}]}`

const cases: Case[] = [
  { name: 'empty file', bytes: Buffer.alloc(0), code: 'HEADER_TOO_SMALL' },
  { name: 'seven bytes', bytes: Buffer.from([8, 0, 0, 0, 0, 0, 0]), code: 'HEADER_TOO_SMALL' },
  { name: 'header length 2^64-1', bytes: rawFile('{}', { length: (1n << 64n) - 1n }), code: 'HEADER_TOO_LARGE' },
  { name: 'header length 100,000,001', bytes: rawFile('{}', { length: 100_000_001n }), code: 'HEADER_TOO_LARGE' },
  {
    name: 'header length at the limit but file short',
    bytes: rawFile('{}', { length: 100_000_000n }),
    code: 'INVALID_HEADER_LENGTH',
  },
  { name: 'header length that lies', bytes: rawFile('{}', { length: 64n }), code: 'INVALID_HEADER_LENGTH' },
  {
    name: 'header that is not UTF-8',
    bytes: rawFile(Buffer.concat([Buffer.from('{"a\xff":'), Buffer.from([0xc3, 0x28]), Buffer.from('}')])),
    code: 'INVALID_HEADER',
  },
  {
    name: 'UTF-8 rule runs before the JSON and offset rules',
    bytes: rawFile(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { data: 3 }),
    code: 'INVALID_HEADER',
  },
  { name: 'header with a byte-order mark', bytes: rawFile('\ufeff{}'), code: 'INVALID_HEADER_DESERIALIZATION' },
  {
    name: 'truncated JSON',
    bytes: rawFile(`{"a":${t('F32', [1], 0, 4)}`, { data: 4 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
  },
  { name: 'top level is an array', bytes: rawFile('[]'), code: 'INVALID_HEADER_DESERIALIZATION' },
  {
    name: 'trailing comma',
    bytes: rawFile(`{"a":${t('U8', [1], 0, 1)},}`, { data: 1 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
  },
  {
    name: 'padded with NUL bytes',
    bytes: rawFile('{}\0\0\0\0\0\0', { pad: false }),
    code: 'INVALID_HEADER_DESERIALIZATION',
  },
  {
    name: 'metadata with a number',
    bytes: rawFile(`{"__metadata__":{"format":"pt","epoch":3},"a":${t('U8', [1], 0, 1)}}`, { data: 1 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
  },
  {
    name: 'metadata that is a string',
    bytes: rawFile('{"__metadata__":"pt"}'),
    code: 'INVALID_HEADER_DESERIALIZATION',
  },
  {
    name: 'negative dimension',
    bytes: rawFile(`{"a":${t('U8', [-1], 0, 1)}}`, { data: 1 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
    tensor: 'a',
  },
  {
    name: 'fractional dimension',
    bytes: rawFile(`{"a":${t('U8', ['1.0'], 0, 1)}}`, { data: 1 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
    tensor: 'a',
  },
  {
    name: 'exponent offset',
    bytes: rawFile(`{"a":${t('U8', [4], 0, '4e0')}}`, { data: 4 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
    tensor: 'a',
  },
  {
    name: 'shape that is not an array',
    bytes: rawFile('{"a":{"dtype":"U8","shape":4,"data_offsets":[0,4]}}', { data: 4 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
    tensor: 'a',
  },
  {
    name: 'offsets that are not a pair',
    bytes: rawFile('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4,8]}}', { data: 4 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
    tensor: 'a',
  },
  {
    name: 'missing dtype',
    bytes: rawFile('{"a":{"shape":[4],"data_offsets":[0,4]}}', { data: 4 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
    tensor: 'a',
  },
  {
    name: 'tensor entry that is not an object',
    bytes: rawFile('{"a":["U8",[4],[0,4]]}', { data: 4 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
    tensor: 'a',
  },
  {
    name: 'dimension above 2^64-1',
    bytes: rawFile(`{"a":${t('U8', ['18446744073709551616', 0], 0, 0)}}`),
    code: 'INVALID_HEADER_DESERIALIZATION',
    tensor: 'a',
  },
  {
    name: 'a key given twice inside a tensor',
    bytes: rawFile('{"a":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}', { data: 1 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
    tensor: 'a',
  },
  {
    name: 'lone surrogate escape in a name',
    bytes: rawFile(`{"a\\ud800":${t('U8', [1], 0, 1)}}`, { data: 1 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
  },
  {
    name: 'raw control character in a name',
    bytes: rawFile(`{"a\tb":${t('U8', [1], 0, 1)}}`, { data: 1 }),
    code: 'INVALID_HEADER_DESERIALIZATION',
  },
  {
    name: 'nesting 100,000 deep',
    bytes: rawFile(
      `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`,
      {
        data: 1,
      },
    ),
    code: 'INVALID_HEADER_DESERIALIZATION',
  },
  {
    name: 'unknown dtype',
    bytes: rawFile(`{"a":${t('F128', [1], 0, 16)}}`, { data: 16 }),
    code: 'UNKNOWN_DTYPE',
    tensor: 'a',
  },
  {
    name: 'deserialization rules run before the offset walk',
    bytes: rawFile(`{"a":${t('U8', [1], 5, 6)},"b":${t('Q4_K', [1], 0, 1)}}`, { data: 6 }),
    code: 'UNKNOWN_DTYPE',
    tensor: 'b',
  },
  {
    name: 'duplicate tensor names',
    bytes: rawFile(`{"a":${t('U8', [2], 0, 2)},"a":${t('U8', [2], 2, 4)}}`, { data: 4 }),
    code: 'DUPLICATE_TENSOR',
    tensor: 'a',
  },
  {
    name: 'duplicate names with identical entries',
    bytes: rawFile(`{"w":${t('U8', [2], 0, 2)},"w":${t('U8', [2], 0, 2)}}`, { data: 2 }),
    code: 'DUPLICATE_TENSOR',
    tensor: 'w',
  },
  {
    name: 'gap between tensors',
    bytes: rawFile(`{"a":${t('U8', [2], 0, 2)},"b":${t('U8', [2], 4, 6)}}`, { data: 6 }),
    code: 'INVALID_OFFSET',
    tensor: 'b',
  },
  {
    name: 'overlapping tensors',
    bytes: rawFile(`{"a":${t('U8', [4], 0, 4)},"b":${t('U8', [4], 2, 6)}}`, { data: 6 }),
    code: 'INVALID_OFFSET',
    tensor: 'b',
  },
  {
    name: 'two tensors sharing one range',
    bytes: rawFile(`{"a":${t('U8', [4], 0, 4)},"b":${t('U8', [4], 0, 4)}}`, { data: 4 }),
    code: 'INVALID_OFFSET',
    tensor: 'b',
  },
  {
    name: 'end before begin',
    bytes: rawFile(`{"a":${t('U8', [0], 0, 0)},"b":${t('U8', [2], 0, 2)},"c":${t('U8', [1], 2, 1)}}`, { data: 2 }),
    code: 'INVALID_OFFSET',
    tensor: 'c',
  },
  {
    name: 'first tensor not at offset 0',
    bytes: rawFile(`{"a":${t('U8', [2], 8, 10)}}`, { data: 10 }),
    code: 'INVALID_OFFSET',
    tensor: 'a',
  },
  {
    name: 'shape whose element count overflows 64 bits',
    bytes: rawFile(`{"a":${t('U8', [4294967296, 4294967296], 0, 1)}}`, { data: 1 }),
    code: 'VALIDATION_OVERFLOW',
    tensor: 'a',
  },
  {
    name: 'shape whose size in bits overflows 64 bits',
    bytes: rawFile(`{"a":${t('F64', ['2305843009213693952'], 0, 8)}}`, { data: 8 }),
    code: 'VALIDATION_OVERFLOW',
    tensor: 'a',
  },
  {
    name: 'overflow found left to right even when a later dimension is 0',
    bytes: rawFile(`{"a":${t('U8', [1099511627776, 1099511627776, 0], 0, 0)}}`),
    code: 'VALIDATION_OVERFLOW',
    tensor: 'a',
  },
  {
    name: 'F4 tensor with an odd element count',
    bytes: rawFile(`{"a":${t('F4', [3], 0, 2)}}`, { data: 2 }),
    code: 'MISALIGNED_SLICE',
    tensor: 'a',
  },
  {
    name: 'F6 tensor whose bits are not whole bytes',
    bytes: rawFile(`{"a":${t('F6_E2M3', [2, 3], 0, 5)}}`, { data: 5 }),
    code: 'MISALIGNED_SLICE',
    tensor: 'a',
  },
  {
    name: 'shape that disagrees with the offsets',
    bytes: rawFile(`{"a":${t('F32', [2, 3], 0, 20)}}`, { data: 20 }),
    code: 'TENSOR_INVALID_INFO',
    tensor: 'a',
  },
  {
    name: 'truncated data section',
    bytes: rawFile(`{"a":${t('F32', [2, 3], 0, 24)}}`, { data: 23 }),
    code: 'INCOMPLETE_BUFFER',
  },
  {
    name: 'trailing bytes after the last tensor (polyglot)',
    bytes: rawFile(`{"a":${t('F32', [2], 0, 8)}}`, { data: 12 }),
    code: 'INCOMPLETE_BUFFER',
  },
  { name: 'no tensors but trailing data', bytes: rawFile('{}', { data: 1 }), code: 'INCOMPLETE_BUFFER' },
  {
    name: 'offsets beyond 2^53 that the reference accepts until the size check',
    bytes: rawFile(`{"a":${t('U8', ['1152921504606846977'], 0, '1152921504606846977')}}`, { data: 8 }),
    code: 'INCOMPLETE_BUFFER',
  },
  {
    name: 'dimension beyond 2^53 in an empty tensor (not representable exactly)',
    bytes: rawFile(`{"a":${t('U8', [0, '9007199254740993'], 0, 0)}}`),
    code: 'VALIDATION_OVERFLOW',
    tensor: 'a',
  },
]

test('the malformed catalogue has at least 20 distinct files and covers every header rule', () => {
  assert.ok(cases.length >= 20)
  const codes = new Set(cases.map((c) => c.code))
  for (const code of [
    'HEADER_TOO_SMALL',
    'HEADER_TOO_LARGE',
    'INVALID_HEADER_LENGTH',
    'INVALID_HEADER',
    'INVALID_HEADER_DESERIALIZATION',
    'UNKNOWN_DTYPE',
    'DUPLICATE_TENSOR',
    'INVALID_OFFSET',
    'VALIDATION_OVERFLOW',
    'MISALIGNED_SLICE',
    'TENSOR_INVALID_INFO',
    'INCOMPLETE_BUFFER',
  ] as const) {
    assert.ok(codes.has(code), code)
  }
})

const dir = tempDir('shardpress-st-malformed-')
for (const [i, c] of cases.entries()) {
  test(`refuses ${c.name} with ${c.code}`, { timeout: 10_000 }, async () => {
    const file = writeFixture(dir, `case-${String(i).padStart(2, '0')}.safetensors`, c.bytes)
    await assert.rejects(SafetensorsFile.open(file), (err: unknown) => {
      assert.ok(err instanceof SafetensorsError, `not a SafetensorsError: ${String(err)}`)
      assert.equal(err.code, c.code, err.message)
      assert.equal(err.file, file)
      assert.ok(err.message.includes(file), err.message)
      assert.equal(err.tensor, c.tensor, err.message)
      if (c.tensor !== undefined) assert.ok(err.message.includes(JSON.stringify(c.tensor)), err.message)
      assert.match(err.message, /^[^\n]+\.$/, 'one sentence ending with a full stop')
      return true
    })
  })
}

test('a missing file is an IO_ERROR naming it', async () => {
  const file = `${dir}/does-not-exist.safetensors`
  await assert.rejects(SafetensorsFile.open(file), (err: unknown) => {
    assert.ok(err instanceof SafetensorsError)
    assert.equal(err.code, 'IO_ERROR')
    assert.ok(err.message.includes(file))
    return true
  })
})

test('random corruptions of a valid header give a SafetensorsError or a valid parse, never anything else', () => {
  const header = Buffer.from(
    `{"__metadata__":{"format":"pt"},"w":${t('BF16', [3, 4], 0, 24)},"b":${t('F32', [2], 24, 32)},"s":${t('I64', [], 32, 40)}}`,
  )
  const fileSize = 8 + header.length + 40
  const rnd = pattern(4000, 7)
  let refused = 0
  for (let k = 0; k < 1000; k++) {
    const bytes = Buffer.from(header)
    const edits = 1 + (rnd[k]! % 3)
    for (let e = 0; e < edits; e++) {
      const at = (rnd[(k * 3 + e) % rnd.length]! * 131 + k * 17 + e) % bytes.length
      bytes[at] = rnd[(k * 7 + e * 13) % rnd.length]!
    }
    try {
      const h = parseHeader(bytes, fileSize, 'fuzz.safetensors')
      assert.equal(h.tensors.at(-1)?.end ?? 0, 40)
    } catch (err) {
      assert.ok(err instanceof SafetensorsError, String(err))
      refused++
    }
  }
  assert.ok(refused > 500, `only ${refused} corruptions refused`)
})

test('the fast path for canonical tensor entries and the generic parser judge every corruption alike', () => {
  const header = Buffer.from(
    `{"__metadata__":{"format":"pt"},"w":${t('BF16', [3, 4], 0, 24)},"b":${t('F32', [2], 24, 32)},"s":${t('I64', [], 32, 40)},"e":${t('F4', [0, 2], 40, 40)}}`,
  )
  const outcome = (bytes: Buffer, fastPath: boolean): string => {
    try {
      const r = parseHeaderJson(bytes, 'diff.safetensors', { fastPath })
      return JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))
    } catch (err) {
      assert.ok(err instanceof SafetensorsError, String(err))
      return `${err.code} ${err.tensor} ${err.message}`
    }
  }
  const rnd = pattern(6000, 11)
  const alphabet = Buffer.from('{}[]",:0123456789-.eE +ntrufalsdhpy_\\')
  for (let k = 0; k < 1500; k++) {
    const bytes = Buffer.from(header)
    const at = (rnd[k]! * 251 + rnd[k + 1]! * 7 + k * 31) % bytes.length
    bytes[at] = alphabet[rnd[k + 2]! % alphabet.length]!
    if (k % 3 === 0) bytes[(at + 1 + rnd[k + 3]!) % bytes.length] = alphabet[rnd[k + 4]! % alphabet.length]!
    assert.equal(outcome(bytes, true), outcome(bytes, false), bytes.toString())
  }
  assert.equal(outcome(header, true), outcome(header, false))
})
