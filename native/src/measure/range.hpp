// Value range of a chunk: min and max of its finite values (dequantized under FP8 block scales) and how many are
// NaN or ±Inf. A REL bound is a fraction of a tensor's range, so the pipeline scans every lossy tensor once
// before compressing it; on integer keys of the codes this costs a fraction of a nanosecond per byte.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

#include "../chunk/chunk.hpp"
#include "../common/crc32.hpp"
#include "../dtype/dtype.hpp"

namespace sp::measure {

struct Range {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  uint64_t nonFinite = 0;
};

// Sign-magnitude codes as order-preserving keys that SSE2 can min/max 16 or 32 at a time: signed 16-bit keys
// (the magnitude, or −1 − magnitude when negative) and unsigned 8-bit keys (the same order, offset by 0x80). −0
// sorts just below +0, as Math.min / Math.max order them.
template <class Bits>
struct OrderKey;
template <>
struct OrderKey<uint16_t> {
  using Key = int16_t;
  static Key of(uint16_t c) { return Key(uint16_t(c ^ (uint16_t(-(c >> 15)) & 0x7FFF))); }
  static uint32_t code(Key k) { return k >= 0 ? uint32_t(k) : uint32_t(uint16_t(k) ^ 0x7FFF); }
};
template <>
struct OrderKey<uint8_t> {
  using Key = uint8_t;
  static Key of(uint8_t c) { return Key((c ^ (uint8_t(-(c >> 7)) & 0x7F)) ^ 0x80); }
  static uint32_t code(Key k) {
    const uint32_t t = k ^ 0x80u;
    return (t & 0x80) ? t ^ 0x7F : t;
  }
};

inline void addValue(Range& r, double v) {
  if (!std::isfinite(v)) {
    r.nonFinite++;
    return;
  }
  if (v < r.min || (v == 0 && r.min == 0 && std::signbit(v))) r.min = v;
  if (v > r.max || (v == 0 && r.max == 0 && !std::signbit(v))) r.max = v;
}

// Folds the range of another span of the same tensor into r (as if both had been scanned at once).
inline void mergeRange(Range& r, const Range& other) {
  r.nonFinite += other.nonFinite;
  if (other.min <= other.max) {
    addValue(r, other.min);
    addValue(r, other.max);
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SP_RANGE_AVX2 1
// The 16-bit key scan 16 codes per step (GCC's own vectorisation of the loop below runs at a third of this):
// lo/hi keys and the non-finite flag over the first n - n % 16 codes; returns how many it took.
// One step of the 16-bit key scan: 16 codes at q into the running lo/hi keys and non-finite flag.
__attribute__((target("avx2"))) inline void keyStep16(const uint8_t* q, __m256i mag, __m256i add, __m256i& vlo,
                                                      __m256i& vhi, __m256i& vflag) {
  const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
  // Negative codes (sign set) become −1 − magnitude: xor with 0x7FFF where the arithmetic shift gives all ones.
  const __m256i k = _mm256_xor_si256(c, _mm256_and_si256(_mm256_srai_epi16(c, 15), mag));
  vlo = _mm256_min_epi16(vlo, k);
  vhi = _mm256_max_epi16(vhi, k);
  vflag = _mm256_or_si256(vflag, _mm256_add_epi16(_mm256_and_si256(c, mag), add));
}

// The lanes of a 16-bit key scan folded into lo/hi/flag.
__attribute__((target("avx2"))) inline void keyFinish16(__m256i vlo, __m256i vhi, __m256i vflag, int16_t& lo,
                                                        int16_t& hi, uint16_t& flag) {
  alignas(32) int16_t l[16], h[16], f[16];
  _mm256_store_si256(reinterpret_cast<__m256i*>(l), vlo);
  _mm256_store_si256(reinterpret_cast<__m256i*>(h), vhi);
  _mm256_store_si256(reinterpret_cast<__m256i*>(f), vflag);
  for (int j = 0; j < 16; j++) {
    lo = l[j] < lo ? l[j] : lo;
    hi = h[j] > hi ? h[j] : hi;
    flag = uint16_t(flag | uint16_t(f[j]));
  }
}

__attribute__((target("avx2"))) inline uint64_t keyScan16Avx2(const uint8_t* p, uint64_t n, uint16_t lift,
                                                               int16_t& lo, int16_t& hi, uint16_t& flag) {
  const uint64_t m = n & ~uint64_t(15);
  if (m == 0) return 0;
  const __m256i mag = _mm256_set1_epi16(0x7FFF), add = _mm256_set1_epi16(int16_t(lift));
  __m256i vlo = _mm256_set1_epi16(lo), vhi = _mm256_set1_epi16(hi), vflag = _mm256_setzero_si256();
  for (uint64_t i = 0; i < m; i += 16) keyStep16(p + 2 * i, mag, add, vlo, vhi, vflag);
  keyFinish16(vlo, vhi, vflag, lo, hi, flag);
  return m;
}
inline bool rangeAvx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}

#ifdef SP_CRC32_CLMUL
#define SP_RANGE_CRC_FUSED 1
// keyScan16Avx2 and the CRC-32 of the same bytes in one loop (the folding of crc32.hpp's registerClmul, same
// constants, four chains): a range pass reads from memory and mostly waits for it, and the carry-less multiplies
// fill that wait, where a CRC of its own would cost a pass of its own. Takes whole 64-byte blocks, at least two;
// `reg` is the CRC register (inverted) before them and after. Returns the codes taken.
__attribute__((target("avx2,pclmul,sse4.1"))) inline uint64_t keyScanCrc16(const uint8_t* p, uint64_t n,
                                                                          uint16_t lift, int16_t& lo, int16_t& hi,
                                                                          uint16_t& flag, uint32_t& reg) {
  using namespace crc32fold;
  const uint64_t bytes = (2 * n) & ~uint64_t(63);
  if (bytes < 128) return 0;
  const __m256i mag = _mm256_set1_epi16(0x7FFF), add = _mm256_set1_epi16(int16_t(lift));
  __m256i vlo = _mm256_set1_epi16(lo), vhi = _mm256_set1_epi16(hi), vflag = _mm256_setzero_si256();
  auto load = [](const uint8_t* q) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)); };
  __m128i x0 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(int(reg)));
  __m128i x1 = load(p + 16), x2 = load(p + 32), x3 = load(p + 48);
  keyStep16(p, mag, add, vlo, vhi, vflag);
  keyStep16(p + 32, mag, add, vlo, vhi, vflag);
  const __m128i m512 = constants(k512);
  for (uint64_t at = 64; at < bytes; at += 64) {
    const uint8_t* q = p + at;
    x0 = _mm_xor_si128(fold(x0, m512), load(q));
    x1 = _mm_xor_si128(fold(x1, m512), load(q + 16));
    x2 = _mm_xor_si128(fold(x2, m512), load(q + 32));
    x3 = _mm_xor_si128(fold(x3, m512), load(q + 48));
    keyStep16(q, mag, add, vlo, vhi, vflag);
    keyStep16(q + 32, mag, add, vlo, vhi, vflag);
  }
  reg = registerOf(reduce4(x0, x1, x2, x3));
  keyFinish16(vlo, vhi, vflag, lo, hi, flag);
  return bytes / 2;
}
inline bool rangeCrcFused() {
  static const bool yes = rangeAvx2() && crc32fold::available();
  return yes;
}
#endif
#endif

// Codes of 16 or 8 bits: min/max keys in one branch-free pass, decoded once. A span holding a NaN/Inf code
// (magnitude at or above `firstNonFinite`) is rescanned value by value.
// Given crcReg (a CRC register, inverted), the bytes' CRC is continued into it in the same pass where a fused kernel
// exists (16-bit codes on x86-64); the caller checks crcTaken and digests them itself otherwise.
template <class Bits, class ValueOf>
void codeRange(const uint8_t* p, uint64_t n, uint32_t firstNonFinite, double scale, ValueOf value, Range& r,
               uint32_t* crcReg = nullptr, bool* crcTaken = nullptr) {
  using K = OrderKey<Bits>;
  using Key = typename K::Key;
  constexpr unsigned kSign = sizeof(Bits) * 8 - 1;
  constexpr Bits kMag = Bits((1u << kSign) - 1);
  if (n == 0) return;
  Key lo = std::numeric_limits<Key>::max(), hi = std::numeric_limits<Key>::min();
  Bits flag = 0;
  const Bits lift = Bits((1u << kSign) - firstNonFinite);  // magnitude + lift reaches the sign bit iff non-finite
  uint64_t start = 0;
#ifdef SP_RANGE_AVX2
  if constexpr (sizeof(Bits) == 2) {
#ifdef SP_RANGE_CRC_FUSED
    if (crcReg && rangeCrcFused()) {
      start = keyScanCrc16(p, n, lift, lo, hi, flag, *crcReg);
      *crcReg = crc32Register(*crcReg, p + 2 * start, 2 * (n - start));
      *crcTaken = true;
    }
#endif
    if (rangeAvx2()) start += keyScan16Avx2(p + 2 * start, n - start, lift, lo, hi, flag);
  }
#endif
  for (uint64_t i = start; i < n; i++) {
    const Bits c = loadLE<Bits>(p + i * sizeof(Bits));
    const Key k = K::of(c);
    flag |= Bits((c & kMag) + lift);
    lo = k < lo ? k : lo;
    hi = k > hi ? k : hi;
  }
  if ((flag >> kSign) == 0 && std::isfinite(scale) && scale > 0) {
    addValue(r, value(K::code(lo)) * scale);
    addValue(r, value(K::code(hi)) * scale);
    return;
  }
  const bool scaled = scale != 1.0;
  for (uint64_t i = 0; i < n; i++) {
    const uint32_t c = loadLE<Bits>(p + i * sizeof(Bits));
    addValue(r, scaled ? value(c) * scale : value(c));
  }
}

// Block-scaled 8-bit codes: row segments that share one block scale, each scanned on its own (codeRange).
inline void scaledRange8(const uint8_t* in, uint64_t n, uint64_t first, const Fp8Scales& g, uint32_t nonFinite,
                         const double* table, Range& r) {
  auto value = [table](uint32_t c) { return table[c & 0xFF]; };
  uint64_t row = first / g.cols, col = first % g.cols, i = 0;
  while (i < n) {
    const uint64_t seg = std::min<uint64_t>({g.blockCols - col % g.blockCols, g.cols - col, n - i});
    const uint64_t at = (row / g.blockRows) * g.scaleCols + col / g.blockCols;
    const double s = at < g.count ? double(g.scales[at]) : std::numeric_limits<double>::quiet_NaN();
    codeRange<uint8_t>(in + i, seg, nonFinite, s, value, r);
    i += seg;
    col += seg;
    if (col == g.cols) {
      col = 0;
      row++;
    }
  }
}

#ifdef SP_RANGE_AVX2
// Running 8-bit keys of one block: vector lanes (32 codes a step) and the scalar rest of its segments. Plain bytes
// with unaligned loads and stores: a container of __m256i would need the 32-byte aligned allocation that addon
// builds do not promise.
struct Block8 {
  uint8_t lo[32], hi[32], flag[32];
  uint8_t slo = 0xFF, shi = 0, sflag = 0;
  bool touched = false;
};

// Folds the vector lanes of a block row's touched blocks into their scalar keys; false when one of them holds a
// NaN/Inf code or has a scale that is not finite and positive.
inline bool foldBlockRow8(std::vector<Block8>& acc, uint64_t blockRow, const Fp8Scales& g) {
  bool usable = true;
  for (uint64_t b = 0; b < acc.size(); b++) {
    Block8& a = acc[b];
    if (!a.touched) continue;
    for (int j = 0; j < 32; j++) {
      a.slo = a.lo[j] < a.slo ? a.lo[j] : a.slo;
      a.shi = a.hi[j] > a.shi ? a.hi[j] : a.shi;
      a.sflag = uint8_t(a.sflag | a.flag[j]);
    }
    const uint64_t at = blockRow * g.scaleCols + b;
    const double s = at < g.count ? double(g.scales[at]) : std::numeric_limits<double>::quiet_NaN();
    usable = usable && (a.sflag & 0x80) == 0 && std::isfinite(s) && s > 0;
  }
  return usable;
}

// scaledRange8 with the keys of each block of a block row gathered 32 codes at a time and scaled once, when the
// block row (or the span) ends: min/max of value × scale over a block are its extreme codes' values × scale when
// the scale is finite and positive and no code is NaN/Inf. A block row where that fails is walked by scaledRange8.
__attribute__((target("avx2"))) inline void scaledRange8Avx2(const uint8_t* in, uint64_t n, uint64_t first,
                                                              const Fp8Scales& g, uint32_t nonFinite,
                                                              const double* table, Range& r) {
  using K = OrderKey<uint8_t>;
  const uint8_t lift = uint8_t(0x80 - nonFinite);  // magnitude + lift reaches bit 7 iff the code is NaN/Inf
  const __m256i mag = _mm256_set1_epi8(0x7F), add = _mm256_set1_epi8(int8_t(lift)), flip = _mm256_set1_epi8(-128);
  const __m256i zero = _mm256_setzero_si256(), ones = _mm256_set1_epi8(-1);
  static thread_local std::vector<Block8> acc;
  acc.assign((g.cols + g.blockCols - 1) / g.blockCols, Block8{});
  uint64_t row = first / g.cols, col = first % g.cols, i = 0, spanStart = 0;
  // Ends the block row whose elements are [spanStart, i): its blocks' endpoints, or a walk when one is unusable.
  auto finish = [&](uint64_t blockRow) {
    if (foldBlockRow8(acc, blockRow, g)) {
      for (uint64_t b = 0; b < acc.size(); b++) {
        const Block8& a = acc[b];
        if (!a.touched) continue;
        const double s = double(g.scales[blockRow * g.scaleCols + b]);
        addValue(r, table[K::code(a.slo)] * s);
        addValue(r, table[K::code(a.shi)] * s);
      }
    } else {
      scaledRange8(in + spanStart, i - spanStart, first + spanStart, g, nonFinite, table, r);
    }
    for (Block8& a : acc) a.touched = false;
    spanStart = i;
  };
  while (i < n) {
    const uint64_t b = col / g.blockCols;
    const uint64_t seg = std::min<uint64_t>({g.blockCols - col % g.blockCols, g.cols - col, n - i});
    Block8& a = acc[b];
    __m256i lo = ones, hi = zero, flag = zero;
    if (!a.touched) {
      a.slo = 0xFF;
      a.shi = 0;
      a.sflag = 0;
      a.touched = true;
    } else {
      lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.lo));
      hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.hi));
      flag = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.flag));
    }
    const uint8_t* p = in + i;
    uint64_t k = 0;
    for (; k + 32 <= seg; k += 32) {
      const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + k));
      // Keys as OrderKey<uint8_t>::of: negative codes xor 0x7F, then every code xor 0x80 (unsigned order).
      const __m256i neg = _mm256_cmpgt_epi8(zero, c);
      const __m256i key = _mm256_xor_si256(_mm256_xor_si256(c, _mm256_and_si256(neg, mag)), flip);
      lo = _mm256_min_epu8(lo, key);
      hi = _mm256_max_epu8(hi, key);
      flag = _mm256_or_si256(flag, _mm256_add_epi8(_mm256_and_si256(c, mag), add));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.lo), lo);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.hi), hi);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.flag), flag);
    for (; k < seg; k++) {
      const uint8_t c = p[k];
      const uint8_t key = K::of(c);
      a.slo = key < a.slo ? key : a.slo;
      a.shi = key > a.shi ? key : a.shi;
      a.sflag = uint8_t(a.sflag | uint8_t((c & 0x7F) + lift));
    }
    i += seg;
    col += seg;
    if (col == g.cols) {
      col = 0;
      if (row % g.blockRows == g.blockRows - 1) finish(row / g.blockRows);
      row++;
    }
  }
  if (i > spanStart) finish(row / g.blockRows);
}
#endif

// The range of n elements of dtype d; with block scales, `first` places the chunk in its tensor.
inline Range chunkRange(const uint8_t* in, uint64_t n, Dtype d, uint64_t first, const Fp8Scales* fp8) {
  Range r;
  switch (d) {
    case Dtype::BF16:
    case Dtype::F16: {
      if (d == Dtype::BF16) codeRange<uint16_t>(in, n, 0x7F80, 1.0, [](uint32_t c) { return Bf16T::value(uint16_t(c)); }, r);
      else codeRange<uint16_t>(in, n, 0x7C00, 1.0, [](uint32_t c) { return F16T::value(uint16_t(c)); }, r);
      return r;
    }
    case Dtype::F32:
      for (uint64_t i = 0; i < n; i++) addValue(r, double(bitsToFloat(loadLE<uint32_t>(in + 4 * i))));
      return r;
    case Dtype::F64:
      for (uint64_t i = 0; i < n; i++) addValue(r, bitsToDouble(loadLE<uint64_t>(in + 8 * i)));
      return r;
    case Dtype::F8_E4M3:
    case Dtype::F8_E5M2: {
      const bool e4 = d == Dtype::F8_E4M3;
      // E4M3 has no Inf and one NaN magnitude (0x7F); E5M2 is IEEE-like (Inf/NaN from 0x7C).
      const uint32_t nonFinite = e4 ? 0x7F : 0x7C;
      // Values of all 256 codes, so a segment's two endpoints cost two loads rather than two ldexp calls.
      static const struct Tables {
        double e4m3[256], e5m2[256];
        Tables() {
          for (int c = 0; c < 256; c++) {
            e4m3[c] = E4m3T::value(uint8_t(c));
            e5m2[c] = E5m2T::value(uint8_t(c));
          }
        }
      } tables;
      const double* t = e4 ? tables.e4m3 : tables.e5m2;
      auto value = [t](uint32_t c) { return t[c & 0xFF]; };
      if (!fp8 || fp8->cols == 0) {
        codeRange<uint8_t>(in, n, nonFinite, 1.0, value, r);
        return r;
      }
#ifdef SP_RANGE_AVX2
      if (rangeAvx2()) {
        scaledRange8Avx2(in, n, first, *fp8, nonFinite, t, r);
        return r;
      }
#endif
      scaledRange8(in, n, first, *fp8, nonFinite, t, r);
      return r;
    }
  }
  return r;
}

// chunkRange plus the zlib CRC-32 of the same n × dtype bytes, continuing crc, in one pass over them: fused for
// 16-bit codes, else block by block while each block is in L1.
inline Range chunkRangeCrc(const uint8_t* in, uint64_t n, Dtype d, uint64_t first, const Fp8Scales* fp8,
                           uint32_t& crc) {
  if (d == Dtype::BF16 || d == Dtype::F16) {
    Range r;
    uint32_t reg = ~crc;
    bool taken = false;
    if (d == Dtype::BF16)
      codeRange<uint16_t>(in, n, 0x7F80, 1.0, [](uint32_t c) { return Bf16T::value(uint16_t(c)); }, r, &reg, &taken);
    else
      codeRange<uint16_t>(in, n, 0x7C00, 1.0, [](uint32_t c) { return F16T::value(uint16_t(c)); }, r, &reg, &taken);
    crc = taken ? ~reg : sp::crc32(in, 2 * n, crc);
    return r;
  }
  Range r;
  const unsigned B = dtypeBytes(d);
  constexpr uint64_t kBlock = 64 << 10;
  const uint64_t per = kBlock / B;
  for (uint64_t i = 0; i < n; i += per) {
    const uint64_t m = std::min(per, n - i);
    mergeRange(r, chunkRange(in + i * B, m, d, first + i, fp8));
    crc = sp::crc32(in + i * B, m * B, crc);
  }
  return r;
}

}  // namespace sp::measure
