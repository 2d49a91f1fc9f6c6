// The native statistics kernel against the JavaScript implementation (the oracle): identical counts, moments and
// fine histograms on random data of every dtype, including NaN, ±Inf, −0 and subnormals.
import assert from 'node:assert/strict'
import { closeSync, openSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, test } from 'node:test'
import { buildInventory, type NumericDtype } from '../../src-main/core/model'
import { codeTable } from '../../src-main/core/model/decode'
import {
  type BlockScaleSpec,
  blockStatsMapped,
  CodeCounter,
  countBlockCodes,
  countBlockCodesJs,
  countCodes,
  countCodesJs,
  emptyFine,
  emptyMoments,
  finishStats,
  type PartialStats,
  scanValues,
  scanValuesJs,
} from '../../src-main/core/model/stats'
import { nativeStatsActive, setStatsKernel, statsKernel } from '../../src-main/core/model/stats-native'
import { writeSafetensors } from '../../src-main/core/safetensors'
import { Rng } from '../../src-main/core/synth/random'
import { tempDir } from '../helpers/paths'

afterEach(() => setStatsKernel('auto'))

function randomBytes(n: number, seed: number): Uint8Array {
  const r = new Rng(seed)
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = r.u32() & 0xff
  return b
}

/** Runs `fn` to completion once with the native kernel, then once in JavaScript. */
async function both<T>(fn: () => Promise<T>): Promise<{ native: T; js: T }> {
  setStatsKernel('native')
  const native = await fn()
  setStatsKernel('js')
  const js = await fn()
  setStatsKernel('auto')
  return { native, js }
}

test('the native kernel is built and loads', () => {
  setStatsKernel('native')
  assert.equal(nativeStatsActive(), true)
})

test('8- and 16-bit code counts equal the JavaScript counts, at any offset and length', () => {
  const data = randomBytes(400_010, 1)
  data.fill(0, 1000, 9000) // a long run of one code
  for (const width of [1, 2] as const) {
    for (const [off, len] of [
      [0, 200_000],
      [1, 99_999],
      [3, 7],
      [2, 0],
    ] as const) {
      const bytes = data.subarray(off, off + len * width)
      // 16-bit codes at an odd byte offset are copied first, as codesOf does.
      const codes = width === 1 ? bytes : new Uint16Array(bytes.slice().buffer, 0, len)
      const size = width === 1 ? 256 : 65536
      const a = new CodeCounter(size, 1)
      countCodes(codes, a) // native (auto)
      countCodes(codes, a) // twice: counts accumulate
      const b = new CodeCounter(size)
      countCodesJs(codes, b)
      countCodesJs(codes, b)
      assert.equal(nativeStatsActive(), true)
      assert.deepEqual(a.total(), b.total(), `width ${width} offset ${off} length ${len}`)
      assert.equal(
        a.total().reduce((s, x) => s + x, 0),
        2 * len,
      )
    }
  }
})

test('FP8 per-block code counts equal the JavaScript counts for any shape and row split', () => {
  const cases = [
    // rows, cols, blockRows, blockCols, rowStart, blockRowStart
    { rows: 300, cols: 256, br: 128, bc: 128, rowStart: 0, brs: 0 },
    { rows: 77, cols: 202, br: 128, bc: 128, rowStart: 250, brs: 1 }, // cols not a multiple of 4, partial blocks
    { rows: 40, cols: 7, br: 4, bc: 3, rowStart: 13, brs: 2 },
    { rows: 5, cols: 1024, br: 16, bc: 64, rowStart: 31, brs: 1 },
    { rows: 6, cols: 4100, br: 4, bc: 2, rowStart: 3, brs: 0 }, // 2050 blocks a row: counted block by block
  ]
  for (const [i, c] of cases.entries()) {
    const spec = { blockRows: c.br, blockCols: c.bc, scaleCols: Math.ceil(c.cols / c.bc) }
    const blockRowEnd = Math.ceil((c.rowStart + c.rows) / c.br)
    const size = (blockRowEnd - c.brs) * spec.scaleCols * 256
    const bytes = randomBytes(c.rows * c.cols, 10 + i)
    bytes.fill(0x7f, 0, Math.min(bytes.length, 500))
    const a = new CodeCounter(size, 1)
    countBlockCodes(bytes, c.rowStart, c.cols, spec, c.brs, a)
    const b = new CodeCounter(size)
    countBlockCodesJs(bytes, c.rowStart, c.cols, spec, c.brs, b)
    assert.deepEqual(a.total(), b.total(), `case ${i}`)
    assert.equal(
      a.total().reduce((s, x) => s + x, 0),
      c.rows * c.cols,
    )
  }
})

test('FP8 block counts of a mapped file range equal the JavaScript counts, with the sample codes', () => {
  const k = statsKernel()
  assert.ok(k, 'native kernel must be built')
  const dir = tempDir()
  const cases = [
    { rows: 300, cols: 256, br: 128, bc: 128, rowStart: 0, brs: 0, fill: false },
    { rows: 77, cols: 202, br: 128, bc: 128, rowStart: 250, brs: 1, fill: false },
    { rows: 40, cols: 7, br: 4, bc: 3, rowStart: 13, brs: 2, fill: false },
    // One code 262,144 times in one block: the kernel's 16-bit lanes must be flushed before they overflow.
    { rows: 512, cols: 512, br: 512, bc: 512, rowStart: 0, brs: 0, fill: true },
  ]
  for (const [i, c] of cases.entries()) {
    const spec = { blockRows: c.br, blockCols: c.bc, scaleCols: Math.ceil(c.cols / c.bc) }
    const size = (Math.ceil((c.rowStart + c.rows) / c.br) - c.brs) * spec.scaleCols * 256
    const bytes = randomBytes(c.rows * c.cols, 40 + i)
    if (c.fill) bytes.fill(0x7f)
    // An offset that is not page aligned, as tensor data in a shard.
    const offset = 4099 + i
    const path = join(dir, `fp8-${i}.bin`)
    const file = new Uint8Array(offset + bytes.length + 3)
    file.set(bytes, offset)
    writeFileSync(path, file)
    const fd = openSync(path, 'r')
    try {
      const samples = Float64Array.from([0, 1, bytes.length - 1, Math.floor(bytes.length / 3)])
      const codes = new Uint8Array(samples.length)
      const a = new Uint32Array(size)
      const { blockRows, blockCols, scaleCols } = spec
      assert.equal(
        k.countBlockCodesAt(
          fd,
          offset,
          c.rows,
          c.rowStart,
          c.cols,
          blockRows,
          blockCols,
          scaleCols,
          c.brs,
          a,
          samples,
          codes,
        ),
        true,
      )
      const b = new CodeCounter(size)
      countBlockCodesJs(bytes, c.rowStart, c.cols, spec, c.brs, b)
      assert.deepEqual(a, b.total(), `case ${i}`)
      assert.deepEqual(
        Array.from(codes),
        Array.from(samples, (p) => bytes[p]!),
        `case ${i} samples`,
      )
      // A range past the end of the file is left to the reading path, which reports it.
      const none = new Uint32Array(size)
      assert.equal(
        k.countBlockCodesAt(
          fd,
          offset + 4,
          c.rows,
          c.rowStart,
          c.cols,
          blockRows,
          blockCols,
          scaleCols,
          c.brs,
          none,
          new Float64Array(0),
          new Uint8Array(0),
        ),
        false,
      )
      assert.equal(
        none.every((x) => x === 0),
        true,
      )
    } finally {
      closeSync(fd)
    }
  }
})

test('finishing block-scaled FP8 counts gives the JavaScript statistics exactly, over several parts', async () => {
  const scaleCols = 3
  // Scales with zero, negative, subnormal and huge values (code × scale overflows to ±Inf).
  const scales = Float32Array.from([0.01, 0, -0.5, 1e-40, 3e37, 0.25, 1, 2, 4, 8, 16, 32], (x) => x)
  const r = new Rng(7)
  const parts: PartialStats[] = [0, 1, 2, 3].map((blockRow) => {
    const counts = new Uint32Array(scaleCols * 256)
    for (let i = 0; i < counts.length; i++) counts[i] = r.uniform() < 0.4 ? r.u32() % 1000 : 0
    return {
      kind: 'blocks',
      start: blockRow,
      end: blockRow + 1,
      blockRowStart: blockRow,
      counts,
      sample: { index: [], value: [] },
    }
  })
  const blocks = { rows: 4, cols: 3, blockRows: 1, blockCols: 1, scaleCols, scales }
  for (const dtype of ['F8_E4M3', 'F8_E5M2'] as const) {
    for (const use of [parts, parts.slice(0, 1), [parts[2]!, parts[0]!]]) {
      const { native, js } = await both(async () => finishStats(dtype, 12, use, blocks))
      assert.deepEqual(native, js, dtype)
    }
  }
  // Ordinary scales: the histogram is populated and the moments finite.
  const plain = { ...blocks, scales: Float32Array.from({ length: 12 }, (_, i) => 0.001 * (i + 1)) }
  const { native, js } = await both(async () => finishStats('F8_E4M3', 12, parts, plain))
  assert.deepEqual(native, js)
  assert.ok(native.std! > 0 && native.histogram.counts.some((c) => c > 0))
})

/** FP8 E4M3 codes of roughly normal values (both halves of the vector path's split, ±0, subnormals). */
function e4m3Codes(n: number, seed: number): Uint8Array {
  const r = new Rng(seed)
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const v = r.normal() * 40
    const a = Math.abs(v)
    let c = 0
    if (a >= 2 ** -6) {
      const e = Math.min(15, Math.floor(Math.log2(a)) + 7)
      const m = Math.min(7, Math.floor((a / 2 ** (e - 7) - 1) * 8))
      c = e === 15 && m === 7 ? 0x7e : (e << 3) | m
    } else c = Math.min(7, Math.floor(a / 2 ** -9))
    out[i] = v < 0 ? c | 0x80 : c
  }
  return out
}

test('whole F8_E4M3 tensors through the vector path equal the counted statistics, AVX2, AVX-512BW and VNNI', async () => {
  const k = statsKernel()
  assert.ok(k, 'native kernel must be built')
  const dir = tempDir()
  const table = codeTable('F8_E4M3')
  const cases: {
    label: string
    rows: number
    cols: number
    codes: (n: number) => Uint8Array
    scale: (b: number) => number
  }[] = [
    {
      label: 'normal codes, varied scales',
      rows: 512,
      cols: 384,
      codes: (n) => e4m3Codes(n, 1),
      scale: (b) => 0.001 * (1 + ((b * 7) % 5)),
    },
    // Equal scales and uniform codes: most blocks change bin more often than the vector path counts, so they are
    // counted code by code; NaN codes in every block too.
    { label: 'uniform codes, equal scales', rows: 256, cols: 256, codes: (n) => randomBytes(n, 2), scale: () => 0.5 },
    {
      label: 'special scales, a last partial block row',
      rows: 300,
      cols: 256,
      codes: (n) => e4m3Codes(n, 3),
      scale: (b) => [0.002, 0, -0.5, Number.NaN, Number.POSITIVE_INFINITY, 1e-40][b % 6]!,
    },
    {
      label: 'only negative values',
      rows: 128,
      cols: 512,
      codes: (n) => e4m3Codes(n, 4).map((c) => c | 0x80),
      scale: (b) => 0.01 + b,
    },
  ]
  for (const [i, c] of cases.entries()) {
    const bytes = c.codes(c.rows * c.cols)
    if (i === 0) {
      bytes[5 * c.cols + 3] = 0x7f // one NaN code in the first block
      bytes[200 * c.cols + 300] = 0xff // and one in another block row
    }
    const scaleCols = Math.ceil(c.cols / 128)
    const scaleRows = Math.ceil(c.rows / 128)
    const scales = Float32Array.from({ length: scaleRows * scaleCols }, (_, b) => c.scale(b))
    const blocks: BlockScaleSpec = { rows: c.rows, cols: c.cols, blockRows: 128, blockCols: 128, scaleCols, scales }
    const offset = 4103 + i
    const path = join(dir, `e4m3-${i}.bin`)
    const file = new Uint8Array(offset + bytes.length)
    file.set(bytes, offset)
    writeFileSync(path, file)
    const n = c.rows * c.cols
    const counter = new CodeCounter(scaleRows * scaleCols * 256, 1)
    setStatsKernel('native')
    countBlockCodes(bytes, 0, c.cols, blocks, 0, counter)
    const part: PartialStats = {
      kind: 'blocks',
      start: 0,
      end: n,
      blockRowStart: 0,
      counts: counter.total(),
      sample: { index: [], value: [] },
    }
    const { native: counted, js } = await both(async () => finishStats('F8_E4M3', n, [part], blocks))
    assert.deepEqual(counted, js, c.label)
    const { sample: _s, sampleIndex: _i, dequantized: _d, ...want } = counted
    const fd = openSync(path, 'r')
    try {
      // The widest path this CPU has (AVX-512 VNNI where present), AVX-512BW without VNNI, AVX2.
      for (const avx512 of ['1', 'bw', '0']) {
        process.env.SHARDPRESS_STATS_AVX512 = avx512
        const samples = Float64Array.from([0, n - 1, 12345 % n])
        const codes = new Uint8Array(samples.length)
        const got = blockStatsMapped(k, fd, offset, blocks, table, samples, codes)
        assert.ok(got, `${c.label}: the vector path applies`)
        assert.deepEqual(got, want, `${c.label} (AVX-512 ${avx512})`)
        assert.deepEqual(
          Array.from(codes),
          Array.from(samples, (p) => bytes[p]!),
        )
      }
    } finally {
      delete process.env.SHARDPRESS_STATS_AVX512
      closeSync(fd)
    }
    if (i === 0) assert.ok(want.std! > 0 && want.nan === 2 && want.histogram.counts.filter((x) => x > 0).length > 20)
  }
})

/** Values with every special: NaN, ±Inf, ±0, subnormals, and a range that widens between 64K sub-blocks. */
function specialValues(n: number, seed: number, f64: boolean): Float32Array | Float64Array {
  const r = new Rng(seed)
  const v = f64 ? new Float64Array(n) : new Float32Array(n)
  for (let i = 0; i < n; i++) v[i] = r.normal() * 0.02 * (1 + Math.floor(i / 65536) * 40)
  const tiny = f64 ? 5e-324 : 1.4e-45
  for (let i = 0; i < n; i += 997) {
    v[i] = Number.NaN
    v[i + 1] = Infinity
    v[i + 2] = -Infinity
    v[i + 3] = -0
    v[i + 4] = 0
    v[i + 5] = tiny * (1 + (i % 7))
    v[i + 6] = -tiny
  }
  return v
}

function scan(values: Float32Array | Float64Array, impl: typeof scanValues) {
  const m = emptyMoments()
  const h = emptyFine()
  // Two calls, like consecutive reads of one job.
  const half = Math.floor(values.length / 2)
  impl(values.subarray(0, half), m, h)
  impl(values.subarray(half), m, h)
  return { m, h }
}

test('F32/F64 moments and fine histograms equal the JavaScript scan bit for bit', () => {
  const inputs: [string, Float32Array | Float64Array][] = [
    ['f32 specials', specialValues(300_000, 3, false)],
    ['f64 specials', specialValues(200_000, 4, true)],
    ['f32 random bits', new Float32Array(randomBytes(4 * 100_000, 5).buffer)],
    ['f64 random bits', new Float64Array(randomBytes(8 * 70_000, 6).buffer)],
    ['all NaN', new Float32Array(70_000).fill(Number.NaN)],
    ['constant', new Float64Array(70_000).fill(-3.25)],
    ['only subnormals', new Float32Array(1000).fill(1e-40)],
    ['empty', new Float64Array(0)],
  ]
  for (const [label, values] of inputs) {
    const native = scan(values, scanValues)
    assert.equal(nativeStatsActive(), true)
    const js = scan(values, scanValuesJs)
    assert.deepEqual(native.m, js.m, label)
    assert.equal(native.h.lo, js.h.lo, label)
    assert.equal(native.h.w, js.h.w, label)
    assert.deepEqual(native.h.counts, js.h.counts, label)
  }
})

test('inventories of every dtype are identical with the native kernel and in JavaScript', async () => {
  const dir = tempDir()
  const n = 40_000 // above the exact-values limit, so the counting paths run
  const tensors: { name: string; dtype: NumericDtype; shape: number[]; data: Uint8Array }[] = []
  const widths: [NumericDtype, number][] = [
    ['BOOL', 1],
    ['U8', 1],
    ['I8', 1],
    ['F8_E4M3', 1],
    ['F8_E5M2', 1],
    ['F8_E4M3FNUZ', 1],
    ['F8_E5M2FNUZ', 1],
    ['F8_E8M0', 1],
    ['I16', 2],
    ['U16', 2],
    ['F16', 2],
    ['BF16', 2],
    ['I32', 4],
    ['U32', 4],
    ['F32', 4],
    ['I64', 8],
    ['U64', 8],
    ['F64', 8],
  ]
  for (const [i, [dtype, w]] of widths.entries()) {
    const data =
      dtype === 'F32' || dtype === 'F64'
        ? new Uint8Array(specialValues(n, 20 + i, dtype === 'F64').buffer)
        : randomBytes(n * w, 20 + i)
    if (dtype === 'BOOL') for (let k = 0; k < data.length; k++) data[k] = data[k]! & 1
    tensors.push({ name: `t.${dtype}.weight`, dtype, shape: [n], data })
  }
  // A block-scaled FP8 weight whose columns are not a multiple of 4 (the general path).
  const rows = 300
  const cols = 202
  const name = 'model.layers.3.mlp.experts.1.up_proj.weight'
  tensors.push({ name, dtype: 'F8_E4M3', shape: [rows, cols], data: randomBytes(rows * cols, 90) })
  const scales = Float32Array.from({ length: 3 * 2 }, (_, i) => 0.003 * (i + 1))
  tensors.push({ name: `${name}_scale_inv`, dtype: 'F32', shape: [3, 2], data: new Uint8Array(scales.buffer) })
  // One whose blocks are whole 128 × 128 squares: scanned by the kernel's vector path when it is a job of its own.
  const name2 = 'model.layers.3.mlp.experts.2.up_proj.weight'
  tensors.push({ name: name2, dtype: 'F8_E4M3', shape: [256, 384], data: e4m3Codes(256 * 384, 91) })
  const scales2 = Float32Array.from({ length: 2 * 3 }, (_, i) => 0.0005 * (6 - i))
  tensors.push({ name: `${name2}_scale_inv`, dtype: 'F32', shape: [2, 3], data: new Uint8Array(scales2.buffer) })
  const file = join(dir, 'model.safetensors')
  await writeSafetensors(file, tensors)

  for (const opts of [{}, { taskBytes: 50 << 10, readBytes: 7000 }]) {
    const { native: a, js: b } = await both(() => buildInventory(file, { stats: true, workers: 0, ...opts }))
    assert.equal(a.tensors.find((t) => t.name === name)!.stats!.dequantized, true)
    for (let k = 0; k < a.tensors.length; k++) {
      assert.ok(a.tensors[k]!.stats, a.tensors[k]!.name)
      assert.deepEqual(a.tensors[k]!.stats, b.tensors[k]!.stats, a.tensors[k]!.name)
    }
  }
})
