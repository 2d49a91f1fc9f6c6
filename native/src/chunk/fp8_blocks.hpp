// FP8 with block scales (DeepSeek-V3 style), the fast way. Within one blockRows × blockCols block the scale is
// constant and an element has only 256 codes, so the quantizer's answer for (block, code) — symbol and
// reconstruction — is worked out once and looked up for every other element of the block; the decoder likewise
// maps (block, symbol) to a code once. Tables are per block column, filled lazily and invalidated by a generation
// stamp when the block row changes; chunks are walked row by row in segments of one block column, so no element
// pays a division. The results are exactly those of the per-element quantizer (same bitstream).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../common/bytes.hpp"
#include "../common/status.hpp"
#include "../dtype/dtype.hpp"
#include "../outliers/special.hpp"
#include "../predictor/predictor.hpp"
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
void encodeSymbols(const uint8_t* in, uint64_t n, const ChunkParams& p, uint16_t esc, uint16_t* sym, uint8_t* rec) {
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
Status decodeSymbols(const uint16_t* sym, uint64_t n, uint32_t A, predictor::Kind kind, size_t R,
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

}  // namespace sp::fp8
