// Instant size and error estimates for a compression plan, from each tensor's kept sample. The expensive part
// (entropy and error of the quantized sample over a grid of bounds) runs once per inventory; an estimate for a
// plan is then an interpolation per tensor, so a slider move on ~92k tensors stays far below 100 ms.

/** What the estimator needs to know about one tensor (from the inventory). */
export interface TuneTensor {
  name: string
  dtype: string
  group: string
  role: string
  elementCount: number
  bytes: number
  min: number
  max: number
  std: number
  /** Values decoded from the tensor (dequantized for FP8 with block scales). */
  sample: ArrayLike<number>
  /** For FP8 with block scales: each sample value's block scale (the dtype grid is code × scale). */
  sampleScale?: ArrayLike<number>
  /** Container bytes this tensor costs besides its coded data that depend on the model (its name, its entry in
   *  the original header kept verbatim); the fixed part is in the calibration. */
  overheadBytes?: number
}

export type EstimateMode = 'lossless' | 'abs' | 'rel' | 'raw'

export interface EstimateSetting {
  mode: EstimateMode
  bound: number
}

/** Knobs fitted against real compression runs (see test/app/tune-calibration.test.ts). */
export interface Calibration {
  /** Coder bits per element = factor × order-0 entropy of the quantization indices + floor. */
  lossyFactor: number
  lossyFloorBits: number
  /** Same for the lossless byte-plane entropy. */
  losslessFactor: number
  /** Fixed bytes per tensor record (header, chunk table, checksums). */
  perTensorBytes: number
  /** Bits the entropy coder's frequency table costs per symbol of the alphabet, once per chunk. */
  tableBitsPerSymbol: number
  /** Elements per chunk and bytes of each chunk's table entry. */
  chunkElements: number
  perChunkBytes: number
}

export const DEFAULT_CALIBRATION: Calibration = {
  lossyFactor: 0.97,
  lossyFloorBits: 0.02,
  losslessFactor: 1.0,
  perTensorBytes: 150,
  tableBitsPerSymbol: 3,
  chunkElements: 1 << 21,
  perChunkBytes: 24,
}

/** Grid of log2(eb / scale) points where entropy and error are measured once per tensor. */
const K_MIN = -26
const K_MAX = 6
const K = K_MAX - K_MIN + 1
/** The codec's residual alphabet: symbols ≥ this are escapes (value stored exactly). */
const MAX_SYMBOL = 4095
/** Sample values × grid points evaluated by prepareTensors at most (about 2–4 s of work). */
const WORK_BUDGET = 60_000_000

export interface PreparedTensors {
  count: number
  tensors: TuneTensor[]
  /** Coded bits per element of the quantized path at grid point k (row-major tensor × K), escapes included. */
  bits: Float32Array
  /** Mean squared quantization error / scale² at grid point k. */
  mse: Float32Array
  scale: Float64Array
  losslessBits: Float32Array
  dtypeBits: Float32Array
  /** Tensors that any plan treats alike (same role, group, dtype and size class): class id per tensor, and one
   *  representative tensor per class, so a plan is resolved once per class instead of once per tensor. */
  classOf: Int32Array
  classes: number[]
}

/** Tensors below this many elements form their own size class (plans keep tiny tensors lossless). */
export const TINY_ELEMENTS = 4096

const LN2 = Math.log(2)

function dtypeBitsOf(dtype: string, elementCount: number, bytes: number): number {
  if (elementCount > 0 && bytes > 0) return (bytes * 8) / elementCount
  if (dtype.includes('8')) return 8
  if (dtype.endsWith('16')) return 16
  if (dtype.endsWith('64')) return 64
  return 32
}

/** Order-0 entropy in bits of the counts, with the Miller–Madow correction for a finite sample. */
function entropyOfCounts(counts: Iterable<number>, n: number): { h: number; occupied: number } {
  let h = 0
  let occupied = 0
  for (const c of counts) {
    if (c === 0) continue
    occupied++
    const p = c / n
    h -= p * Math.log2(p)
  }
  if (occupied > 1) h += (occupied - 1) / (2 * n * LN2)
  return { h, occupied }
}

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** Byte-plane entropy of the values re-encoded in their dtype (what the lossless byte-plane coder gets). */
function losslessBitsOf(values: Float64Array, dtype: string, dtypeBits: number): number {
  const n = values.length
  if (n === 0) return dtypeBits
  if (dtype === 'BF16' || dtype === 'F32' || dtype === 'F16') {
    const planes = dtype === 'F32' ? 4 : 2
    const counts = Array.from({ length: planes }, () => new Uint32Array(256))
    for (let i = 0; i < n; i++) {
      f32[0] = values[i]!
      let bits = u32[0]!
      if (dtype === 'BF16') bits >>>= 16
      else if (dtype === 'F16') bits = toHalfBits(values[i]!)
      for (let p = 0; p < planes; p++) counts[p]![(bits >>> (8 * p)) & 255]!++
    }
    let total = 0
    for (const c of counts) total += entropyOfCounts(c, n).h
    return Math.min(total, dtypeBits)
  }
  // Other dtypes (FP8 dequantized, F64, ints): entropy of the distinct values, never above the stored width.
  const freq = new Map<number, number>()
  for (let i = 0; i < n; i++) freq.set(values[i]!, (freq.get(values[i]!) ?? 0) + 1)
  return Math.min(entropyOfCounts(freq.values(), n).h, dtypeBits)
}

function toHalfBits(v: number): number {
  f32[0] = v
  const x = u32[0]!
  const sign = (x >>> 16) & 0x8000
  const exp = ((x >>> 23) & 0xff) - 127 + 15
  const mant = x & 0x7fffff
  if (exp <= 0) return sign | (mant >>> (13 - exp + 1))
  if (exp >= 31) return sign | 0x7c00
  return sign | (exp << 10) | (mant >>> 13)
}

/** Mantissa bits and smallest normal exponent of the float dtypes whose rounding the codec checks. */
const FLOAT_FORMAT: Record<string, { mant: number; minExp: number }> = {
  BF16: { mant: 7, minExp: -126 },
  F16: { mant: 10, minExp: -14 },
  F32: { mant: 23, minExp: -126 },
  F8_E4M3: { mant: 3, minExp: -6 },
  F8_E5M2: { mant: 2, minExp: -14 },
}

/** Spacing of the dtype's values around v, where values are codes × scale (scale 1 without FP8 block scales);
 *  0 means continuous (F64). */
function ulpOf(v: number, dtype: string, scale = 1): number {
  const f = FLOAT_FORMAT[dtype]
  if (!f) return 0
  const code = v / scale
  if (code === 0) return 2 ** (f.minExp - f.mant) * scale
  const e = Math.max(Math.floor(Math.log2(Math.abs(code))), f.minExp)
  return 2 ** (e - f.mant) * scale
}

function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** Up to `max` finite sample values spread over the sample, sorted, with each value's dtype spacing. */
function strided(t: TuneTensor, max: number): { values: Float64Array; ulps: Float64Array; codes: Float64Array } {
  const sample = t.sample
  const n = sample.length
  const m = Math.min(n, max)
  const step = n / m
  const picked: number[] = []
  for (let i = 0; i < m; i++) {
    const j = Math.floor(i * step)
    if (Number.isFinite(sample[j]!)) picked.push(j)
  }
  picked.sort((a, b) => sample[a]! - sample[b]!)
  const values = new Float64Array(picked.length)
  const ulps = new Float64Array(picked.length)
  // What is stored: FP8 codes (value / block scale); the values themselves for other dtypes.
  const codes = new Float64Array(picked.length)
  for (let i = 0; i < picked.length; i++) {
    const j = picked[i]!
    values[i] = sample[j]!
    const given = t.sampleScale?.[j]
    const scale = given !== undefined && given > 0 ? given : 1
    ulps[i] = ulpOf(values[i]!, t.dtype, scale)
    codes[i] = values[i]! / scale
  }
  return { values, ulps, codes }
}

/**
 * Precomputes each tensor's coded size and error over the bound grid by running the codec's quantizer on the
 * sample: q = round(x / 2eb), reconstruction rounded to the dtype and checked against the bound (else the value is
 * an escape stored exactly), residual alphabet capped at 4095 symbols, order-0 entropy of the symbols.
 * Block-scaled FP8 is quantized on each block's grid of codes (chunk version 2): a code the linear index cannot
 * place is its own bin, so it costs the entropy of such codes instead of a raw byte, and is reconstructed exactly.
 */
export function prepareTensors(tensors: TuneTensor[]): PreparedTensors {
  const count = tensors.length
  // Tensors that are always stored exactly (FP8 block scales) need no curve; the rest share a work budget, so a
  // 92k-tensor model (DeepSeek-V3) prepares in seconds with smaller samples while small models use all 4096.
  let curved = 0
  for (const t of tensors) if (t.role !== 'fp8_scale') curved++
  const maxSample = Math.max(64, Math.min(4096, Math.floor(WORK_BUDGET / (Math.max(1, curved) * K))))
  const bits = new Float32Array(count * K)
  const mse = new Float32Array(count * K)
  const scale = new Float64Array(count)
  const losslessBits = new Float32Array(count)
  const dtypeBits = new Float32Array(count)
  for (let t = 0; t < count; t++) {
    const info = tensors[t]!
    const { values, ulps, codes } = strided(info, maxSample)
    const n = values.length
    const s = info.std > 0 ? info.std : Math.max(Math.abs(info.max), Math.abs(info.min), 1e-30)
    scale[t] = s
    const width = dtypeBitsOf(info.dtype, info.elementCount, info.bytes)
    dtypeBits[t] = width
    losslessBits[t] = losslessBitsOf(codes, info.dtype, width)
    const row = t * K
    if (n === 0 || info.role === 'fp8_scale') continue
    const codeGrid = info.sampleScale !== undefined && (info.dtype === 'F8_E4M3' || info.dtype === 'F8_E5M2')
    const ownBins = new Map<number, number>()
    // From coarse to fine. Once the symbols get too many for the sample to show their distribution, the entropy
    // of the kept (non-escaped) symbols follows the fine-quantization law: one more bit per halving of the bound.
    let reliable = true
    let refK = -1
    let refCond = 0
    for (let k = K - 1; k >= 0; k--) {
      const eb = s * 2 ** (k + K_MIN)
      const step = 2 * eb
      let err = 0
      let escapes = 0
      ownBins.clear()
      let h = 0
      let occupied = 0
      let runLength = 0
      let prev = Number.NaN
      for (let i = 0; i < n; i++) {
        const v = values[i]!
        const u = ulps[i]!
        const x = v / step
        let q = roundHalfEven(x)
        let rec = u > 0 ? roundHalfEven((q * step) / u) * u : q * step
        if (Math.abs(rec - v) > eb) {
          q = x > q ? q + 1 : q - 1
          rec = u > 0 ? roundHalfEven((q * step) / u) * u : q * step
        }
        const z = q >= 0 ? 2 * q : -2 * q - 1
        if (Math.abs(rec - v) > eb || z >= MAX_SYMBOL) {
          escapes++
          if (codeGrid) ownBins.set(codes[i]!, (ownBins.get(codes[i]!) ?? 0) + 1)
          continue
        }
        err += (rec - v) * (rec - v)
        if (!reliable) continue
        if (q !== prev) {
          if (runLength > 0) {
            const p = runLength / n
            h -= p * Math.log2(p)
            occupied++
          }
          prev = q
          runLength = 0
        }
        runLength++
      }
      const pe = escapes / n
      mse[row + k] = err / n / (s * s)
      // FP8 code grid: the escapes are own-bin symbols (exact values), coded by the entropy of their codes.
      let escapeBits = width
      if (codeGrid && escapes > 0) {
        escapeBits = 0
        for (const c of ownBins.values()) escapeBits -= (c / escapes) * Math.log2(c / escapes)
      }
      let symbolBits: number
      if (reliable) {
        if (runLength > 0) {
          const p = runLength / n
          h -= p * Math.log2(p)
          occupied++
        }
        if (escapes > 0) {
          h -= pe * Math.log2(pe)
          occupied++
        }
        if (occupied > 1) h += (occupied - 1) / (2 * n * LN2)
        symbolBits = h
        if (occupied > n / 4 && k > 0) {
          reliable = false
          refK = k
          // Entropy of the kept symbols alone, the quantity that grows by a bit per halving.
          const binary = pe > 0 && pe < 1 ? -pe * Math.log2(pe) - (1 - pe) * Math.log2(1 - pe) : 0
          refCond = pe < 1 ? (h - binary) / (1 - pe) : 0
        }
      } else {
        const cond = Math.min(refCond + (refK - k), Math.log2(MAX_SYMBOL))
        const binary = pe > 0 && pe < 1 ? -pe * Math.log2(pe) - (1 - pe) * Math.log2(1 - pe) : 0
        symbolBits = (1 - pe) * cond + binary
      }
      bits[row + k] = symbolBits + pe * escapeBits
    }
  }
  const classOf = new Int32Array(count)
  const classes: number[] = []
  const ids = new Map<string, number>()
  for (let t = 0; t < count; t++) {
    const x = tensors[t]!
    const key = `${x.role}\u0000${x.group}\u0000${x.dtype}\u0000${x.elementCount < TINY_ELEMENTS ? 1 : 0}`
    let id = ids.get(key)
    if (id === undefined) {
      id = classes.length
      ids.set(key, id)
      classes.push(t)
    }
    classOf[t] = id
  }
  return { count, tensors, bits, mse, scale, losslessBits, dtypeBits, classOf, classes }
}

export interface TensorEstimate {
  compressedBytes: number
  /** Mean squared error in value units. */
  mse: number
  /** Absolute bound in value units (0 for lossless/raw). */
  eb: number
}

/** Resolves a relative bound against the tensor's range as the codec does (REL: eb = bound × (max − min)). */
export function absoluteBound(t: TuneTensor, s: EstimateSetting): number {
  if (s.mode === 'abs') return s.bound
  if (s.mode === 'rel') return s.bound * (t.max - t.min)
  return 0
}

/** Estimate for tensor t under setting s; reuses `out` so a full-model pass allocates nothing. */
export function estimateTensor(
  p: PreparedTensors,
  t: number,
  s: EstimateSetting,
  cal: Calibration = DEFAULT_CALIBRATION,
  out: TensorEstimate = { compressedBytes: 0, mse: 0, eb: 0 },
): TensorEstimate {
  const info = p.tensors[t]!
  const n = info.elementCount
  const overhead =
    cal.perTensorBytes + (info.overheadBytes ?? 0) + Math.max(1, Math.ceil(n / cal.chunkElements)) * cal.perChunkBytes
  if (s.mode === 'raw') {
    out.compressedBytes = info.bytes
    out.mse = 0
    out.eb = 0
    return out
  }
  const lossless = p.losslessBits[t]! * cal.losslessFactor
  const eb = absoluteBound(info, s)
  if (s.mode === 'lossless' || !(eb > 0)) {
    out.compressedBytes = Math.min((n * lossless) / 8, info.bytes) + overhead
    out.mse = 0
    out.eb = 0
    return out
  }
  const scale = p.scale[t]!
  const pos = Math.log2(eb / scale) - K_MIN
  const row = t * K
  let h: number
  let mseRel: number
  if (pos <= 0) {
    h = p.bits[row]!
    mseRel = p.mse[row]!
  } else if (pos >= K - 1) {
    h = p.bits[row + K - 1]!
    mseRel = p.mse[row + K - 1]!
  } else {
    const i = Math.floor(pos)
    const f = pos - i
    h = p.bits[row + i]! * (1 - f) + p.bits[row + i + 1]! * f
    mseRel = p.mse[row + i]! * (1 - f) + p.mse[row + i + 1]! * f
  }
  // Alphabet of the chunk: symbols up to the largest |index| (from the tensor's true range), capped by the codec.
  const absMax = Math.max(Math.abs(info.min), Math.abs(info.max))
  const alphabet = Math.min(MAX_SYMBOL + 1, 2 * Math.ceil(absMax / (2 * eb)) + 2)
  const chunks = Math.max(1, Math.ceil(n / cal.chunkElements))
  const tableBits = (chunks * alphabet * cal.tableBitsPerSymbol) / Math.max(1, n)
  const lossy = h * cal.lossyFactor + cal.lossyFloorBits + tableBits
  // The codec falls back to lossless byte planes when the quantized chunk is large and the planes are smaller.
  const perElement = lossy > 0.6 * p.dtypeBits[t]! && lossless < lossy ? lossless : lossy
  out.compressedBytes = Math.min((n * perElement) / 8, info.bytes) + overhead
  out.mse = perElement === lossless ? 0 : mseRel * scale * scale
  out.eb = eb
  return out
}

export interface EstimateTotals {
  tensors: number
  elements: number
  originalBytes: number
  compressedBytes: number
  sumSquaredError: number
  maxError: number
}

const emptyTotals = (): EstimateTotals => ({
  tensors: 0,
  elements: 0,
  originalBytes: 0,
  compressedBytes: 0,
  sumSquaredError: 0,
  maxError: 0,
})

/** Estimates a whole model: `settingOf(t)` gives each tensor's resolved setting. Totals overall and by group. */
export function estimateAll(
  p: PreparedTensors,
  settingOf: (t: number) => EstimateSetting,
  cal: Calibration = DEFAULT_CALIBRATION,
): { total: EstimateTotals; groups: Map<string, EstimateTotals> } {
  const total = emptyTotals()
  const groups = new Map<string, EstimateTotals>()
  const scratch: TensorEstimate = { compressedBytes: 0, mse: 0, eb: 0 }
  let lastGroup = ''
  let g: EstimateTotals | undefined
  for (let t = 0; t < p.count; t++) {
    const info = p.tensors[t]!
    const e = estimateTensor(p, t, settingOf(t), cal, scratch)
    if (info.group !== lastGroup || !g) {
      lastGroup = info.group
      g = groups.get(info.group)
      if (!g) {
        g = emptyTotals()
        groups.set(info.group, g)
      }
    }
    add(total, info, e)
    add(g, info, e)
  }
  return { total, groups }
}

function add(acc: EstimateTotals, info: TuneTensor, e: TensorEstimate): void {
  acc.tensors++
  acc.elements += info.elementCount
  acc.originalBytes += info.bytes
  acc.compressedBytes += e.compressedBytes
  acc.sumSquaredError += e.mse * info.elementCount
  if (e.eb > acc.maxError) acc.maxError = e.eb
}
