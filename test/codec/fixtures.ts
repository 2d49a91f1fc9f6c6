// Deterministic test tensors for the codec matrix: weights-like noise with outliers and the awkward cases
// (empty, one element, constant, all-NaN, huge magnitudes, subnormals, ±Inf, −0), in every dtype.
import type { CodecDtype } from '../../src-main/core/codec/types'
import { valueAt, WIDTH } from './checker'

/** Small seeded PRNG (mulberry32) so every run sees the same tensors. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function gaussian(r: () => number): number {
  const u = Math.max(r(), 1e-12)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r())
}

const dv8 = new DataView(new ArrayBuffer(8))

function f32Bits(x: number): number {
  dv8.setFloat32(0, x, true)
  return dv8.getUint32(0, true)
}

/** Nearest FP8 code by brute force over all 256 codes (ties to the even code); used only to make fixtures. */
function toFp8(x: number, table: number[]): number {
  if (Number.isNaN(x)) return 0x7f
  let best = 0
  let bestErr = Number.POSITIVE_INFINITY
  for (let c = 0; c < 256; c++) {
    const v = table[c] ?? Number.NaN
    if (!Number.isFinite(v)) continue
    const e = Math.abs(v - x)
    if (e < bestErr || (e === bestErr && (c & 1) === 0)) {
      best = c
      bestErr = e
    }
  }
  return best
}

/** Encodes numbers as raw little-endian bytes of dtype (round to nearest even). */
export function encodeValues(dtype: CodecDtype, values: ArrayLike<number>, fp8Table?: number[]): Uint8Array {
  const w = WIDTH[dtype]
  const out = new Uint8Array(values.length * w)
  const dv = new DataView(out.buffer)
  for (let i = 0; i < values.length; i++) {
    const x = values[i] ?? 0
    switch (dtype) {
      case 'BF16': {
        const u = f32Bits(x)
        const nan = (u & 0x7fffffff) > 0x7f800000
        dv.setUint16(2 * i, nan ? (u >>> 16) | 0x40 : ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff, true)
        break
      }
      case 'F16':
        dv.setFloat16(2 * i, x, true)
        break
      case 'F32':
        dv.setFloat32(4 * i, x, true)
        break
      case 'F64':
        dv.setFloat64(8 * i, x, true)
        break
      default:
        out[i] = toFp8(x, fp8Table ?? [])
    }
  }
  return out
}

export type Pattern = 'weights' | 'constant' | 'allNaN' | 'huge' | 'subnormal' | 'specials' | 'ramp' | 'stacked'

/** Values for a pattern, in the dtype's useful range (maxMag keeps FP8/F16 from overflowing). */
export function patternValues(pattern: Pattern, n: number, seed: number, maxMag: number, tiny = 1e-41): number[] {
  const r = rng(seed)
  const v: number[] = []
  for (let i = 0; i < n; i++) {
    switch (pattern) {
      case 'weights': {
        const outlier = r() < 0.002
        v.push(gaussian(r) * 0.02 * (outlier ? 10 : 1) * Math.min(1, maxMag))
        break
      }
      case 'constant':
        v.push(0.125)
        break
      case 'allNaN':
        v.push(Number.NaN)
        break
      case 'huge':
        v.push((r() < 0.5 ? -1 : 1) * maxMag * (0.5 + 0.5 * r()))
        break
      case 'subnormal':
        v.push(gaussian(r) * tiny)
        break
      case 'specials': {
        const k = i % 7
        v.push(
          k === 0
            ? Number.POSITIVE_INFINITY
            : k === 1
              ? Number.NEGATIVE_INFINITY
              : k === 2
                ? -0
                : k === 3
                  ? Number.NaN
                  : gaussian(r),
        )
        break
      }
      case 'ramp':
        v.push((i % 97) * 0.01 - 0.3 + 0.001 * gaussian(r))
        break
      case 'stacked': {
        // Blocks of rows with different scales, like matrices of a model stacked together.
        const scale = 0.004 * 2 ** ((Math.floor(i / 2048) * 7) % 5)
        v.push(gaussian(r) * scale * Math.min(1, maxMag))
        break
      }
    }
  }
  return v
}

export const FP8_TABLES: Record<'F8_E4M3' | 'F8_E5M2', number[]> = {
  F8_E4M3: Array.from({ length: 256 }, (_, c) => valueAt('F8_E4M3', new Uint8Array([c]), 0)),
  F8_E5M2: Array.from({ length: 256 }, (_, c) => valueAt('F8_E5M2', new Uint8Array([c]), 0)),
}

/** Magnitudes each dtype can hold: the largest pattern value and the subnormal-range one. */
const MAGNITUDES: Record<CodecDtype, { maxMag: number; tiny: number }> = {
  BF16: { maxMag: 3e38, tiny: 1e-40 },
  F16: { maxMag: 6e4, tiny: 1e-6 },
  F32: { maxMag: 3e38, tiny: 1e-41 },
  F64: { maxMag: 1e300, tiny: 1e-310 },
  F8_E4M3: { maxMag: 400, tiny: 0.004 },
  F8_E5M2: { maxMag: 5e4, tiny: 2e-5 },
}

/** n elements of `pattern` encoded in dtype, with magnitudes the dtype can hold (the test matrix's tensors). */
export function patternTensor(dtype: CodecDtype, pattern: Pattern, n: number, seed: number): Uint8Array {
  const { maxMag, tiny } = MAGNITUDES[dtype]
  const values = patternValues(pattern, n, seed, maxMag, tiny)
  return encodeValues(dtype, values, dtype === 'F8_E4M3' || dtype === 'F8_E5M2' ? FP8_TABLES[dtype] : undefined)
}

/** Parts of a quantized chunk (method 2) read from its bytes as native/README.md lays them out: header version,
 *  predictor, flags and the number of escaped (raw) elements; null for raw and lossless chunks. */
export function quantizedLayout(
  chunk: Uint8Array,
): { version: number; predictor: number; flags: number; escapes: number } | null {
  if (chunk[2] !== 2) return null
  let o = 12
  const byte = (): number => {
    if (o >= chunk.length) throw new Error('quantized chunk ends early')
    return chunk[o++]!
  }
  const varint = (): number => {
    let v = 0
    for (let mul = 1; ; mul *= 128) {
      const b = byte()
      v += (b & 127) * mul
      if (b < 128) return v
    }
  }
  const skip = (len: number) => {
    o += len
  }
  const predictor = byte()
  const flags = byte()
  if (predictor === 1) for (let r = varint(); r > 0; r--) varint()
  if (flags & 1) {
    byte()
    varint()
  }
  skip(varint())
  if (flags & 1) skip(varint())
  skip(varint())
  return { version: chunk[1]!, predictor, flags, escapes: varint() }
}
