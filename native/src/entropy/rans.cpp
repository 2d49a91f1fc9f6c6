// rANS implementation: model normalisation, compact model coding, interleaved encode/decode.
#include "rans.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace sp::entropy {

namespace {

unsigned bitLength(uint32_t v) { return v ? 32 - __builtin_clz(v) : 0; }

// Adaptive Rice code for small nonnegative integers (the model's frequency deltas).
struct RiceState {
  uint32_t mean = 4;
  unsigned k() const { return mean > 1 ? bitLength(mean) - 1 : 0; }
  void update(uint32_t v) { mean = (mean * 3 + v + 2) / 4; }
};
void putRice(BitWriter& bw, RiceState& st, uint32_t v) {
  const unsigned k = st.k();
  uint32_t q = v >> k;
  if (q < 16) {
    for (uint32_t i = 0; i < q; i++) bw.put(1, 1);
    bw.put(0, 1);
    bw.put(v, k);
  } else {
    for (int i = 0; i < 16; i++) bw.put(1, 1);
    bw.put(v, 16);  // escape: the value in 32 raw bits
    bw.put(v >> 16, 16);
  }
  st.update(v);
}
uint32_t getRice(BitReader& br, RiceState& st) {
  const unsigned k = st.k();
  uint32_t q = 0;
  while (q < 16 && br.get(1)) q++;
  uint32_t v;
  if (q < 16) {
    v = (q << k) | br.get(k);
  } else {
    v = br.get(16);
    v |= br.get(16) << 16;
  }
  st.update(std::min<uint32_t>(v, 1u << 20));
  return v;
}
}  // namespace

uint32_t scaleBitsFor(uint64_t n) {
  uint32_t b = 0;
  while (b < 40 && (uint64_t(1) << b) < n) b++;
  return std::clamp<uint32_t>(b, 10, 14);
}

void buildModel(const uint32_t* counts, size_t A, uint32_t scaleBits, Model& m) {
  m.scaleBits = scaleBits;
  m.freq.assign(A, 0);
  m.cum.assign(A, 0);
  const uint32_t total = 1u << scaleBits;
  uint64_t n = 0;
  size_t present = 0;
  for (size_t i = 0; i < A; i++) {
    n += counts[i];
    present += counts[i] != 0;
  }
  if (n == 0 || present == 0) {
    // Nothing coded: give everything to symbol 0 so the model is still valid.
    if (A > 0) m.freq[0] = total;
  } else {
    int64_t sum = 0;
    size_t best = 0;
    for (size_t i = 0; i < A; i++) {
      if (!counts[i]) continue;
      uint64_t f = (uint64_t(counts[i]) * total + n / 2) / n;
      if (f == 0) f = 1;
      m.freq[i] = uint32_t(f);
      sum += int64_t(f);
      if (counts[i] > counts[best]) best = i;
    }
    // Fix the total: take from (or give to) the symbols that lose least per unit of frequency.
    int64_t diff = int64_t(total) - sum;
    if (diff > 0) {
      m.freq[best] += uint32_t(diff);
    } else {
      while (diff < 0) {
        // Remove from the symbol where one unit costs least: largest freq/count ratio overshoot.
        size_t pick = A;
        double bestScore = 1e300;
        for (size_t i = 0; i < A; i++) {
          if (m.freq[i] <= 1) continue;
          double score = double(counts[i]) / double(m.freq[i]) / double(m.freq[i] - 1);
          if (score < bestScore) {
            bestScore = score;
            pick = i;
          }
        }
        if (pick == A) break;  // cannot happen: present <= total
        uint32_t take = uint32_t(std::min<int64_t>(-diff, std::max<int64_t>(1, (m.freq[pick] - 1) / 8)));
        m.freq[pick] -= take;
        diff += take;
      }
    }
  }
  uint32_t c = 0;
  for (size_t i = 0; i < A; i++) {
    m.cum[i] = c;
    c += m.freq[i];
  }
}

double modelCostBits(const uint32_t* counts, const Model& m) {
  double bits = 0;
  for (size_t i = 0; i < m.alphabet(); i++)
    if (counts[i]) bits += counts[i] * (double(m.scaleBits) - std::log2(double(m.freq[i])));
  return bits;
}

double entropyBits(const uint32_t* counts, size_t A) {
  uint64_t n = 0;
  for (size_t i = 0; i < A; i++) n += counts[i];
  if (!n) return 0;
  double bits = 0;
  for (size_t i = 0; i < A; i++)
    if (counts[i]) bits -= counts[i] * std::log2(double(counts[i]) / double(n));
  return bits;
}

// Layout: 4 bits scaleBits-9, 13 bits alphabet-1, then per symbol the zigzag difference to the frequency two
// symbols back (signed zigzag order makes ±q neighbours), adaptive Rice coded. The writer pads to a byte.
void writeModel(BitWriter& bw, const Model& m) {
  bw.put(m.scaleBits - kMinScaleBits, 3);
  bw.put(uint32_t(m.alphabet() - 1), 12);
  RiceState st;
  for (size_t i = 0; i < m.alphabet(); i++) {
    int64_t prev = i >= 2 ? m.freq[i - 2] : 0;
    putRice(bw, st, zigzag32(int64_t(m.freq[i]) - prev));
  }
  bw.flush();
}

Status readModel(BitReader& br, uint32_t maxAlphabet, Model& m) {
  m.scaleBits = br.get(3) + kMinScaleBits;
  const uint32_t A = br.get(12) + 1;
  if (br.overrun()) return Status::Truncated;
  if (m.scaleBits > kMaxScaleBits || A > maxAlphabet) return Status::CorruptChunk;
  m.freq.assign(A, 0);
  m.cum.assign(A, 0);
  const uint64_t total = uint64_t(1) << m.scaleBits;
  uint64_t sum = 0;
  RiceState st;
  for (uint32_t i = 0; i < A; i++) {
    int64_t prev = i >= 2 ? m.freq[i - 2] : 0;
    int64_t f = prev + unzigzag32(getRice(br, st));
    if (br.overrun()) return Status::Truncated;
    if (f < 0 || uint64_t(f) > total) return Status::CorruptChunk;
    m.freq[i] = uint32_t(f);
    m.cum[i] = uint32_t(sum);
    sum += uint64_t(f);
    if (sum > total) return Status::CorruptChunk;
  }
  if (sum != total) return Status::CorruptChunk;
  return Status::Ok;
}

namespace {
// High 64 bits of a 64×64-bit product.
inline uint64_t mulHigh(uint64_t a, uint64_t b) {
#if defined(__SIZEOF_INT128__)
  return uint64_t((unsigned __int128)a * b >> 64);
#else
  const uint64_t aL = a & 0xFFFFFFFFu, aH = a >> 32, bL = b & 0xFFFFFFFFu, bH = b >> 32;
  const uint64_t mid = (aL * bL >> 32) + (aH * bL & 0xFFFFFFFFu) + aL * bH;
  return aH * bH + (aH * bL >> 32) + (mid >> 32);
#endif
}
// Per-symbol encoder constants: division by the frequency becomes the high half of a 64×64-bit product with
// a 64-bit reciprocal, exact for states below 2^31 and frequencies up to 2^15 (the error of ceil(2^64 / f)
// stays below 2^64 / 2^31); unlike a 32-bit reciprocal it needs no per-symbol shift. 16 bytes per symbol.
struct EncSymbol {
  uint64_t rcp;
  uint32_t xmax;  // states at or above this emit a word first; at most 2^31
  uint16_t bias, cmpl;
};
void initEncSymbols(const Model& m, std::vector<EncSymbol>& t) {
  const uint32_t sb = m.scaleBits;
  t.resize(m.alphabet());
  for (size_t s = 0; s < m.alphabet(); s++) {
    const uint32_t f = m.freq[s];
    EncSymbol& e = t[s];
    e.xmax = uint32_t((uint64_t(kL >> sb) << 16) * f);
    e.cmpl = uint16_t((1u << sb) - f);
    if (f < 2) {
      // f == 1: x / 1 = x, but 2^64 does not fit; the all-ones reciprocal gives x − 1 and the bias adds the
      // missing (2^sb − 1) back: x + cum + 2^sb − 1 + (x − 1)(2^sb − 1) = x·2^sb + cum.
      e.rcp = ~uint64_t(0);
      e.bias = uint16_t(m.cum[s] + (1u << sb) - 1);
    } else {
      e.rcp = ~uint64_t(0) / f + 1;  // ceil(2^64 / f) when f is not a power of 2
      if ((f & (f - 1)) == 0) e.rcp = (uint64_t(1) << 63) / (f >> 1);  // exactly 2^64 / f
      e.bias = uint16_t(m.cum[s]);
    }
  }
}
}  // namespace

void encode(const uint16_t* syms, const uint8_t* ctx, size_t n, const Model* models, std::vector<uint8_t>& out) {
  // At most one 16-bit word per symbol (scaleBits <= 15), plus the flushed states. The buffer is per thread
  // and kept, so large chunks do not pay fresh page faults on every call.
  static thread_local std::vector<uint16_t> kept;
  std::vector<uint16_t> oneOff;
  std::vector<uint16_t>& words = n < (size_t(1) << 24) ? kept : oneOff;
  if (words.size() < n + 2 * kLanes) words.resize(n + 2 * kLanes);
  size_t w = n + 2 * kLanes;
  uint32_t x[kLanes];
  size_t count = 1;
  if (ctx) {
    uint8_t top = 0;  // a byte maximum: vectorised, where a size_t one was a compare and move per element
    for (size_t i = 0; i < n; i++) top = std::max(top, ctx[i]);
    count = size_t(top) + 1;
  }
  std::vector<std::vector<EncSymbol>> tabs(count);
  for (size_t k = 0; k < count; k++) initEncSymbols(models[k], tabs[k]);
  const EncSymbol* t0 = tabs[0].data();
  // One step for lane state st (kept in a register by the explicit unrolling below).
  // The context test is resolved at compile time (kCtx), keeping it out of the per-symbol work.
  uint32_t xs[kLanes] = {kL, kL, kL, kL};
  auto run = [&](auto useCtx) {
    constexpr bool kCtx = decltype(useCtx)::value;
    uint32_t x0 = xs[0], x1 = xs[1], x2 = xs[2], x3 = xs[3];  // locals stay in registers
    auto put = [&](uint32_t& st, size_t i) {
      const EncSymbol& e = kCtx ? tabs[ctx[i]][syms[i]] : t0[syms[i]];
      // Branch-free renormalisation: the store always happens, the cursor only moves when needed.
      const bool out16 = st >= e.xmax;
      words[w - 1] = uint16_t(st);
      w -= out16;
      const uint32_t shifted = st >> 16;
      st = out16 ? shifted : st;
      const uint32_t q = uint32_t(mulHigh(st, e.rcp));
      st = st + e.bias + q * e.cmpl;
    };
    size_t i = n;
    // The tail (n mod 4 symbols) is coded first, since rANS encodes backwards.
    while (i % kLanes) {
      i--;
      switch (i & 3) {
        case 0: put(x0, i); break;
        case 1: put(x1, i); break;
        case 2: put(x2, i); break;
        default: put(x3, i); break;
      }
    }
    for (; i >= kLanes; i -= kLanes) {
      put(x3, i - 1);
      put(x2, i - 2);
      put(x1, i - 3);
      put(x0, i - 4);
    }
    xs[0] = x0;
    xs[1] = x1;
    xs[2] = x2;
    xs[3] = x3;
  };
  if (ctx)
    run(std::true_type{});
  else
    run(std::false_type{});
  for (int l = 0; l < kLanes; l++) x[l] = xs[l];
  for (int l = kLanes - 1; l >= 0; l--) {
    words[--w] = uint16_t(x[l] >> 16);
    words[--w] = uint16_t(x[l]);
  }
  const size_t total = n + 2 * kLanes - w;
  const size_t base = out.size();
  out.resize(base + 2 * total);
  std::memcpy(out.data() + base, words.data() + w, 2 * total);  // little-endian host: words as LE bytes
}

Status Decoder::init(const Model* models, size_t count) {
  if (count == 0 || count > 256) return Status::CorruptChunk;
  scaleBits_ = models[0].scaleBits;
  for (size_t k = 0; k < count; k++)
    if (models[k].scaleBits != scaleBits_) return Status::CorruptChunk;
  count_ = count;
  model0_ = models;
  tablesBuilt_ = false;  // the general decoder's tables, built on its first use (the mapped decoders build their own)
  return Status::Ok;
}

void Decoder::buildTables() const {
  const Model* models = model0_;
  const size_t count = count_;
  const uint32_t total = 1u << scaleBits_;
  slot_.resize(count * total);
  offset_.resize(count);
  size_t fcSize = 0;
  for (size_t k = 0; k < count; k++) {
    offset_[k] = uint32_t(fcSize);
    fcSize += models[k].alphabet();
  }
  freqCum_.resize(fcSize);
  for (size_t k = 0; k < count; k++) {
    const Model& m = models[k];
    uint16_t* slot = slot_.data() + k * total;
    for (size_t s = 0; s < m.alphabet(); s++) {
      freqCum_[offset_[k] + s] = (m.freq[s] << 16) | m.cum[s];  // freq <= 2^15 and cum < 2^15 fit 16 bits
      for (uint32_t j = 0; j < m.freq[s]; j++) slot[m.cum[s] + j] = uint16_t(s);
    }
  }
  packed_.clear();
  if (count == 1 && models[0].alphabet() <= 256 && scaleBits_ <= 12) {
    const Model& m = models[0];
    packed_.resize(total);
    for (uint32_t sl = 0; sl < total; sl++) {
      const uint32_t s = slot_[sl];
      packed_[sl] = s | ((m.freq[s] - 1) << 8) | ((sl - m.cum[s]) << 20);
    }
  }
  tablesBuilt_ = true;
}

Status Decoder::decode(const uint8_t* p, size_t len, size_t n, const uint8_t* ctx, uint16_t* out) const {
  struct ArraySink {
    uint16_t* out;
    void operator()(size_t i, uint16_t s) { out[i] = s; }
  } sink{out};
  return ctx ? decodeWith<true>(p, len, n, ctx, sink) : decodeWith<false>(p, len, n, nullptr, sink);
}


// The 64-bit table entry of decodeMapped, by output word: 16-bit values as value (bits 0–15) | slot − cum (16–31)
// | freq (32–63); 32-bit values (F32 output) as value (0–31) | slot − cum (32–47) | freq (48–63). Both counts are
// at most 2^15, so either layout holds them; split tables keep cum where slot − cum would be.
// The class of every symbol of a single-model stream, decoded as one block.
constexpr uint8_t kOneClass = 0;

template <class OutT>
struct MappedEntry;
template <>
struct MappedEntry<uint16_t> {
  static uint64_t make(uint64_t v, uint64_t adj, uint64_t f) { return v | adj << 16 | f << 32; }
  static uint32_t freq(uint64_t e) { return uint32_t(e >> 32); }
  static uint32_t adj(uint64_t e) { return uint32_t(e) >> 16; }
};
template <>
struct MappedEntry<uint32_t> {
  static uint64_t make(uint64_t v, uint64_t adj, uint64_t f) { return v | adj << 32 | f << 48; }
  static uint32_t freq(uint64_t e) { return uint32_t(e >> 48); }
  static uint32_t adj(uint64_t e) { return uint32_t(e >> 32) & 0xffffu; }
};

template <uint32_t kSB, bool kSplit, class OutT>
Status Decoder::decodeMappedImpl(const uint8_t* p, size_t len, size_t n, size_t blockSize, const uint8_t* blockClass,
                                 const uint64_t* table, size_t tableStride, const uint8_t* slot8, size_t slotStride,
                                 OutT* out) const {
  using E = MappedEntry<OutT>;
  if (len < 4 * kLanes || (len & 1)) return Status::CorruptChunk;
  const uint8_t* const end = p + len;
  uint32_t x[kLanes];
  if (!readLaneStates(p, x)) return Status::CorruptChunk;
  const uint32_t sb = kSB ? kSB : scaleBits_;
  const uint32_t mask = (1u << sb) - 1;
  uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
  // The table of the current block's class (one class for single-model streams).
  const uint64_t* t = table;
  const uint8_t* s8 = slot8;
  size_t block = 0, nextBlock = 0;
  auto enterBlock = [&](size_t i) {
    if (i != nextBlock) return;
    const size_t c = blockClass[block++];
    t = table + c * tableStride;
    s8 = slot8 + c * slotStride;
    nextBlock += blockSize;
  };
  // Split tables (large precisions): slot → symbol bytes plus one entry per symbol (value | cum | freq), two
  // loads that stay in L1 instead of one per-slot load that misses it.
  auto entryOf = [&](uint32_t st) -> uint64_t {
    if constexpr (kSplit) return t[s8[st & mask]];
    else return t[st & mask];
  };
  auto adjust = [&](uint64_t e, uint32_t st) -> uint32_t {
    if constexpr (kSplit) return (st & mask) - E::adj(e);
    else return E::adj(e);
  };
  // Entry (MappedEntry): value | slot − cum | freq; the state update is the same arithmetic as decodeImpl's. The
  // renormalisation is branch-free (a branch there is mispredicted on ~40 % of steps): the word is always loaded,
  // shifted in under a mask, and the cursor moves by 0 or 2.
#define SP_STEP(st, k)                                                               \
  {                                                                                  \
    const uint64_t e = entryOf(st);                                                  \
    out[i + k] = OutT(e);                                                            \
    st = E::freq(e) * (st >> sb) + adjust(e, st);                                    \
    uint16_t w16;                                                                    \
    std::memcpy(&w16, p, 2); /* little-endian host */                                \
    renormalise(st, w16, p);                                                         \
  }
  size_t i = 0;
  // Unchecked rounds while a whole round's words (at most one per lane) are surely present. Blocks are whole
  // rounds (blockSize is a multiple of the lane count), so a class changes only between rounds.
  while (i + kLanes <= n && end - p >= 2 * kLanes) {
    enterBlock(i);
    SP_STEP(x0, 0)
    SP_STEP(x1, 1)
    SP_STEP(x2, 2)
    SP_STEP(x3, 3)
    i += kLanes;
  }
#undef SP_STEP
  // The rest (near the stream's end, or the n mod 4 tail): every read is checked.
  auto checkedStep = [&](uint32_t& st, size_t k) {
    const uint64_t e = entryOf(st);
    out[k] = OutT(e);
    st = E::freq(e) * (st >> sb) + adjust(e, st);
    if (st < kL) {
      if (end - p < 2) return false;
      st = (st << 16) | uint32_t(p[0]) | uint32_t(p[1]) << 8;
      p += 2;
    }
    return true;
  };
  // The states go back to an array only here: selecting one of x0..x3 by reference would make them
  // addressable, and the compiler then keeps them in memory through the hot loop above.
  uint32_t xs[kLanes] = {x0, x1, x2, x3};
  for (; i < n; i++) {
    enterBlock(i);
    if (!checkedStep(xs[i & 3], i)) return Status::CorruptChunk;
  }
  if (p != end) return Status::CorruptChunk;
  if (xs[0] != kL || xs[1] != kL || xs[2] != kL || xs[3] != kL) return Status::CorruptChunk;
  return Status::Ok;
}

template <class OutT>
Status Decoder::decodeMappedAny(const uint8_t* p, size_t len, size_t n, const OutT* lut, OutT* out) const {
  using E = MappedEntry<OutT>;
  if (count_ != 1 || !model0_) return Status::CorruptChunk;
  const Model& m = *model0_;
  const uint32_t total = 1u << scaleBits_;
  // Per-thread tables, kept between calls (2^15 entries at most: 256 KB).
  static thread_local std::vector<uint64_t> table;
  static thread_local std::vector<uint8_t> slot8;
  // Above 12 bits a per-slot table of 8-byte entries outgrows L1 (128 KB at 14 bits): then small alphabets
  // use a byte per slot and one entry per symbol.
  const bool split = scaleBits_ > 12 && m.alphabet() <= 256;
  const size_t entries = split ? m.alphabet() : total;
  if (table.size() < entries) table.resize(entries);
  uint64_t* t = table.data();
  if (split) {
    if (slot8.size() < total) slot8.resize(total);
    for (size_t s = 0; s < m.alphabet(); s++) {
      const uint64_t f = m.freq[s], c = m.cum[s];
      t[s] = E::make(lut[s], c, f);
      std::memset(slot8.data() + c, int(s), f);
    }
    switch (scaleBits_) {
      case 13: return decodeMappedImpl<13, true, OutT>(p, len, n, n, &kOneClass, t, 0, slot8.data(), 0, out);
      case 14: return decodeMappedImpl<14, true, OutT>(p, len, n, n, &kOneClass, t, 0, slot8.data(), 0, out);
      default: return decodeMappedImpl<0, true, OutT>(p, len, n, n, &kOneClass, t, 0, slot8.data(), 0, out);
    }
  }
  for (size_t s = 0; s < m.alphabet(); s++) {
    const uint64_t f = m.freq[s], c = m.cum[s], v = lut[s];
    for (uint32_t j = 0; j < f; j++) t[c + j] = E::make(v, j, f);
  }
  switch (scaleBits_) {
    case 12: return decodeMappedImpl<12, false, OutT>(p, len, n, n, &kOneClass, t, 0, nullptr, 0, out);
    case 13: return decodeMappedImpl<13, false, OutT>(p, len, n, n, &kOneClass, t, 0, nullptr, 0, out);
    case 14: return decodeMappedImpl<14, false, OutT>(p, len, n, n, &kOneClass, t, 0, nullptr, 0, out);
    case 15: return decodeMappedImpl<15, false, OutT>(p, len, n, n, &kOneClass, t, 0, nullptr, 0, out);
    default: return decodeMappedImpl<0, false, OutT>(p, len, n, n, &kOneClass, t, 0, nullptr, 0, out);
  }
}

Status Decoder::decodeMapped(const uint8_t* p, size_t len, size_t n, const uint16_t* lut, uint16_t* out) const {
  return decodeMappedAny(p, len, n, lut, out);
}

template <class OutT>
Status Decoder::decodeBlocksMapped(const uint8_t* p, size_t len, size_t n, size_t blockSize,
                                   const uint8_t* blockClass, const OutT* lut, size_t lutSize, OutT* out) const {
  using E = MappedEntry<OutT>;
  if (!model0_ || count_ == 0) return Status::CorruptChunk;
  if (blockSize == 0 || blockSize % kLanes != 0) return Status::CorruptChunk;
  const uint32_t total = 1u << scaleBits_;
  const size_t A = model0_[0].alphabet();
  for (size_t k = 0; k < count_; k++)
    if (model0_[k].alphabet() != A) return Status::CorruptChunk;
  if (A > lutSize) return Status::CorruptChunk;
  const bool split = scaleBits_ > 12;
  if (split && A > 256) return Status::BadParams;  // a byte per slot cannot name the symbol: decodeBlocks
  // Per-thread tables, kept between calls: at most 8 × 2^12 entries (256 KB), or 8 × 2^15 slot bytes plus 8 × 256
  // entries when split.
  static thread_local std::vector<uint64_t> table;
  static thread_local std::vector<uint8_t> slot8;
  const size_t tableStride = split ? A : total;
  if (table.size() < count_ * tableStride) table.resize(count_ * tableStride);
  if (split && slot8.size() < count_ * total) slot8.resize(count_ * total);
  for (size_t k = 0; k < count_; k++) {
    const Model& m = model0_[k];
    uint64_t* t = table.data() + k * tableStride;
    for (size_t s = 0; s < A; s++) {
      const uint64_t f = m.freq[s], c = m.cum[s], v = lut[s];
      if (split) {
        t[s] = E::make(v, c, f);
        std::memset(slot8.data() + k * total + c, int(s), f);
      } else {
        for (uint32_t j = 0; j < f; j++) t[c + j] = E::make(v, j, f);
      }
    }
  }
  if (split) {
    switch (scaleBits_) {
      case 13: return decodeMappedImpl<13, true>(p, len, n, blockSize, blockClass, table.data(), A, slot8.data(), total, out);
      case 14: return decodeMappedImpl<14, true>(p, len, n, blockSize, blockClass, table.data(), A, slot8.data(), total, out);
      default: return decodeMappedImpl<0, true>(p, len, n, blockSize, blockClass, table.data(), A, slot8.data(), total, out);
    }
  }
  switch (scaleBits_) {
    case 12: return decodeMappedImpl<12, false>(p, len, n, blockSize, blockClass, table.data(), total, nullptr, 0, out);
    default: return decodeMappedImpl<0, false>(p, len, n, blockSize, blockClass, table.data(), total, nullptr, 0, out);
  }
}
template Status Decoder::decodeBlocksMapped<uint16_t>(const uint8_t*, size_t, size_t, size_t, const uint8_t*,
                                                      const uint16_t*, size_t, uint16_t*) const;
template Status Decoder::decodeBlocksMapped<uint32_t>(const uint8_t*, size_t, size_t, size_t, const uint8_t*,
                                                      const uint32_t*, size_t, uint32_t*) const;

template <uint32_t kSB>
Status Decoder::decodeCtxOrImpl(const uint8_t* p, size_t len, size_t n, const uint8_t* ctx, const uint64_t* table,
                                uint16_t* out) const {
  using E = MappedEntry<uint16_t>;
  if (len < 4 * kLanes || (len & 1)) return Status::CorruptChunk;
  const uint8_t* const end = p + len;
  uint32_t x[kLanes];
  if (!readLaneStates(p, x)) return Status::CorruptChunk;
  const uint32_t sb = kSB ? kSB : scaleBits_;
  const uint32_t mask = (1u << sb) - 1;
  uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
  // As decodeMappedImpl, with the table of the element's context; the value is ORed into out.
#define SP_STEP(st, k)                                                 \
  {                                                                    \
    const uint64_t e = table[(size_t(ctx[i + k]) << sb) + (st & mask)]; \
    out[i + k] |= uint16_t(e);                                         \
    st = E::freq(e) * (st >> sb) + E::adj(e);                          \
    uint16_t w16;                                                      \
    std::memcpy(&w16, p, 2);                                           \
    renormalise(st, w16, p);                                           \
  }
  size_t i = 0;
  while (i + kLanes <= n && end - p >= 2 * kLanes) {
    SP_STEP(x0, 0)
    SP_STEP(x1, 1)
    SP_STEP(x2, 2)
    SP_STEP(x3, 3)
    i += kLanes;
  }
#undef SP_STEP
  auto checkedStep = [&](uint32_t& st, size_t k) {
    const uint64_t e = table[(size_t(ctx[k]) << sb) + (st & mask)];
    out[k] |= uint16_t(e);
    st = E::freq(e) * (st >> sb) + E::adj(e);
    if (st < kL) {
      if (end - p < 2) return false;
      st = (st << 16) | uint32_t(p[0]) | uint32_t(p[1]) << 8;
      p += 2;
    }
    return true;
  };
  uint32_t xs[kLanes] = {x0, x1, x2, x3};
  for (; i < n; i++)
    if (!checkedStep(xs[i & 3], i)) return Status::CorruptChunk;
  if (p != end) return Status::CorruptChunk;
  if (xs[0] != kL || xs[1] != kL || xs[2] != kL || xs[3] != kL) return Status::CorruptChunk;
  return Status::Ok;
}

Status Decoder::decodeMappedCtxOr(const uint8_t* p, size_t len, size_t n, const uint8_t* ctx, const uint16_t* lut,
                                  size_t lutSize, uint16_t* out) const {
  if (!model0_ || count_ == 0) return Status::CorruptChunk;
  if (scaleBits_ > 12) return Status::BadParams;  // the caller decodes through decodeWith
  const uint32_t total = 1u << scaleBits_;
  // Per-thread table, kept between calls: count × 2^scaleBits entries (at most 256 KB for 8 contexts).
  static thread_local std::vector<uint64_t> table;
  if (table.size() < count_ * total) table.resize(count_ * total);
  for (size_t k = 0; k < count_; k++) {
    const Model& m = model0_[k];
    if (m.alphabet() > lutSize) return Status::CorruptChunk;
    uint64_t* t = table.data() + k * total;
    for (size_t s = 0; s < m.alphabet(); s++) {
      const uint64_t f = m.freq[s], c = m.cum[s], v = lut[s];
      for (uint32_t j = 0; j < f; j++) t[c + j] = MappedEntry<uint16_t>::make(v, j, f);
    }
  }
  switch (scaleBits_) {
    case 12: return decodeCtxOrImpl<12>(p, len, n, ctx, table.data(), out);
    default: return decodeCtxOrImpl<0>(p, len, n, ctx, table.data(), out);
  }
}
Status Decoder::decodeMapped(const uint8_t* p, size_t len, size_t n, const uint32_t* lut, uint32_t* out) const {
  return decodeMappedAny(p, len, n, lut, out);
}

}  // namespace sp::entropy
