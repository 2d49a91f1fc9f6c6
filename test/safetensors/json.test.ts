// The strict JSON parser under the header reader: same values as JSON.parse on valid text, exact big integers,
// integer vs fractional literals kept apart, duplicates reported, and the header of a 92k-tensor model parsed whole.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildHeader, parseHeader, type TensorSpec } from '../../src-main/core/safetensors'
import { JsonFloat, JsonSyntaxError, type JsonValue, parseStrictJson } from '../../src-main/core/safetensors/json'

/** Converts parser output to plain JS values for comparison with JSON.parse. */
function plain(v: JsonValue): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]))
  if (Array.isArray(v)) return v.map(plain)
  if (v instanceof JsonFloat) return v.value
  if (typeof v === 'bigint') return Number(v)
  return v
}

test('valid JSON parses to the same values as JSON.parse', () => {
  const samples = [
    '{"a":[1,-2,3.5,-0.25e-3,1E+2,0],"b":{"c":null,"d":true,"e":false},"f":""}',
    '"esc: \\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\ud83d\\ude00 plain é 😀"',
    ' \t\n\r[ ] ',
    '{}',
    '-0',
    '123456789012345',
  ]
  for (const s of samples) assert.deepEqual(plain(parseStrictJson(s).value), JSON.parse(s), s)
})

test('integers beyond 2^53 stay exact bigints; fractional literals are kept apart from integers', () => {
  assert.equal(parseStrictJson('9007199254740991').value, 9007199254740991)
  assert.equal(parseStrictJson('9007199254740993').value, 9007199254740993n)
  assert.equal(parseStrictJson('-18446744073709551616').value, -18446744073709551616n)
  const f = parseStrictJson('2.0').value
  assert.ok(f instanceof JsonFloat)
  assert.equal(f.text, '2.0')
})

test('duplicate keys are reported with their path while the parse completes', () => {
  assert.deepEqual(parseStrictJson('{"a":{"x":1,"x":2},"a":3}').duplicate, { path: ['a'], key: 'x' })
  assert.deepEqual(parseStrictJson('{"a":1,"b":2,"a":3}').duplicate, { path: [], key: 'a' })
  assert.equal(parseStrictJson('{"a":1,"b":{"a":2}}').duplicate, undefined)
})

test('invalid JSON is a JsonSyntaxError with a position', () => {
  for (const s of [
    '',
    '{',
    '{"a"}',
    '{"a":1,}',
    '[1 2]',
    '01',
    '1.',
    '.5',
    '+1',
    'tru',
    '"\\x"',
    '"\\u12"',
    'NaN',
    '{} x',
    '"a',
  ]) {
    assert.throws(() => parseStrictJson(s), JsonSyntaxError, JSON.stringify(s))
  }
  assert.throws(() => parseStrictJson('1e400'), /out of range/)
  assert.throws(() => parseStrictJson(`${'['.repeat(129)}${']'.repeat(129)}`), /too deep/)
  assert.deepEqual(
    plain(parseStrictJson(`${'['.repeat(128)}${']'.repeat(128)}`).value),
    JSON.parse(`${'['.repeat(128)}${']'.repeat(128)}`),
  )
})

test('a 92,000-tensor header (a large MoE model) builds and parses back whole', () => {
  const specs: TensorSpec[] = []
  for (let l = 0; l < 46; l++) {
    for (let e = 0; e < 500; e++) {
      for (const p of ['gate_proj', 'up_proj', 'down_proj', 'scale'] as const) {
        specs.push({
          name: `model.layers.${l}.mlp.experts.${e}.${p}.weight`,
          dtype: p === 'scale' ? 'F32' : 'F8_E4M3',
          shape: p === 'scale' ? [2] : [4, 2],
        })
      }
    }
  }
  assert.equal(specs.length, 92_000)
  const { json, tensors } = buildHeader(specs, { format: 'pt' })
  const end = tensors.at(-1)!.end
  const h = parseHeader(json, 8 + json.length + end, 'moe.safetensors')
  assert.equal(h.tensors.length, 92_000)
  assert.deepEqual(h.tensors[0], tensors[0])
  assert.deepEqual(h.tensors.at(-1), tensors.at(-1))
  assert.equal(h.tensors.at(-1)!.end, 46 * 500 * (3 * 8 + 8))
})
