// An independent bound checker for codec tests: decodes every dtype's bits itself (no codec code) and checks
// that each reconstructed value is within eb of the original, with NaN, ±Inf and −0 bit-exact.
import type { CodecDtype, Fp8BlockScales } from '../../src-main/core/codec/types'

export const WIDTH: Record<CodecDtype, number> = { BF16: 2, F16: 2, F32: 4, F64: 8, F8_E4M3: 1, F8_E5M2: 1 }

const f32buf = new DataView(new ArrayBuffer(8))

/** Value of a binary float with the given exponent and mantissa widths (IEEE layout; E4M3 has no Inf). */
function smallFloat(bits: number, ebits: number, mbits: number, fnNaNOnly: boolean): number {
  const sign = (bits >> (ebits + mbits)) & 1 ? -1 : 1
  const e = (bits >> mbits) & ((1 << ebits) - 1)
  const m = bits & ((1 << mbits) - 1)
  const bias = (1 << (ebits - 1)) - 1
  const emax = (1 << ebits) - 1
  if (fnNaNOnly) {
    if (e === emax && m === (1 << mbits) - 1) return Number.NaN
  } else if (e === emax) {
    return m ? Number.NaN : sign * Number.POSITIVE_INFINITY
  }
  if (e === 0) return sign * m * 2 ** (1 - bias - mbits)
  return sign * (1 + m / 2 ** mbits) * 2 ** (e - bias)
}

/** Element i of raw little-endian bytes as a number, decoded from its bits. */
export function valueAt(dtype: CodecDtype, bytes: Uint8Array, i: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  switch (dtype) {
    case 'BF16':
      f32buf.setUint32(0, dv.getUint16(2 * i, true) << 16, true)
      return f32buf.getFloat32(0, true)
    case 'F16':
      return smallFloat(dv.getUint16(2 * i, true), 5, 10, false)
    case 'F32':
      return dv.getFloat32(4 * i, true)
    case 'F64':
      return dv.getFloat64(8 * i, true)
    case 'F8_E4M3':
      return smallFloat(bytes[i] ?? 0, 4, 3, true)
    case 'F8_E5M2':
      return smallFloat(bytes[i] ?? 0, 5, 2, false)
  }
}

function sameBits(a: Uint8Array, b: Uint8Array, i: number, w: number): boolean {
  for (let k = 0; k < w; k++) if (a[i * w + k] !== b[i * w + k]) return false
  return true
}

export interface CheckResult {
  ok: boolean
  maxErr: number
  firstBad?: string
}

/** Checks a reconstruction against the original element by element; eb = 0 means bit-exact. */
export function checkBound(
  dtype: CodecDtype,
  original: Uint8Array,
  decoded: Uint8Array,
  eb: number,
  fp8?: Fp8BlockScales,
): CheckResult {
  const w = WIDTH[dtype]
  if (original.byteLength !== decoded.byteLength) {
    return { ok: false, maxErr: Number.NaN, firstBad: `length ${decoded.byteLength} ≠ ${original.byteLength}` }
  }
  const n = original.byteLength / w
  let maxErr = 0
  for (let i = 0; i < n; i++) {
    if (eb === 0) {
      if (!sameBits(original, decoded, i, w)) return { ok: false, maxErr, firstBad: `element ${i} differs (lossless)` }
      continue
    }
    let scale = 1
    if (fp8) {
      const r = Math.floor(i / fp8.cols)
      const c = i % fp8.cols
      scale = fp8.scales[Math.floor(r / fp8.blockRows) * fp8.scaleCols + Math.floor(c / fp8.blockCols)] ?? Number.NaN
    }
    const x = valueAt(dtype, original, i) * scale
    const y = valueAt(dtype, decoded, i) * scale
    const special = !Number.isFinite(x) || Object.is(x, -0) || !Number.isFinite(scale)
    if (special) {
      if (!sameBits(original, decoded, i, w))
        return { ok: false, maxErr, firstBad: `special element ${i} (${x}) not bit-exact` }
      continue
    }
    const err = Math.abs(y - x)
    if (!(err <= eb))
      return { ok: false, maxErr: Math.max(maxErr, err), firstBad: `element ${i}: ${x} → ${y}, error ${err} > ${eb}` }
    if (err > maxErr) maxErr = err
  }
  return { ok: true, maxErr }
}

/**
 * F32 bits of the exact widening of a BF16 or F16 element, derived from its bit fields (no codec code, no float
 * conversion for NaN): what F32 output must return for values stored exactly.
 */
export function widenedBits(dtype: 'BF16' | 'F16', bytes: Uint8Array, i: number): number {
  const b = (bytes[2 * i] ?? 0) | ((bytes[2 * i + 1] ?? 0) << 8)
  if (dtype === 'BF16') return (b << 16) >>> 0
  const sign = (b & 0x8000) << 16
  const e = (b >> 10) & 0x1f
  const m = b & 0x3ff
  if (e === 0x1f) return (sign | 0x7f800000 | (m << 13)) >>> 0
  const v = smallFloat(b, 5, 10, false)
  f32buf.setFloat32(0, v, true) // finite F16 values are exact in F32 (subnormals and −0 included)
  return f32buf.getUint32(0, true)
}

/**
 * Checks an F32 reconstruction of BF16/F16 input (outputDtype 'F32'): each finite value within eb of the original
 * (eb = 0: bit-exact widening), and NaN, ±Inf and −0 widened bit-exactly.
 */
export function checkBoundWide(
  dtype: 'BF16' | 'F16',
  original: Uint8Array,
  decoded: Uint8Array,
  eb: number,
): CheckResult {
  const n = original.byteLength / 2
  if (decoded.byteLength !== n * 4) {
    return { ok: false, maxErr: Number.NaN, firstBad: `length ${decoded.byteLength} ≠ ${n * 4}` }
  }
  const dv = new DataView(decoded.buffer, decoded.byteOffset, decoded.byteLength)
  let maxErr = 0
  for (let i = 0; i < n; i++) {
    const x = valueAt(dtype, original, i)
    const special = !Number.isFinite(x) || Object.is(x, -0)
    if (eb === 0 || special) {
      if (dv.getUint32(4 * i, true) !== widenedBits(dtype, original, i))
        return { ok: false, maxErr, firstBad: `element ${i} (${x}) is not its exact F32 widening` }
      continue
    }
    const y = dv.getFloat32(4 * i, true)
    const err = Math.abs(y - x)
    if (!(err <= eb))
      return { ok: false, maxErr: Math.max(maxErr, err), firstBad: `element ${i}: ${x} → ${y}, error ${err} > ${eb}` }
    if (err > maxErr) maxErr = err
  }
  return { ok: true, maxErr }
}
