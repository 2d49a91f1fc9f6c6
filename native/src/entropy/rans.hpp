// Entropy coder stage: static-model rANS, four interleaved states, 16-bit renormalisation.
// The model (a normalised frequency table) is stored compactly in front of each stream, so small chunks
// pay tens of bytes for it, not kilobytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../common/bytes.hpp"
#include "../common/status.hpp"

namespace sp::entropy {

constexpr uint32_t kMaxScaleBits = 15;
constexpr uint32_t kMinScaleBits = 9;
constexpr uint32_t kMaxAlphabet = 4096;
constexpr uint32_t kL = 1u << 15;  // states live in [L, 2^31): the encoder's reciprocal division is exact there
constexpr int kLanes = 4;

struct Model {
  uint32_t scaleBits = 12;
  std::vector<uint32_t> freq;  // sums to 1 << scaleBits
  std::vector<uint32_t> cum;
  size_t alphabet() const { return freq.size(); }
};

// Picks the model precision for a stream of n symbols: small streams get coarse (cheap to store) tables.
uint32_t scaleBitsFor(uint64_t n);

// Turns symbol counts into a model whose every present symbol keeps a nonzero frequency.
void buildModel(const uint32_t* counts, size_t alphabet, uint32_t scaleBits, Model& m);

// Ideal coded size in bits of the counted symbols under model m (for choosing between options).
double modelCostBits(const uint32_t* counts, const Model& m);
// Order-0 entropy of counts in bits (total, not per symbol).
double entropyBits(const uint32_t* counts, size_t alphabet);

void writeModel(BitWriter& bw, const Model& m);
Status readModel(BitReader& br, uint32_t maxAlphabet, Model& m);

// Appends the coded stream (states first, then 16-bit words in decode order) to out. With ctx (one byte per
// symbol, < models count) each symbol is coded under models[ctx[i]]; all models share one scaleBits.
void encode(const uint16_t* syms, const uint8_t* ctx, size_t n, const Model* models, std::vector<uint8_t>& out);

// Decoder with slot→symbol tables; the tables live in the object so one decoder serves a whole stream.
class Decoder {
 public:
  Status init(const Model* models, size_t count);
  // Decodes n symbols from [p, p+len) into out; any inconsistency gives CorruptChunk. ctx values must be
  // < count (the caller derives them from already-validated data).
  Status decode(const uint8_t* p, size_t len, size_t n, const uint8_t* ctx, uint16_t* out) const;
  // The same, handing each symbol to sink(i, s) as it is decoded (lets callers map symbols to values in the
  // same pass).
  template <bool kCtx, class Sink>
  Status decodeWith(const uint8_t* p, size_t len, size_t n, const uint8_t* ctx, Sink&& sink) const;
  // Single-model streams straight to 16-bit values: out[i] = lut[symbol i] (lut has one entry per symbol of
  // the model). One 64-bit table entry per slot (value | slot − cum | freq) puts a single load on each lane's
  // dependency chain, and no per-symbol lookups remain besides it.
  Status decodeMapped(const uint8_t* p, size_t len, size_t n, const uint16_t* lut, uint16_t* out) const;
  // The same to 32-bit values (F32 output of 16-bit inputs).
  Status decodeMapped(const uint8_t* p, size_t len, size_t n, const uint32_t* lut, uint32_t* out) const;
  // Block-context streams (as decodeBlocks) straight to values: out[i] = lut[symbol i], one 64-bit entry per
  // (class, slot) up to 12-bit precision, a byte per slot and one entry per (class, symbol) above it (alphabets
  // up to 256; BadParams otherwise, for the caller to use decodeBlocks). All models must share one alphabet.
  template <class OutT>
  Status decodeBlocksMapped(const uint8_t* p, size_t len, size_t n, size_t blockSize, const uint8_t* blockClass,
                            const OutT* lut, size_t lutSize, OutT* out) const;
  // Context-coded streams ORed into 16-bit values: out[i] |= lut[symbol i], symbol i under model ctx[i] (< the
  // model count; lut has lutSize entries, at least every model's alphabet). One 64-bit entry per (context, slot),
  // as decodeMapped. Precisions up to 12 bits only (the tables then stay in L2): BadParams otherwise.
  Status decodeMappedCtxOr(const uint8_t* p, size_t len, size_t n, const uint8_t* ctx, const uint16_t* lut,
                           size_t lutSize, uint16_t* out) const;
  // Block contexts: symbols [b·blockSize, (b+1)·blockSize) use model blockClass[b]; blockSize must be a
  // multiple of 4 (the lane count) so that model switches fall between rounds. Faster than per-symbol ctx.
  template <class Sink>
  Status decodeBlocks(const uint8_t* p, size_t len, size_t n, size_t blockSize, const uint8_t* blockClass,
                      Sink&& sink) const;

 private:
  template <bool kCtx, uint32_t kSB, bool kPacked, class Sink>
  Status decodeImpl(const uint8_t* p, size_t len, size_t n, const uint8_t* ctx, Sink& sink, size_t blockSize = 0,
                    const uint8_t* blockClass = nullptr) const;
  template <uint32_t kSB>
  Status decodeCtxOrImpl(const uint8_t* p, size_t len, size_t n, const uint8_t* ctx, const uint64_t* table,
                         uint16_t* out) const;
  template <class OutT>
  Status decodeMappedAny(const uint8_t* p, size_t len, size_t n, const OutT* lut, OutT* out) const;
  // The mapped decoder: blocks of blockSize symbols (a multiple of the lane count, or ≥ n for one block), block
  // b under the table of class blockClass[b] (at table + class × tableStride, slot8 + class × slotStride).
  template <uint32_t kSB, bool kSplit, class OutT>
  Status decodeMappedImpl(const uint8_t* p, size_t len, size_t n, size_t blockSize, const uint8_t* blockClass,
                          const uint64_t* table, size_t tableStride, const uint8_t* slot8, size_t slotStride,
                          OutT* out) const;
  // Single-model streams with at most 256 symbols and scaleBits <= 12 also get one 32-bit entry per slot:
  // symbol (8 bits) | freq − 1 (12 bits) | slot − cum (12 bits), so a step costs one table load.
  // The general decoder's tables (decodeWith, decodeBlocks), built from the models on first use.
  void buildTables() const;
  mutable bool tablesBuilt_ = false;
  mutable std::vector<uint32_t> packed_;
  uint32_t scaleBits_ = 0;
  size_t count_ = 0;
  const Model* model0_ = nullptr;  // the single model (decodeMapped); valid while the caller's models live
  mutable std::vector<uint16_t> slot_;     // count × 2^scaleBits
  mutable std::vector<uint32_t> freqCum_;  // freq << 16 | cum, models laid end to end
  mutable std::vector<uint32_t> offset_;   // where each model starts in freqCum_
};


// Renormalisation without a branch (a branch there is mispredicted on a large share of steps): if st < 2^15,
// shift in word w and advance p by 2. On x86-64 two conditional moves (compilers otherwise emit a branch or
// variable shifts); elsewhere arithmetic selects.
static_assert(kL == 0x8000, "renormalise compares against 2^15");
inline void renormalise(uint32_t& st, uint16_t w, const uint8_t*& p) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  const uint32_t t = (st << 16) | uint32_t(w);
  const uint8_t* p2 = p + 2;
  __asm__("cmpl $0x8000, %0\n\tcmovb %2, %0\n\tcmovb %3, %1" : "+r"(st), "+r"(p) : "r"(t), "r"(p2) : "cc");
#else
  const uint32_t r = st < kL;
  st = (st << (r << 4)) | (uint32_t(w) & (0u - r));
  p += r << 1;
#endif
}

// The four lane states a stream starts with (u32 little-endian each), each in [2^15, 2^31); advances p.
inline bool readLaneStates(const uint8_t*& p, uint32_t* x) {
  for (int l = 0; l < kLanes; l++) {
    x[l] = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
    p += 4;
    if (x[l] < kL || x[l] >= (1u << 31)) return false;
  }
  return true;
}

template <bool kCtx, uint32_t kSB, bool kPacked, class Sink>
Status Decoder::decodeImpl(const uint8_t* p, size_t len, size_t n, const uint8_t* ctx, Sink& outerSink,
                           size_t blockSize, const uint8_t* blockClass) const {
  if (len < 4 * kLanes || (len & 1)) return Status::CorruptChunk;
  // A private copy: no store the sink makes can alias it, so its fields stay in registers.
  Sink sink(outerSink);
  const uint8_t* end = p + len;
  uint32_t x[kLanes];
  if (!readLaneStates(p, x)) return Status::CorruptChunk;
  // kSB = 0 means "not specialised": read the precision at run time.
  const uint32_t sb = kSB ? kSB : scaleBits_;
  const uint32_t mask = (1u << sb) - 1;
  const uint16_t* slot = slot_.data();
  const uint32_t* fc = freqCum_.data();
  const uint32_t* off = offset_.data();
  const uint32_t* packed = packed_.data();
  // Block mode: point slot/fc at the current block's model at each block start.
  size_t nextBlock = blockClass ? 0 : SIZE_MAX, block = 0;
  auto switchModel = [&](size_t i) {
    if (i == nextBlock) {
      const uint32_t c = blockClass[block++];
      slot = slot_.data() + (size_t(c) << sb);
      fc = freqCum_.data() + offset_[c];
      nextBlock += blockSize;
    }
  };
  // One decoding step; kChecked guards the renormalisation read (only needed near the end of the stream).
  auto step = [&](auto checked, uint32_t& st, size_t i) {
    const uint32_t sl = st & mask;
    uint16_t s;
    if constexpr (kPacked) {
      const uint32_t e = packed[sl];
      s = uint16_t(e & 0xff);
      st = (((e >> 8) & 0xfff) + 1) * (st >> sb) + (e >> 20);
    } else {
      uint32_t e;
      if constexpr (kCtx) {
        const uint32_t c = ctx[i];
        s = slot[(size_t(c) << sb) + sl];
        e = fc[off[c] + s];
      } else {
        s = slot[sl];
        e = fc[s];
      }
      st = (e >> 16) * (st >> sb) + sl - (e & 0xffff);
    }
    if constexpr (decltype(checked)::value) {
      const bool in16 = st < kL;
      const uint32_t word = p < end ? (uint32_t(p[0]) | uint32_t(p[1]) << 8) : 0;  // never reads past the end
      const uint32_t r = in16;
      st = (st << (r << 4)) | (word & (0u - r));
      p += r << 1;
    } else {
      uint16_t w16;
      std::memcpy(&w16, p, 2);  // little-endian host
      renormalise(st, w16, p);
    }
    sink(i, s);
  };
  using Checked = std::true_type;
  using Unchecked = std::false_type;
  uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    switchModel(i);
    if (end - p >= 2 * kLanes) {  // a round reads at most one word per lane
      step(Unchecked{}, x0, i);
      step(Unchecked{}, x1, i + 1);
      step(Unchecked{}, x2, i + 2);
      step(Unchecked{}, x3, i + 3);
    } else {
      step(Checked{}, x0, i);
      step(Checked{}, x1, i + 1);
      step(Checked{}, x2, i + 2);
      step(Checked{}, x3, i + 3);
      if (p > end) {
        outerSink = sink;
        return Status::CorruptChunk;
      }
    }
  }
  if (i < n) switchModel(i);
  if (i < n) step(Checked{}, x0, i++);
  if (i < n) step(Checked{}, x1, i++);
  if (i < n) step(Checked{}, x2, i++);
  outerSink = sink;
  if (p != end) return Status::CorruptChunk;
  if (x0 != kL || x1 != kL || x2 != kL || x3 != kL) return Status::CorruptChunk;
  return Status::Ok;
}

template <class Sink>
Status Decoder::decodeBlocks(const uint8_t* p, size_t len, size_t n, size_t blockSize, const uint8_t* blockClass,
                             Sink&& sink) const {
  if (blockSize == 0 || blockSize % kLanes != 0) return Status::CorruptChunk;
  if (!tablesBuilt_) buildTables();
  switch (scaleBits_) {
    case 12: return decodeImpl<false, 12, false>(p, len, n, nullptr, sink, blockSize, blockClass);
    case 13: return decodeImpl<false, 13, false>(p, len, n, nullptr, sink, blockSize, blockClass);
    case 14: return decodeImpl<false, 14, false>(p, len, n, nullptr, sink, blockSize, blockClass);
    default: return decodeImpl<false, 0, false>(p, len, n, nullptr, sink, blockSize, blockClass);
  }
}

template <bool kCtx, class Sink>
Status Decoder::decodeWith(const uint8_t* p, size_t len, size_t n, const uint8_t* ctx, Sink&& sink) const {
  if (!tablesBuilt_) buildTables();
  // Constant precision lets the compiler fold the shifts and masks in the hot loop.
  if (!kCtx && !packed_.empty()) {
    return scaleBits_ == 12 ? decodeImpl<false, 12, true>(p, len, n, ctx, sink)
                            : decodeImpl<false, 0, true>(p, len, n, ctx, sink);
  }
  switch (scaleBits_) {
    case 12: return decodeImpl<kCtx, 12, false>(p, len, n, ctx, sink);
    case 13: return decodeImpl<kCtx, 13, false>(p, len, n, ctx, sink);
    case 14: return decodeImpl<kCtx, 14, false>(p, len, n, ctx, sink);
    default: return decodeImpl<kCtx, 0, false>(p, len, n, ctx, sink);
  }
}

}  // namespace sp::entropy
