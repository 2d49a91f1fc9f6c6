import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildInventory, HISTOGRAM_BINS, type TensorStats } from '../../src-main/core/model'
import { writeSafetensors } from '../../src-main/core/safetensors'
import { Rng } from '../../src-main/core/synth/random'
import { tempDir } from '../helpers/paths'

/** Reference statistics computed the plain way, independent of the streaming code. */
function reference(values: ArrayLike<number>) {
  let n = 0
  let sum = 0
  let min = Infinity
  let max = -Infinity
  let nan = 0
  let posInf = 0
  let negInf = 0
  let zeros = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (Number.isNaN(v)) nan++
    else if (v === Infinity) posInf++
    else if (v === -Infinity) negInf++
    else {
      n++
      sum += v
      min = Math.min(min, v)
      max = Math.max(max, v)
      if (v === 0) zeros++
    }
  }
  const mean = sum / n
  let ss = 0
  const hist = new Array(HISTOGRAM_BINS).fill(0)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (!Number.isFinite(v)) continue
    ss += (v - mean) ** 2
    hist[Math.min(HISTOGRAM_BINS - 1, Math.floor(((v - min) / (max - min)) * HISTOGRAM_BINS))]++
  }
  return { n, mean, std: Math.sqrt(ss / n), min, max, nan, posInf, negInf, zeros, hist }
}

function close(a: number | null, b: number, rel = 1e-9, label = '') {
  assert.ok(a !== null && Math.abs(a - b) <= rel * Math.max(1e-300, Math.abs(b)), `${label}: ${a} vs ${b}`)
}

function checkAgainst(s: TensorStats, values: ArrayLike<number>, exactHistogram: boolean) {
  const r = reference(values)
  assert.equal(s.elements, values.length)
  assert.equal(s.finite, r.n)
  assert.equal(s.min, r.min)
  assert.equal(s.max, r.max)
  close(s.mean, r.mean, 1e-9, 'mean')
  close(s.std, r.std, 1e-9, 'std')
  assert.equal(s.absMax, Math.max(-r.min, r.max))
  assert.deepEqual([s.nan, s.posInf, s.negInf, s.zeros], [r.nan, r.posInf, r.negInf, r.zeros])
  assert.equal(s.zeroFraction, r.zeros / values.length)
  assert.equal(
    s.histogram.counts.reduce((a, b) => a + b, 0),
    r.n,
  )
  if (exactHistogram) assert.deepEqual(s.histogram.counts, r.hist)
  else {
    // 32/64-bit tensors are binned through a fine histogram: bins may differ only at their edges.
    const l1 = s.histogram.counts.reduce((a, c, i) => a + Math.abs(c - r.hist[i]), 0)
    assert.ok(l1 <= 0.002 * r.n, `histogram L1 distance ${l1} of ${r.n}`)
  }
  // The sample holds the tensor's own values at the positions it names, in order.
  assert.equal(s.sample.length, Math.min(4096, values.length))
  for (let k = 0; k < s.sample.length; k++) {
    if (k > 0) assert.ok(s.sampleIndex[k]! > s.sampleIndex[k - 1]!)
    const v = values[s.sampleIndex[k]!]!
    assert.ok(Object.is(s.sample[k], v) || s.sample[k] === v, `sample ${k}`)
  }
}

function heavyValues(n: number, seed: number): Float32Array {
  const r = new Rng(seed)
  const v = new Float32Array(n)
  for (let i = 0; i < n; i++) v[i] = r.normal() * 0.02 * (r.uniform() < 0.01 ? 8 : 1)
  v[17] = Number.NaN
  v[5000] = Infinity
  v[n - 3] = -Infinity
  for (let i = 100; i < 160; i++) v[i] = 0
  v[n - 1] = 0.5 // an outlier at the far end of the last piece
  return v
}

function toBf16Codes(v: Float32Array): Uint16Array {
  const u = new Uint32Array(v.buffer.slice(0))
  return Uint16Array.from(u, (x) =>
    Number.isNaN(new Float32Array(new Uint32Array([x]).buffer)[0]!) ? 0x7fc0 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16,
  )
}

test('F32 and BF16 statistics match a direct computation, however the tensor is split', async () => {
  const dir = tempDir()
  const f32 = heavyValues(300 * 1000, 1)
  const bf = toBf16Codes(heavyValues(700 * 1000, 2))
  const bfValues = new Float32Array(new Uint32Array(Array.from(bf, (c) => c << 16)).buffer)
  const file = join(dir, 'm.safetensors')
  await writeSafetensors(file, [
    { name: 'a.weight', dtype: 'F32', shape: [300, 1000], data: new Uint8Array(f32.buffer) },
    { name: 'b.weight', dtype: 'BF16', shape: [700, 1000], data: new Uint8Array(bf.buffer) },
    { name: 'c.weight', dtype: 'F32', shape: [5], data: new Uint8Array(new Float32Array([1, 2, 3, 4, 5]).buffer) },
  ])
  const whole = await buildInventory(file, { stats: true, workers: 0 })
  const split = await buildInventory(file, { stats: true, workers: 0, readBytes: 65536, taskBytes: 256 << 10 })
  for (const inv of [whole, split]) {
    checkAgainst(inv.tensors.find((t) => t.name === 'a.weight')!.stats!, f32, false)
    checkAgainst(inv.tensors.find((t) => t.name === 'b.weight')!.stats!, bfValues, true)
    const c = inv.tensors.find((t) => t.name === 'c.weight')!.stats!
    assert.deepEqual([c.min, c.max, c.mean, c.std], [1, 5, 3, Math.sqrt(2)])
  }
  // Splitting changes nothing for code-counted dtypes, and the sample is the same elements.
  const b1 = whole.tensors[1]!.stats!
  const b2 = split.tensors[1]!.stats!
  assert.deepEqual(b1, b2)
  assert.deepEqual(whole.tensors[0]!.stats!.sampleIndex, split.tensors[0]!.stats!.sampleIndex)
})

test('worker threads give the same statistics as the in-thread path', async () => {
  const dir = tempDir()
  const file = join(dir, 'w.safetensors')
  const tensors = Array.from({ length: 6 }, (_, i) => {
    const v = heavyValues(40000 + i * 1000, 10 + i)
    return {
      name: `layers.${i}.mlp.up_proj.weight`,
      dtype: 'BF16' as const,
      shape: [v.length],
      data: new Uint8Array(toBf16Codes(v).buffer),
    }
  })
  await writeSafetensors(file, tensors)
  const a = await buildInventory(file, { stats: true, workers: 0, taskBytes: 64 << 10 })
  const events: number[] = []
  const b = await buildInventory(file, {
    stats: true,
    workers: 2,
    taskBytes: 64 << 10,
    readBytes: 32 << 10,
    onProgress: (e) => events.push(e.bytesDone),
  })
  assert.deepEqual(
    b.tensors.map((t) => t.stats),
    a.tensors.map((t) => t.stats),
  )
  assert.equal(
    events.at(-1),
    tensors.reduce((s, t) => s + t.data.length, 0),
  )
})

/** E4M3FN decoded from its bit fields (independent of the code tables under test). */
function e4m3(code: number): number {
  const s = code & 0x80 ? -1 : 1
  const e = (code >> 3) & 15
  const m = code & 7
  if (e === 15 && m === 7) return Number.NaN
  return e === 0 ? s * m * 2 ** -9 : s * (1 + m / 8) * 2 ** (e - 7)
}

test('an FP8 weight with block scales in another shard has statistics of its dequantized values', async () => {
  const dir = tempDir()
  const rows = 300
  const cols = 200
  const r = new Rng(5)
  const codes = new Uint8Array(rows * cols)
  for (let i = 0; i < codes.length; i++) {
    let c = r.u32() & 0xff
    if ((c & 0x7f) === 0x7f) c = 0x10 // keep NaN codes out of the bulk...
    codes[i] = c
  }
  codes[12345] = 0x7f // ...but one NaN to count
  const scales = Float32Array.from({ length: 3 * 2 }, (_, i) => 0.001 * (i + 1))
  const name = 'model.layers.4.mlp.experts.2.down_proj.weight'
  await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), [
    { name, dtype: 'F8_E4M3', shape: [rows, cols], data: codes },
  ])
  await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), [
    { name: `${name}_scale_inv`, dtype: 'F32', shape: [3, 2], data: new Uint8Array(scales.buffer) },
  ])
  writeFileSync(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({
      metadata: { total_size: rows * cols + 24 },
      weight_map: {
        [name]: 'model-00001-of-00002.safetensors',
        [`${name}_scale_inv`]: 'model-00002-of-00002.safetensors',
      },
    }),
  )
  const deq = new Float64Array(rows * cols)
  for (let i = 0; i < deq.length; i++) {
    const row = Math.floor(i / cols)
    const col = i % cols
    deq[i] = e4m3(codes[i]!) * scales[Math.floor(row / 128) * 2 + Math.floor(col / 128)]!
  }
  // Whole tensor in one job; one job per block row; reads of 5 rows that cut block rows.
  for (const [taskBytes, readBytes] of [
    [32 << 20, 16 << 20],
    [30 << 10, 16 << 20],
    [32 << 20, 1000],
  ] as const) {
    const inv = await buildInventory(dir, { stats: true, workers: 0, taskBytes, readBytes })
    const t = inv.tensors.find((x) => x.name === name)!
    assert.equal(t.scaleTensor, `${name}_scale_inv`)
    assert.equal(t.stats!.dequantized, true)
    checkAgainst(t.stats!, deq, true)
    assert.equal(t.stats!.nan, 1)
  }
})
