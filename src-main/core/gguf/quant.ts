// Number formats GGUF tensors are stored in: f16/bf16 conversion and ggml's reference Q8_0 / Q4_0 blocks
// (FORMATS.md §D), computed in float32 exactly like quantize_row_q8_0_ref / quantize_row_q4_0_ref.

const f32Scratch = new Float32Array(1)
const u32Scratch = new Uint32Array(f32Scratch.buffer)

/** Rounds an integer mantissa right by `shift` bits, ties to even. */
function shiftRoundEven(value: number, shift: number): number {
  const q = value >>> shift
  const rest = value & ((1 << shift) - 1)
  const half = 1 << (shift - 1)
  return rest > half || (rest === half && (q & 1) === 1) ? q + 1 : q
}

/** IEEE half bits of a number rounded to float32 then to half, round-to-nearest-even (as numpy and F16C do). */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x
  const bits = u32Scratch[0]!
  const sign = (bits >>> 16) & 0x8000
  const exp = (bits >>> 23) & 0xff
  const mant = bits & 0x7fffff
  if (exp === 0xff) {
    if (mant === 0) return sign | 0x7c00
    const payload = mant >>> 13
    return sign | 0x7c00 | (payload === 0 ? 1 : payload)
  }
  const e = exp - 112 // rebias 127 → 15
  if (e >= 31) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    // Subnormal half: value = m · 2^-24 with m = full mantissa >> (14 − e); a carry to 0x400 is the smallest normal.
    return sign | shiftRoundEven(mant | 0x800000, 14 - e)
  }
  // A carry out of the mantissa bumps the exponent, up to infinity: that is the correct rounding.
  return sign | roundNormal(e, mant)
}

function roundNormal(e: number, mant: number): number {
  const q = (e << 10) | (mant >>> 13)
  const rest = mant & 0x1fff
  return rest > 0x1000 || (rest === 0x1000 && (q & 1) === 1) ? q + 1 : q
}

/** The number an IEEE half bit pattern stands for. */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >>> 10) & 0x1f
  const mant = h & 0x3ff
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 31) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY
  return sign * (1 + mant / 1024) * 2 ** (exp - 15)
}

/** bfloat16 bits of a float32, as gguf-py does it: NaN kept quiet, otherwise round-to-nearest-even. */
export function f32ToBf16Bits(x: number): number {
  f32Scratch[0] = x
  let bits = u32Scratch[0]!
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits & 0xffff0000) | (64 << 16)) >>> 16
  bits = bits + 0x7fff + ((bits >>> 16) & 1)
  return (bits >>> 16) & 0xffff
}

export function bf16BitsToNumber(h: number): number {
  u32Scratch[0] = (h & 0xffff) << 16
  return f32Scratch[0]!
}

export function toF16(values: Float32Array): Uint8Array {
  const out = new Uint16Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]!)
  return new Uint8Array(out.buffer)
}

export function toBf16(values: Float32Array): Uint8Array {
  const out = new Uint16Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = f32ToBf16Bits(values[i]!)
  return new Uint8Array(out.buffer)
}

export const Q8_0_BLOCK_BYTES = 34
export const Q4_0_BLOCK_BYTES = 18
export const QK = 32

/** C's roundf: half away from zero. Done in double, where |x|+0.5 is exact for any float32 x. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5)
}

/** Q8_0 blocks of `values` (length a multiple of 32): fp16 d = amax/127, then 32 × int8 round(x/d). */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % QK !== 0) throw new RangeError(`Q8_0 needs a multiple of ${QK} values, got ${values.length}`)
  const blocks = values.length / QK
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES)
  const view = new DataView(out.buffer)
  for (let b = 0; b < blocks; b++) {
    const base = b * QK
    let amax = 0
    for (let j = 0; j < QK; j++) {
      const a = Math.abs(values[base + j]!)
      if (a > amax) amax = a
    }
    const d = Math.fround(amax / 127)
    const id = d !== 0 ? Math.fround(1 / d) : 0
    const o = b * Q8_0_BLOCK_BYTES
    view.setUint16(o, f32ToF16Bits(d), true)
    for (let j = 0; j < QK; j++) view.setInt8(o + 2 + j, roundHalfAway(Math.fround(values[base + j]! * id)))
  }
  return out
}

/**
 * Q4_0 blocks: d = (signed element of largest |x|, first on ties)/−8; nibble = min(15, trunc(x/d + 8.5)); byte k
 * holds element k in its low nibble and element k+16 in its high nibble.
 */
export function quantizeQ4_0(values: Float32Array): Uint8Array {
  if (values.length % QK !== 0) throw new RangeError(`Q4_0 needs a multiple of ${QK} values, got ${values.length}`)
  const blocks = values.length / QK
  const out = new Uint8Array(blocks * Q4_0_BLOCK_BYTES)
  const view = new DataView(out.buffer)
  const half = QK / 2
  const nibble = (x: number, id: number): number => Math.min(15, Math.trunc(Math.fround(Math.fround(x * id) + 8.5)))
  for (let b = 0; b < blocks; b++) {
    const base = b * QK
    let amax = 0
    let max = 0
    for (let j = 0; j < QK; j++) {
      const v = values[base + j]!
      if (amax < Math.abs(v)) {
        amax = Math.abs(v)
        max = v
      }
    }
    const d = Math.fround(max / -8)
    const id = d !== 0 ? Math.fround(1 / d) : 0
    const o = b * Q4_0_BLOCK_BYTES
    view.setUint16(o, f32ToF16Bits(d), true)
    for (let j = 0; j < half; j++) {
      out[o + 2 + j] = nibble(values[base + j]!, id) | (nibble(values[base + half + j]!, id) << 4)
    }
  }
  return out
}

export function dequantizeQ8_0(data: Uint8Array): Float32Array {
  const blocks = data.length / Q8_0_BLOCK_BYTES
  const out = new Float32Array(blocks * QK)
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  for (let b = 0; b < blocks; b++) {
    const o = b * Q8_0_BLOCK_BYTES
    const d = f16BitsToNumber(view.getUint16(o, true))
    for (let j = 0; j < QK; j++) out[b * QK + j] = view.getInt8(o + 2 + j) * d
  }
  return out
}

export function dequantizeQ4_0(data: Uint8Array): Float32Array {
  const blocks = data.length / Q4_0_BLOCK_BYTES
  const out = new Float32Array(blocks * QK)
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  for (let b = 0; b < blocks; b++) {
    const o = b * Q4_0_BLOCK_BYTES
    const d = f16BitsToNumber(view.getUint16(o, true))
    for (let j = 0; j < QK / 2; j++) {
      const byte = data[o + 2 + j]!
      out[b * QK + j] = ((byte & 0x0f) - 8) * d
      out[b * QK + j + QK / 2] = ((byte >> 4) - 8) * d
    }
  }
  return out
}
