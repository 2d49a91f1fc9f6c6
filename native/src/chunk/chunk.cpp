// Chunk composition. Header (12 bytes): magic, version, method, dtype, u32 element count, u32 checksum of the
// decoded bytes (version 3: zlib CRC-32; 1 and 2: checksum32). Methods: raw copy, lossless byte planes, quantized.
#include "chunk.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "../common/bytes.hpp"
#include "../common/checksum.hpp"
#include "../common/crc32.hpp"
#include "../entropy/context.hpp"
#include "../entropy/rans.hpp"
#include "../lossless/planes.hpp"
#include "../measure/codes.hpp"
#include "../measure/measure.hpp"
#include "../outliers/special.hpp"
#include "../predictor/predictor.hpp"
#include "../quantizer/grid.hpp"
#include "../quantizer/linear.hpp"
#include "fp8_blocks.hpp"

namespace sp {

namespace {

enum Method : uint8_t { kRaw = 0, kPlanes = 1, kQuantized = 2 };

constexpr uint8_t kFlagBlockContexts = 1;
// Header dtype byte: the input dtype, with this bit set when the chunk decodes to F32 (ChunkParams::wideOutput).
constexpr uint8_t kDtypeWide = 0x80;

// Alphabet of residual symbols: zigzag(residual) below kEsc, and one escape symbol (always the last).
constexpr uint32_t kMaxSymbols = entropy::kMaxAlphabet;

struct ScaleGrid {
  const Fp8Scales* g;
  uint64_t first;
  double at(uint64_t i) const {
    const uint64_t e = first + i;
    const uint64_t r = e / g->cols, c = e % g->cols;
    return double(g->scales[(r / g->blockRows) * g->scaleCols + c / g->blockCols]);
  }
};

// The version a chunk is written with: 4 for F32 output, else 3, or 1 for the tests' linear block-scaled FP8
// quantized chunks (the linear mapping exists only there).
uint8_t chunkVersion(Method m, const ChunkParams& p) {
  if (p.wideOutput) return 4;
  return m == kQuantized && p.fp8 && p.fp8Linear ? 1 : 3;
}

// The checksum a chunk of this version carries over its decoded bytes.
uint32_t chunkChecksum(uint8_t version, const uint8_t* decoded, uint64_t bytes) {
  return version >= 3 ? crc32(decoded, bytes) : checksum32(decoded, bytes);
}

// version: the oldest codec version that decodes the chunk.
void writeHeader(std::vector<uint8_t>& out, Method m, Dtype d, uint64_t n, uint32_t sum, uint8_t version = 3,
                 bool wide = false) {
  ByteWriter w(out);
  w.u8(kChunkMagic);
  w.u8(version);
  w.u8(m);
  w.u8(uint8_t(uint8_t(d) | (wide ? kDtypeWide : 0)));
  w.u32(uint32_t(n));
  w.u32(sum);
}

// ---------- quantized (lossy) path

// 16-bit dtypes without block scales use the grid quantizer; its tables depend only on (dtype, eb), so each
// thread keeps the last one it built.
template <class T>
constexpr bool kUsesGrid = sizeof(typename T::Bits) == 2;

template <class T>
const quantizer::Grid<T>& gridFor(double eb) {
  static thread_local quantizer::Grid<T> cache;
  if (!(cache.eb == eb)) cache.build(eb);
  return cache;
}

// How many of v[0..n) equal x. For 16-bit words four are tested at once (SWAR: a lane of ~w ^ ~x is zero
// exactly where w == x), since sentinels are rare and the scan runs on every decoded chunk.
template <class W>
uint64_t countEqual(const W* v, uint64_t n, W x) {
  uint64_t c = 0, i = 0;
  if constexpr (sizeof(W) == 2) {
    constexpr uint64_t kOnes = 0x0001000100010001ull, kHigh = 0x8000800080008000ull;
    const uint64_t xx = uint64_t(x) * kOnes;
    for (; i + 4 <= n; i += 4) {
      uint64_t w;
      std::memcpy(&w, v + i, 8);
      const uint64_t t = w ^ xx;  // zero lanes where equal
      uint64_t zero = (t - kOnes) & ~t & kHigh;
      if (__builtin_expect(zero != 0, 0)) {
        // The borrow trick can flag a lane above a true zero lane; count exactly.
        for (int k = 0; k < 4; k++) c += v[i + k] == x;
      }
    }
  }
  for (; i < n; i++) c += v[i] == x;
  return c;
}

// Dtype bits of signed grid ordinal s (|s| < bins).
template <class T>
typename T::Bits gridValue(const quantizer::Grid<T>& g, int64_t s) {
  return s >= 0 ? g.rep[size_t(s)] : uint16_t(g.rep[size_t(-s)] | 0x8000);
}

// Grid quantization of one 16-bit value: reconstruction bits << 16 | symbol (zigzag ordinal, or kEsc when the
// value is stored exactly). Depends only on (dtype, bound, bits), hence memoised below.
constexpr uint32_t kMemoUnknown = 0xFFFFFFFFu;  // symbol 0xFFFF never occurs (symbols stay below kMaxSymbols)
template <class T>
uint32_t quantizeGrid(typename T::Bits b, double eb) {
  using Bits = typename T::Bits;
  constexpr uint16_t kEsc = kMaxSymbols - 1;
  const quantizer::Grid<T>& grid16 = gridFor<T>(eb);
  const double v = T::value(b);
  const int32_t ord = grid16.binOf[b & 0x7fff];
  bool esc = outliers::mustStoreExact<T>(b, v) || ord < 0;
  const int64_t sg = (b & 0x8000) ? -int64_t(ord) : int64_t(ord);
  Bits rb = b;
  if (!esc) {
    rb = gridValue(grid16, sg);
    esc = !(std::fabs(T::value(rb) - v) <= eb);  // the grid guarantees this; checked anyway
  }
  const uint32_t zz = zigzag32(sg);
  if (esc || zz >= kEsc) return uint32_t(b) << 16 | kEsc;
  return uint32_t(rb) << 16 | zz;
}
template <class T>
uint32_t* memoFor(double eb) {
  static thread_local std::vector<uint32_t> memo;
  static thread_local double memoEb = -1;
  if (memo.empty() || !(memoEb == eb)) {
    memo.assign(65536, kMemoUnknown);
    memoEb = eb;
  }
  return memo.data();
}

// F32 output of 16-bit inputs: symbol and F32 reconstruction of every code, per (dtype, bound) and thread (the
// whole table at once: 65,536 entries cost less than one chunk), and the centres for the decoder.
template <class T>
struct WideMemo {
  double eb = -1;
  std::vector<uint16_t> sym;  // zigzag ordinal, or kMaxSymbols − 1 (stored exactly)
  std::vector<uint32_t> rec;  // F32 bits the decoder produces
  std::vector<uint32_t> rep;  // the grid's centres, by ordinal
};
inline uint32_t signedCentre(const std::vector<uint32_t>& rep, int64_t s) {
  return s >= 0 ? rep[size_t(s)] : rep[size_t(-s)] | 0x80000000u;
}
template <class T>
const WideMemo<T>& wideMemoFor(double eb) {
  static thread_local WideMemo<T> m;
  if (!(m.eb == eb)) {
    constexpr uint16_t kEsc = kMaxSymbols - 1;
    quantizer::WideGrid<T> g;
    g.build(eb);
    m.sym.resize(65536);
    m.rec.resize(65536);
    for (uint32_t c = 0; c < 65536; c++) {
      const uint16_t b = uint16_t(c);
      const double v = T::value(b);
      const int32_t ord = g.binOf[b & 0x7fff];
      bool esc = outliers::mustStoreExact<T>(b, v) || ord < 0;
      uint32_t zz = kEsc, r = T::widen(b);
      if (!esc) {
        const int64_t sg = (b & 0x8000) ? -int64_t(ord) : int64_t(ord);
        zz = zigzag32(sg);
        r = signedCentre(g.rep, sg);
        esc = zz >= kEsc || !(std::fabs(double(bitsToFloat(r)) - v) <= eb);  // the grid guarantees it; checked
      }
      m.sym[c] = esc ? kEsc : uint16_t(zz);
      m.rec[c] = esc ? T::widen(b) : r;
    }
    m.rep = std::move(g.rep);
    m.eb = eb;
  }
  return m;
}

// Returns the checksum (chunkChecksum) of the reconstruction the decoder will produce.
// Per-thread working memory, reused across chunks so large chunks do not pay page faults on every call.
struct EncodeScratch {
  std::vector<uint16_t> sym;
  std::vector<uint8_t> rec;  // reconstruction bytes (for the checksum)
  std::vector<int64_t> q;
  std::vector<uint32_t> hist;
  std::vector<uint8_t> stream;  // the symbol stream before it is copied behind its length
  std::vector<uint8_t> ctx;     // per-element block class, with block contexts
  // Measured 16-bit chunks: how many elements hold each code (codes[0..65536)), the memo table mapping a code to
  // its reconstruction (null when the codes were not counted), and the codes of elements the predictor turned
  // into exact escapes.
  std::vector<uint32_t> codes;
  const uint32_t* codeMemo = nullptr;
  std::vector<uint16_t> exactCodes;
  // Measured block-scaled FP8 chunks: sums folded by the symbol pass (valid when fp8Counted).
  measure::CodeSums fp8Sums{0.0};
  bool fp8Counted = false;
  // CRC-32s the 16-bit grid loop takes block by block while the bytes are in cache: of the input (measured
  // chunks, when wantInputCrc) and of the reconstruction as quantized (before any predictor escape changes it).
  bool wantInputCrc = false, inputCrcDone = false, recCrcDone = false;
  uint32_t inputCrc = 0, recCrc = 0;
};
EncodeScratch& encodeScratch() {
  static thread_local EncodeScratch s;
  return s;
}
void releaseScratch() {
  EncodeScratch& s = encodeScratch();
  s = EncodeScratch();
}
template <class V>
void fit(V& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// Code counts (countCodes, for measuring) cost one table of 65,536 counts to clear and fold, so they are taken for
// 16-bit chunks of at least this many elements; smaller ones are measured by the element pass. Block-scaled FP8
// folds 256 counts per block: blocks of at least kCountBlockMin elements.
constexpr uint64_t kCountCodesMin = 1u << 15;
// Elements quantized between two digests of input and reconstruction: 32 KB of each for 16-bit dtypes.
constexpr uint64_t kDigestBlock = 1u << 14;
constexpr uint64_t kCountBlockMin = 1024;

template <class T, bool kScaled, bool kWide = false>
uint32_t encodeQuantized(const uint8_t* in, uint64_t n, const ChunkParams& p, bool countCodes,
                         std::vector<uint8_t>& out) {
  using Bits = typename T::Bits;
  constexpr unsigned B = sizeof(Bits);
  // The reconstruction's element: the input dtype, or F32 for wide output.
  using OutBits = std::conditional_t<kWide, uint32_t, Bits>;
  constexpr unsigned OB = sizeof(OutBits);
  constexpr uint16_t kEsc = kMaxSymbols - 1;  // provisional escape symbol; becomes A − 1 below
  const quantizer::Linear<T> quant(p.eb);
  const ScaleGrid grid{p.fp8, p.firstElement};
  EncodeScratch& sc = encodeScratch();
  sc.inputCrcDone = sc.recCrcDone = false;
  fit(sc.sym, n);
  fit(sc.rec, n * OB);
  uint16_t* sym = sc.sym.data();
  uint8_t* rec = sc.rec.data();
  // Pass 1: quantization index of every element as zigzag symbol (predictor "none"), or the escape.
  // Symbol counts, taken in the quantizing pass when no predictor follows. Four interleaved tables, so that
  // runs of one symbol do not wait on their own increments.
  // Small chunks use one table: clearing four would cost more than they save.
  const size_t histWays = n >= (1u << 16) ? 4 : 1;
  std::vector<uint32_t>& hist4 = sc.hist;
  // Tables 16 KB + 128 bytes apart: at exact multiples of 4 KB, a count of one table and the same symbol's count
  // in the next would share their low address bits and stall on each other (4K aliasing).
  constexpr size_t kHistStride = kMaxSymbols + 32;
  hist4.assign(histWays * kHistStride, 0);
  bool counted = false;
  if constexpr (kWide) {
    // F32 output: one lookup of symbol and reconstruction per element; the reconstruction digested block by block.
    (void)countCodes;
    const WideMemo<T>& wm = wideMemoFor<T>(p.eb);
    const uint16_t* ms = wm.sym.data();
    const uint32_t* mr = wm.rec.data();
    uint32_t* h = hist4.data();
    uint32_t recCrc = 0;
    for (uint64_t from = 0; from < n; from += kDigestBlock) {
      const uint64_t to = std::min<uint64_t>(n, from + kDigestBlock);
      uint64_t i = from;
      auto one = [&](uint64_t k, size_t way) {
        const Bits b = loadLE<Bits>(in + k * B);
        const uint16_t z = ms[b];
        sym[k] = z;
        storeLE<uint32_t>(rec + k * 4, mr[b]);
        h[way * kHistStride + z]++;
      };
      if (histWays == 4)
        for (; i + 4 <= to; i += 4)
          for (size_t k = 0; k < 4; k++) one(i + k, k);
      for (; i < to; i++) one(i, 0);
      recCrc = crc32(rec + from * 4, (to - from) * 4, recCrc);
    }
    sc.recCrc = recCrc;
    sc.recCrcDone = true;
    counted = true;
  } else if constexpr (kScaled) {
    if (p.fp8Linear)
      fp8::encodeSymbolsLinear<T>(in, n, p, kEsc, sym, rec);
    else if (countCodes && p.fp8->blockRows * p.fp8->blockCols >= kCountBlockMin) {
      fp8::encodeSymbolsGrid<T>(in, n, p, kEsc, sym, rec, &sc.fp8Sums);
      sc.fp8Counted = true;
    } else
      fp8::encodeSymbolsGrid<T>(in, n, p, kEsc, sym, rec);
  } else if constexpr (kUsesGrid<T>) {
    // 16-bit dtypes have at most 65,536 distinct values: each is quantized once per (dtype, bound) and thread,
    // and the result (reconstruction << 16 | symbol) is kept for later chunks.
    uint32_t* memo = memoFor<T>(p.eb);
    // Blocks of kDigestBlock elements: each block's input and reconstruction are digested right after it is
    // quantized, from L1, instead of in two more passes over the chunk from memory.
    const bool digestInput = sc.wantInputCrc;
    uint32_t inCrc = 0, recCrc = 0;
    auto digest = [&](uint64_t from, uint64_t to) {
      if (digestInput) inCrc = crc32(in + from * B, (to - from) * B, inCrc);
      recCrc = crc32(rec + from * B, (to - from) * B, recCrc);
    };
    if (countCodes && n >= kCountCodesMin) {
      // Codes counted instead of symbols (the same one increment per element): the symbol counts follow from
      // them, and so do the error sums (measure/codes.hpp). One table: the codes of a chunk touch a few thousand
      // of its counts, which stay in L1; four interleaved tables (as for symbols) would not.
      sc.codes.assign(65536, 0);
      uint32_t* h = sc.codes.data();
      for (uint64_t from = 0; from < n; from += kDigestBlock) {
        const uint64_t to = std::min<uint64_t>(n, from + kDigestBlock);
        for (uint64_t i = from; i < to; i++) {
          const Bits b = loadLE<Bits>(in + i * B);
          uint32_t e = memo[b];
          if (__builtin_expect(e == kMemoUnknown, 0)) e = memo[b] = quantizeGrid<T>(b, p.eb);
          sym[i] = uint16_t(e);
          storeLE<Bits>(rec + i * B, Bits(e >> 16));
          h[b]++;
        }
        digest(from, to);
      }
      for (uint32_t c = 0; c < 65536; c++)
        if (h[c]) hist4[uint16_t(memo[c])] += h[c];
      sc.codeMemo = memo;
    } else {
      uint32_t* h = hist4.data();
      auto one = [&](uint64_t i, size_t way) {
        const Bits b = loadLE<Bits>(in + i * B);
        uint32_t e = memo[b];
        if (__builtin_expect(e == kMemoUnknown, 0)) e = memo[b] = quantizeGrid<T>(b, p.eb);
        const uint16_t z = uint16_t(e);
        sym[i] = z;
        storeLE<Bits>(rec + i * B, Bits(e >> 16));
        h[way * kHistStride + z]++;
      };
      for (uint64_t from = 0; from < n; from += kDigestBlock) {
        const uint64_t to = std::min<uint64_t>(n, from + kDigestBlock);
        uint64_t i = from;
        if (histWays == 4)
          for (; i + 4 <= to; i += 4)
            for (size_t k = 0; k < 4; k++) one(i + k, k);
        for (; i < to; i++) one(i, 0);
        digest(from, to);
      }
    }
    sc.inputCrc = inCrc;
    sc.inputCrcDone = digestInput;
    sc.recCrc = recCrc;
    sc.recCrcDone = true;
    counted = true;
  } else {
    for (uint64_t i = 0; i < n; i++) {
      const Bits b = loadLE<Bits>(in + i * B);
      const double s = kScaled ? grid.at(i) : 1.0;
      const double v = T::value(b);
      int64_t qi = 0;
      Bits rb = b;
      bool esc = outliers::mustStoreExact<T>(b, v) || (kScaled && !(s > 0 && std::isfinite(s))) ||
                 !quant.template quantize<kScaled>(v * s, s, qi, rb);
      const uint32_t zz = esc ? kEsc : zigzag32(qi);
      if (esc || zz >= kEsc || qi <= -int64_t(kEsc) || qi >= int64_t(kEsc)) {
        // Indices beyond the alphabet are kept for the predictors only if they fit; simplest: store exactly.
        sym[i] = kEsc;
        rb = b;
      } else {
        sym[i] = uint16_t(zz);
      }
      storeLE<Bits>(rec + i * B, rb);
    }
  }
  const size_t R = size_t(std::max<uint64_t>(1, std::min<uint64_t>(p.rowLength, n)));
  std::vector<int64_t> colOffset;
  const predictor::Kind kind = predictor::choose(sym, kEsc, n, R, colOffset);
  if (kind != predictor::kNone) {
    sc.fp8Counted = false;  // its exact escapes below are not in the FP8 sums: the element pass measures
    sc.recCrcDone = false;  // and they change the reconstruction the block digests saw
    // Residual symbols; a residual too large for the alphabet turns its element into an exact outlier.
    fit(sc.q, n);
    int64_t* q = sc.q.data();
    for (uint64_t i = 0; i < n; i++) q[i] = sym[i] == kEsc ? 0 : unzigzag32(sym[i]);
    for (uint64_t i = 0, c = 0; i < n; i++, c = c + 1 == R ? 0 : c + 1) {
      if (sym[i] == kEsc) continue;
      const int64_t d = q[i] - predictor::predictAt(kind, q, i, c, R, colOffset.data());
      if (d > -int64_t(kEsc) && d < int64_t(kEsc) && zigzag32(d) < kEsc) {
        sym[i] = uint16_t(zigzag32(d));
      } else {
        sym[i] = kEsc;
        q[i] = 0;
        if constexpr (kWide)
          storeLE<uint32_t>(rec + i * 4, T::widen(loadLE<Bits>(in + i * B)));
        else
          std::memcpy(rec + i * B, in + i * B, B);
        if constexpr (kUsesGrid<T> && !kWide) {
          if (sc.codeMemo) sc.exactCodes.push_back(loadLE<Bits>(in + i * B));
        }
      }
    }
  }
  // Histogram; then shrink the alphabet to what is used, the escape symbol becoming A − 1.
  if (!counted || kind != predictor::kNone) {
    std::fill(hist4.begin(), hist4.end(), 0u);
    uint64_t i = 0;
    if (histWays == 4)
      for (; i + 4 <= n; i += 4)
        for (size_t k = 0; k < 4; k++) hist4[k * kHistStride + sym[i + k]]++;
    for (; i < n; i++) hist4[sym[i]]++;
  }
  std::vector<uint32_t> hist(kMaxSymbols, 0);
  for (size_t k = 0; k < histWays; k++)
    for (uint32_t z = 0; z < kMaxSymbols; z++) hist[z] += hist4[k * kHistStride + z];
  uint32_t maxZ = 0;
  for (uint32_t z = 0; z < kEsc; z++)
    if (hist[z]) maxZ = z;
  const uint64_t escCount = hist[kEsc];
  const uint32_t A = maxZ + 2;
  if (escCount && A - 1 != kEsc) {
    const uint16_t escNew = uint16_t(A - 1);
    for (uint64_t i = 0; i < n; i++) sym[i] = sym[i] == kEsc ? escNew : sym[i];  // branch-free, vectorised
    hist[A - 1] = uint32_t(escCount);
    hist[kEsc] = 0;
  }
  uint32_t sb = entropy::scaleBitsFor(n);
  entropy::Model model;
  entropy::buildModel(hist.data(), A, sb, model);
  if (A <= 256 && sb > 12) {
    // 12-bit precision lets the decoder use its one-load table; take it when it costs under 0.2 %.
    entropy::Model m12;
    entropy::buildModel(hist.data(), A, 12, m12);
    if (entropy::modelCostBits(hist.data(), m12) < entropy::modelCostBits(hist.data(), model) * 1.002) {
      model = std::move(m12);
      sb = 12;
    }
  }
  // Block-context models keep this precision: K tables at 15 bits cost more than the finer rare-symbol mass
  // saves them.
  const uint32_t contextSb = sb;
  if (sb == 14 && sb < entropy::kMaxScaleBits) {
    // Wide alphabets lose a little to the rare symbols' minimum frequency (each takes 2^-sb of the mass);
    // 15 bits halves that. Taken only when it saves 0.05 % including the larger table, since the decoder's
    // slot table then outgrows L1.
    auto withTable = [&](const entropy::Model& m) {
      std::vector<uint8_t> t;
      BitWriter bw(t);
      entropy::writeModel(bw, m);
      return entropy::modelCostBits(hist.data(), m) + 8.0 * t.size();
    };
    entropy::Model m15;
    entropy::buildModel(hist.data(), A, 15, m15);
    if (withTable(m15) < withTable(model) * 0.9995) {
      model = std::move(m15);
      sb = 15;
    }
  }
  std::vector<uint8_t> singleTable;
  {
    BitWriter bw(singleTable);
    entropy::writeModel(bw, model);
  }
  const double singleBits = entropy::modelCostBits(hist.data(), model) + 8.0 * singleTable.size();
  entropy::BlockContexts bc;
  const bool useContexts =
      entropy::fitBlockContexts(sym, n, A, entropy::contextBlockSize(p.rowLength), contextSb, singleBits, bc);

  ByteWriter w(out);
  w.u8(kind);
  w.u8(useContexts ? kFlagBlockContexts : 0);
  if (kind == predictor::kColumnOffset) {
    w.varint(R);
    for (size_t c = 0; c < R; c++) w.varint(zigzag32(colOffset[c]));
  }
  std::vector<uint8_t>& stream = sc.stream;
  stream.clear();
  if (useContexts) {
    const uint32_t K = uint32_t(bc.models.size());
    w.u8(uint8_t(K));
    w.varint(bc.blockSize);
    // Class stream: its own small model and rANS stream.
    std::vector<uint32_t> ch(K, 0);
    std::vector<uint16_t> cls16(bc.cls.begin(), bc.cls.end());
    for (uint8_t c : bc.cls) ch[c]++;
    entropy::Model cm;
    entropy::buildModel(ch.data(), K, entropy::scaleBitsFor(bc.cls.size()), cm);
    std::vector<uint8_t> tables;
    BitWriter bw(tables);
    entropy::writeModel(bw, cm);
    for (const auto& m : bc.models) entropy::writeModel(bw, m);
    w.varint(tables.size());
    w.bytes(tables.data(), tables.size());
    std::vector<uint8_t> cstream;
    entropy::encode(cls16.data(), nullptr, cls16.size(), &cm, cstream);
    w.varint(cstream.size());
    w.bytes(cstream.data(), cstream.size());
    std::vector<uint8_t>& ctx = sc.ctx;
    fit(ctx, n);
    for (uint64_t b = 0, i = 0; i < n; b++, i += bc.blockSize)
      std::memset(ctx.data() + i, bc.cls[b], size_t(std::min<uint64_t>(bc.blockSize, n - i)));
    entropy::encode(sym, ctx.data(), n, bc.models.data(), stream);
  } else {
    w.varint(singleTable.size());
    w.bytes(singleTable.data(), singleTable.size());
    entropy::encode(sym, nullptr, n, &model, stream);
  }
  w.varint(stream.size());
  w.bytes(stream.data(), stream.size());
  w.varint(escCount);
  const uint16_t escSym = uint16_t(A - 1);
  if (escCount) {
    // Gathered without branches (escapes can be common, e.g. FP8 −0 codes): every element is copied to the
    // cursor, which advances only past escapes; one element of slack takes the last stray copy.
    std::vector<uint8_t>& o = w.buffer();
    const size_t at0 = o.size();
    o.resize(at0 + (escCount + 1) * B);
    uint8_t* dst = o.data() + at0;
    size_t at = 0;
    for (uint64_t i = 0; i < n; i++) {
      std::memcpy(dst + at, in + i * B, B);
      at += sym[i] == escSym ? B : 0;
    }
    o.resize(at0 + escCount * B);
  }
  const uint8_t version = chunkVersion(kQuantized, p);
  if (version >= 3 && sc.recCrcDone) return sc.recCrc;
  return chunkChecksum(version, rec, n * OB);
}

// version: the chunk's header version (block-scaled FP8: 1 linear index mapping, 2 per-block code grid).
template <class T, bool kScaled, bool kWide = false>
Status decodeQuantized(ByteReader& r, uint64_t n, const ChunkParams& p, uint8_t version, uint8_t* out) {
  using Bits = typename T::Bits;
  constexpr unsigned B = sizeof(Bits);
  using OutBits = std::conditional_t<kWide, uint32_t, Bits>;
  constexpr unsigned OB = sizeof(OutBits);
  const quantizer::Linear<T> quant(p.eb);
  const ScaleGrid grid{p.fp8, p.firstElement};
  const uint8_t kindByte = r.u8();
  const uint8_t flags = r.u8();
  if (!r.ok()) return r.status();
  if (kindByte >= predictor::kKindCount || (flags & ~kFlagBlockContexts) != 0) return Status::CorruptChunk;
  const auto kind = predictor::Kind(kindByte);
  const size_t R = size_t(std::max<uint64_t>(1, std::min<uint64_t>(p.rowLength, n)));
  std::vector<int64_t> colOffset;
  if (kind == predictor::kColumnOffset) {
    const uint64_t len = r.varint();
    if (!r.ok()) return r.status();
    if (len != R) return Status::CorruptChunk;
    colOffset.resize(R);
    for (size_t c = 0; c < R; c++) {
      const uint64_t z = r.varint();
      if (!r.ok()) return r.status();
      if (z > 0xFFFFFFFFull) return Status::CorruptChunk;
      colOffset[c] = unzigzag32(uint32_t(z));
    }
  }
  uint32_t K = 1;
  uint64_t blockSize = 0;
  if (flags & kFlagBlockContexts) {
    K = r.u8();
    blockSize = r.varint();
    if (!r.ok()) return r.status();
    if (K < 2 || K > entropy::kMaxClasses || blockSize == 0 || blockSize > n) return Status::CorruptChunk;
  }
  const uint64_t tlen = r.varint();
  const uint8_t* tp = r.take(tlen);
  if (!tp) return r.ok() ? Status::Truncated : r.status();
  entropy::Model classModel;
  std::vector<entropy::Model> models(K);
  {
    BitReader br(tp, tlen);
    if (K > 1) {
      const Status s = entropy::readModel(br, K, classModel);
      if (s != Status::Ok) return s;
      if (!br.align()) return Status::CorruptChunk;
    }
    for (auto& m : models) {
      const Status s = entropy::readModel(br, kMaxSymbols, m);
      if (s != Status::Ok) return s;
      if (!br.align()) return Status::CorruptChunk;
      if (m.alphabet() != models[0].alphabet() || m.scaleBits != models[0].scaleBits) return Status::CorruptChunk;
    }
    if (!br.atEnd()) return Status::CorruptChunk;
  }
  const uint32_t A = uint32_t(models[0].alphabet());
  if (A < 1) return Status::CorruptChunk;
  std::vector<uint8_t> ctx;       // per element, only when blocks are not a multiple of 4 long
  std::vector<uint8_t> blockCls;  // per block
  if (K > 1) {
    const uint64_t clen = r.varint();
    const uint8_t* cp = r.take(clen);
    if (!cp) return r.ok() ? Status::Truncated : r.status();
    const uint64_t nb = (n + blockSize - 1) / blockSize;
    std::vector<uint16_t> cls(nb);
    entropy::Decoder cdec;
    Status s = cdec.init(&classModel, 1);
    if (s != Status::Ok) return s;
    s = cdec.decode(cp, clen, nb, nullptr, cls.data());
    if (s != Status::Ok) return s;
    blockCls.assign(cls.begin(), cls.end());  // < K: the class model has K symbols
    if (blockSize % entropy::kLanes != 0) {
      ctx.resize(n);
      for (uint64_t lo = 0, b = 0; lo < n; lo += blockSize, b++)
        std::memset(ctx.data() + lo, blockCls[b], size_t(std::min<uint64_t>(blockSize, n - lo)));
    }
  }
  const uint64_t slen = r.varint();
  const uint8_t* sp = r.take(slen);
  if (!sp) return r.ok() ? Status::Truncated : r.status();
  const uint64_t escCount = r.varint();
  if (!r.ok()) return r.status();
  if (escCount > n) return Status::CorruptChunk;
  const uint8_t* escBytes = r.take(escCount * B);
  if (!escBytes) return r.ok() ? Status::Truncated : r.status();
  if (r.remaining() != 0) return Status::CorruptChunk;
  const uint16_t escSym = uint16_t(A - 1);
  uint64_t e = 0;
  const quantizer::Grid<T>* grid16 = nullptr;
  const std::vector<uint32_t>* wideRep = nullptr;
  if constexpr (kWide)
    wideRep = &wideMemoFor<T>(p.eb).rep;
  else if constexpr (kUsesGrid<T> && !kScaled)
    grid16 = &gridFor<T>(p.eb);
  // Output bits of index v, or false when v is outside the quantizer's range (corrupt input).
  auto valueOf = [&](int64_t v, uint64_t i, OutBits& b) -> bool {
    if constexpr (kWide) {
      (void)i;
      if (v >= int64_t(wideRep->size()) || -v >= int64_t(wideRep->size())) return false;
      b = signedCentre(*wideRep, v);
    } else if constexpr (kUsesGrid<T> && !kScaled) {
      (void)i;
      if (v >= int64_t(grid16->rep.size()) || -v >= int64_t(grid16->rep.size())) return false;
      b = gridValue(*grid16, v);
    } else {
      b = kScaled ? quant.reconstruct(v, grid.at(i)) : quant.reconstruct(v);
    }
    return true;
  };
  entropy::Decoder dec;
  {
    const Status s = dec.init(models.data(), K);
    if (s != Status::Ok) return s;
  }
  const bool byBlocks = K > 1 && ctx.empty();
  const uint8_t* ctxp = K > 1 && !byBlocks ? ctx.data() : nullptr;
  auto runDecoder = [&](auto& sink) -> Status {
    if (byBlocks) return dec.decodeBlocks(sp, slen, n, blockSize, blockCls.data(), sink);
    return ctxp ? dec.decodeWith<true>(sp, slen, n, ctxp, sink) : dec.decodeWith<false>(sp, slen, n, nullptr, sink);
  };
  if constexpr (kScaled) {
    // Block-scaled FP8: symbols first (into per-thread scratch: no fresh pages per chunk), then one table lookup
    // per element (fp8_blocks.hpp).
    static thread_local std::vector<uint16_t> symScratch;
    if (symScratch.size() < n) symScratch.resize(n);
    struct ArraySink {
      uint16_t* out;
      void operator()(size_t i, uint16_t v) { out[i] = v; }
    } arraySink{symScratch.data()};
    Status s = runDecoder(arraySink);
    if (s == Status::Ok && version >= 2)
      s = fp8::decodeSymbolsGrid<T>(symScratch.data(), n, A, kind, R, colOffset.data(), escBytes, escCount, p, out);
    else if (s == Status::Ok)
      s = fp8::decodeSymbolsLinear<T>(symScratch.data(), n, A, kind, R, colOffset.data(), escBytes, escCount, p, out);
    if (n > (uint64_t(1) << 24)) std::vector<uint16_t>().swap(symScratch);
    return s;
  } else if (kind == predictor::kNone) {
    // Fast path: every symbol maps to one fixed output value, written as the symbol is decoded.
    std::vector<OutBits> lut(A);
    for (uint32_t z = 0; z + 1 < A; z++)
      if (!valueOf(unzigzag32(z), 0, lut[z])) return Status::CorruptChunk;
    // Escapes decode to a sentinel (an all-ones NaN pattern no bin reconstructs to) and are filled in by a
    // second, rarely needed scan; the hot loop then holds only the states, the tables and two pointers.
    // (F32 output: all ones, which no exact widening of a 16-bit float produces either.)
    const OutBits kSentinel = OutBits(~OutBits(0));
    lut[escSym] = kSentinel;
    struct LutSink {
      const OutBits* lut;
      OutBits* out;
      void operator()(size_t i, uint16_t s) { out[i] = lut[s]; }
    };
    const bool aligned = reinterpret_cast<uintptr_t>(out) % alignof(OutBits) == 0;
    std::vector<OutBits> tmp(aligned ? 0 : n);
    OutBits* dst = aligned ? reinterpret_cast<OutBits*>(out) : tmp.data();
    Status s;
    if constexpr (sizeof(Bits) == 2) {  // 16-bit inputs: 16-bit output, or F32
      if (K == 1) {
        s = dec.decodeMapped(sp, slen, n, lut.data(), dst);
      } else {
        s = byBlocks ? dec.decodeBlocksMapped(sp, slen, n, blockSize, blockCls.data(), lut.data(), lut.size(), dst)
                     : Status::BadParams;
        if (s == Status::BadParams) {  // per-element contexts, or an alphabet the mapped tables do not take
          LutSink sink{lut.data(), dst};
          s = runDecoder(sink);
        }
      }
    } else {
      LutSink sink{lut.data(), dst};
      s = runDecoder(sink);
    }
    if (s != Status::Ok) return s;
    // With no stored escapes a stray escape symbol leaves a sentinel in the output, which the chunk checksum
    // then rejects; with escapes the count must match exactly before they are placed.
    if (escCount > 0 && countEqual(dst, n, kSentinel) != escCount) return Status::CorruptChunk;
    for (uint64_t i = 0; i < n && e < escCount; i++) {
      if (dst[i] != kSentinel) continue;
      const Bits x = loadLE<Bits>(escBytes + e++ * B);
      if constexpr (kWide)
        dst[i] = T::widen(x);
      else
        dst[i] = x;
    }
    if (!aligned && n) std::memcpy(out, tmp.data(), n * OB);
  } else {
    std::vector<uint16_t> sym(n);
    struct ArraySink {
      uint16_t* out;
      void operator()(size_t i, uint16_t v) { out[i] = v; }
    } arraySink{sym.data()};
    const Status s = runDecoder(arraySink);
    if (s != Status::Ok) return s;
    std::vector<int64_t> q(n);
    constexpr int64_t kClamp = int64_t(1) << 31;
    for (uint64_t i = 0, c = 0; i < n; i++, c = c + 1 == R ? 0 : c + 1) {
      const uint16_t sy = sym[i];
      OutBits b;
      if (sy == escSym) {
        if (e >= escCount) return Status::CorruptChunk;
        if constexpr (kWide)
          b = T::widen(loadLE<Bits>(escBytes + e * B));
        else
          b = loadLE<Bits>(escBytes + e * B);
        e++;
        q[i] = 0;
      } else {
        int64_t v = predictor::predictAt(kind, q.data(), i, c, R, colOffset.data()) + unzigzag32(sy);
        v = std::clamp(v, -kClamp, kClamp);  // only corrupt input gets here
        q[i] = v;
        if (!valueOf(v, i, b)) return Status::CorruptChunk;
      }
      storeLE<OutBits>(out + i * OB, b);
    }
  }
  if (e != escCount) return Status::CorruptChunk;
  return Status::Ok;
}

// Block scales exist for the FP8 dtypes only (checkParams).
template <class T>
uint32_t encodeQuantizedFor(const uint8_t* in, uint64_t n, const ChunkParams& p, bool countCodes,
                            std::vector<uint8_t>& out) {
  if constexpr (sizeof(typename T::Bits) == 1) {
    if (p.fp8) return encodeQuantized<T, true>(in, n, p, countCodes, out);
  }
  if constexpr (sizeof(typename T::Bits) == 2) {
    if (p.wideOutput) return encodeQuantized<T, false, true>(in, n, p, countCodes, out);
  }
  return encodeQuantized<T, false>(in, n, p, countCodes, out);
}
template <class T>
Status decodeQuantizedFor(ByteReader& r, uint64_t n, const ChunkParams& p, uint8_t version, uint8_t* out) {
  if constexpr (sizeof(typename T::Bits) == 1) {
    if (p.fp8) return decodeQuantized<T, true>(r, n, p, version, out);
  }
  if constexpr (sizeof(typename T::Bits) == 2) {
    if (p.wideOutput) return decodeQuantized<T, false, true>(r, n, p, version, out);
  }
  return decodeQuantized<T, false>(r, n, p, version, out);
}

uint32_t encodeQuantizedAny(const uint8_t* in, uint64_t n, const ChunkParams& p, bool countCodes,
                            std::vector<uint8_t>& out) {
  switch (p.dtype) {
    case Dtype::BF16: return encodeQuantizedFor<Bf16T>(in, n, p, countCodes, out);
    case Dtype::F16: return encodeQuantizedFor<F16T>(in, n, p, countCodes, out);
    case Dtype::F32: return encodeQuantizedFor<F32T>(in, n, p, countCodes, out);
    case Dtype::F64: return encodeQuantizedFor<F64T>(in, n, p, countCodes, out);
    case Dtype::F8_E4M3: return encodeQuantizedFor<E4m3T>(in, n, p, countCodes, out);
    case Dtype::F8_E5M2: return encodeQuantizedFor<E5m2T>(in, n, p, countCodes, out);
  }
  return 0;
}
Status decodeQuantizedAny(ByteReader& r, uint64_t n, const ChunkParams& p, uint8_t version, uint8_t* out) {
  switch (p.dtype) {
    case Dtype::BF16: return decodeQuantizedFor<Bf16T>(r, n, p, version, out);
    case Dtype::F16: return decodeQuantizedFor<F16T>(r, n, p, version, out);
    case Dtype::F32: return decodeQuantizedFor<F32T>(r, n, p, version, out);
    case Dtype::F64: return decodeQuantizedFor<F64T>(r, n, p, version, out);
    case Dtype::F8_E4M3: return decodeQuantizedFor<E4m3T>(r, n, p, version, out);
    case Dtype::F8_E5M2: return decodeQuantizedFor<E5m2T>(r, n, p, version, out);
  }
  return Status::BadParams;
}

}  // namespace

Status checkParams(const ChunkParams& p, uint64_t n) {
  if (uint8_t(p.dtype) >= kDtypeCount) return Status::BadParams;
  if (n > kMaxChunkElements) return Status::BadParams;
  if (!p.lossless && !(p.eb > 0 && std::isfinite(p.eb))) return Status::BadParams;
  if (p.rowLength == 0) return Status::BadParams;
  if (p.wideOutput && p.dtype != Dtype::BF16 && p.dtype != Dtype::F16) return Status::BadParams;
  const bool isFp8 = p.dtype == Dtype::F8_E4M3 || p.dtype == Dtype::F8_E5M2;
  if (p.fp8) {
    if (!isFp8) return Status::BadParams;
    const Fp8Scales& g = *p.fp8;
    if (!g.scales || g.cols == 0 || g.blockRows == 0 || g.blockCols == 0) return Status::BadParams;
    if (g.scaleCols != (g.cols + g.blockCols - 1) / g.blockCols) return Status::BadParams;
    if (p.firstElement % g.cols != 0) return Status::BadParams;
    if (n > 0) {
      const uint64_t lastRow = (p.firstElement + n - 1) / g.cols;
      if ((lastRow / g.blockRows + 1) * g.scaleCols > g.count) return Status::BadParams;
    }
  }
  return Status::Ok;
}

namespace {

// Exact F32 widening of element i of a 16-bit dtype's bytes.
inline uint32_t widenAt(const uint8_t* in, uint64_t i, Dtype d) {
  const uint16_t b = loadLE<uint16_t>(in + i * 2);
  return d == Dtype::BF16 ? bf16ToF32Bits(b) : f16ToF32Bits(b);
}
// CRC-32 of the F32 widening of n 16-bit elements (what a wide chunk coded raw or lossless decodes to).
uint32_t widenedCrc(const uint8_t* in, uint64_t n, Dtype d) {
  uint8_t buf[16384];
  uint32_t crc = 0;
  for (uint64_t from = 0; from < n; from += sizeof(buf) / 4) {
    const uint64_t k = std::min<uint64_t>(n - from, sizeof(buf) / 4);
    for (uint64_t i = 0; i < k; i++) storeLE<uint32_t>(buf + i * 4, widenAt(in, from + i, d));
    crc = crc32(buf, k * 4, crc);
  }
  return crc;
}
// Widens n 16-bit elements of src into F32 at out (separate buffers).
void widenInto(const uint8_t* src, uint64_t n, Dtype d, uint8_t* out) {
  for (uint64_t i = 0; i < n; i++) storeLE<uint32_t>(out + i * 4, widenAt(src, i, d));
}

// The whole encoder; decoded is set to the bytes the decoder will reproduce (the input, or the quantized path's
// reconstruction in per-thread scratch, valid until the scratch is released). countCodes asks the 16-bit grid
// path for its code counts (EncodeScratch::codes, codeMemo set when taken).
Status encodeChunkImpl(const uint8_t* in, uint64_t n, const ChunkParams& p, bool countCodes,
                       std::vector<uint8_t>& out, const uint8_t*& decoded) {
  const Status ps = checkParams(p, n);
  if (ps != Status::Ok) return ps;
  const unsigned B = dtypeBytes(p.dtype);
  const uint64_t rawBytes = n * B;
  out.clear();
  writeHeader(out, kRaw, p.dtype, n, 0);  // placeholder, rewritten below
  Method method = kRaw;
  uint32_t sum = 0;
  if (n > 0 && !p.lossless) {
    sum = encodeQuantizedAny(in, n, p, countCodes, out);
    method = kQuantized;
    // Near or below half a dtype ulp the lossy path gains nothing: keep the lossless coding if smaller.
    if (out.size() - kChunkHeaderBytes > rawBytes * 6 / 10) {
      std::vector<uint8_t> alt;
      writeHeader(alt, kRaw, p.dtype, n, 0);
      lossless::encodePlanes(in, n, B, alt);
      if (alt.size() < out.size()) {
        out.swap(alt);
        method = kPlanes;
      }
    }
  } else if (n > 0) {
    lossless::encodePlanes(in, n, B, out);
    method = kPlanes;
  }
  if (n == 0 || out.size() - kChunkHeaderBytes >= rawBytes) {
    out.resize(kChunkHeaderBytes);
    out.insert(out.end(), in, in + rawBytes);
    method = kRaw;
  }
  // Version 3 (CRC-32 checksum): older decoders answer UNSUPPORTED_VERSION instead of misreading it.
  const uint8_t version = chunkVersion(method, p);
  if (method != kQuantized) sum = p.wideOutput ? widenedCrc(in, n, p.dtype) : chunkChecksum(version, in, rawBytes);
  decoded = method == kQuantized ? encodeScratch().rec.data() : in;
  std::vector<uint8_t> header;
  writeHeader(header, method, p.dtype, n, sum, version, p.wideOutput);
  std::memcpy(out.data(), header.data(), kChunkHeaderBytes);
  return Status::Ok;
}

// Per-thread scratch is kept between chunks of ordinary size only.
void releaseLargeScratch(uint64_t n) {
  if (n > (uint64_t(1) << 24)) releaseScratch();
}

}  // namespace

Status encodeChunk(const uint8_t* in, uint64_t n, const ChunkParams& p, std::vector<uint8_t>& out) {
  const uint8_t* decoded = nullptr;
  const Status s = encodeChunkImpl(in, n, p, false, out, decoded);
  releaseLargeScratch(n);
  return s;
}

Status encodeChunkMeasured(const uint8_t* in, uint64_t n, const ChunkParams& p, double checkEb,
                           std::vector<uint8_t>& out, uint32_t& decodedCrc, measure::ErrorSums& sums,
                           uint32_t* inputCrc) {
  // The measured path compares decoded and input in one dtype: F32 output is decoded and compared by the caller.
  if (p.wideOutput) return Status::BadParams;
  const uint8_t* decoded = nullptr;
  EncodeScratch& sc = encodeScratch();
  sc.codeMemo = nullptr;
  sc.exactCodes.clear();
  sc.fp8Sums = measure::CodeSums(checkEb);
  sc.fp8Counted = false;
  sc.wantInputCrc = inputCrc != nullptr;
  sc.inputCrcDone = sc.recCrcDone = false;
  const Status s = encodeChunkImpl(in, n, p, true, out, decoded);
  sc.wantInputCrc = false;
  if (s == Status::Ok) {
    const uint64_t bytes = n * dtypeBytes(p.dtype);
    // The 16-bit grid loop digests the input block by block; other paths take it here.
    if (inputCrc) *inputCrc = sc.inputCrcDone ? sc.inputCrc : crc32(in, bytes);
    // A version-3 chunk's own checksum (header bytes 8–11) is the CRC the container records: no second pass.
    decodedCrc = out[1] >= 3 ? loadLE<uint32_t>(out.data() + 8) : crc32(decoded, bytes);
    bool measured = false;
    if (sc.codeMemo) {
      // The reconstruction is a function of the code, except the predictor's exact escapes, and everything when
      // the chunk fell back to lossless or raw coding (decoded is then the input).
      const uint32_t* counts = sc.codes.data();
      const uint32_t* memo = sc.codeMemo;
      const bool exact = decoded == in;
      std::vector<uint16_t>& ex = sc.exactCodes;
      std::sort(ex.begin(), ex.end());
      size_t at = 0;
      measured = measure::sumsFromCodes16(
          counts, p.dtype, checkEb, [&](uint16_t c) { return uint16_t(memo[c] >> 16); },
          [&](uint16_t c) -> uint32_t {
            if (exact) return counts[c];
            while (at < ex.size() && ex[at] < c) at++;
            uint32_t k = 0;
            for (; at < ex.size() && ex[at] == c; at++) k++;
            return k;
          },
          sums);
      sc.codeMemo = nullptr;
    }
    if (sc.fp8Counted) {
      measured = decoded == in ? sc.fp8Sums.resultExact(sums) : sc.fp8Sums.result(sums);
      sc.fp8Counted = false;
    }
    if (!measured) sums = measure::compareChunk(in, decoded, n, p.dtype, checkEb, p.firstElement, p.fp8);
  }
  releaseLargeScratch(n);
  return s;
}

Status decodeChunk(const uint8_t* in, size_t len, const ChunkParams& p, uint64_t n, uint8_t* out) {
  const Status ps = checkParams(p, n);
  if (ps != Status::Ok) return ps;
  ByteReader r(in, len);
  const uint8_t magic = r.u8();
  const uint8_t version = r.u8();
  const uint8_t method = r.u8();
  const uint8_t dtype = r.u8();
  const uint32_t count = r.u32();
  const uint32_t sum = r.u32();
  if (!r.ok()) return r.status();
  if (magic != kChunkMagic) return Status::CorruptChunk;
  if (version == 0 || version > kCodecVersion) return Status::UnsupportedVersion;
  // Version 2 was written only for block-scaled FP8 quantized chunks.
  if (version == 2 && !(method == kQuantized && p.fp8)) return Status::CorruptChunk;
  // The dtype byte: the input dtype, and whether the chunk decodes to F32 (written only by version 4 and later).
  const bool wide = (dtype & kDtypeWide) != 0;
  if (uint8_t(dtype & ~kDtypeWide) != uint8_t(p.dtype) || wide != p.wideOutput) return Status::CorruptChunk;
  if (wide && version < 4) return Status::CorruptChunk;
  if (count != n) return Status::SizeMismatch;
  const unsigned B = dtypeBytes(p.dtype);
  const unsigned OB = outputBytes(p);
  Status s = Status::Ok;
  switch (method) {
    case kRaw: {
      const uint8_t* raw = r.take(n * B);
      if (!raw) return r.status();
      if (r.remaining() != 0) return Status::CorruptChunk;
      if (wide)
        widenInto(raw, n, p.dtype, out);
      else if (n)
        std::memcpy(out, raw, n * B);
      break;
    }
    case kPlanes:
      if (wide) {
        // Lossless chunks decode in the input dtype, then widen (per-thread scratch; rare with F32 output).
        static thread_local std::vector<uint8_t> exact;
        exact.resize(n * B);
        s = lossless::decodePlanes(r, n, B, exact.data());
        if (s == Status::Ok) widenInto(exact.data(), n, p.dtype, out);
        if (n > (uint64_t(1) << 24)) std::vector<uint8_t>().swap(exact);
      } else {
        s = lossless::decodePlanes(r, n, B, out);
      }
      if (s == Status::Ok && r.remaining() != 0) s = Status::CorruptChunk;
      break;
    case kQuantized:
      if (p.lossless) return Status::CorruptChunk;
      s = decodeQuantizedAny(r, n, p, version, out);
      break;
    default: return Status::CorruptChunk;
  }
  if (s != Status::Ok) return s;
  if (chunkChecksum(version, out, n * OB) != sum) return Status::ChecksumMismatch;
  return Status::Ok;
}

}  // namespace sp
