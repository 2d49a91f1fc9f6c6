// Dtype codec stage: element types as bits, their exact value as a double, and round-to-nearest-even back.
// Every conversion here is deterministic IEEE arithmetic, so encoder and decoder agree bit for bit.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace sp {

enum class Dtype : uint8_t { BF16 = 0, F16 = 1, F32 = 2, F64 = 3, F8_E4M3 = 4, F8_E5M2 = 5 };
constexpr int kDtypeCount = 6;

inline unsigned dtypeBytes(Dtype d) {
  switch (d) {
    case Dtype::BF16:
    case Dtype::F16: return 2;
    case Dtype::F32: return 4;
    case Dtype::F64: return 8;
    default: return 1;
  }
}

inline float bitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t floatToBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline double bitsToDouble(uint64_t u) {
  double f;
  std::memcpy(&f, &u, 8);
  return f;
}
inline uint64_t doubleToBits(double f) {
  uint64_t u;
  std::memcpy(&u, &f, 8);
  return u;
}

// Nearest value of a small binary float format (mantissa bits m, exponent bias b, max finite maxFinite),
// ties to even, computed straight from the double's bits (no double rounding, no libm calls: the FP8 paths call
// this per table entry). Returns the magnitude bits; values beyond maxFinite return overflowBits (Inf, or NaN for
// formats without Inf).
inline uint32_t roundSmallFloat(double a, int mbits, int bias, double maxFinite, uint32_t overflowBits) {
  // a >= 0 and finite here.
  const int emin = 1 - bias;
  const uint64_t u = doubleToBits(a);
  const int e = int(u >> 52) - 1023;  // −1023 for zero and double subnormals
  if (e < emin) {
    // Subnormal units (2^mbits = smallest normal): the scaling by a power of two is exact, and adding and
    // removing 1.5·2^52 rounds to the nearest integer, ties to even.
    const double scaled = a * bitsToDouble(uint64_t(1023 + mbits - emin) << 52);
    constexpr double kMagic = 6755399441055744.0;
    return uint32_t((scaled + kMagic) - kMagic);
  }
  // Round the 52-bit mantissa to mbits, ties to even; a carry moves into the exponent as it should.
  const int shift = 52 - mbits;
  uint64_t r = u + ((uint64_t(1) << (shift - 1)) - 1) + ((u >> shift) & 1);
  r &= ~((uint64_t(1) << shift) - 1);
  if (bitsToDouble(r) > maxFinite) return overflowBits;
  const int er = int(r >> 52) - 1023;
  return (uint32_t(er + bias) << mbits) | uint32_t((r >> shift) & ((uint64_t(1) << mbits) - 1));
}

// ---- BF16
inline double bf16ToDouble(uint16_t b) { return double(bitsToFloat(uint32_t(b) << 16)); }
inline uint16_t floatToBf16(float f) {
  uint32_t u = floatToBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // keep NaN a NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
inline uint16_t doubleToBf16(double d) { return floatToBf16(float(d)); }

// ---- F16
inline double f16ToDouble(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v;
  if (e == 0) v = std::ldexp(double(m), -24);
  else if (e == 31) v = m ? NAN : INFINITY;
  else v = std::ldexp(double(m | 0x400), e - 25);
  return s ? -v : v;
}
inline uint16_t doubleToF16(double d) {
  if (std::isnan(d)) return 0x7e00;
  const uint16_t sign = std::signbit(d) ? 0x8000 : 0;
  const double a = std::fabs(d);
  if (std::isinf(a)) return sign | 0x7c00;
  return uint16_t(sign | roundSmallFloat(a, 10, 15, 65504.0, 0x7c00));
}

// ---- FP8 E4M3 (the "fn" variant: no Inf, S.1111.111 is NaN, max 448)
inline double e4m3ToDouble(uint8_t c) {
  const uint64_t sign = uint64_t(c >> 7) << 63;
  const uint32_t e = (c >> 3) & 0xf, m = c & 7;
  if (e == 15 && m == 7) return bitsToDouble(sign | 0x7ff8000000000000ull);  // NaN
  if (e == 0) return bitsToDouble(sign | doubleToBits(double(m) * 0x1p-9));  // subnormal, exact
  return bitsToDouble(sign | uint64_t(e - 7 + 1023) << 52 | uint64_t(m) << 49);
}
inline uint8_t doubleToE4m3(double d) {
  if (std::isnan(d) || std::isinf(d)) return std::signbit(d) ? 0xff : 0x7f;
  const uint8_t sign = std::signbit(d) ? 0x80 : 0;
  return uint8_t(sign | roundSmallFloat(std::fabs(d), 3, 7, 448.0, 0x7f));
}

// ---- FP8 E5M2 (IEEE-like: Inf and NaN at exponent 31)
inline double e5m2ToDouble(uint8_t c) {
  const uint64_t sign = uint64_t(c >> 7) << 63;
  const uint32_t e = (c >> 2) & 0x1f, m = c & 3;
  if (e == 31) return bitsToDouble(sign | (m ? 0x7ff8000000000000ull : 0x7ff0000000000000ull));  // NaN, ±Inf
  if (e == 0) return bitsToDouble(sign | doubleToBits(double(m) * 0x1p-16));  // subnormal, exact
  return bitsToDouble(sign | uint64_t(e - 15 + 1023) << 52 | uint64_t(m) << 50);
}
inline uint8_t doubleToE5m2(double d) {
  if (std::isnan(d)) return 0x7e;
  const uint8_t sign = std::signbit(d) ? 0x80 : 0;
  if (std::isinf(d)) return sign | 0x7c;
  return uint8_t(sign | roundSmallFloat(std::fabs(d), 2, 15, 57344.0, 0x7c));
}

// Exact widening of 16-bit floats to F32 bits (every BF16 and F16 value, NaN payloads, ±Inf and −0 included, is
// an F32 value): the F32-output mode's reconstruction of values the codec stores exactly.
inline uint32_t bf16ToF32Bits(uint16_t b) { return uint32_t(b) << 16; }
inline uint32_t f16ToF32Bits(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ffu;
  if (e == 0x1f) return sign | 0x7f800000u | m << 13;
  if (e != 0) return sign | (e + 112) << 23 | m << 13;
  if (m == 0) return sign;
  // Subnormal: m × 2^−24, exact in float.
  return sign | floatToBits(float(m) * 5.9604644775390625e-08f);
}

// Traits used by the templated stages: Bits is the storage word of one element.
struct Bf16T {
  using Bits = uint16_t;
  static constexpr Dtype kind = Dtype::BF16;
  static double value(Bits b) { return bf16ToDouble(b); }
  static Bits round(double d) { return doubleToBf16(d); }
  static uint32_t widen(Bits b) { return bf16ToF32Bits(b); }
};
struct F16T {
  using Bits = uint16_t;
  static constexpr Dtype kind = Dtype::F16;
  static double value(Bits b) { return f16ToDouble(b); }
  static Bits round(double d) { return doubleToF16(d); }
  static uint32_t widen(Bits b) { return f16ToF32Bits(b); }
};
struct F32T {
  using Bits = uint32_t;
  static constexpr Dtype kind = Dtype::F32;
  static double value(Bits b) { return double(bitsToFloat(b)); }
  static Bits round(double d) { return floatToBits(float(d)); }
};
struct F64T {
  using Bits = uint64_t;
  static constexpr Dtype kind = Dtype::F64;
  static double value(Bits b) { return bitsToDouble(b); }
  static Bits round(double d) { return doubleToBits(d); }
};
struct E4m3T {
  using Bits = uint8_t;
  static constexpr Dtype kind = Dtype::F8_E4M3;
  static double value(Bits b) { return e4m3ToDouble(b); }
  static Bits round(double d) { return doubleToE4m3(d); }
};
struct E5m2T {
  using Bits = uint8_t;
  static constexpr Dtype kind = Dtype::F8_E5M2;
  static double value(Bits b) { return e5m2ToDouble(b); }
  static Bits round(double d) { return doubleToE5m2(d); }
};

template <class Bits>
inline Bits loadLE(const uint8_t* p) {
  Bits v;
  std::memcpy(&v, p, sizeof(Bits));  // x86-64 and ARM64 are little-endian, like safetensors
  return v;
}
template <class Bits>
inline void storeLE(uint8_t* p, Bits v) {
  std::memcpy(p, &v, sizeof(Bits));
}

}  // namespace sp
