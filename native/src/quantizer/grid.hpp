// Grid quantizer for 16-bit dtypes (BF16, F16): bins are runs of consecutive representable values, each with a
// representable centre within eb of every member, built greedily outward from zero. Where the dtype grid is
// finer than the bound this is the linear quantizer (bins ≈ 2eb wide); where it is coarser (an ulp above eb)
// every value is its own bin, i.e. stored exactly at entropy-coded cost instead of as a raw outlier.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

namespace sp::quantizer {

template <class T>
struct Grid {
  static constexpr uint32_t kMaxBins = 2047;  // signed ordinals −2046..2046 zigzag below 4095
  double eb = -1;
  // Bin ordinal of each non-negative magnitude code (0..0x7fff), or −1 when the value has no bin.
  std::vector<int32_t> binOf;
  // Representative magnitude code of each ordinal.
  std::vector<uint16_t> rep;

  void build(double bound) {
    eb = bound;
    binOf.assign(0x8000, -1);
    rep.clear();
    // Finite non-negative magnitudes in increasing order are the codes 0.. until Inf/NaN.
    uint32_t end = 0;
    while (end < 0x8000 && std::isfinite(T::value(uint16_t(end)))) end++;
    uint32_t i = 0;
    while (i < end && rep.size() < kMaxBins) {
      const double a = T::value(uint16_t(i));
      // Centre: the largest code within eb above the bin's first value (0 for the zero bin).
      uint32_t r = i;
      if (i == 0) {
        r = 0;
      } else {
        while (r + 1 < end && T::value(uint16_t(r + 1)) - a <= bound) r++;
      }
      const double c = T::value(uint16_t(r));
      uint32_t j = r;
      while (j + 1 < end && T::value(uint16_t(j + 1)) - c <= bound) j++;
      const int32_t ord = int32_t(rep.size());
      rep.push_back(uint16_t(r));
      for (uint32_t k = i; k <= j; k++) binOf[k] = ord;
      i = j + 1;
    }
  }
};

}  // namespace sp::quantizer
