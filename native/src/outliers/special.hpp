// Special values and outliers stage: which elements bypass the quantizer and are stored bit-exact.
// NaN, ±Inf and −0 always are (their bits must come back unchanged); so are values the quantizer cannot
// place within the bound (dtype grid coarser than the bound, huge magnitudes, FP8 overflow).
#pragma once
#include <cmath>
#include <cstdint>

namespace sp::outliers {

// True when the element must be stored exactly whatever the bound.
template <class T>
inline bool mustStoreExact(typename T::Bits b, double value) {
  if (!std::isfinite(value)) return true;
  if (value == 0 && std::signbit(value)) return true;  // −0
  (void)b;
  return false;
}

}  // namespace sp::outliers
