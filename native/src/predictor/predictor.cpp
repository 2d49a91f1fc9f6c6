// Predictor choice by sampling: order-0 entropy of the residual indices on up to ~16K sampled elements.
#include "predictor.hpp"

#include <algorithm>
#include <cmath>

namespace sp::predictor {

namespace {
int64_t unzigzag(uint32_t u) { return int64_t(u >> 1) ^ -int64_t(u & 1); }
double entropyOf(const std::vector<uint32_t>& h, uint64_t n, uint64_t overflow) {
  double bits = 0;
  const double logN = std::log2(double(n));
  for (uint32_t c : h)
    if (c) bits -= c * (std::log2(double(c)) - logN);
  return bits + double(overflow) * 24;  // escaped residuals cost about a raw value each
}
}  // namespace

Kind choose(const uint16_t* sym, uint16_t esc, size_t n, size_t R, std::vector<int64_t>& colOffset) {
  if (n < 1024 || R == 0 || n % R != 0) return kNone;
  const size_t rows = n / R;
  if (rows < 4) return kNone;
  // Sampled rows, each with the row above it, copied as indices into a compact buffer of row pairs
  // (escapes count as 0, exactly as in coding).
  const size_t wantRows = std::max<size_t>(16, 16384 / R);
  const size_t stride = std::max<size_t>(1, rows / wantRows);
  std::vector<size_t> picked;
  for (size_t r = 1; r < rows; r += stride) picked.push_back(r);
  const size_t P = picked.size();
  std::vector<int64_t> q(2 * P * R);
  std::vector<uint8_t> escaped(2 * P * R);
  for (size_t j = 0; j < P; j++)
    for (size_t h = 0; h < 2; h++)
      for (size_t c = 0; c < R; c++) {
        const uint16_t s = sym[(picked[j] - 1 + h) * R + c];
        escaped[(2 * j + h) * R + c] = s == esc;
        q[(2 * j + h) * R + c] = s == esc ? 0 : unzigzag(s);
      }
  // Column means (rounded), taken from the rows above the sampled ones so that the estimate below is measured
  // on rows the means were not fitted to (otherwise wide tables "learn" the sample's noise).
  colOffset.assign(R, 0);
  {
    std::vector<double> sum(R, 0);
    std::vector<uint32_t> cnt(R, 0);
    for (size_t j = 0; j < P; j++)
      for (size_t c = 0; c < R; c++) {
        const size_t i = (2 * j) * R + c;
        if (!escaped[i]) {
          sum[c] += double(q[i]);
          cnt[c]++;
        }
      }
    for (size_t c = 0; c < R; c++) colOffset[c] = cnt[c] ? int64_t(std::llround(sum[c] / cnt[c])) : 0;
  }
  constexpr uint32_t kCap = 4096;
  std::vector<uint32_t> h(kCap);
  // Estimated coded bits of the whole chunk under kind k, from every jStep-th sampled row.
  auto costOf = [&](Kind k, size_t jStep) {
    std::fill(h.begin(), h.end(), 0u);
    uint64_t m = 0, over = 0;
    for (size_t j = 0; j < P; j += jStep) {
      // Position R..2R-1 of the pair buffer is the sampled row; predictAt() looks back at most R + 1.
      const int64_t* base = q.data() + 2 * j * R;
      for (size_t c = 0; c < R; c++) {
        const size_t i = R + c;
        if (escaped[2 * j * R + i]) continue;
        const int64_t d = base[i] - predictAt(k, base, i, c, R, colOffset.data());
        const uint64_t z = (uint64_t(d) << 1) ^ uint64_t(d >> 63);
        if (z < kCap) h[z]++;
        else over++;
        m++;
      }
    }
    // Miller–Madow correction: the plug-in entropy of a small sample is low by about (bins − 1) / (2m ln 2).
    size_t bins = 0;
    for (uint32_t c : h) bins += c != 0;
    double bits = m ? (entropyOf(h, m, over) + double(bins) / (2 * std::log(2.0))) * double(n) / double(m) : 0;
    if (k == kColumnOffset) bits += double(R) * 10;  // stored offsets
    return bits;
  };
  // A quarter of the sample first: on noise-like weights the neighbour predictors lose by far more than the
  // sampling error there, and column offsets (which must win by 3 % below) do not even break even; then the
  // full estimate is skipped.
  constexpr size_t kQuick = 4;
  if (P >= 4 * kQuick) {
    const double none = costOf(kNone, kQuick);
    bool anyClose = costOf(kColumnOffset, kQuick) < none * 0.995;
    for (int k = kLorenzo1D; k < kKindCount && !anyClose; k++) anyClose = costOf(Kind(k), kQuick) < none * 1.05;
    if (!anyClose) return kNone;
  }
  double cost[kKindCount];
  for (int k = 0; k < kKindCount; k++) cost[k] = costOf(Kind(k), 1);
  Kind best = kNone;
  for (int k = 1; k < kKindCount; k++)
    if (cost[k] < cost[best] * 0.97) best = Kind(k);
  return best;
}

}  // namespace sp::predictor
