// Predictor stage, on quantization indices (so prediction is exact and needs no error feedback):
// none (the default: weights are noise-like), per-column offsets (embedding tables with per-column means),
// Lorenzo 1D and 2D. The encoder picks one by trying them on a sample of rows.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sp::predictor {

enum Kind : uint8_t { kNone = 0, kColumnOffset = 1, kLorenzo1D = 2, kLorenzo2D = 3, kKindCount = 4 };

// Prediction for element i in column c = i mod R (row length R) from indices already known; escaped elements
// count as 0. Callers walking the elements in order keep c themselves: a division per element would cost more
// than the rest of the prediction.
inline int64_t predictAt(Kind k, const int64_t* q, size_t i, size_t c, size_t R, const int64_t* colOffset) {
  switch (k) {
    case kColumnOffset: return colOffset[c];
    case kLorenzo1D: return i > 0 ? q[i - 1] : 0;
    case kLorenzo2D: {
      const int64_t left = c > 0 ? q[i - 1] : 0;
      const int64_t up = i >= R ? q[i - R] : 0;
      const int64_t diag = (c > 0 && i >= R) ? q[i - R - 1] : 0;
      return left + up - diag;
    }
    default: return 0;
  }
}

// Chooses a predictor from the no-prediction symbols (zigzag indices, esc = exact outlier): estimated coded
// bits of each on sampled rows, plus the side cost of column offsets. Fills colOffset when column offsets win.
Kind choose(const uint16_t* sym, uint16_t esc, size_t n, size_t R, std::vector<int64_t>& colOffset);

}  // namespace sp::predictor
