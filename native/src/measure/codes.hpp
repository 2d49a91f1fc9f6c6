// Error sums from per-code counts: where an element's reconstruction is a function of its code (16-bit grid
// quantizer; block-scaled FP8: of its block and code), the encoder counts codes while quantizing and the sums come from one step per distinct code instead of
// a second pass over input and reconstruction. Per code the formulas are compareChunk's (values.ts) for one element;
// count, over, maxAbs, min and max come out identical, sumAbs and sumSq (count × error, added with compensation)
// match to rounding (sameErrorSums).
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "measure.hpp"

namespace sp::measure {

// Sum with Neumaier's compensation: Σ count·err over up to 65,536 codes stays within an ulp or two of the exact
// value, so the difference from compareChunk's element-order sum is that sum's own rounding.
struct CompensatedSum {
  double sum = 0, carry = 0;
  void add(double x) {
    const double t = sum + x;
    carry += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  }
  // Inf or NaN terms leave the compensation NaN: the plain sum is then the answer, as in compareChunk.
  double value() const { return std::isfinite(sum) ? sum + carry : sum; }
};

class CodeSums {
 public:
  explicit CodeSums(double checkEb) : limit_(checkEb * (1 + 1e-9)) {}

  // k elements whose original value is x and reconstruction y.
  void add(double x, double y, uint64_t k) {
    if (k == 0) return;
    count_ += k;
    if (!(x - x == 0)) {
      // NaN and ±Inf must come back as themselves; they take no part in sums or range.
      nonFinite_ = nonFiniteOrig_ = true;
      const bool same = (std::isnan(x) && std::isnan(y)) || (x == y && std::signbit(x) == std::signbit(y));
      if (!same) over_ += k;
      return;
    }
    min_ = jsMin(min_, x);
    max_ = jsMax(max_, x);
    const double d = std::fabs(x - y);
    if (!(d - d == 0)) nonFinite_ = true;
    if (!(d <= limit_)) over_ += k;
    if (d > maxAbs_) maxAbs_ = d;
    else if (std::isnan(d)) maxAbs_ = std::numeric_limits<double>::infinity();
    abs_.add(double(k) * d);
    sq_.add(double(k) * (d * d));
  }

  // The sums, or false where they depend on element order: compareChunk takes blocks holding NaN or ±Inf value by
  // value with plain comparisons, so there a range ending at zero keeps whichever of −0 and +0 came first.
  bool result(ErrorSums& out) const {
    if (nonFinite_ && (min_ == 0 || max_ == 0)) return false;
    out.count = count_;
    out.sumAbs = abs_.value();
    out.sumSq = sq_.value();
    out.maxAbs = maxAbs_;
    out.over = over_;
    out.min = min_;
    out.max = max_;
    return true;
  }
  // The sums had every element come back exactly (the chunk fell back to lossless or raw coding).
  bool resultExact(ErrorSums& out) const {
    if (nonFiniteOrig_ && (min_ == 0 || max_ == 0)) return false;
    out = ErrorSums();
    out.count = count_;
    out.min = min_;
    out.max = max_;
    return true;
  }

 private:
  double limit_;
  uint64_t count_ = 0, over_ = 0;
  CompensatedSum abs_, sq_;
  double maxAbs_ = 0;
  double min_ = std::numeric_limits<double>::infinity(), max_ = -std::numeric_limits<double>::infinity();
  bool nonFinite_ = false, nonFiniteOrig_ = false;
};

// Value of a 16-bit code as compareChunk decodes it.
inline double value16(Dtype dtype, uint16_t code) {
  return dtype == Dtype::BF16 ? double(bitsToFloat(uint32_t(code) << 16)) : double(f16Values()[code]);
}

// Sums of a 16-bit chunk from counts[code] (every element's code), recOf(code) (its reconstruction, for elements
// not stored exactly) and exactOf(code) (how many of the code's elements the decoder reproduces exactly).
template <class RecOf, class ExactOf>
bool sumsFromCodes16(const uint32_t* counts, Dtype dtype, double checkEb, RecOf recOf, ExactOf exactOf,
                     ErrorSums& out) {
  CodeSums s(checkEb);
  for (uint32_t c = 0; c < 65536; c++) {
    const uint32_t k = counts[c];
    if (k == 0) continue;
    const double x = value16(dtype, uint16_t(c));
    const uint32_t exact = exactOf(uint16_t(c));
    s.add(x, value16(dtype, recOf(uint16_t(c))), k - exact);
    s.add(x, x, exact);
  }
  return s.result(out);
}

}  // namespace sp::measure
