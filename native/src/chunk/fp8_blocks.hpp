// FP8 with block scales (DeepSeek-V3 style), the fast way. Within one blockRows × blockCols block the scale is
// constant and an element has only 256 codes, so the quantizer's answer for (block, code) — symbol and
// reconstruction — is worked out once and looked up for every other element of the block; the decoder likewise
// maps (block, symbol) to a code once. Tables are per block column, rebuilt when the block row changes; chunks are
// walked row by row in segments of one block column, so no element pays a division.
// Two mappings: chunk version 2 (written now) takes each block's grid of dequantized codes (quantizer/grid.hpp),
// so every finite code has a bin; version 1 (still decoded; written only when a test asks) took the linear
// index round_fp8(q · 2eb / scale) and stored the codes it could not place as raw escapes.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../common/bytes.hpp"
#include "../common/status.hpp"
#include "../dtype/dtype.hpp"
#include "../measure/codes.hpp"
#include "../outliers/special.hpp"
#include "../predictor/predictor.hpp"
#include "../quantizer/grid.hpp"
#include "../quantizer/linear.hpp"
#include "chunk.hpp"

namespace sp::fp8 {

// Calls f(begin, end, blockCol, scale, newBlockRow) for every run [begin, end) of the chunk's elements that lies in
// one row and one block column, in element order. newBlockRow is true on the first run of each block row met.
// The chunk starts on a row boundary (checkParams) and its scales are in range.
template <class F>
void forEachSegment(const Fp8Scales& g, uint64_t firstElement, uint64_t n, F&& f) {
  uint64_t r = firstElement / g.cols;
  uint64_t lastBlockRow = ~uint64_t(0);
  for (uint64_t i = 0; i < n; r++) {
    const uint64_t br = r / g.blockRows;
    bool fresh = br != lastBlockRow;
    lastBlockRow = br;
    const float* scales = g.scales + br * g.scaleCols;
    for (uint64_t c = 0, bc = 0; c < g.cols && i < n; bc++) {
      const uint64_t len = std::min({g.blockCols, g.cols - c, n - i});
      f(i, i + len, bc, double(scales[bc]), fresh);
      fresh = false;
      i += len;
      c += len;
    }
  }
}

// ---------- version 1: linear index mapping

// Per-thread lazy tables. Encoder entry: gen << 20 | reconstruction code << 12 | symbol (symbols < 4096);
// decoder entry: gen << 8 | code. An entry whose gen differs from the current one is unknown.
struct Memo {
  std::vector<uint32_t> enc, dec;
  uint32_t encGen = 0, decGen = 0;
};
inline Memo& memo() {
  static thread_local Memo m;
  return m;
}
// Next generation for a table whose stamps have `bits` bits; on wrap-around every entry is cleared.
inline uint32_t nextGen(uint32_t& gen, std::vector<uint32_t>& table, unsigned bits) {
  if (++gen >= (1u << bits)) {
    std::fill(table.begin(), table.end(), 0u);
    gen = 1;
  }
  return gen;
}

// Pass 1 of the quantized encoder for block-scaled FP8: the zigzag quantization index of every element (predictor
// "none") or the escape symbol esc, and the code the decoder will reproduce, as the per-element path defines them.
template <class T>
void encodeSymbolsLinear(const uint8_t* in, uint64_t n, const ChunkParams& p, uint16_t esc, uint16_t* sym, uint8_t* rec) {
  static_assert(sizeof(typename T::Bits) == 1, "FP8 only");
  const Fp8Scales& g = *p.fp8;
  const quantizer::Linear<T> quant(p.eb);
  Memo& m = memo();
  if (m.enc.size() < g.scaleCols * 256) m.enc.resize(g.scaleCols * 256, 0);
  uint32_t* table = m.enc.data();
  uint32_t gen = 0;
  auto solve = [&](uint8_t b, double s) -> uint32_t {
    const double v = T::value(b);
    int64_t qi = 0;
    uint8_t rb = b;
    const bool esc0 = outliers::mustStoreExact<T>(b, v) || !(s > 0 && std::isfinite(s)) ||
                      !quant.template quantize<true>(v * s, s, qi, rb);
    uint32_t z = esc0 ? esc : zigzag32(qi);
    if (esc0 || z >= esc || qi <= -int64_t(esc) || qi >= int64_t(esc)) {
      z = esc;
      rb = b;
    }
    return gen << 20 | uint32_t(rb) << 12 | z;
  };
  forEachSegment(g, p.firstElement, n, [&](uint64_t begin, uint64_t end, uint64_t bc, double s, bool fresh) {
    if (fresh) gen = nextGen(m.encGen, m.enc, 12);
    // Locals, not captures: the byte stores below may alias anything reached through a reference.
    uint32_t* const t = table + bc * 256;
    const uint8_t* const src = in;
    uint16_t* const symOut = sym;
    uint8_t* const recOut = rec;
    const uint32_t stamp = gen;
    for (uint64_t i = begin; i < end; i++) {
      const uint8_t b = src[i];
      uint32_t e = t[b];
      if (__builtin_expect((e >> 20) != stamp, 0)) e = t[b] = solve(b, s);
      symOut[i] = uint16_t(e & 0xfff);
      recOut[i] = uint8_t(e >> 12);
    }
  });
}

// The decoder's mapping for block-scaled FP8: symbols sym[0..n) (alphabet A, escape A − 1) under predictor kind
// to codes in out, escapes taken in order from escBytes. Fails on anything the encoder cannot have written.
template <class T>
Status decodeSymbolsLinear(const uint16_t* sym, uint64_t n, uint32_t A, predictor::Kind kind, size_t R,
                     const int64_t* colOffset, const uint8_t* escBytes, uint64_t escCount, const ChunkParams& p,
                     uint8_t* out) {
  const Fp8Scales& g = *p.fp8;
  const quantizer::Linear<T> quant(p.eb);
  Memo& m = memo();
  if (m.dec.size() < g.scaleCols * A) m.dec.resize(g.scaleCols * A, 0);
  uint32_t* table = m.dec.data();
  uint32_t gen = 0;
  const uint16_t escSym = uint16_t(A - 1);
  uint64_t e = 0;
  bool bad = false;
  std::vector<int64_t> q(kind == predictor::kNone ? 0 : n);
  constexpr int64_t kClamp = int64_t(1) << 31;
  forEachSegment(g, p.firstElement, n, [&](uint64_t begin, uint64_t end, uint64_t bc, double s, bool fresh) {
    if (fresh) gen = nextGen(m.decGen, m.dec, 24);
    uint32_t* const t = table + bc * A;
    if (kind == predictor::kNone) {
      // Locals, not captures: the byte stores below may alias anything reached through a reference.
      const uint16_t* const src = sym;
      uint8_t* const dst = out;
      const uint32_t stamp = gen;
      const uint16_t escape = escSym;
      for (uint64_t i = begin; i < end; i++) {
        const uint16_t sy = src[i];
        if (__builtin_expect(sy == escape, 0)) {
          if (e >= escCount) {
            bad = true;
            return;
          }
          dst[i] = escBytes[e++];
          continue;
        }
        uint32_t x = t[sy];
        if (__builtin_expect((x >> 8) != stamp, 0)) x = t[sy] = stamp << 8 | quant.reconstruct(unzigzag32(sy), s);
        dst[i] = uint8_t(x);
      }
      return;
    }
    for (uint64_t i = begin; i < end; i++) {
      const uint16_t sy = sym[i];
      if (sy == escSym) {
        if (e >= escCount) {
          bad = true;
          return;
        }
        out[i] = escBytes[e++];
        q[i] = 0;
        continue;
      }
      int64_t v = predictor::predictAt(kind, q.data(), i, size_t(i % R), R, colOffset) + unzigzag32(sy);
      v = std::clamp(v, -kClamp, kClamp);  // only corrupt input gets here
      q[i] = v;
      const uint32_t z = zigzag32(v);
      if (z < A - 1) {
        uint32_t x = t[z];
        if ((x >> 8) != gen) x = t[z] = gen << 8 | quant.reconstruct(v, s);
        out[i] = uint8_t(x);
      } else {
        out[i] = quant.reconstruct(v, s);
      }
    }
  });
  if (bad || e != escCount) return Status::CorruptChunk;
  return Status::Ok;
}

// ---------- version 2: per-block code grid

// Dequantized values of the non-negative FP8 codes, before the scale; finite codes are 0..end−1 (E4M3: 0x7e is
// the largest, 0x7f NaN; E5M2: 0x7b, then Inf and NaN).
template <class T>
struct CodeValues {
  double v[128];
  uint32_t end = 0;
  CodeValues() {
    for (uint32_t c = 0; c < 128; c++) v[c] = T::value(uint8_t(c));
    while (end < 128 && std::isfinite(v[end])) end++;
  }
};
template <class T>
const CodeValues<T>& codeValues() {
  static const CodeValues<T> t;
  return t;
}

// One block's grid: the bins of the magnitude codes' values under scale s (value(c) · s, exact in double).
struct BlockGrid {
  uint8_t binOf[128];  // ordinal of each finite magnitude code
  uint8_t rep[128];    // centre code of each ordinal
  uint32_t bins = 0;
};
inline bool usableScale(double s) { return s > 0 && std::isfinite(s); }

template <class T>
void buildBlockGrid(double s, double eb, BlockGrid& g) {
  const CodeValues<T>& cv = codeValues<T>();
  g.bins = quantizer::buildBins(
      cv.end, eb, 128, [&](uint32_t c) { return cv.v[c] * s; },
      [&](uint32_t ord, uint32_t centre, uint32_t first, uint32_t last) {
        g.rep[ord] = uint8_t(centre);
        for (uint32_t k = first; k <= last; k++) g.binOf[k] = uint8_t(ord);
      });
}

// Per-thread tables, one slot per block column, each stamped with the block row generation it was built for
// (64-bit, so stamps never wrap). Encoder entry: reconstruction code << 16 | symbol; decoder entry: the code, or
// kEscapeEntry / kInvalidEntry.
constexpr uint16_t kEscapeEntry = 0x100, kInvalidEntry = 0x200;
struct GridMemo {
  std::vector<uint32_t> enc;
  std::vector<uint16_t> dec;
  std::vector<BlockGrid> grids;
  std::vector<uint64_t> encStamp, decStamp;
  uint64_t gen = 0;
  // Measuring: code counts per block column over the current block row, and each column's scale.
  std::vector<uint32_t> counts;
  std::vector<double> countScale;
  std::vector<uint8_t> counted;
};
inline GridMemo& gridMemo() {
  static thread_local GridMemo m;
  return m;
}

// Pass 1 of the quantized encoder for block-scaled FP8 (version 2): the zigzag signed bin ordinal of every element
// (predictor "none") or the escape symbol esc, and the code the decoder will reproduce. Escapes: NaN, ±Inf and −0
// codes, blocks whose scale is not positive and finite, and (never expected) a centre outside the bound.
// With sums, the elements are also measured (reconstruction as written to rec): codes are counted per block column
// and folded into sums where a block row ends, while the tables still hold that row's reconstructions.
// Compiled apart with and without measuring, so that the plain encoder's loop stays as it was.
template <class T, bool kMeasure>
void encodeSymbolsGridImpl(const uint8_t* in, uint64_t n, const ChunkParams& p, uint16_t esc, uint16_t* sym,
                           uint8_t* rec, measure::CodeSums* sums) {
  static_assert(sizeof(typename T::Bits) == 1, "FP8 only");
  const Fp8Scales& g = *p.fp8;
  const CodeValues<T>& cv = codeValues<T>();
  GridMemo& m = gridMemo();
  if (m.enc.size() < g.scaleCols * 256) m.enc.resize(g.scaleCols * 256);
  if (m.encStamp.size() < g.scaleCols) m.encStamp.resize(g.scaleCols, 0);
  BlockGrid bg;
  auto fill = [&](uint32_t* t, double s) {
    const bool usable = usableScale(s);
    if (usable) buildBlockGrid<T>(s, p.eb, bg);
    for (uint32_t b = 0; b < 256; b++) {
      const uint32_t mag = b & 0x7f, neg = b & 0x80;
      uint32_t e = uint32_t(b) << 16 | esc;
      if (usable && mag < cv.end && b != 0x80) {
        const uint32_t ord = bg.binOf[mag];
        const uint32_t rb = ord == 0 ? 0 : (bg.rep[ord] | neg);
        const double x = (neg ? -cv.v[mag] : cv.v[mag]) * s;
        const double y = (neg && ord ? -cv.v[rb & 0x7f] : cv.v[rb & 0x7f]) * s;
        if (std::fabs(y - x) <= p.eb) e = rb << 16 | zigzag32(neg ? -int64_t(ord) : int64_t(ord));
      }
      t[b] = e;
    }
  };
  if constexpr (kMeasure) {
    m.counts.assign(g.scaleCols * 256, 0);
    m.countScale.resize(g.scaleCols);
    m.counted.assign(g.scaleCols, 0);
  }
  const double* values = measure::fp8Values(T::kind);  // as compareChunk decodes: value(code) · scale
  auto fold = [&]() {
    for (uint64_t bc = 0; bc < g.scaleCols; bc++) {
      if (!m.counted[bc]) continue;
      m.counted[bc] = 0;
      const uint32_t* t = m.enc.data() + bc * 256;
      uint32_t* c = m.counts.data() + bc * 256;
      const double s = m.countScale[bc];
      for (uint32_t b = 0; b < 256; b++) {
        if (!c[b]) continue;
        sums->add(values[b] * s, values[uint8_t(t[b] >> 16)] * s, c[b]);
        c[b] = 0;
      }
    }
  };
  uint64_t gen = 0;
  forEachSegment(g, p.firstElement, n, [&](uint64_t begin, uint64_t end, uint64_t bc, double s, bool fresh) {
    if (fresh) {
      if constexpr (kMeasure) fold();
      gen = ++m.gen;
    }
    uint32_t* const t = m.enc.data() + bc * 256;
    if (m.encStamp[bc] != gen) {
      fill(t, s);
      m.encStamp[bc] = gen;
    }
    if constexpr (kMeasure) {
      m.counted[bc] = 1;
      m.countScale[bc] = s;
      const uint8_t* const src = in;
      uint16_t* const symOut = sym;
      uint8_t* const recOut = rec;
      uint32_t* const cnt = m.counts.data() + bc * 256;
      for (uint64_t i = begin; i < end; i++) {
        const uint8_t b = src[i];
        const uint32_t e = t[b];
        symOut[i] = uint16_t(e);
        recOut[i] = uint8_t(e >> 16);
        cnt[b]++;
      }
    } else {
      // Locals, not captures: the byte stores below may alias anything reached through a reference.
      const uint8_t* const src = in;
      uint16_t* const symOut = sym;
      uint8_t* const recOut = rec;
      for (uint64_t i = begin; i < end; i++) {
        const uint32_t e = t[src[i]];
        symOut[i] = uint16_t(e);
        recOut[i] = uint8_t(e >> 16);
      }
    }
  });
  if constexpr (kMeasure) fold();
}
template <class T>
void encodeSymbolsGrid(const uint8_t* in, uint64_t n, const ChunkParams& p, uint16_t esc, uint16_t* sym,
                       uint8_t* rec, measure::CodeSums* sums = nullptr) {
  if (sums)
    encodeSymbolsGridImpl<T, true>(in, n, p, esc, sym, rec, sums);
  else
    encodeSymbolsGridImpl<T, false>(in, n, p, esc, sym, rec, nullptr);
}

// The decoder's mapping for block-scaled FP8 (version 2): symbols sym[0..n) (alphabet A, escape A − 1) under
// predictor kind to codes in out, escapes taken in order from escBytes. Fails on anything the encoder cannot have
// written: an ordinal beyond the block's bins, a symbol with predictor "none" beyond the largest possible ordinal.
template <class T>
Status decodeSymbolsGrid(const uint16_t* sym, uint64_t n, uint32_t A, predictor::Kind kind, size_t R,
                         const int64_t* colOffset, const uint8_t* escBytes, uint64_t escCount, const ChunkParams& p,
                         uint8_t* out) {
  const Fp8Scales& g = *p.fp8;
  // Without a predictor a symbol is zigzag(±ordinal) < 2 · 127, plus the escape.
  if (kind == predictor::kNone && A > 2 * 127 + 1) return Status::CorruptChunk;
  GridMemo& m = gridMemo();
  if (m.grids.size() < g.scaleCols) m.grids.resize(g.scaleCols);
  if (m.decStamp.size() < g.scaleCols) m.decStamp.resize(g.scaleCols, 0);
  if (kind == predictor::kNone && m.dec.size() < g.scaleCols * A) m.dec.resize(g.scaleCols * A);
  const uint16_t escSym = uint16_t(A - 1);
  uint64_t e = 0;
  bool bad = false;
  std::vector<int64_t> q(kind == predictor::kNone ? 0 : n);
  constexpr int64_t kClamp = int64_t(1) << 31;
  uint64_t gen = 0;
  forEachSegment(g, p.firstElement, n, [&](uint64_t begin, uint64_t end, uint64_t bc, double s, bool fresh) {
    if (fresh) gen = ++m.gen;
    BlockGrid& bg = m.grids[bc];
    const bool usable = usableScale(s);
    if (m.decStamp[bc] != gen) {
      m.decStamp[bc] = gen;
      bg.bins = 0;  // no ordinal is valid under an unusable scale: its elements are all escapes
      if (usable) buildBlockGrid<T>(s, p.eb, bg);
      if (kind == predictor::kNone) {
        uint16_t* t = m.dec.data() + bc * A;
        std::fill(t, t + A, kInvalidEntry);
        for (uint32_t ord = 0; ord < bg.bins; ord++) {
          const uint32_t zp = zigzag32(int64_t(ord)), zn = zigzag32(-int64_t(ord));
          if (zp < A) t[zp] = ord ? bg.rep[ord] : 0;
          if (ord && zn < A) t[zn] = uint16_t(bg.rep[ord] | 0x80);
        }
        t[escSym] = kEscapeEntry;
      }
    }
    if (kind == predictor::kNone) {
      // Locals, not captures: the byte stores below may alias anything reached through a reference.
      const uint16_t* const t = m.dec.data() + bc * A;
      const uint16_t* const src = sym;
      uint8_t* const dst = out;
      for (uint64_t i = begin; i < end; i++) {
        const uint16_t x = t[src[i]];
        if (__builtin_expect(x > 0xff, 0)) {
          if (x != kEscapeEntry || e >= escCount) {
            bad = true;
            return;
          }
          dst[i] = escBytes[e++];
          continue;
        }
        dst[i] = uint8_t(x);
      }
      return;
    }
    for (uint64_t i = begin; i < end; i++) {
      const uint16_t sy = sym[i];
      if (sy == escSym) {
        if (e >= escCount) {
          bad = true;
          return;
        }
        out[i] = escBytes[e++];
        q[i] = 0;
        continue;
      }
      int64_t v = predictor::predictAt(kind, q.data(), i, size_t(i % R), R, colOffset) + unzigzag32(sy);
      v = std::clamp(v, -kClamp, kClamp);  // only corrupt input gets here
      q[i] = v;
      const uint64_t ord = uint64_t(v < 0 ? -v : v);
      if (ord >= bg.bins) {
        bad = true;
        return;
      }
      out[i] = ord == 0 ? 0 : uint8_t(bg.rep[ord] | (v < 0 ? 0x80 : 0));
    }
  });
  if (bad || e != escCount) return Status::CorruptChunk;
  return Status::Ok;
}

}  // namespace sp::fp8
