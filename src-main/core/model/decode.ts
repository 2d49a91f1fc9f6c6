// Element decoding: safetensors dtypes to numbers with typed-array code (no per-element DataView calls).
// 8- and 16-bit types decode through 256/65536-entry lookup tables, which the statistics also use to work on
// code counts instead of values.

/** Dtypes the statistics understand; others (C64, F4, F6_*) get no statistics. */
export type NumericDtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'I64'
  | 'U64'
  | 'F64'
  | 'F8_E4M3'
  | 'F8_E5M2'
  | 'F8_E4M3FNUZ'
  | 'F8_E5M2FNUZ'
  | 'F8_E8M0'

const BYTES: Record<NumericDtype, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  F8_E4M3FNUZ: 1,
  F8_E5M2FNUZ: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
}

export function isNumericDtype(dtype: string): dtype is NumericDtype {
  return Object.hasOwn(BYTES, dtype)
}

export function bytesPerElement(dtype: NumericDtype): number {
  return BYTES[dtype]
}

/** Generic minifloat decode: sign, `e` exponent bits, `m` mantissa bits, exponent bias. */
function minifloat(code: number, e: number, m: number, bias: number): number {
  const sign = code >> (e + m) ? -1 : 1
  const exp = (code >> m) & ((1 << e) - 1)
  const man = code & ((1 << m) - 1)
  if (exp === 0) return sign * man * 2 ** (1 - bias - m)
  return sign * (1 + man / (1 << m)) * 2 ** (exp - bias)
}

function fp8Value(dtype: NumericDtype, code: number): number {
  switch (dtype) {
    case 'F8_E4M3':
      // OCP E4M3FN: no infinities, S.1111.111 is NaN, max 448.
      if ((code & 0x7f) === 0x7f) return Number.NaN
      return minifloat(code, 4, 3, 7)
    case 'F8_E5M2': {
      const exp = (code >> 2) & 0x1f
      if (exp === 0x1f) return (code & 3) === 0 ? (code & 0x80 ? -Infinity : Infinity) : Number.NaN
      return minifloat(code, 5, 2, 15)
    }
    case 'F8_E4M3FNUZ':
      // FNUZ: no negative zero; 0x80 is the only NaN; bias one larger.
      if (code === 0x80) return Number.NaN
      return minifloat(code, 4, 3, 8)
    case 'F8_E5M2FNUZ':
      if (code === 0x80) return Number.NaN
      return minifloat(code, 5, 2, 16)
    case 'F8_E8M0':
      // Scale-only format: 2^(code − 127), 0xFF is NaN.
      return code === 0xff ? Number.NaN : 2 ** (code - 127)
    default:
      throw new Error(`${dtype} is not an FP8 dtype`)
  }
}

const lutCache = new Map<NumericDtype, Float64Array>()

/** Value of every code of an 8- or 16-bit dtype, indexed by the little-endian code. */
export function codeTable(dtype: NumericDtype): Float64Array {
  const hit = lutCache.get(dtype)
  if (hit) return hit
  let t: Float64Array
  switch (dtype) {
    case 'BOOL':
    case 'U8':
      t = Float64Array.from({ length: 256 }, (_, i) => i)
      break
    case 'I8':
      t = Float64Array.from({ length: 256 }, (_, i) => (i << 24) >> 24)
      break
    case 'U16':
      t = Float64Array.from({ length: 65536 }, (_, i) => i)
      break
    case 'I16':
      t = Float64Array.from({ length: 65536 }, (_, i) => (i << 16) >> 16)
      break
    case 'BF16': {
      // BF16 is the top half of an F32: shift into a Uint32Array and view it as Float32Array.
      const u = new Uint32Array(65536)
      for (let i = 0; i < 65536; i++) u[i] = i << 16
      t = Float64Array.from(new Float32Array(u.buffer))
      break
    }
    case 'F16': {
      t = new Float64Array(65536)
      for (let i = 0; i < 65536; i++) {
        const exp = (i >> 10) & 0x1f
        t[i] =
          exp === 0x1f
            ? (i & 0x3ff) === 0
              ? i & 0x8000
                ? -Infinity
                : Infinity
              : Number.NaN
            : minifloat(i, 5, 10, 15)
      }
      break
    }
    case 'F8_E4M3':
    case 'F8_E5M2':
    case 'F8_E4M3FNUZ':
    case 'F8_E5M2FNUZ':
    case 'F8_E8M0':
      t = Float64Array.from({ length: 256 }, (_, i) => fp8Value(dtype, i))
      break
    default:
      throw new Error(`${dtype} has no code table`)
  }
  lutCache.set(dtype, t)
  return t
}

/** True for dtypes decoded through a code table (≤ 16 bits). */
export function hasCodeTable(dtype: NumericDtype): boolean {
  return BYTES[dtype] <= 2
}

/** Codes of `bytes` as an array of the dtype's width (bytes must start at an element boundary). */
export function codesOf(dtype: NumericDtype, bytes: Uint8Array): Uint8Array | Uint16Array {
  if (BYTES[dtype] === 1) return bytes
  if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1)
  return new Uint16Array(bytes.slice().buffer, 0, bytes.byteLength >> 1)
}

/**
 * Decodes little-endian elements to float64 numbers. F32/F64 are viewed in place when aligned; 8/16-bit types go
 * through their code table; 64-bit integers lose precision beyond 2^53 (statistics do not need more).
 */
export function decodeToFloat64(dtype: NumericDtype, bytes: Uint8Array, out?: Float64Array): Float64Array {
  const n = Math.floor(bytes.byteLength / BYTES[dtype])
  const dst = out && out.length >= n ? out.subarray(0, n) : new Float64Array(n)
  const aligned = (w: number) => (bytes.byteOffset % w === 0 ? bytes : bytes.slice())
  switch (dtype) {
    case 'F32': {
      const b = aligned(4)
      dst.set(new Float32Array(b.buffer, b.byteOffset, n))
      return dst
    }
    case 'F64': {
      const b = aligned(8)
      dst.set(new Float64Array(b.buffer, b.byteOffset, n))
      return dst
    }
    case 'I32': {
      const b = aligned(4)
      dst.set(new Int32Array(b.buffer, b.byteOffset, n))
      return dst
    }
    case 'U32': {
      const b = aligned(4)
      dst.set(new Uint32Array(b.buffer, b.byteOffset, n))
      return dst
    }
    case 'I64': {
      const b = aligned(8)
      const v = new BigInt64Array(b.buffer, b.byteOffset, n)
      for (let i = 0; i < n; i++) dst[i] = Number(v[i])
      return dst
    }
    case 'U64': {
      const b = aligned(8)
      const v = new BigUint64Array(b.buffer, b.byteOffset, n)
      for (let i = 0; i < n; i++) dst[i] = Number(v[i])
      return dst
    }
    default: {
      const t = codeTable(dtype)
      const c = codesOf(dtype, bytes)
      for (let i = 0; i < n; i++) dst[i] = t[c[i]]
      return dst
    }
  }
}

/** BF16 to float32 the fast way: each code shifted into the top half of a 32-bit word. */
export function decodeBf16(bytes: Uint8Array): Float32Array {
  const codes = codesOf('BF16', bytes) as Uint16Array
  const u = new Uint32Array(codes.length)
  for (let i = 0; i < codes.length; i++) u[i] = codes[i] << 16
  return new Float32Array(u.buffer)
}
