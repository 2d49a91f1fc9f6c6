// Weight values with the statistics of trained checkpoints: heavy tails (Student-t(5) quantile lookup), log-normal
// per-row and per-column scales, a few outlier columns. Generated row by row so any tensor streams in bounded
// memory; encoders turn float32 values into BF16 codes and block-scaled FP8 E4M3 codes (DeepSeek-V3 recipe:
// scale = amax / 448 per 128×128 block, code = E4M3(value / scale), weight_scale_inv = scale).
import { heavyTailTable, Rng } from './random'

export interface ValueModel {
  /** Standard deviation of the bulk of the values. */
  std: number
  /** Added to every value (norm weights sit around 1 in Llama). */
  center?: number
  /** σ of log row scale and log column scale. */
  rowSigma?: number
  colSigma?: number
  /** Fraction of columns (input channels) that are outliers, and their gain. */
  outlierFraction?: number
  outlierGain?: number
}

/** Produces the rows of one [rows, cols] matrix (a vector is one row), in order, from its seed. */
export class MatrixSource {
  readonly rows: number
  readonly cols: number
  private readonly colScale: Float32Array
  private readonly rowRng: Rng
  private readonly state = new Int32Array(4)
  private nextRow = 0

  constructor(
    rows: number,
    cols: number,
    private readonly model: ValueModel,
    seed: number,
  ) {
    this.rows = rows
    this.cols = cols
    const colRng = new Rng(seed ^ 0x5bd1e995)
    this.rowRng = new Rng(seed ^ 0x27d4eb2f)
    const colSigma = model.colSigma ?? 0.25
    this.colScale = new Float32Array(cols)
    const outlierFraction = model.outlierFraction ?? 0.002
    const gain = model.outlierGain ?? 6
    for (let c = 0; c < cols; c++) {
      let s = Math.exp(colSigma * colRng.normal())
      if (colRng.uniform() < outlierFraction) s *= gain * (0.5 + colRng.uniform())
      this.colScale[c] = s
    }
    const seeder = new Rng(seed)
    for (let i = 0; i < 4; i++) this.state[i] = seeder.u32() | 0
    if ((this.state[0]! | this.state[1]! | this.state[2]! | this.state[3]!) === 0) this.state[0] = 1
  }

  /** Fills `out` with the next `nRows` rows (row-major). */
  fill(out: Float32Array, nRows: number): void {
    if (this.nextRow + nRows > this.rows) throw new Error('MatrixSource: read past the last row')
    const T = heavyTailTable()
    const cols = this.cols
    const cs = this.colScale
    const rowSigma = this.model.rowSigma ?? 0.2
    const center = this.model.center ?? 0
    let a = this.state[0]!
    let b = this.state[1]!
    let c = this.state[2]!
    let d = this.state[3]!
    let p = 0
    for (let r = 0; r < nRows; r++) {
      const s = this.model.std * Math.exp(rowSigma * this.rowRng.normal())
      for (let j = 0; j < cols; j += 2) {
        // xoshiro128** inlined: one 32-bit draw gives two 16-bit table indices.
        const m = Math.imul(b, 5)
        const x = Math.imul((m << 7) | (m >>> 25), 9)
        const t = b << 9
        c ^= a
        d ^= b
        b ^= c
        a ^= d
        c ^= t
        d = (d << 11) | (d >>> 21)
        out[p++] = center + T[x & 0xffff]! * cs[j]! * s
        if (j + 1 < cols) out[p++] = center + T[x >>> 16]! * cs[j + 1]! * s
      }
    }
    this.state[0] = a
    this.state[1] = b
    this.state[2] = c
    this.state[3] = d
    this.nextRow += nRows
  }
}

/** Float32 → BF16 codes with round-to-nearest-even (finite inputs). */
export function toBf16(values: Float32Array, out: Uint16Array): void {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length)
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16
  }
}

/** Float32 → F8_E4M3 (OCP E4M3FN) codes, round-to-nearest-even, saturating at ±448. In place over `values`. */
export function toE4M3(values: Float32Array, out: Uint8Array): void {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length)
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!
    const sign = (x >>> 24) & 0x80
    const a = x & 0x7fffffff
    let code: number
    if (a >= 0x43e00000) code = 0x7e
    else if (a >= 0x3c800000) {
      // Normal: keep 3 mantissa bits with RNE; a carry correctly bumps the exponent.
      code = ((a + 0x7ffff + ((a >>> 20) & 1)) >>> 20) - (120 << 3)
      if (code > 0x7e) code = 0x7e
    } else {
      // Subnormal: multiples of 2^-9.
      const y = Math.abs(values[i]!) * 512
      code = Math.round(y)
      if (code - y === 0.5 && code & 1) code--
    }
    out[i] = code | sign
  }
}

export const E4M3_MAX = 448

/**
 * Quantizes `nRows` rows (row-major, `cols` wide, a block row of at most `block` rows) to E4M3 with one scale per
 * `block`-wide column block: scale = amax / 448, code = E4M3(value / scale). Writes the block row's scales.
 */
export function quantizeBlockRow(
  values: Float32Array,
  nRows: number,
  cols: number,
  block: number,
  codes: Uint8Array,
  scales: Float32Array,
): void {
  const scaleCols = Math.ceil(cols / block)
  for (let bc = 0; bc < scaleCols; bc++) {
    const c0 = bc * block
    const c1 = Math.min(cols, c0 + block)
    let amax = 0
    for (let r = 0; r < nRows; r++) {
      const base = r * cols
      for (let c = c0; c < c1; c++) {
        const v = Math.abs(values[base + c]!)
        if (v > amax) amax = v
      }
    }
    const scale = Math.fround(amax / E4M3_MAX) || 1
    scales[bc] = scale
    for (let r = 0; r < nRows; r++) {
      const base = r * cols
      for (let c = c0; c < c1; c++) values[base + c] = values[base + c]! / scale
    }
  }
  toE4M3(values.subarray(0, nRows * cols), codes)
}
