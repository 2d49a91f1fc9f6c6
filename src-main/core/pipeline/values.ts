// Turns raw tensor bytes into numbers (dequantized for FP8 with block scales) so workers can measure ranges and
// errors. Lookup tables keep the 8- and 16-bit formats cheap.
import type { CodecDtype, ErrorSums, Fp8BlockScales } from '../codec/types'

export type { ErrorSums } from '../codec/types'

export const CODEC_DTYPES: readonly CodecDtype[] = ['BF16', 'F16', 'F32', 'F64', 'F8_E4M3', 'F8_E5M2']
export const isCodecDtype = (d: string): d is CodecDtype => (CODEC_DTYPES as readonly string[]).includes(d)

export const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  F8_E4M3FNUZ: 1,
  F8_E5M2FNUZ: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
  C64: 8,
}

let bf16Table: Float32Array | undefined
let f16Table: Float32Array | undefined
let e4m3Table: Float32Array | undefined
let e5m2Table: Float32Array | undefined

function bf16(): Float32Array {
  if (!bf16Table) {
    const u = new Uint32Array(65536)
    for (let i = 0; i < 65536; i++) u[i] = i << 16
    bf16Table = new Float32Array(u.buffer)
  }
  return bf16Table
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const m = h & 0x3ff
  if (e === 0) return s * m * 2 ** -24
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY
  return s * (1 + m / 1024) * 2 ** (e - 15)
}

function f16(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536)
    for (let i = 0; i < 65536; i++) f16Table[i] = halfToFloat(i)
  }
  return f16Table
}

function e4m3(): Float32Array {
  if (!e4m3Table) {
    e4m3Table = new Float32Array(256)
    for (let i = 0; i < 256; i++) {
      const s = i & 0x80 ? -1 : 1
      const e = (i >> 3) & 0xf
      const m = i & 7
      if (e === 15 && m === 7) e4m3Table[i] = Number.NaN
      else if (e === 0) e4m3Table[i] = s * m * 2 ** -9
      else e4m3Table[i] = s * (1 + m / 8) * 2 ** (e - 7)
    }
  }
  return e4m3Table
}

function e5m2(): Float32Array {
  if (!e5m2Table) {
    e5m2Table = new Float32Array(256)
    for (let i = 0; i < 256; i++) e5m2Table[i] = halfToFloat(i << 8)
  }
  return e5m2Table
}

/**
 * Element values of a chunk as float64. For FP8 with scales, `firstElement` places the chunk in the tensor so each
 * code meets its block's scale.
 */
export function chunkValues(
  bytes: Uint8Array,
  dtype: CodecDtype,
  firstElement = 0,
  fp8?: Fp8BlockScales,
): Float64Array {
  if (dtype === 'F64') {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const n = bytes.length >> 3
    const out = new Float64Array(n)
    for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true)
    return out
  }
  const width = dtype === 'F32' ? 4 : dtype === 'BF16' || dtype === 'F16' ? 2 : 1
  const n = bytes.length / width
  const out = new Float64Array(n)
  decodeInto(bytes, dtype, 0, n, firstElement, fp8, out)
  return out
}

export interface ValueRange {
  min: number
  max: number
  nonFinite: number
}

export function valueRange(v: Float64Array): ValueRange {
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  for (let i = 0; i < v.length; i++) {
    min = Math.min(min, v[i]!)
    max = Math.max(max, v[i]!)
  }
  if (Number.isFinite(min) && Number.isFinite(max)) return { min, max, nonFinite: 0 }
  // NaN or ±Inf somewhere: skip them one by one.
  let nonFinite = 0
  min = Number.POSITIVE_INFINITY
  max = Number.NEGATIVE_INFINITY
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!
    if (x - x !== 0) {
      nonFinite++
      continue
    }
    if (x < min) min = x
    if (x > max) max = x
  }
  return { min, max, nonFinite }
}

export const emptySums = (): ErrorSums => ({
  count: 0,
  sumAbs: 0,
  sumSq: 0,
  maxAbs: 0,
  over: 0,
  min: Number.POSITIVE_INFINITY,
  max: Number.NEGATIVE_INFINITY,
})

/**
 * Two measurements of the same chunk agree: counts, maxima and the range exactly (NaN equal to NaN), the sums of
 * absolute and squared errors to rounding (the native encoder adds them in several lanes, compareChunk in order).
 */
export function sameErrorSums(a: ErrorSums, b: ErrorSums, relTol = 1e-12): boolean {
  // A sum of n non-negative terms added one by one is off by at most (n − 1) × 2^-53 of itself; compareChunk adds
  // in element order, the native paths in lanes or per code, so long chunks may differ by that much.
  const tol = Math.max(relTol, Math.max(a.count, b.count) * Number.EPSILON)
  const close = (x: number, y: number) =>
    Object.is(x, y) ||
    Math.abs(x - y) <= tol * Math.max(Math.abs(x), Math.abs(y)) ||
    (Number.isNaN(x) && Number.isNaN(y))
  return (
    a.count === b.count &&
    a.over === b.over &&
    Object.is(a.maxAbs, b.maxAbs) &&
    Object.is(a.min, b.min) &&
    Object.is(a.max, b.max) &&
    close(a.sumAbs, b.sumAbs) &&
    close(a.sumSq, b.sumSq)
  )
}

export function addSums(a: ErrorSums, b: ErrorSums): ErrorSums {
  return {
    count: a.count + b.count,
    sumAbs: a.sumAbs + b.sumAbs,
    sumSq: a.sumSq + b.sumSq,
    maxAbs: Math.max(a.maxAbs, b.maxAbs),
    over: a.over + b.over,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
  }
}

/**
 * Compares original and reconstructed values. `eb` is the absolute bound (0 = lossless, where any difference
 * counts as over). A relative slack of 1e-9 absorbs float64 rounding in the dequantized FP8 product only.
 */
export function compareValues(orig: Float64Array, recon: Float64Array, eb: number): ErrorSums {
  const limit = eb * (1 + 1e-9)
  // Branch-free pass for the usual all-finite case (about 4× faster than branching per value); NaN or ±Inf
  // anywhere shows up in the sums, and then the exact pass below decides value by value.
  let sumAbs = 0
  let sumSq = 0
  let maxAbs = 0
  let over = 0
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  const n = orig.length
  for (let i = 0; i < n; i++) {
    const a = orig[i]!
    const d = Math.abs(a - recon[i]!)
    sumAbs += d
    sumSq += d * d
    maxAbs = Math.max(maxAbs, d)
    min = Math.min(min, a)
    max = Math.max(max, a)
    over += d <= limit ? 0 : 1
  }
  if (Number.isFinite(sumSq) && Number.isFinite(min) && Number.isFinite(max))
    return { count: n, sumAbs, sumSq, maxAbs, over, min, max }
  return compareExact(orig, recon, limit)
}

function compareExact(orig: Float64Array, recon: Float64Array, limit: number): ErrorSums {
  let sumAbs = 0
  let sumSq = 0
  let maxAbs = 0
  let over = 0
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  for (let i = 0; i < orig.length; i++) {
    const a = orig[i]!
    const b = recon[i]!
    if (a - a !== 0) {
      // NaN and ±Inf must come back as themselves.
      if (!(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)))) over++
      continue
    }
    if (a < min) min = a
    if (a > max) max = a
    const d = Math.abs(a - b)
    if (!(d <= limit)) over++
    if (d > maxAbs) maxAbs = d
    else if (Number.isNaN(d)) maxAbs = Number.POSITIVE_INFINITY
    sumAbs += d
    sumSq += d * d
  }
  return { count: orig.length, sumAbs, sumSq, maxAbs, over, min, max }
}

/** Elements per partial sum: the error sums add up block by block, so the float totals do not depend on the path. */
const BLOCK = 8192

/**
 * compareValues on raw chunk bytes. The workers run this on every chunk they compress, so the usual cases (16-bit
 * floats, aligned F32, unscaled FP8) read the bytes through typed views and a lookup table in one fused loop, with
 * no float arrays, DataView or per-element allocation; other cases decode through a small float64 scratch buffer.
 * Both paths give bit-identical sums (same operations, same block order).
 */
export function compareChunk(
  orig: Uint8Array,
  recon: Uint8Array,
  dtype: CodecDtype,
  eb: number,
  firstElement = 0,
  fp8?: Fp8BlockScales,
): ErrorSums {
  if (dtype === 'F64') {
    return compareValues(chunkValues(orig, dtype, firstElement, fp8), chunkValues(recon, dtype, firstElement, fp8), eb)
  }
  const width = dtype === 'F32' ? 4 : dtype === 'BF16' || dtype === 'F16' ? 2 : 1
  const total = orig.length / width
  const a = typedView(orig, dtype, fp8)
  const b = typedView(recon, dtype, fp8)
  const table = dtype === 'BF16' ? bf16() : dtype === 'F16' ? f16() : dtype === 'F8_E4M3' ? e4m3() : e5m2()
  let xa: Float64Array | undefined
  let xb: Float64Array | undefined
  const limit = eb * (1 + 1e-9)
  const acc = emptySums()
  for (let start = 0; start < total; start += BLOCK) {
    const n = Math.min(BLOCK, total - start)
    let block: ErrorSums | undefined
    if (a && b) block = width === 4 ? compareF32(a, b, start, n, limit) : compareCoded(a, b, table, start, n, limit)
    if (!block) {
      // Unaligned or scaled values, or a block holding NaN/Inf: the general path decides value by value.
      xa ??= new Float64Array(Math.min(BLOCK, total))
      xb ??= new Float64Array(Math.min(BLOCK, total))
      decodeInto(orig, dtype, start, n, firstElement, fp8, xa)
      decodeInto(recon, dtype, start, n, firstElement, fp8, xb)
      block = compareValues(xa.subarray(0, n), xb.subarray(0, n), eb)
    }
    acc.sumAbs += block.sumAbs
    acc.sumSq += block.sumSq
    acc.maxAbs = Math.max(acc.maxAbs, block.maxAbs)
    acc.over += block.over
    acc.min = Math.min(acc.min, block.min)
    acc.max = Math.max(acc.max, block.max)
  }
  acc.count = total
  return acc
}

type CodeView = Uint8Array | Uint16Array | Float32Array

/** The chunk's elements as a typed view for the fused loops, or undefined when they need the general path. */
function typedView(bytes: Uint8Array, dtype: CodecDtype, fp8: Fp8BlockScales | undefined): CodeView | undefined {
  if (dtype === 'BF16' || dtype === 'F16') {
    return bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1) : undefined
  }
  if (dtype === 'F32') {
    return bytes.byteOffset % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2) : undefined
  }
  return fp8 ? undefined : bytes
}

/**
 * compareValues' all-finite pass over one block of table-coded values (undefined if the block is not all finite).
 * Two elements per step: the sums still add in element order (so they match compareValues bit for bit), while
 * max/min, which do not depend on order, run in two independent chains.
 */
function compareCoded(
  a: CodeView,
  b: CodeView,
  t: Float32Array,
  start: number,
  n: number,
  limit: number,
): ErrorSums | undefined {
  let sumAbs = 0
  let sumSq = 0
  let over = 0
  let maxAbs0 = 0
  let maxAbs1 = 0
  let min0 = Number.POSITIVE_INFINITY
  let min1 = Number.POSITIVE_INFINITY
  let max0 = Number.NEGATIVE_INFINITY
  let max1 = Number.NEGATIVE_INFINITY
  const end = start + n
  let i = start
  for (; i + 1 < end; i += 2) {
    const x0 = t[a[i]!]!
    const x1 = t[a[i + 1]!]!
    const d0 = Math.abs(x0 - t[b[i]!]!)
    const d1 = Math.abs(x1 - t[b[i + 1]!]!)
    sumAbs += d0
    sumAbs += d1
    sumSq += d0 * d0
    sumSq += d1 * d1
    maxAbs0 = Math.max(maxAbs0, d0)
    maxAbs1 = Math.max(maxAbs1, d1)
    min0 = Math.min(min0, x0)
    min1 = Math.min(min1, x1)
    max0 = Math.max(max0, x0)
    max1 = Math.max(max1, x1)
    over += (d0 <= limit ? 0 : 1) + (d1 <= limit ? 0 : 1)
  }
  if (i < end) {
    const x = t[a[i]!]!
    const d = Math.abs(x - t[b[i]!]!)
    sumAbs += d
    sumSq += d * d
    maxAbs1 = Math.max(maxAbs1, d)
    min1 = Math.min(min1, x)
    max1 = Math.max(max1, x)
    over += d <= limit ? 0 : 1
  }
  return finiteSums(n, sumAbs, sumSq, Math.max(maxAbs0, maxAbs1), over, Math.min(min0, min1), Math.max(max0, max1))
}

/** compareCoded for F32 values read straight from aligned views. */
function compareF32(a: CodeView, b: CodeView, start: number, n: number, limit: number): ErrorSums | undefined {
  let sumAbs = 0
  let sumSq = 0
  let over = 0
  let maxAbs0 = 0
  let maxAbs1 = 0
  let min0 = Number.POSITIVE_INFINITY
  let min1 = Number.POSITIVE_INFINITY
  let max0 = Number.NEGATIVE_INFINITY
  let max1 = Number.NEGATIVE_INFINITY
  const end = start + n
  let i = start
  for (; i + 1 < end; i += 2) {
    const x0 = a[i]!
    const x1 = a[i + 1]!
    const d0 = Math.abs(x0 - b[i]!)
    const d1 = Math.abs(x1 - b[i + 1]!)
    sumAbs += d0
    sumAbs += d1
    sumSq += d0 * d0
    sumSq += d1 * d1
    maxAbs0 = Math.max(maxAbs0, d0)
    maxAbs1 = Math.max(maxAbs1, d1)
    min0 = Math.min(min0, x0)
    min1 = Math.min(min1, x1)
    max0 = Math.max(max0, x0)
    max1 = Math.max(max1, x1)
    over += (d0 <= limit ? 0 : 1) + (d1 <= limit ? 0 : 1)
  }
  if (i < end) {
    const x = a[i]!
    const d = Math.abs(x - b[i]!)
    sumAbs += d
    sumSq += d * d
    maxAbs1 = Math.max(maxAbs1, d)
    min1 = Math.min(min1, x)
    max1 = Math.max(max1, x)
    over += d <= limit ? 0 : 1
  }
  return finiteSums(n, sumAbs, sumSq, Math.max(maxAbs0, maxAbs1), over, Math.min(min0, min1), Math.max(max0, max1))
}

function finiteSums(
  count: number,
  sumAbs: number,
  sumSq: number,
  maxAbs: number,
  over: number,
  min: number,
  max: number,
): ErrorSums | undefined {
  if (Number.isFinite(sumSq) && Number.isFinite(min) && Number.isFinite(max))
    return { count, sumAbs, sumSq, maxAbs, over, min, max }
  return undefined
}

/**
 * Range of a chunk's (dequantized) values. Like compareChunk, the usual cases run one fused loop over typed views;
 * a block with NaN/Inf (or scaled/unaligned values) goes through valueRange on a float64 scratch buffer.
 */
export function chunkRange(bytes: Uint8Array, dtype: CodecDtype, firstElement = 0, fp8?: Fp8BlockScales): ValueRange {
  if (dtype === 'F64') return valueRange(chunkValues(bytes, dtype, firstElement, fp8))
  const width = dtype === 'F32' ? 4 : dtype === 'BF16' || dtype === 'F16' ? 2 : 1
  const total = bytes.length / width
  const v = typedView(bytes, dtype, fp8)
  const table = dtype === 'BF16' ? bf16() : dtype === 'F16' ? f16() : dtype === 'F8_E4M3' ? e4m3() : e5m2()
  let x: Float64Array | undefined
  const acc: ValueRange = { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, nonFinite: 0 }
  for (let start = 0; start < total; start += BLOCK) {
    const n = Math.min(BLOCK, total - start)
    let r: ValueRange | undefined
    if (v) r = width === 4 ? rangeF32(v, start, n) : rangeCoded(v, table, start, n)
    if (!r) {
      x ??= new Float64Array(Math.min(BLOCK, total))
      decodeInto(bytes, dtype, start, n, firstElement, fp8, x)
      r = valueRange(x.subarray(0, n))
    }
    if (r.min < acc.min) acc.min = r.min
    if (r.max > acc.max) acc.max = r.max
    acc.nonFinite += r.nonFinite
  }
  return acc
}

/** valueRange's all-finite pass over table-coded values, in two independent min/max chains. */
function rangeCoded(v: CodeView, t: Float32Array, start: number, n: number): ValueRange | undefined {
  let min0 = Number.POSITIVE_INFINITY
  let min1 = Number.POSITIVE_INFINITY
  let max0 = Number.NEGATIVE_INFINITY
  let max1 = Number.NEGATIVE_INFINITY
  const end = start + n
  let i = start
  for (; i + 1 < end; i += 2) {
    const x0 = t[v[i]!]!
    const x1 = t[v[i + 1]!]!
    min0 = Math.min(min0, x0)
    min1 = Math.min(min1, x1)
    max0 = Math.max(max0, x0)
    max1 = Math.max(max1, x1)
  }
  if (i < end) {
    min1 = Math.min(min1, t[v[i]!]!)
    max1 = Math.max(max1, t[v[i]!]!)
  }
  return finiteRange(Math.min(min0, min1), Math.max(max0, max1))
}

function rangeF32(v: CodeView, start: number, n: number): ValueRange | undefined {
  let min0 = Number.POSITIVE_INFINITY
  let min1 = Number.POSITIVE_INFINITY
  let max0 = Number.NEGATIVE_INFINITY
  let max1 = Number.NEGATIVE_INFINITY
  const end = start + n
  let i = start
  for (; i + 1 < end; i += 2) {
    min0 = Math.min(min0, v[i]!)
    min1 = Math.min(min1, v[i + 1]!)
    max0 = Math.max(max0, v[i]!)
    max1 = Math.max(max1, v[i + 1]!)
  }
  if (i < end) {
    min1 = Math.min(min1, v[i]!)
    max1 = Math.max(max1, v[i]!)
  }
  return finiteRange(Math.min(min0, min1), Math.max(max0, max1))
}

const finiteRange = (min: number, max: number): ValueRange | undefined =>
  Number.isFinite(min) && Number.isFinite(max) ? { min, max, nonFinite: 0 } : undefined

let scratch16: Uint16Array | undefined

/** Decodes elements [start, start + n) of a chunk into out. */
function decodeInto(
  bytes: Uint8Array,
  dtype: CodecDtype,
  start: number,
  n: number,
  firstElement: number,
  fp8: Fp8BlockScales | undefined,
  out: Float64Array,
): void {
  if (dtype === 'BF16' || dtype === 'F16') {
    const t = dtype === 'BF16' ? bf16() : f16()
    let u: Uint16Array
    if ((bytes.byteOffset + start * 2) % 2 === 0) u = new Uint16Array(bytes.buffer, bytes.byteOffset + start * 2, n)
    else {
      if (!scratch16 || scratch16.length < n) scratch16 = new Uint16Array(n)
      new Uint8Array(scratch16.buffer).set(bytes.subarray(start * 2, (start + n) * 2))
      u = scratch16
    }
    for (let i = 0; i < n; i++) out[i] = t[u[i]!]!
  } else if (dtype === 'F32') {
    if ((bytes.byteOffset + start * 4) % 4 === 0) {
      const f = new Float32Array(bytes.buffer, bytes.byteOffset + start * 4, n)
      for (let i = 0; i < n; i++) out[i] = f[i]!
    } else {
      const dv = new DataView(bytes.buffer, bytes.byteOffset + start * 4, n * 4)
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true)
    }
  } else {
    const t = dtype === 'F8_E4M3' ? e4m3() : e5m2()
    if (!fp8) {
      for (let i = 0; i < n; i++) out[i] = t[bytes[start + i]!]!
      return
    }
    const { cols, blockRows, blockCols, scaleCols, scales } = fp8
    const e = firstElement + start
    let r = Math.floor(e / cols)
    let c = e % cols
    // Walk row segments of one scale block at a time instead of dividing per element.
    let i = 0
    while (i < n) {
      const rowBase = Math.floor(r / blockRows) * scaleCols
      const blockEnd = Math.min(cols, (Math.floor(c / blockCols) + 1) * blockCols)
      const stop = Math.min(n, i + (blockEnd - c))
      const scale = scales[rowBase + Math.floor(c / blockCols)]!
      for (let k = i; k < stop; k++) out[k] = t[bytes[start + k]!]! * scale
      c += stop - i
      i = stop
      if (c === cols) {
        c = 0
        r++
      }
    }
  }
}

export interface ErrorMetrics {
  meanAbs: number
  maxAbs: number
  rmse: number
  /** 20·log10(range) − 10·log10(MSE); Infinity when exact. */
  psnr: number
  overShare: number
}

export function metricsOf(s: ErrorSums): ErrorMetrics {
  const n = Math.max(1, s.count)
  const mse = s.sumSq / n
  const range = s.max > s.min ? s.max - s.min : 0
  return {
    meanAbs: s.sumAbs / n,
    maxAbs: s.maxAbs,
    rmse: Math.sqrt(mse),
    psnr: mse === 0 ? Number.POSITIVE_INFINITY : range > 0 ? 20 * Math.log10(range) - 10 * Math.log10(mse) : 0,
    overShare: s.over / n,
  }
}
