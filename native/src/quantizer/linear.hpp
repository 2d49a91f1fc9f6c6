// Error-bounded quantizer stage: q = round(x / 2eb), reconstruction = the dtype value nearest q·2eb (under the
// FP8 block scale when there is one). The encoder verifies every reconstruction against the bound after
// rounding to the dtype, tries the neighbouring index, and otherwise reports the value as an outlier.
#pragma once
#include <cmath>
#include <cstdint>

namespace sp::quantizer {

// Indices beyond this magnitude are not worth an index: the value is stored exactly instead.
constexpr double kMaxIndex = double(1 << 30);

template <class T>
struct Linear {
  using Bits = typename T::Bits;
  double eb;
  double step;
  double inv;

  explicit Linear(double bound) : eb(bound), step(2 * bound), inv(1 / (2 * bound)) {}

  // The dtype bits the decoder produces for index q at block scale s (s = 1 without scales).
  Bits reconstruct(int64_t q, double s) const { return T::round(double(q) * step / s); }
  Bits reconstruct(int64_t q) const { return T::round(double(q) * step); }

  // Finds an index whose reconstruction is within eb of x (= value × s), or returns false.
  // Also returns the reconstruction's bits in rec.
  template <bool kScaled>
  bool quantize(double x, double s, int64_t& q, Bits& rec) const {
    const double t = x * inv;
    if (!(std::fabs(t) < kMaxIndex)) return false;  // also rejects NaN and ±Inf
    // Round half to even by the 1.5·2^52 trick: exact for |t| < 2^51 and free of libm calls.
    constexpr double kMagic = 6755399441055744.0;
    const double r = (t + kMagic) - kMagic;
    int64_t q0 = int64_t(r);
    if (ok<kScaled>(q0, x, s, rec)) {
      q = q0;
      return true;
    }
    const int64_t q1 = t > r ? q0 + 1 : q0 - 1;
    if (ok<kScaled>(q1, x, s, rec)) {
      q = q1;
      return true;
    }
    return false;
  }

  template <bool kScaled>
  bool ok(int64_t q, double x, double s, Bits& rec) const {
    rec = kScaled ? reconstruct(q, s) : reconstruct(q);
    const double v = kScaled ? T::value(rec) * s : T::value(rec);
    return std::fabs(v - x) <= eb;  // false for NaN (e.g. FP8 overflow to NaN)
  }
};

}  // namespace sp::quantizer
