// Grid quantizer: bins are runs of consecutive representable values, each with a representable centre within eb
// of every member, built greedily outward from zero. Where the dtype grid is finer than the bound this is the
// linear quantizer (bins ≈ 2eb wide); where it is coarser (an ulp above eb) every value is its own bin, i.e.
// stored exactly at entropy-coded cost instead of as a raw outlier. Used for BF16/F16 (one grid per bound) and for
// block-scaled FP8 (one grid per block: the 128 magnitude codes times the block's scale, fp8_blocks.hpp).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "../dtype/dtype.hpp"

namespace sp::quantizer {

// The greedy bin construction over magnitude codes 0..end−1, whose values value(c) increase with c (code 0 is
// zero). Calls emit(ordinal, centre, first, last) for each bin [first, last] in order and returns the bin count
// (at most maxBins; codes past the last bin have none). Both users must build bit-identical bins, hence one copy.
template <class Value, class Emit>
uint32_t buildBins(uint32_t end, double bound, uint32_t maxBins, Value&& value, Emit&& emit) {
  uint32_t i = 0, ord = 0;
  while (i < end && ord < maxBins) {
    const double a = value(i);
    // Centre: the largest code within eb above the bin's first value (0 for the zero bin).
    uint32_t r = i;
    if (i != 0)
      while (r + 1 < end && value(r + 1) - a <= bound) r++;
    const double c = value(r);
    uint32_t j = r;
    while (j + 1 < end && value(j + 1) - c <= bound) j++;
    emit(ord++, r, i, j);
    i = j + 1;
  }
  return ord;
}

// Finite non-negative magnitudes of a 16-bit float, in increasing order, are the codes 0..end−1 (Inf/NaN after).
template <class T>
uint32_t finiteMagnitudeEnd() {
  uint32_t end = 0;
  while (end < 0x8000 && std::isfinite(T::value(uint16_t(end)))) end++;
  return end;
}

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
    const uint32_t end = finiteMagnitudeEnd<T>();
    buildBins(
        end, bound, kMaxBins, [](uint32_t c) { return T::value(uint16_t(c)); },
        [&](uint32_t ord, uint32_t centre, uint32_t first, uint32_t last) {
          rep.push_back(uint16_t(centre));
          for (uint32_t k = first; k <= last; k++) binOf[k] = int32_t(ord);
        });
  }
};

// The grid for F32 output of 16-bit inputs (SZ3's setting: BF16/F16 weights, float reconstruction). A bin's
// centre need not be representable in the input dtype, only in F32, so a bin may hold every consecutive code
// within a span of 2eb (twice what a representable centre allows where the dtype's ulp is near eb). Bin 0 holds
// the magnitudes ≤ eb around centre 0; each later bin starts at the first code not yet binned and takes codes
// while their span stays within 2eb and the F32 midpoint of its ends stays within eb of both (rounding to F32 can
// move it; the bin then ends earlier). Values past the last bin have none (stored exactly).
template <class T>
struct WideGrid {
  static constexpr uint32_t kMaxBins = Grid<T>::kMaxBins;
  double eb = -1;
  std::vector<int32_t> binOf;  // bin ordinal of each non-negative magnitude code, or −1
  std::vector<uint32_t> rep;   // F32 bits of each ordinal's centre (non-negative)

  static uint32_t f32Bits(double d) { return floatToBits(float(d)); }
  static double f32Value(uint32_t u) { return double(bitsToFloat(u)); }

  void build(double bound) {
    eb = bound;
    binOf.assign(0x8000, -1);
    rep.clear();
    const uint32_t end = finiteMagnitudeEnd<T>();
    auto value = [](uint32_t c) { return T::value(uint16_t(c)); };
    uint32_t i = 0;
    while (i < end && rep.size() < kMaxBins) {
      const uint32_t ord = uint32_t(rep.size());
      uint32_t j = i;
      uint32_t centre = 0;
      if (i == 0) {
        while (j + 1 < end && value(j + 1) <= bound) j++;
      } else {
        const double a = value(i);
        while (j + 1 < end && value(j + 1) - a <= 2 * bound) j++;
        for (;; j--) {
          centre = f32Bits(0.5 * (a + value(j)));
          const double c = f32Value(centre);
          if ((c - a <= bound && value(j) - c <= bound) || j == i) break;
        }
        if (j == i) centre = f32Bits(a);  // exact: every 16-bit float is an F32 value
      }
      rep.push_back(centre);
      for (uint32_t k = i; k <= j; k++) binOf[k] = int32_t(ord);
      i = j + 1;
    }
  }
};

}  // namespace sp::quantizer
