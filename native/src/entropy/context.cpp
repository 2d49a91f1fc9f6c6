// Block-class fitting: quantile start on block mean magnitude, then Lloyd rounds on the actual coded cost.
#include "context.hpp"

#include <algorithm>
#include <cmath>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sp::entropy {

namespace {

// Bits to store a model (written exactly, it is cheap).
double modelBits(const Model& m) {
  std::vector<uint8_t> buf;
  BitWriter bw(buf);
  writeModel(bw, m);
  return double(buf.size()) * 8;
}

// Symbol counts per class (hist: K × A, added to). Four interleaved tables: runs of one symbol (small residuals
// dominate) would otherwise wait on their own increments.
void blockHist(const uint16_t* sym, size_t n, uint32_t A, uint32_t bs, const std::vector<uint8_t>& cls,
               std::vector<uint32_t>& hist) {
  const size_t size = hist.size();
  const size_t stride = size + 16;  // not a multiple of 4 KB apart
  static thread_local std::vector<uint32_t> ways;
  ways.assign(4 * stride, 0);
  uint32_t* w = ways.data();
  for (size_t b = 0, lo = 0; lo < n; b++, lo += bs) {
    uint32_t* h = w + size_t(cls[b]) * A;
    const size_t hi = std::min(n, lo + bs);
    size_t i = lo;
    for (; i + 4 <= hi; i += 4) {
      h[sym[i]]++;
      h[stride + sym[i + 1]]++;
      h[2 * stride + sym[i + 2]]++;
      h[3 * stride + sym[i + 3]]++;
    }
    for (; i < hi; i++) h[sym[i]]++;
  }
  for (size_t k = 0; k < 4; k++)
    for (size_t j = 0; j < size; j++) hist[j] += w[k * stride + j];
}

struct Fit {
  std::vector<uint8_t> cls;
  std::vector<Model> models;
  double bits = 1e300;
};

// The K models of the classes cls; hist is left holding their symbol counts (K × A).
void buildModels(const uint16_t* sym, size_t n, uint32_t A, uint32_t bs, uint32_t sb, uint32_t K,
                 const std::vector<uint8_t>& cls, std::vector<Model>& models, std::vector<uint32_t>& hist) {
  hist.assign(size_t(K) * A, 0);
  blockHist(sym, n, A, bs, cls, hist);
  models.resize(K);
  for (uint32_t k = 0; k < K; k++) buildModel(hist.data() + size_t(k) * A, A, sb, models[k]);
}

// Coded size of the classes cls under models, given their symbol counts hist (as buildModels left them).
double totalBits(uint32_t A, uint32_t K, const std::vector<uint8_t>& cls, const std::vector<Model>& models,
                 const std::vector<uint32_t>& hist) {
  double bits = 0;
  for (uint32_t k = 0; k < K; k++) bits += modelCostBits(hist.data() + size_t(k) * A, models[k]) + modelBits(models[k]);
  std::vector<uint32_t> ch(K, 0);
  for (uint8_t c : cls) ch[c]++;
  return bits + entropyBits(ch.data(), K) + 8.0 * K + 64;  // class stream, its model, headers
}

// The kMaxClasses costs of sym[0..len) summed per class into acc: even and odd elements in separate sums, added
// at the end, so that the vector loop (two symbols, four adds of four lanes, per step) and the portable one give
// the same floats, and so the same classes, on every machine.
void blockCosts(const float* cost, const uint16_t* sym, size_t len, float* acc) {
  static_assert(kMaxClasses == 8, "two vectors of four classes");
#if defined(__SSE2__)
  __m128 e0 = _mm_setzero_ps(), e1 = _mm_setzero_ps(), o0 = _mm_setzero_ps(), o1 = _mm_setzero_ps();
  size_t i = 0;
  for (; i + 2 <= len; i += 2) {
    const float* a = cost + size_t(sym[i]) * kMaxClasses;
    const float* b = cost + size_t(sym[i + 1]) * kMaxClasses;
    e0 = _mm_add_ps(e0, _mm_loadu_ps(a));
    e1 = _mm_add_ps(e1, _mm_loadu_ps(a + 4));
    o0 = _mm_add_ps(o0, _mm_loadu_ps(b));
    o1 = _mm_add_ps(o1, _mm_loadu_ps(b + 4));
  }
  if (i < len) {
    const float* a = cost + size_t(sym[i]) * kMaxClasses;
    e0 = _mm_add_ps(e0, _mm_loadu_ps(a));
    e1 = _mm_add_ps(e1, _mm_loadu_ps(a + 4));
  }
  _mm_storeu_ps(acc, _mm_add_ps(e0, o0));
  _mm_storeu_ps(acc + 4, _mm_add_ps(e1, o1));
#else
  float even[kMaxClasses] = {0}, odd[kMaxClasses] = {0};
  for (size_t i = 0; i < len; i++) {
    const float* c = cost + size_t(sym[i]) * kMaxClasses;
    float* t = (i & 1) ? odd : even;
    for (uint32_t k = 0; k < kMaxClasses; k++) t[k] += c[k];
  }
  for (uint32_t k = 0; k < kMaxClasses; k++) acc[k] = even[k] + odd[k];
#endif
}

Fit fitK(const uint16_t* sym, size_t n, uint32_t A, uint32_t bs, uint32_t sb, uint32_t K, const std::vector<double>& mean,
         int rounds) {
  const size_t nb = mean.size();
  Fit f;
  // Quantile start: blocks sorted by mean symbol magnitude, cut into K equal groups.
  std::vector<uint32_t> order(nb);
  for (size_t b = 0; b < nb; b++) order[b] = uint32_t(b);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return mean[a] < mean[b]; });
  f.cls.assign(nb, 0);
  for (size_t j = 0; j < nb; j++) f.cls[order[j]] = uint8_t(j * K / nb);
  std::vector<uint32_t> hist;
  buildModels(sym, n, A, bs, sb, K, f.cls, f.models, hist);
  // Cost of symbol s under model k at cost[s·kMaxClasses + k]: the K costs of one symbol are adjacent and the
  // inner loop below is a vector add (float sums are ample for choosing a class).
  std::vector<float> cost(size_t(A) * kMaxClasses, 0.0f);
  // Float sums: a block holds at most 8192 symbols of at most ~23 bits each, so a sum keeps better than 1e-4
  // relative precision — ample to pick a class — and the eight sums of a symbol are two vector adds.
  float acc[kMaxClasses];
  for (int r = 0; r < rounds; r++) {
    for (uint32_t k = 0; k < K; k++)
      for (uint32_t s = 0; s < A; s++) {
        const uint32_t fr = f.models[k].freq[s];
        cost[size_t(s) * kMaxClasses + k] = fr ? float(double(sb) - std::log2(double(fr))) : float(sb + 8);
      }
    for (size_t b = 0; b < nb; b++) {
      const size_t lo = b * bs, hi = std::min(n, lo + bs);
      blockCosts(cost.data(), sym + lo, hi - lo, acc);
      f.cls[b] = uint8_t(std::min_element(acc, acc + K) - acc);
    }
    // Classes left empty keep a valid (all-zero-count) model; buildModel handles that.
    buildModels(sym, n, A, bs, sb, K, f.cls, f.models, hist);
  }
  f.bits = totalBits(A, K, f.cls, f.models, hist);
  return f;
}

}  // namespace

uint32_t contextBlockSize(uint64_t rowLength) {
  static_assert(kLanes == 4, "block sizes are multiples of the lane count");
  // Whole rows, at least 64 elements, and a multiple of 4 so the decoder switches models between rounds.
  const uint64_t R = std::max<uint64_t>(1, rowLength);
  if (R > 8192) return 8192;
  uint64_t b = R;
  while (b < 64 || b % 4 != 0) b += R;
  return uint32_t(std::min<uint64_t>(b, 8192 + 8192 % 4));
}

bool fitBlockContexts(const uint16_t* sym, size_t n, uint32_t A, uint32_t bs, uint32_t sb, double singleBits,
                      BlockContexts& bc) {
  if (bs == 0 || A < 3) return false;
  const size_t nb = (n + bs - 1) / bs;
  if (nb < 16) return false;
  auto blockMean = [&](size_t b) {
    const size_t lo = b * bs, hi = std::min(n, lo + bs);
    uint64_t s = 0;  // exact, as the double sum it replaces was (at most 64 × 8192)
    for (size_t i = lo; i < hi; i++) s += std::min<uint32_t>(sym[i], 64);
    return double(s) / double(hi - lo);
  };
  // Cheap estimate first, on at most ~64K symbols of whole blocks: two quantile classes against one model,
  // no refinement. Tensors that do not gain here (i.i.d. noise) stop now and keep the fast single-model path.
  {
    const size_t stride = std::max<size_t>(1, nb / std::max<size_t>(16, 65536 / bs));
    std::vector<uint16_t> sample;
    std::vector<double> sampleMean;
    std::vector<uint32_t> h1(A, 0);
    // Every sampled block is whole (the chunk's last, possibly short, block is never sampled).
    for (size_t b = 0; b + 1 < nb; b += stride) {
      sample.insert(sample.end(), sym + b * bs, sym + (b + 1) * bs);
      sampleMean.push_back(blockMean(b));
    }
    if (sampleMean.size() < 8) return false;
    for (uint16_t s : sample) h1[s]++;
    Model one;
    buildModel(h1.data(), A, sb, one);
    const double oneBits = modelCostBits(h1.data(), one) + modelBits(one);
    const Fit probe = fitK(sample.data(), sample.size(), A, bs, sb, 2, sampleMean, 0);
    if (!(probe.bits < oneBits * 0.997)) return false;
  }
  std::vector<double> mean(nb);
  for (size_t b = 0; b < nb; b++) mean[b] = blockMean(b);
  // Four classes first; eight only when four already pay well (each Lloyd round costs K lookups per symbol).
  Fit best = fitK(sym, n, A, bs, sb, 4, mean, 2);
  if (best.bits < singleBits * 0.98) {
    Fit f = fitK(sym, n, A, bs, sb, 8, mean, 2);
    if (f.bits < best.bits) best = std::move(f);
  }
  if (!(best.bits < singleBits * 0.995)) return false;
  bc.blockSize = bs;
  bc.cls = std::move(best.cls);
  bc.models = std::move(best.models);
  return true;
}

}  // namespace sp::entropy
