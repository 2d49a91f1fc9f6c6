// Error sums of a reconstruction against its original, computed where the encoder already holds the reconstruction
// so that the pipeline needs no verify-decode. The definitions are compareChunk's in src-main/core/pipeline/values.ts
// (blocks of 8192 elements, NaN/±Inf rules, −0 below +0): count, over, maxAbs, min and max come out identical;
// sumAbs and sumSq are added in eight lanes for speed, so they match to rounding (see sameErrorSums in values.ts).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define SP_MEASURE_AVX2 1
#include <immintrin.h>
#endif

#include "../chunk/chunk.hpp"
#include "../dtype/dtype.hpp"

namespace sp::measure {

// Same fields as ErrorSums in src-main/core/codec/types.ts.
struct ErrorSums {
  uint64_t count = 0;
  double sumAbs = 0;
  double sumSq = 0;
  double maxAbs = 0;
  uint64_t over = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
};

// JavaScript's Math.min / Math.max on non-NaN operands: −0 is below +0.
inline double jsMin(double a, double b) { return a < b ? a : b < a ? b : std::signbit(a) ? a : b; }
inline double jsMax(double a, double b) { return a > b ? a : b > a ? b : std::signbit(a) ? b : a; }

// Value of every F16 code (exact in float).
inline const float* f16Values() {
  static const struct Table {
    float v[65536];
    Table() {
      for (uint32_t c = 0; c < 65536; c++) v[c] = float(f16ToDouble(uint16_t(c)));
    }
  } table;
  return table.v;
}

// Value of every FP8 code.
inline const double* fp8Values(Dtype dtype) {
  static const struct Tables {
    double e4m3[256], e5m2[256];
    Tables() {
      for (int c = 0; c < 256; c++) {
        e4m3[c] = e4m3ToDouble(uint8_t(c));
        e5m2[c] = e5m2ToDouble(uint8_t(c));
      }
    }
  } tables;
  return dtype == Dtype::F8_E4M3 ? tables.e4m3 : tables.e5m2;
}

// Decodes elements [start, start + n) of a chunk to doubles (dequantized under FP8 block scales when given).
// Always inlined: then the AVX2 pass below compiles (and vectorises) its own copy.
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
inline void decodeValues(const uint8_t* bytes, uint64_t start, size_t n, Dtype dtype, uint64_t firstElement,
                         const Fp8Scales* fp8, double* out) {
  switch (dtype) {
    case Dtype::BF16:
      for (size_t i = 0; i < n; i++) out[i] = double(bitsToFloat(uint32_t(loadLE<uint16_t>(bytes + 2 * (start + i))) << 16));
      return;
    case Dtype::F16: {
      const float* t = f16Values();
      for (size_t i = 0; i < n; i++) out[i] = double(t[loadLE<uint16_t>(bytes + 2 * (start + i))]);
      return;
    }
    case Dtype::F32:
      for (size_t i = 0; i < n; i++) out[i] = double(bitsToFloat(loadLE<uint32_t>(bytes + 4 * (start + i))));
      return;
    case Dtype::F64:
      for (size_t i = 0; i < n; i++) out[i] = bitsToDouble(loadLE<uint64_t>(bytes + 8 * (start + i)));
      return;
    case Dtype::F8_E4M3:
    case Dtype::F8_E5M2: {
      const double* t = fp8Values(dtype);
      const uint8_t* v = bytes + start;
      if (!fp8) {
        for (size_t i = 0; i < n; i++) out[i] = t[v[i]];
        return;
      }
      // Row segments of one scale block at a time (no division per element).
      const uint64_t e = firstElement + start;
      uint64_t r = e / fp8->cols, c = e % fp8->cols;
      size_t i = 0;
      while (i < n) {
        const uint64_t bc = c / fp8->blockCols;
        const uint64_t blockEnd = std::min(fp8->cols, (bc + 1) * fp8->blockCols);
        const size_t stop = size_t(std::min<uint64_t>(n, i + (blockEnd - c)));
        const double scale = double(fp8->scales[(r / fp8->blockRows) * fp8->scaleCols + bc]);
        for (size_t k = i; k < stop; k++) out[k] = t[v[k]] * scale;
        c += stop - i;
        i = stop;
        if (c == fp8->cols) {
          c = 0;
          r++;
        }
      }
      return;
    }
  }
}

// compareValues (values.ts) on one block of elements [start, start + n): a branch-free pass, whose result stands
// when the sum of squares is finite (which implies every original value is finite), else compareExact, the
// value-by-value pass. Values are decoded in slices of kSlice into L1-sized arrays (a vectorisable loop), which
// keeps the serial sum loop lean.
struct BlockInput {
  const uint8_t* orig;
  const uint8_t* rec;
  Dtype dtype;
  uint64_t firstElement;
  const Fp8Scales* fp8;
};
constexpr size_t kSlice = 1024;

template <class F>
void forSlices(const BlockInput& in, uint64_t start, size_t n, F f) {
  double xa[kSlice], xb[kSlice];
  for (size_t k = 0; k < n; k += kSlice) {
    const size_t m = std::min(kSlice, n - k);
    decodeValues(in.orig, start + k, m, in.dtype, in.firstElement, in.fp8, xa);
    decodeValues(in.rec, start + k, m, in.dtype, in.firstElement, in.fp8, xb);
    f(xa, xb, m);
  }
}

// Four independent lanes of error sums, so the loop vectorises and no add waits on the previous one; the sums
// then differ from an element-order sum by rounding only (max, min and counts are exact whatever the order).
constexpr size_t kLanes = 4;
struct Lanes {
  double abs[kLanes], sq[kLanes], max[kLanes], lo[kLanes], hi[kLanes], over[kLanes];
};

// Elements i..m of a slice, one at a time, into the lanes (the tail after the vector loops; everything without SSE2).
// Element i goes to lane i % kLanes; callers arrive here with i a multiple of kLanes.
inline void accumulateScalar(const double* __restrict a, const double* __restrict b, size_t i, size_t m, double limit,
                             Lanes& out) {
  for (size_t j = 0; i < m; i++, j = (j + 1) % kLanes) {
    const double x = a[i];
    const double d = std::fabs(x - b[i]);
    out.abs[j] += d;
    out.sq[j] += d * d;
    out.max[j] = d > out.max[j] ? d : out.max[j];
    out.lo[j] = x < out.lo[j] ? x : out.lo[j];
    out.hi[j] = x > out.hi[j] ? x : out.hi[j];
    out.over[j] += d <= limit ? 0.0 : 1.0;
  }
}

// One slice into the lanes: SSE2 (every x86-64) two doubles at a time in four lanes, else a scalar loop of the
// same lanes. maxpd/minpd keep the second operand when the first is NaN, exactly like the scalar ternaries.
inline void accumulate(const double* __restrict a, const double* __restrict b, size_t m, double limit, Lanes& out) {
  size_t i = 0;
#if defined(__SSE2__)
  static_assert(kLanes >= 4, "four SSE2 lanes");
  const __m128d absMask = _mm_castsi128_pd(_mm_set1_epi64x(0x7FFFFFFFFFFFFFFFll));
  const __m128d lim = _mm_set1_pd(limit), one = _mm_set1_pd(1.0);
  __m128d sa0 = _mm_loadu_pd(out.abs), sa1 = _mm_loadu_pd(out.abs + 2);
  __m128d sq0 = _mm_loadu_pd(out.sq), sq1 = _mm_loadu_pd(out.sq + 2);
  __m128d mx0 = _mm_loadu_pd(out.max), mx1 = _mm_loadu_pd(out.max + 2);
  __m128d lo0 = _mm_loadu_pd(out.lo), lo1 = _mm_loadu_pd(out.lo + 2);
  __m128d hi0 = _mm_loadu_pd(out.hi), hi1 = _mm_loadu_pd(out.hi + 2);
  __m128d ov0 = _mm_loadu_pd(out.over), ov1 = _mm_loadu_pd(out.over + 2);
  for (; i + 4 <= m; i += 4) {
    const __m128d x0 = _mm_loadu_pd(a + i), x1 = _mm_loadu_pd(a + i + 2);
    const __m128d d0 = _mm_and_pd(_mm_sub_pd(x0, _mm_loadu_pd(b + i)), absMask);
    const __m128d d1 = _mm_and_pd(_mm_sub_pd(x1, _mm_loadu_pd(b + i + 2)), absMask);
    sa0 = _mm_add_pd(sa0, d0);
    sa1 = _mm_add_pd(sa1, d1);
    sq0 = _mm_add_pd(sq0, _mm_mul_pd(d0, d0));
    sq1 = _mm_add_pd(sq1, _mm_mul_pd(d1, d1));
    mx0 = _mm_max_pd(d0, mx0);
    mx1 = _mm_max_pd(d1, mx1);
    lo0 = _mm_min_pd(x0, lo0);
    lo1 = _mm_min_pd(x1, lo1);
    hi0 = _mm_max_pd(x0, hi0);
    hi1 = _mm_max_pd(x1, hi1);
    ov0 = _mm_add_pd(ov0, _mm_andnot_pd(_mm_cmple_pd(d0, lim), one));
    ov1 = _mm_add_pd(ov1, _mm_andnot_pd(_mm_cmple_pd(d1, lim), one));
  }
  _mm_storeu_pd(out.abs, sa0), _mm_storeu_pd(out.abs + 2, sa1);
  _mm_storeu_pd(out.sq, sq0), _mm_storeu_pd(out.sq + 2, sq1);
  _mm_storeu_pd(out.max, mx0), _mm_storeu_pd(out.max + 2, mx1);
  _mm_storeu_pd(out.lo, lo0), _mm_storeu_pd(out.lo + 2, lo1);
  _mm_storeu_pd(out.hi, hi0), _mm_storeu_pd(out.hi + 2, hi1);
  _mm_storeu_pd(out.over, ov0), _mm_storeu_pd(out.over + 2, ov1);
#endif
  accumulateScalar(a, b, i, m, limit, out);
}

#ifdef SP_MEASURE_AVX2
// accumulate with AVX2 where the CPU has it: one 256-bit register per sum holds the same four lanes (element i in
// lane i % 4, added in the same order), so the sums are bit-identical to the SSE2 loop's; the slices' decoding
// loops, compiled here with AVX2 too, convert four or eight values per instruction.
__attribute__((target("avx2"))) inline void accumulateAvx2(const double* __restrict a, const double* __restrict b,
                                                            size_t m, double limit, Lanes& out) {
  static_assert(kLanes == 4, "one AVX2 register of four lanes");
  const __m256d absMask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFll));
  const __m256d lim = _mm256_set1_pd(limit), one = _mm256_set1_pd(1.0);
  __m256d sa = _mm256_loadu_pd(out.abs), sq = _mm256_loadu_pd(out.sq), mx = _mm256_loadu_pd(out.max);
  __m256d lo = _mm256_loadu_pd(out.lo), hi = _mm256_loadu_pd(out.hi), ov = _mm256_loadu_pd(out.over);
  size_t i = 0;
  for (; i + 4 <= m; i += 4) {
    const __m256d x = _mm256_loadu_pd(a + i);
    const __m256d d = _mm256_and_pd(_mm256_sub_pd(x, _mm256_loadu_pd(b + i)), absMask);
    sa = _mm256_add_pd(sa, d);
    sq = _mm256_add_pd(sq, _mm256_mul_pd(d, d));
    mx = _mm256_max_pd(d, mx);
    lo = _mm256_min_pd(x, lo);
    hi = _mm256_max_pd(x, hi);
    ov = _mm256_add_pd(ov, _mm256_andnot_pd(_mm256_cmp_pd(d, lim, _CMP_LE_OQ), one));
  }
  _mm256_storeu_pd(out.abs, sa), _mm256_storeu_pd(out.sq, sq), _mm256_storeu_pd(out.max, mx);
  _mm256_storeu_pd(out.lo, lo), _mm256_storeu_pd(out.hi, hi), _mm256_storeu_pd(out.over, ov);
  accumulateScalar(a, b, i, m, limit, out);
}

// forSlices with accumulate, compiled for AVX2 (decodeValues is inlined here and vectorised with it).
__attribute__((target("avx2"))) inline void lanesPassAvx2(const BlockInput& in, uint64_t start, size_t n,
                                                           double limit, Lanes& lanes) {
  alignas(32) double xa[kSlice], xb[kSlice];
  for (size_t k = 0; k < n; k += kSlice) {
    const size_t m = std::min(kSlice, n - k);
    decodeValues(in.orig, start + k, m, in.dtype, in.firstElement, in.fp8, xa);
    decodeValues(in.rec, start + k, m, in.dtype, in.firstElement, in.fp8, xb);
    accumulateAvx2(xa, xb, m, limit, lanes);
  }
}

inline bool hasAvx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#endif

inline ErrorSums compareBlock(const BlockInput& in, uint64_t start, size_t n, double limit) {
  ErrorSums s;
  s.count = n;
  const double inf = std::numeric_limits<double>::infinity();
  Lanes lanes;
  for (size_t j = 0; j < kLanes; j++) {
    lanes.abs[j] = lanes.sq[j] = lanes.max[j] = lanes.over[j] = 0;
    lanes.lo[j] = inf;
    lanes.hi[j] = -inf;
  }
#ifdef SP_MEASURE_AVX2
  // Not for FP8: its table-and-scale decoding turns into gathers under AVX2, slower than the scalar loop.
  if (in.dtype != Dtype::F8_E4M3 && in.dtype != Dtype::F8_E5M2 && hasAvx2())
    lanesPassAvx2(in, start, n, limit, lanes);
  else
#endif
    forSlices(in, start, n, [&](const double* a, const double* b, size_t m) { accumulate(a, b, m, limit, lanes); });
  double sumAbs = 0, sumSq = 0, maxAbs = 0, mn = inf, mx = -inf, overs = 0;
  for (size_t j = 0; j < kLanes; j++) {
    sumAbs += lanes.abs[j];
    sumSq += lanes.sq[j];
    maxAbs = lanes.max[j] > maxAbs ? lanes.max[j] : maxAbs;
    mn = lanes.lo[j] < mn ? lanes.lo[j] : mn;
    mx = lanes.hi[j] > mx ? lanes.hi[j] : mx;
    overs += lanes.over[j];
  }
  const uint64_t over = uint64_t(overs);
  if (std::isfinite(sumSq) && n > 0) {
    // Math.min/max keep −0 below +0; the plain comparisons above kept whichever zero came first.
    if (mn == 0 || mx == 0) {
      bool negZero = false, posZero = false;
      forSlices(in, start, n, [&](const double* a, const double*, size_t m) {
        for (size_t i = 0; i < m; i++)
          if (a[i] == 0) (std::signbit(a[i]) ? negZero : posZero) = true;
      });
      if (mn == 0) mn = negZero ? -0.0 : 0.0;
      if (mx == 0) mx = posZero ? 0.0 : -0.0;
    }
    s.sumAbs = sumAbs;
    s.sumSq = sumSq;
    s.maxAbs = maxAbs;
    s.over = over;
    s.min = mn;
    s.max = mx;
    return s;
  }
  // compareExact: NaN and ±Inf must come back as themselves; min/max over finite originals in order.
  forSlices(in, start, n, [&](const double* a, const double* b, size_t m) {
    for (size_t i = 0; i < m; i++) {
      const double x = a[i], y = b[i];
      if (!(x - x == 0)) {
        const bool same = (std::isnan(x) && std::isnan(y)) || (x == y && std::signbit(x) == std::signbit(y));
        if (!same) s.over++;
        continue;
      }
      if (x < s.min) s.min = x;
      if (x > s.max) s.max = x;
      const double d = std::fabs(x - y);
      if (!(d <= limit)) s.over++;
      if (d > s.maxAbs) s.maxAbs = d;
      else if (std::isnan(d)) s.maxAbs = std::numeric_limits<double>::infinity();
      s.sumAbs += d;
      s.sumSq += d * d;
    }
  });
  return s;
}

// compareChunk (values.ts): original vs reconstruction bytes of n elements, bound eb (0 = any difference is over).
inline ErrorSums compareChunk(const uint8_t* orig, const uint8_t* rec, uint64_t n, Dtype dtype, double eb,
                              uint64_t firstElement, const Fp8Scales* fp8) {
  constexpr size_t kBlock = 8192;
  const double limit = eb * (1 + 1e-9);
  // F64 chunks are compared whole in values.ts; one block of any size gives the same sums.
  const uint64_t block = dtype == Dtype::F64 ? std::max<uint64_t>(1, n) : kBlock;
  const BlockInput in{orig, rec, dtype, firstElement, fp8};
  ErrorSums acc;
  for (uint64_t start = 0; start < n; start += block) {
    const ErrorSums s = compareBlock(in, start, size_t(std::min<uint64_t>(block, n - start)), limit);
    acc.sumAbs += s.sumAbs;
    acc.sumSq += s.sumSq;
    acc.maxAbs = std::max(acc.maxAbs, s.maxAbs);  // never NaN, never −0
    acc.over += s.over;
    acc.min = jsMin(acc.min, s.min);
    acc.max = jsMax(acc.max, s.max);
  }
  acc.count = n;
  return acc;
}

}  // namespace sp::measure
