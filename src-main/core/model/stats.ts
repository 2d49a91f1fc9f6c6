// Per-tensor statistics computed while streaming: range, mean, std, abs-max, NaN/±Inf counts, zero fraction,
// a 64-bin histogram over [min, max] and a small deterministic sample. Work is split into element ranges whose
// partial results merge exactly: 8/16-bit dtypes count codes (so the histogram and moments are exact), FP8 with
// block scales counts codes per block (values are code × block scale; a whole F8_E4M3 tensor can instead be scanned
// by the native kernel's vector path, blockStatsAt, with identical results), and 32/64-bit dtypes accumulate moments and
// a fine power-of-two-aligned histogram that is re-binned at the end. The scans run in the native kernel when it is
// built (stats-native.ts); the JavaScript versions here give identical results and serve as fallback and test oracle.
import { codeTable, type NumericDtype } from './decode'
import { type StatsKernel, statsKernel } from './stats-native'

export const HISTOGRAM_BINS = 64
export const SAMPLE_SIZE = 4096
/** Resolution of the intermediate histogram of 32/64-bit tensors. */
const FINE_BINS = 16384

export interface Histogram {
  /** Bins split [min, max] into equal widths; the last bin includes max. */
  min: number
  max: number
  counts: number[]
}

export interface TensorStats {
  elements: number
  /** Finite values (statistics below are over these). */
  finite: number
  min: number | null
  max: number | null
  mean: number | null
  std: number | null
  absMax: number | null
  nan: number
  posInf: number
  negInf: number
  zeros: number
  zeroFraction: number
  histogram: Histogram
  /** Up to SAMPLE_SIZE values at seeded, evenly spread positions, in tensor order (dequantized for FP8). */
  sample: number[]
  /** Element indices of `sample`. */
  sampleIndex: number[]
  /** True when values are FP8 codes multiplied by their block scales. */
  dequantized: boolean
}

/** Block scales of an FP8 weight (DeepSeek-V3: one F32 per 128×128 block). */
export interface BlockScaleSpec {
  rows: number
  cols: number
  blockRows: number
  blockCols: number
  scaleCols: number
  scales: Float32Array
}

export type PartialStats =
  | { kind: 'codes'; start: number; end: number; counts: Uint32Array; sample: SamplePart }
  | { kind: 'blocks'; start: number; end: number; blockRowStart: number; counts: Uint32Array; sample: SamplePart }
  | { kind: 'values'; start: number; end: number; moments: Moments; fine: FineHistogram; sample: SamplePart }
  /** Small tensors (≤ EXACT_LIMIT elements, one job): the decoded values themselves. */
  | { kind: 'exact'; start: number; end: number; values: Float64Array; sample: SamplePart }
  /** A whole tensor finished where it was read (the worker). */
  | { kind: 'final'; start: number; end: number; stats: TensorStats; sample: SamplePart }

/** Tensors up to this many elements are sent back whole (cheaper than code counts or fine histograms). */
export const EXACT_LIMIT = 16384

export interface SamplePart {
  index: number[]
  value: number[]
}

export interface Moments {
  finite: number
  nan: number
  posInf: number
  negInf: number
  zeros: number
  min: number
  max: number
  mean: number
  m2: number
}

export interface FineHistogram {
  /** Left edge (a multiple of w); w is a power of two, 0 while empty. */
  lo: number
  w: number
  counts: Float64Array
}

// ---------------------------------------------------------------------------------------------------------------
// Sample positions: the k-th of S positions is drawn in the k-th of S equal strata by a hash of (seed, k), so any split of a tensor
// into ranges picks the same elements, and strided structure (rows, heads) is not aliased.

function hash01(seed: number, k: number): number {
  let h = (seed ^ Math.imul(k + 0x9e3779b9, 0x85ebca6b)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b)
  h ^= h >>> 16
  return (h >>> 0) / 4294967296
}

export function seedOf(name: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** Sample element positions in [start, end) of an n-element tensor, in increasing order. */
export function samplePositions(n: number, start: number, end: number, seed: number, size = SAMPLE_SIZE): number[] {
  const s = Math.min(n, size)
  if (s === 0) return []
  if (s === n) {
    const all: number[] = []
    for (let i = start; i < Math.min(end, n); i++) all.push(i)
    return all
  }
  // One position per stratum [⌊k·n/S⌋, ⌊(k+1)·n/S⌋): strata are disjoint, so positions strictly increase.
  const pos = (k: number) => {
    const a = Math.floor((k * n) / s)
    const b = Math.floor(((k + 1) * n) / s)
    return a + Math.floor(hash01(seed, k) * (b - a))
  }
  const out: number[] = []
  let k = Math.max(0, Math.floor((start * s) / n) - 1)
  while (k < s && pos(k) < start) k++
  for (; k < s; k++) {
    const p = pos(k)
    if (p >= end) break
    out.push(p)
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// Scanning (worker side)

/** Per-lane count tables: consecutive elements go to different tables, so repeated codes do not stall on one
 * counter (store-to-load forwarding); the lanes are summed when a job ends. The native kernel keeps its lanes
 * internally, so it needs one table (`forKernel`). */
export class CodeCounter {
  readonly lanes: Uint32Array[]
  constructor(
    readonly size: number,
    laneCount = 4,
    /** Zeroed tables to count into instead of new ones (a worker reuses them for jobs whose counts stay local). */
    lanes?: Uint32Array[],
  ) {
    this.lanes = lanes ?? Array.from({ length: laneCount }, () => new Uint32Array(size))
  }

  /** A counter with the lanes the current implementation needs. */
  static forKernel(size: number): CodeCounter {
    return new CodeCounter(size, statsKernel() ? 1 : 4)
  }

  /** Sum of the lanes (lane 0 is reused as the result). */
  total(): Uint32Array {
    const [l0, ...rest] = this.lanes as [Uint32Array, ...Uint32Array[]]
    for (const l of rest) for (let i = 0; i < this.size; i++) l0[i] = l0[i]! + l[i]!
    return l0
  }
}

function lanesOf(counter: CodeCounter): [Uint32Array, Uint32Array, Uint32Array, Uint32Array] {
  const [c0, c1 = c0, c2 = c0, c3 = c0] = counter.lanes as [Uint32Array, ...Uint32Array[]]
  return [c0, c1, c2, c3]
}

function asBytes(a: Uint8Array | Uint16Array): Uint8Array {
  return a instanceof Uint8Array ? a : new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}

/** Counts codes of an 8/16-bit dtype (tables of 256 or 65536). */
export function countCodes(codes: Uint8Array | Uint16Array, counter: CodeCounter): void {
  const k = statsKernel()
  if (k) k.countCodes(asBytes(codes), codes.BYTES_PER_ELEMENT as 1 | 2, counter.lanes[0]!)
  else countCodesJs(codes, counter)
}

/** countCodes in JavaScript. */
export function countCodesJs(codes: Uint8Array | Uint16Array, counter: CodeCounter): void {
  const [c0, c1, c2, c3] = lanesOf(counter)
  const n = codes.length
  let i = 0
  if (codes.byteOffset % 4 === 0) {
    const words = codes.byteLength >> 2
    const u = new Uint32Array(codes.buffer, codes.byteOffset, words)
    if (codes.BYTES_PER_ELEMENT === 1) {
      for (let q = 0; q < words; q++) {
        const x = u[q]!
        c0[x & 255]!++
        c1[(x >>> 8) & 255]!++
        c2[(x >>> 16) & 255]!++
        c3[x >>> 24]!++
      }
      i = words * 4
    } else {
      for (let q = 0; q < words; q++) {
        const x = u[q]!
        if (q & 1) {
          c2[x & 0xffff]!++
          c3[x >>> 16]!++
        } else {
          c0[x & 0xffff]!++
          c1[x >>> 16]!++
        }
      }
      i = words * 2
    }
  }
  for (; i < n; i++) c0[codes[i]!]!++
}

/**
 * Counts FP8 codes per block for whole rows of a row-major matrix. `bytes` holds rows [rowStart, rowStart + k);
 * counts are laid out [blockRow − blockRowStart][blockCol][256].
 */
export function countBlockCodes(
  bytes: Uint8Array,
  rowStart: number,
  cols: number,
  spec: Pick<BlockScaleSpec, 'blockRows' | 'blockCols' | 'scaleCols'>,
  blockRowStart: number,
  counter: CodeCounter,
): void {
  const k = statsKernel()
  if (!k) {
    countBlockCodesJs(bytes, rowStart, cols, spec, blockRowStart, counter)
    return
  }
  const { blockRows, blockCols, scaleCols } = spec
  k.countBlockCodes(bytes, rowStart, cols, blockRows, blockCols, scaleCols, blockRowStart, counter.lanes[0]!)
}

/** countBlockCodes in JavaScript. */
export function countBlockCodesJs(
  bytes: Uint8Array,
  rowStart: number,
  cols: number,
  spec: Pick<BlockScaleSpec, 'blockRows' | 'blockCols' | 'scaleCols'>,
  blockRowStart: number,
  counter: CodeCounter,
): void {
  const rows = Math.floor(bytes.length / cols)
  const { blockRows, blockCols, scaleCols } = spec
  const [c0, c1, c2, c3] = lanesOf(counter)
  if (cols % 4 === 0 && blockCols % 4 === 0 && bytes.byteOffset % 4 === 0) {
    // Fast path (every DeepSeek-V3 shape): four codes per 32-bit load, one lane each, and block by block rather
    // than row by row, so the four 1 KB count tables of the current block stay in L1 (about twice as fast).
    const u = new Uint32Array(bytes.buffer, bytes.byteOffset, (rows * cols) >> 2)
    const wordsPerBlock = blockCols >> 2
    const wordsPerRow = cols >> 2
    for (let r0 = 0; r0 < rows; ) {
      const br = Math.floor((rowStart + r0) / blockRows)
      const r1 = Math.min(rows, (br + 1) * blockRows - rowStart)
      const base = (br - blockRowStart) * scaleCols * 256
      for (let bc = 0; bc < scaleCols; bc++) {
        const off = base + bc * 256
        const w0 = bc * wordsPerBlock
        const w1 = Math.min(w0 + wordsPerBlock, wordsPerRow)
        for (let r = r0; r < r1; r++) {
          const rowWord = r * wordsPerRow
          const end = rowWord + w1
          for (let q = rowWord + w0; q < end; q++) {
            const x = u[q]!
            c0[off + (x & 255)]!++
            c1[off + ((x >>> 8) & 255)]!++
            c2[off + ((x >>> 16) & 255)]!++
            c3[off + (x >>> 24)]!++
          }
        }
      }
      r0 = r1
    }
    return
  }
  let p = 0
  for (let r = 0; r < rows; r++) {
    const base = (Math.floor((rowStart + r) / blockRows) - blockRowStart) * scaleCols * 256
    let c = 0
    for (let bc = 0; bc < scaleCols; bc++) {
      const off = base + bc * 256
      const end = Math.min(c + blockCols, cols)
      for (; c < end; c++) c0[off + bytes[p++]!]!++
    }
  }
}

export function emptyMoments(): Moments {
  return { finite: 0, nan: 0, posInf: 0, negInf: 0, zeros: 0, min: Infinity, max: -Infinity, mean: 0, m2: 0 }
}

export function emptyFine(): FineHistogram {
  return { lo: 0, w: 0, counts: new Float64Array(FINE_BINS) }
}

/** Makes the fine histogram cover [vmin, vmax] with bins at least `minW` wide, merging bins as needed. */
function coverFine(h: FineHistogram, vmin: number, vmax: number, minW = 0): void {
  if (h.w === 0) {
    const span = vmax - vmin
    let w =
      span > 0
        ? 2 ** Math.ceil(Math.log2(span / FINE_BINS))
        : 2 ** (Math.floor(Math.log2(Math.max(Math.abs(vmin), 2 ** -120))) - 10)
    if (!(w > 0) || !Number.isFinite(w)) w = 2 ** -120
    w = Math.max(w, minW)
    h.w = w
    h.lo = Math.floor(vmin / w) * w
  }
  if (vmin >= h.lo && vmax < h.lo + FINE_BINS * h.w && h.w >= minW) return
  const oldTop = h.lo + (FINE_BINS - 1) * h.w
  const low = Math.min(h.lo, vmin)
  const high = Math.max(vmax, oldTop)
  let nw = h.w
  let nlo = h.lo
  do {
    nw *= 2
    nlo = Math.floor(low / nw) * nw
  } while (high >= nlo + FINE_BINS * nw || nw < minW)
  const ratio = nw / h.w
  const d = (h.lo - nlo) / h.w
  const next = new Float64Array(FINE_BINS)
  const old = h.counts
  for (let i = 0; i < FINE_BINS; i++) {
    if (old[i] !== 0) next[Math.floor((i + d) / ratio)] += old[i]
  }
  h.counts = next
  h.w = nw
  h.lo = nlo
}

const SUB = 65536

/** Accumulates float values (32/64-bit dtypes) into moments and the fine histogram, 64K values at a time. */
export function scanValues(values: Float32Array | Float64Array, m: Moments, h: FineHistogram): void {
  const k = statsKernel()
  if (!k) {
    scanValuesJs(values, m, h)
    return
  }
  // The same two passes per sub-block as below, with the histogram sizing (coverFine) kept here in JavaScript.
  const r = new Float64Array(8)
  for (let s = 0; s < values.length; s += SUB) {
    const e = Math.min(values.length, s + SUB)
    k.scanPass1(values, s, e, r)
    const n = r[0]!
    m.zeros += r[4]!
    m.nan += r[5]!
    m.posInf += r[6]!
    m.negInf += r[7]!
    if (n === 0) continue
    const bmin = r[2]!
    const bmax = r[3]!
    const bmean = r[1]! / n
    coverFine(h, bmin, bmax)
    const bm2 = k.scanPass2(values, s, e, bmean, h.lo, 1 / h.w, h.counts)
    mergeMoments(m, { finite: n, nan: 0, posInf: 0, negInf: 0, zeros: 0, min: bmin, max: bmax, mean: bmean, m2: bm2 })
  }
}

/** scanValues in JavaScript. */
export function scanValuesJs(values: ArrayLike<number>, m: Moments, h: FineHistogram): void {
  for (let s = 0; s < values.length; s += SUB) {
    const e = Math.min(values.length, s + SUB)
    let bmin = Infinity
    let bmax = -Infinity
    let sum = 0
    let n = 0
    for (let i = s; i < e; i++) {
      const v = values[i]
      if (v - v === 0) {
        n++
        sum += v
        if (v < bmin) bmin = v
        if (v > bmax) bmax = v
        if (v === 0) m.zeros++
      } else if (Number.isNaN(v)) m.nan++
      else if (v > 0) m.posInf++
      else m.negInf++
    }
    if (n === 0) continue
    const bmean = sum / n
    coverFine(h, bmin, bmax)
    const lo = h.lo
    const inv = 1 / h.w
    const counts = h.counts
    let bm2 = 0
    for (let i = s; i < e; i++) {
      const v = values[i]
      if (v - v === 0) {
        const d = v - bmean
        bm2 += d * d
        const idx = Math.floor((v - lo) * inv)
        counts[idx < FINE_BINS ? idx : FINE_BINS - 1]++
      }
    }
    mergeMoments(m, { finite: n, nan: 0, posInf: 0, negInf: 0, zeros: 0, min: bmin, max: bmax, mean: bmean, m2: bm2 })
  }
}

/** Chan et al.'s parallel combination of counts, means and squared deviations (into `a`). */
export function mergeMoments(a: Moments, b: Moments): void {
  a.nan += b.nan
  a.posInf += b.posInf
  a.negInf += b.negInf
  a.zeros += b.zeros
  if (b.finite === 0) return
  if (a.finite === 0) {
    a.finite = b.finite
    a.min = b.min
    a.max = b.max
    a.mean = b.mean
    a.m2 = b.m2
    return
  }
  const n = a.finite + b.finite
  const delta = b.mean - a.mean
  a.mean += (delta * b.finite) / n
  a.m2 += b.m2 + (delta * delta * a.finite * b.finite) / n
  a.finite = n
  if (b.min < a.min) a.min = b.min
  if (b.max > a.max) a.max = b.max
}

function mergeFine(a: FineHistogram, b: FineHistogram): void {
  if (b.w === 0) return
  coverFine(a, b.lo, b.lo + (FINE_BINS - 1) * b.w, b.w)
  const ratio = a.w / b.w
  const d = (b.lo - a.lo) / b.w
  for (let i = 0; i < FINE_BINS; i++) {
    if (b.counts[i] !== 0) a.counts[Math.floor((i + d) / ratio)] += b.counts[i]
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Finishing (main side): merge the partial results of one tensor and compute the final statistics.

/** Statistics of `values`, each counted `counts[i]` times (or once when counts is null); two exact passes. */
function statsFromWeighted(
  elements: number,
  values: ArrayLike<number>,
  counts: ArrayLike<number> | null,
): Omit<TensorStats, 'sample' | 'sampleIndex' | 'dequantized'> {
  const m = emptyMoments()
  let sum = 0
  const n = values.length
  for (let i = 0; i < n; i++) {
    const c = counts === null ? 1 : counts[i]!
    if (c === 0) continue
    const v = values[i]!
    if (v - v === 0) {
      m.finite += c
      sum += v * c
      if (v < m.min) m.min = v
      if (v > m.max) m.max = v
      if (v === 0) m.zeros += c
    } else if (Number.isNaN(v)) m.nan += c
    else if (v > 0) m.posInf += c
    else m.negInf += c
  }
  const hist = new Array<number>(HISTOGRAM_BINS).fill(0)
  if (m.finite > 0) {
    m.mean = sum / m.finite
    const span = m.max - m.min
    const scale = span > 0 ? HISTOGRAM_BINS / span : 0
    let m2 = 0
    for (let i = 0; i < n; i++) {
      const c = counts === null ? 1 : counts[i]!
      const v = values[i]!
      if (c === 0 || v - v !== 0) continue
      const d = v - m.mean
      m2 += d * d * c
      const b = Math.floor((v - m.min) * scale)
      hist[b < HISTOGRAM_BINS ? b : HISTOGRAM_BINS - 1]! += c
    }
    m.m2 = m2
  }
  return finishMoments(elements, m, hist)
}

function finishMoments(
  elements: number,
  m: Moments,
  counts: number[],
): Omit<TensorStats, 'sample' | 'sampleIndex' | 'dequantized'> {
  const has = m.finite > 0
  return {
    elements,
    finite: m.finite,
    min: has ? m.min : null,
    max: has ? m.max : null,
    mean: has ? m.mean : null,
    std: has ? Math.sqrt(Math.max(0, m.m2 / m.finite)) : null,
    absMax: has ? Math.max(Math.abs(m.min), Math.abs(m.max)) : null,
    nan: m.nan,
    posInf: m.posInf,
    negInf: m.negInf,
    zeros: m.zeros,
    zeroFraction: elements > 0 ? m.zeros / elements : 0,
    histogram: { min: has ? m.min : 0, max: has ? m.max : 0, counts },
  }
}

/**
 * Spreads each fine bin over the output bins it overlaps, in proportion (values assumed uniform inside a fine
 * bin), then rounds to integers that keep the total (largest remainders first).
 */
function rebin(fine: FineHistogram, min: number, max: number): number[] {
  const out = new Float64Array(HISTOGRAM_BINS)
  const span = max - min
  let total = 0
  for (let i = 0; i < FINE_BINS; i++) {
    const c = fine.counts[i]!
    if (c === 0) continue
    total += c
    if (!(span > 0)) {
      out[0]! += c
      continue
    }
    // The fine bin's extent in output-bin units, clipped to [min, max] (the data's own range).
    const a = Math.max(0, ((fine.lo + i * fine.w - min) / span) * HISTOGRAM_BINS)
    const b = Math.min(HISTOGRAM_BINS, ((fine.lo + (i + 1) * fine.w - min) / span) * HISTOGRAM_BINS)
    if (!(b > a)) {
      out[Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor(a)))]! += c
      continue
    }
    for (let j = Math.floor(a); j < b && j < HISTOGRAM_BINS; j++) {
      const overlap = Math.min(b, j + 1) - Math.max(a, j)
      if (overlap > 0) out[j]! += (c * overlap) / (b - a)
    }
  }
  const counts = Array.from(out, Math.floor)
  let missing = Math.round(total - counts.reduce((x, y) => x + y, 0))
  const order = Array.from(out, (v, j) => [v - Math.floor(v), j] as const).sort((x, y) => y[0] - x[0])
  for (let k = 0; missing > 0 && k < order.length; k++, missing--) counts[order[k]![1]]!++
  return counts
}

function concatExact(parts: PartialStats[]): Float64Array {
  let n = 0
  for (const p of parts) if (p.kind === 'exact') n += p.values.length
  const out = new Float64Array(n)
  let o = 0
  for (const p of parts) {
    if (p.kind !== 'exact') continue
    out.set(p.values, o)
    o += p.values.length
  }
  return out
}

// Block-scaled FP8 (kind 'blocks'): each block is reduced to moments of its code values (count, sum, sum of
// squares, zeros, smallest and largest), the block scale is applied to those and the blocks are combined in order:
// sum of the block sums; squared deviations inside each block plus its mean's distance from the tensor mean (Chan
// et al.). For F8_E4M3 blocks of up to 65536 values these sums are exact (code values are multiples of 2^-9 below
// 2^9), so the result does not depend on how a block's values are visited; the native kernel's vector scan of a
// whole tensor relies on that. The histogram counts each value (code × scale) in its bin exactly. Mirrors
// momentsFromCounts/foldPass1/foldPass2 in native/stats/stats.cpp operation for operation.

interface BlockMoments {
  n: number
  sum: number
  sq: number
  zeros: number
  tmin: number
  tmax: number
  nan: number
  posInf: number
  negInf: number
}

function blockMoments(counts: Uint32Array, off: number, table: Float64Array, scale: number): BlockMoments {
  const b: BlockMoments = {
    n: 0,
    sum: 0,
    sq: 0,
    zeros: 0,
    tmin: Infinity,
    tmax: -Infinity,
    nan: 0,
    posInf: 0,
    negInf: 0,
  }
  const finiteScale = scale - scale === 0
  for (let c = 0; c < 256; c++) {
    const n = counts[off + c]!
    if (n === 0) continue
    const t = table[c]!
    if (finiteScale && t - t === 0) {
      b.n += n
      b.sum += t * n
      b.sq += t * t * n
      if (t === 0) b.zeros += n
      if (t < b.tmin) b.tmin = t
      if (t > b.tmax) b.tmax = t
    } else {
      const v = t * scale
      if (Number.isNaN(v)) b.nan += n
      else if (v > 0) b.posInf += n
      else b.negInf += n
    }
  }
  // ±0 alike, whichever zero codes the block holds.
  b.tmin += 0
  b.tmax += 0
  return b
}

/** blockPass1 of the kernel: acc = [finite, sum, min, max, zeros, nan, +inf, −inf], continued. */
export function blockPass1Js(
  counts: Uint32Array,
  blockRowStart: number,
  scaleCols: number,
  scales: Float32Array,
  table: Float64Array,
  acc: Float64Array,
): void {
  const nBlocks = counts.length >> 8
  for (let k = 0; k < nBlocks; k++) {
    const s = scales[blockRowStart * scaleCols + k]!
    const b = blockMoments(counts, k << 8, table, s)
    if (b.n > 0) {
      acc[0]! += b.n
      acc[1]! += b.sum * s
      const a = b.tmin * s
      const z = b.tmax * s
      // biome-ignore lint/complexity/useMathMinMax: the comparison of stats.cpp (Math.min orders ±0 differently)
      const lo = a < z ? a : z
      // biome-ignore lint/complexity/useMathMinMax: as above
      const hi = a < z ? z : a
      if (lo < acc[2]!) acc[2] = lo
      if (hi > acc[3]!) acc[3] = hi
      acc[4]! += s === 0 ? b.n : b.zeros
    }
    acc[5]! += b.nan
    acc[6]! += b.posInf
    acc[7]! += b.negInf
  }
}

/** blockPass2 of the kernel: adds to `hist` and returns `m2` plus the squared deviations from `mean`. */
export function blockPass2Js(
  counts: Uint32Array,
  blockRowStart: number,
  scaleCols: number,
  scales: Float32Array,
  table: Float64Array,
  mean: number,
  min: number,
  binScale: number,
  m2: number,
  hist: Float64Array,
): number {
  const nBlocks = counts.length >> 8
  const bins = hist.length
  const local = new Float64Array(bins)
  for (let k = 0; k < nBlocks; k++) {
    const s = scales[blockRowStart * scaleCols + k]!
    const off = k << 8
    const b = blockMoments(counts, off, table, s)
    if (b.n > 0) {
      const bmean = (b.sum * s) / b.n
      let inner = b.sq - (b.sum * b.sum) / b.n
      if (!(inner > 0)) inner = 0
      const d = bmean - mean
      m2 += inner * (s * s) + d * d * b.n
    }
    for (let c = 0; c < 256; c++) {
      const n = counts[off + c]!
      if (n === 0) continue
      const v = table[c]! * s
      if (v - v !== 0) continue
      // As everywhere: floor; NaN (0 × ∞ for a subnormal span) and overflow in the last bin; below the first dropped.
      const at = (v - min) * binScale
      if (at < bins) {
        if (at >= 0) local[Math.floor(at)]! += n
      } else local[bins - 1]! += n
    }
  }
  for (let i = 0; i < bins; i++) hist[i]! += local[i]!
  return m2
}

/** Statistics of block-scaled FP8 counts (blockPass1, then blockPass2 with the mean and range). */
function blockStats(
  k: StatsKernel | null,
  elements: number,
  parts: PartialStats[],
  blocks: BlockScaleSpec,
  table: Float64Array,
): Omit<TensorStats, 'sample' | 'sampleIndex' | 'dequantized'> {
  const pass1 = k ? k.blockPass1.bind(k) : blockPass1Js
  const pass2 = k ? k.blockPass2.bind(k) : blockPass2Js
  const { scaleCols, scales } = blocks
  const acc = new Float64Array([0, 0, Infinity, -Infinity, 0, 0, 0, 0])
  for (const p of parts) if (p.kind === 'blocks') pass1(p.counts, p.blockRowStart, scaleCols, scales, table, acc)
  const h = new Float64Array(HISTOGRAM_BINS)
  let m2 = 0
  if (acc[0]! > 0) {
    const mean = acc[1]! / acc[0]!
    const span = acc[3]! - acc[2]!
    const binScale = span > 0 ? HISTOGRAM_BINS / span : 0
    for (const p of parts) {
      if (p.kind !== 'blocks') continue
      m2 = pass2(p.counts, p.blockRowStart, scaleCols, scales, table, mean, acc[2]!, binScale, m2, h)
    }
  }
  return blockResult(elements, acc, m2, h)
}

/** TensorStats fields from acc = [finite, sum, min, max, zeros, nan, +inf, −inf], m2 and the bins. */
function blockResult(
  elements: number,
  acc: ArrayLike<number>,
  m2: number,
  hist: Float64Array,
): Omit<TensorStats, 'sample' | 'sampleIndex' | 'dequantized'> {
  const [finite, sum, min, max, zeros, nan, posInf, negInf] = Array.from(acc) as number[]
  const m: Moments = {
    finite: finite!,
    nan: nan!,
    posInf: posInf!,
    negInf: negInf!,
    zeros: zeros!,
    min: min!,
    max: max!,
    mean: finite! > 0 ? sum! / finite! : 0,
    m2,
  }
  return finishMoments(elements, m, Array.from(hist))
}

/**
 * Statistics of a whole F8_E4M3 tensor by the native kernel's vector path (blockStatsAt over the mapped file), or
 * null where that path does not apply; `codes` receives the codes at the sample offsets.
 */
export function blockStatsMapped(
  k: StatsKernel,
  fd: number,
  position: number,
  blocks: BlockScaleSpec,
  table: Float64Array,
  sampleOffsets: Float64Array,
  codes: Uint8Array,
): Omit<TensorStats, 'sample' | 'sampleIndex' | 'dequantized'> | null {
  const out = new Float64Array(10)
  const hist = new Float64Array(HISTOGRAM_BINS)
  const { rows, cols, blockRows, blockCols, scaleCols, scales } = blocks
  const ok = k.blockStatsAt(
    fd,
    position,
    rows,
    cols,
    blockRows,
    blockCols,
    scaleCols,
    scales,
    table,
    sampleOffsets,
    codes,
    out,
    hist,
  )
  return ok ? blockResult(rows * cols, out, out[9]!, hist) : null
}

/** Merges the partial results that together cover a tensor of `elements` values. */
export function finishStats(
  dtype: NumericDtype,
  elements: number,
  parts: PartialStats[],
  blocks?: BlockScaleSpec,
): TensorStats {
  if (parts.length === 1 && parts[0]!.kind === 'final') return parts[0]!.stats
  const sorted = [...parts].sort((a, b) => a.start - b.start)
  const sample: number[] = []
  const sampleIndex: number[] = []
  for (const p of sorted) {
    sample.push(...p.sample.value)
    sampleIndex.push(...p.sample.index)
  }
  const kind = sorted[0]?.kind ?? 'values'
  let base: Omit<TensorStats, 'sample' | 'sampleIndex' | 'dequantized'>
  if (kind === 'exact') {
    const all = sorted.length === 1 && sorted[0]!.kind === 'exact' ? sorted[0]!.values : concatExact(sorted)
    base = statsFromWeighted(elements, all, null)
  } else if (kind === 'codes') {
    const table = codeTable(dtype)
    const total = new Float64Array(table.length)
    for (const p of sorted) if (p.kind === 'codes') for (let i = 0; i < total.length; i++) total[i]! += p.counts[i]!
    base = statsFromWeighted(elements, table, total)
  } else if (kind === 'blocks') {
    if (!blocks) throw new Error('block scales are missing')
    base = blockStats(statsKernel(), elements, sorted, blocks, codeTable(dtype))
  } else {
    const m = emptyMoments()
    const fine = emptyFine()
    for (const p of sorted) {
      if (p.kind !== 'values') continue
      mergeMoments(m, p.moments)
      mergeFine(fine, p.fine)
    }
    let counts = new Array<number>(HISTOGRAM_BINS).fill(0)
    if (m.finite > 0 && fine.w > 0) counts = rebin(fine, m.min, m.max)
    base = finishMoments(elements, m, counts)
  }
  return { ...base, sample, sampleIndex, dequantized: blocks !== undefined }
}

// ---------------------------------------------------------------------------------------------------------------
// Crossing the worker boundary: number arrays become transferred typed arrays (structured clone of thousands of
// plain number arrays costs the main thread far more than the statistics themselves).

type Wire = { sample: unknown; sampleIndex?: unknown }

/** Replaces sample arrays by Float64Arrays in place; returns the buffers to transfer. */
export function packForWire(parts: PartialStats[]): ArrayBuffer[] {
  const transfer: ArrayBuffer[] = []
  const pack = (xs: number[]) => {
    const a = new Float64Array(xs.length)
    for (let i = 0; i < xs.length; i++) a[i] = xs[i]!
    transfer.push(a.buffer)
    return a
  }
  for (const p of parts) {
    ;(p.sample as unknown as Wire['sample']) = { index: pack(p.sample.index), value: pack(p.sample.value) }
    if (p.kind === 'final') {
      const st = p.stats as unknown as Wire
      st.sample = pack(p.stats.sample)
      st.sampleIndex = pack(p.stats.sampleIndex)
    }
    if (p.kind === 'codes' || p.kind === 'blocks') transfer.push(p.counts.buffer as ArrayBuffer)
    if (p.kind === 'exact') transfer.push(p.values.buffer as ArrayBuffer)
  }
  return transfer
}

/** Undoes packForWire on the receiving side. */
export function unpackFromWire(parts: PartialStats[]): PartialStats[] {
  // A plain loop: Array.from over a typed array goes through the iterator protocol and is far slower.
  const unpack = (xs: unknown) => {
    const a = xs as Float64Array
    const out = new Array<number>(a.length)
    for (let i = 0; i < a.length; i++) out[i] = a[i]!
    return out
  }
  for (const p of parts) {
    const sp = p.sample as unknown as { index: unknown; value: unknown }
    p.sample = { index: unpack(sp.index), value: unpack(sp.value) }
    if (p.kind === 'final') {
      p.stats.sample = unpack(p.stats.sample)
      p.stats.sampleIndex = unpack(p.stats.sampleIndex)
    }
  }
  return parts
}
