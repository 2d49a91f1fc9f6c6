// C++ test driver for the codec, built with ASan+UBSan by native/tools/ci-native.sh: round trips over dtypes
// and bounds (bound checked here on decoded values), then truncated and bit-flipped chunks that must fail cleanly.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "../src/chunk/chunk.hpp"
#include "../src/common/crc32.hpp"
#include "../src/entropy/rans.hpp"
#include "../src/measure/measure.hpp"
#include "../src/measure/range.hpp"

using namespace sp;

static int failures = 0;
#define CHECK(cond, ...)                            \
  do {                                              \
    if (!(cond)) {                                  \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);            \
      std::fprintf(stderr, "\n");                   \
      failures++;                                   \
    }                                               \
  } while (0)

static double valueOf(Dtype d, const uint8_t* p) {
  switch (d) {
    case Dtype::BF16: return bf16ToDouble(loadLE<uint16_t>(p));
    case Dtype::F16: return f16ToDouble(loadLE<uint16_t>(p));
    case Dtype::F32: return double(bitsToFloat(loadLE<uint32_t>(p)));
    case Dtype::F64: return bitsToDouble(loadLE<uint64_t>(p));
    case Dtype::F8_E4M3: return e4m3ToDouble(*p);
    case Dtype::F8_E5M2: return e5m2ToDouble(*p);
  }
  return 0;
}

static void storeValue(Dtype d, uint8_t* p, double v) {
  switch (d) {
    case Dtype::BF16: storeLE<uint16_t>(p, doubleToBf16(v)); break;
    case Dtype::F16: storeLE<uint16_t>(p, doubleToF16(v)); break;
    case Dtype::F32: storeLE<uint32_t>(p, floatToBits(float(v))); break;
    case Dtype::F64: storeLE<uint64_t>(p, doubleToBits(v)); break;
    case Dtype::F8_E4M3: *p = doubleToE4m3(v); break;
    case Dtype::F8_E5M2: *p = doubleToE5m2(v); break;
  }
}

static std::vector<uint8_t> makeData(Dtype d, size_t n, int pattern, std::mt19937& rng) {
  const unsigned B = dtypeBytes(d);
  std::vector<uint8_t> out(n * B);
  std::normal_distribution<double> nd(0, 0.02);
  std::uniform_real_distribution<double> u(0, 1);
  for (size_t i = 0; i < n; i++) {
    double v = nd(rng);
    if (pattern == 1 && i % 5 == 0) v = (i % 3 == 0) ? NAN : (i % 3 == 1 ? INFINITY : -0.0);
    if (pattern == 2) v *= 1e4;
    if (pattern == 3 && u(rng) < 0.01) v *= 50;
    if (pattern == 4) v *= 0.2 * double(1 + (i / 640) % 5);  // stacked scales: block contexts
    if (pattern == 5) v = 0.01 * double(i % 64) - 0.3 + v * 0.01;  // per-column offsets: a predictor
    storeValue(d, out.data() + i * B, v);
  }
  return out;
}

static void roundTrips() {
  std::mt19937 rng(7);
  const Dtype dtypes[] = {Dtype::BF16, Dtype::F16, Dtype::F32, Dtype::F64, Dtype::F8_E4M3, Dtype::F8_E5M2};
  const double bounds[] = {0, 1e-6, 1e-4, 1e-3, 1e-2, 1};
  const size_t sizes[] = {0, 1, 5, 64, 1000, 20000};
  for (Dtype d : dtypes)
    for (double eb : bounds)
      for (size_t n : sizes)
        for (int pattern = 0; pattern < 6; pattern++) {
          const unsigned B = dtypeBytes(d);
          auto in = makeData(d, n, pattern, rng);
          ChunkParams p;
          p.dtype = d;
          p.lossless = eb == 0;
          p.eb = eb;
          p.rowLength = n >= 64 ? 64 : 1;
          std::vector<uint8_t> chunk;
          Status s = encodeChunk(in.data(), n, p, chunk);
          CHECK(s == Status::Ok, "encode %s", statusCode(s));
          CHECK(chunk.size() <= maxChunkBytes(n, d), "size bound");
          std::vector<uint8_t> out(n * B + 1);
          s = decodeChunk(chunk.data(), chunk.size(), p, n, out.data());
          CHECK(s == Status::Ok, "decode %s dtype %d eb %g n %zu", statusCode(s), int(d), eb, n);
          // The measured encoder: same bytes, CRC of the decoded bytes, sums bounded by eb.
          std::vector<uint8_t> measured;
          uint32_t crc = 0;
          measure::ErrorSums sums;
          s = encodeChunkMeasured(in.data(), n, p, eb, measured, crc, sums);
          CHECK(s == Status::Ok && measured == chunk, "measured encode differs");
          CHECK(crc == crc32(out.data(), n * B), "measured CRC differs");
          CHECK(sums.count == n && sums.over == 0 && sums.maxAbs <= eb, "measured sums: over %llu max %g",
                (unsigned long long)sums.over, sums.maxAbs);
          for (size_t i = 0; i < n; i++) {
            const double x = valueOf(d, in.data() + i * B), y = valueOf(d, out.data() + i * B);
            const bool special = !std::isfinite(x) || (x == 0 && std::signbit(x));
            if (eb == 0 || special) {
              CHECK(std::memcmp(in.data() + i * B, out.data() + i * B, B) == 0, "bits differ at %zu", i);
            } else {
              CHECK(std::fabs(x - y) <= eb, "bound: dtype %d eb %g i %zu x %g y %g", int(d), eb, i, x, y);
            }
          }
        }
}

static void corruptions() {
  std::mt19937 rng(11);
  for (int variant = 0; variant < 4; variant++) {
    const bool lossless = variant == 0;
    const size_t n = 6400;
    auto in = makeData(Dtype::BF16, n, variant == 2 ? 4 : variant == 3 ? 5 : 3, rng);
    ChunkParams p;
    p.dtype = Dtype::BF16;
    p.lossless = lossless;
    p.eb = 1e-3;
    p.rowLength = 64;
    std::vector<uint8_t> chunk;
    encodeChunk(in.data(), n, p, chunk);
    if (variant == 2) CHECK(chunk.size() > 13 && chunk[13] == 1, "stacked data should use block contexts");
    if (variant == 3) CHECK(chunk.size() > 12 && chunk[12] != 0, "column ramp should use a predictor");
    std::vector<uint8_t> out(n * 2);
    for (size_t len = 0; len < chunk.size(); len++) {
      std::vector<uint8_t> cut(chunk.begin(), chunk.begin() + len);  // exact-size copy: ASan sees overreads
      CHECK(decodeChunk(cut.data(), cut.size(), p, n, out.data()) != Status::Ok, "truncated to %zu decoded", len);
    }
    for (int k = 0; k < 3000; k++) {
      std::vector<uint8_t> bad = chunk;
      bad[rng() % bad.size()] ^= uint8_t(1u << (rng() % 8));
      if (k % 3 == 0) bad[rng() % bad.size()] = uint8_t(rng());
      CHECK(decodeChunk(bad.data(), bad.size(), p, n, out.data()) != Status::Ok, "corruption went unnoticed");
    }
  }
}

// F32 output of BF16/F16 (ChunkParams::wideOutput): every pattern, bound and size round-trips within the bound
// into an exact-size buffer (ASan sees an overwrite), specials and lossless chunks as their exact widening, and
// never decodes as a BF16/F16-output chunk; truncations and flips of wide chunks are all caught.
static void wideRoundTrips() {
  std::mt19937 rng(29);
  const double bounds[] = {0, 1e-6, 1e-4, 1e-3, 1e-2, 1};
  const size_t sizes[] = {0, 1, 5, 64, 1000, 20000};
  for (Dtype d : {Dtype::BF16, Dtype::F16})
    for (double eb : bounds)
      for (size_t n : sizes)
        for (int pattern = 0; pattern < 6; pattern++) {
          auto in = makeData(d, n, pattern, rng);
          ChunkParams p;
          p.dtype = d;
          p.lossless = eb == 0;
          p.eb = eb;
          p.rowLength = n >= 64 ? 64 : 1;
          p.wideOutput = true;
          std::vector<uint8_t> chunk;
          Status s = encodeChunk(in.data(), n, p, chunk);
          CHECK(s == Status::Ok, "wide encode %s", statusCode(s));
          CHECK(chunk.size() <= maxChunkBytes(n, d), "wide size bound");
          CHECK(n == 0 || chunk[1] == 4, "wide chunks are version 4");
          std::vector<uint8_t> out(n * 4);
          s = decodeChunk(chunk.data(), chunk.size(), p, n, out.data());
          CHECK(s == Status::Ok, "wide decode %s dtype %d eb %g n %zu pattern %d", statusCode(s), int(d), eb, n, pattern);
          for (size_t i = 0; i < n; i++) {
            uint16_t b;
            uint32_t y;
            std::memcpy(&b, in.data() + 2 * i, 2);
            std::memcpy(&y, out.data() + 4 * i, 4);
            const double x = valueOf(d, in.data() + 2 * i);
            const bool special = !std::isfinite(x) || (x == 0 && std::signbit(x));
            if (eb == 0 || special) {
              const uint32_t exact = d == Dtype::BF16 ? bf16ToF32Bits(b) : f16ToF32Bits(b);
              CHECK(y == exact, "wide: not the exact widening at %zu (%08x vs %08x)", i, y, exact);
            } else {
              CHECK(std::fabs(double(bitsToFloat(y)) - x) <= eb, "wide bound: dtype %d eb %g i %zu", int(d), eb, i);
            }
          }
          ChunkParams narrow = p;
          narrow.wideOutput = false;
          std::vector<uint8_t> out2(n * 2);
          if (n) CHECK(decodeChunk(chunk.data(), chunk.size(), narrow, n, out2.data()) == Status::CorruptChunk,
                       "a wide chunk decoded as narrow");
        }
  // Corruption of wide chunks, quantized (plain, block contexts, predictor) and lossless.
  for (int variant = 0; variant < 4; variant++) {
    const size_t n = 6400;
    auto in = makeData(Dtype::BF16, n, variant == 2 ? 4 : variant == 3 ? 5 : 3, rng);
    ChunkParams p;
    p.dtype = Dtype::BF16;
    p.lossless = variant == 0;
    p.eb = 1e-3;
    p.rowLength = 64;
    p.wideOutput = true;
    std::vector<uint8_t> chunk;
    encodeChunk(in.data(), n, p, chunk);
    std::vector<uint8_t> out(n * 4), good(n * 4);
    CHECK(decodeChunk(chunk.data(), chunk.size(), p, n, good.data()) == Status::Ok, "wide: decode");
    for (size_t len = 0; len < chunk.size(); len += 1 + len / 64) {
      std::vector<uint8_t> cut(chunk.begin(), chunk.begin() + len);
      CHECK(decodeChunk(cut.data(), cut.size(), p, n, out.data()) != Status::Ok, "wide: truncated to %zu decoded", len);
    }
    // A flip must give an error or, where it changes nothing the decoder produces (e.g. the lowest bit of a model's
    // alphabet size when the extra symbol gets no frequency), the very same output: never other values.
    for (int k = 0; k < 2000; k++) {
      std::vector<uint8_t> bad = chunk;
      const size_t at = rng() % bad.size();
      const unsigned bit = rng() % 8;
      bad[at] ^= uint8_t(1u << bit);
      CHECK(decodeChunk(bad.data(), bad.size(), p, n, out.data()) != Status::Ok || out == good,
            "wide: a flip changed the output unnoticed (variant %d, byte %zu of %zu, bit %u)", variant, at, bad.size(),
            bit);
    }
  }
}

// Writes valid chunks, prefixed with the fuzzer's 6 parameter bytes, as a starting corpus for the fuzzer.
static void writeSeeds(const char* dir) {
  std::mt19937 rng(3);
  int k = 0;
  for (int d = 0; d < kDtypeCount; d++)
    for (int lossless = 0; lossless < 2; lossless++) {
      const size_t n = 300;
      auto in = makeData(Dtype(d), n, 3, rng);
      ChunkParams p;
      p.dtype = Dtype(d);
      p.lossless = lossless;
      p.eb = 1e-3;  // fuzzer bound index 2
      p.rowLength = 1 + 20 % 64;
      std::vector<uint8_t> chunk;
      encodeChunk(in.data(), n, p, chunk);
      const uint8_t prefix[6] = {uint8_t(d), uint8_t(lossless | (2 << 2)), 20, uint8_t(n & 0xff), uint8_t(n >> 8), 0};
      char path[512];
      std::snprintf(path, sizeof path, "%s/seed-%02d", dir, k++);
      FILE* f = std::fopen(path, "wb");
      if (!f) continue;
      std::fwrite(prefix, 1, 6, f);
      std::fwrite(chunk.data(), 1, chunk.size(), f);
      std::fclose(f);
      if (d == int(Dtype::BF16) || d == int(Dtype::F16)) {
        // The same with F32 output (byte 5 bit 0).
        p.wideOutput = true;
        encodeChunk(in.data(), n, p, chunk);
        const uint8_t widePrefix[6] = {prefix[0], prefix[1], prefix[2], prefix[3], prefix[4], 1};
        std::snprintf(path, sizeof path, "%s/seed-wide-%02d", dir, k);
        f = std::fopen(path, "wb");
        if (!f) continue;
        std::fwrite(widePrefix, 1, 6, f);
        std::fwrite(chunk.data(), 1, chunk.size(), f);
        std::fclose(f);
      }
    }
  // Block-scaled FP8 under the fuzzer's own parameter rule (byte 5 = 0x3f: 4 × 8 blocks, its odd scales), in both
  // chunk versions: the code grid (3) and the linear index of the test switch (1, selector byte 1 bit 5).
  for (int d : {int(Dtype::F8_E4M3), int(Dtype::F8_E5M2)})
    for (int linear = 0; linear < 2; linear++) {
      const size_t n = 400;
      const uint8_t b5 = 0x3f;
      auto in = makeData(Dtype(d), n, 3, rng);
      Fp8Scales g;
      g.cols = 1 + 20 % 64;
      g.blockRows = 1 + (b5 >> 1) % 4;
      g.blockCols = 1 + (b5 >> 3) % 8;
      g.scaleCols = (g.cols + g.blockCols - 1) / g.blockCols;
      std::vector<float> scales(size_t((n / g.cols / g.blockRows + 2) * g.scaleCols));
      const float odd[] = {1e-3f, 0.5f, 0.0f, NAN, INFINITY, -1.0f, 3e-38f, 7.0f};
      for (size_t k = 0; k < scales.size(); k++) scales[k] = odd[(k * 5 + b5) % 8];
      g.scales = scales.data();
      g.count = scales.size();
      ChunkParams p;
      p.dtype = Dtype(d);
      p.lossless = false;
      p.eb = 1e-3;
      p.rowLength = g.cols;
      p.fp8 = &g;
      p.fp8Linear = linear;
      std::vector<uint8_t> chunk;
      encodeChunk(in.data(), n, p, chunk);
      const uint8_t prefix[6] = {uint8_t(d), uint8_t((2 << 2) | (linear << 5)), 20, uint8_t(n & 0xff), uint8_t(n >> 8), b5};
      char path[512];
      std::snprintf(path, sizeof path, "%s/seed-fp8-%d-%d", dir, d, linear);
      FILE* f = std::fopen(path, "wb");
      if (!f) continue;
      std::fwrite(prefix, 1, 6, f);
      std::fwrite(chunk.data(), 1, chunk.size(), f);
      std::fclose(f);
    }
}

// The single-model fast decoder (decodeMapped) must agree with the general one symbol for symbol, at every
// precision and for every tail length, and must reject a stream that lost its last word.
static void fastDecoderAgrees() {
  std::mt19937 rng(7);
  for (uint32_t sb = entropy::kMinScaleBits + 1; sb <= entropy::kMaxScaleBits; sb++) {
    for (size_t n : {size_t(0), size_t(1), size_t(2), size_t(3), size_t(5), size_t(64), size_t(4099), size_t(70001)}) {
      const uint32_t A = 2 + rng() % 600;
      std::vector<uint16_t> sym(n);
      std::geometric_distribution<uint32_t> geo(0.05);
      std::vector<uint32_t> counts(A, 0);
      for (auto& v : sym) {
        v = uint16_t(std::min<uint32_t>(geo(rng), A - 1));
        counts[v]++;
      }
      entropy::Model m;
      entropy::buildModel(counts.data(), A, sb, m);
      std::vector<uint8_t> stream;
      entropy::encode(sym.data(), nullptr, n, &m, stream);
      entropy::Decoder dec;
      CHECK(dec.init(&m, 1) == Status::Ok, "init sb %u", sb);
      std::vector<uint16_t> lut(A), general(n), fast(n);
      for (uint32_t z = 0; z < A; z++) lut[z] = uint16_t(z * 3 + 1);
      CHECK(dec.decode(stream.data(), stream.size(), n, nullptr, general.data()) == Status::Ok, "general sb %u", sb);
      CHECK(dec.decodeMapped(stream.data(), stream.size(), n, lut.data(), fast.data()) == Status::Ok,
            "fast sb %u n %zu", sb, n);
      for (size_t i = 0; i < n; i++)
        CHECK(fast[i] == lut[sym[i]] && general[i] == sym[i], "symbol %zu differs (sb %u n %zu)", i, sb, n);
      if (stream.size() > 16)
        CHECK(dec.decodeMapped(stream.data(), stream.size() - 2, n, lut.data(), fast.data()) != Status::Ok,
              "shortened stream decoded (sb %u n %zu)", sb, n);
    }
  }
}

// The straightforward libm versions of the FP8/F16 conversions; dtype.hpp's bit-level ones must agree exactly.
static uint32_t refRoundSmallFloat(double a, int mbits, int bias, double maxFinite, uint32_t overflowBits) {
  const int emin = 1 - bias;
  if (a < std::ldexp(1.0, emin)) return uint32_t(std::nearbyint(std::ldexp(a, mbits - emin)));
  int e;
  std::frexp(a, &e);
  e -= 1;
  double m = std::nearbyint(std::ldexp(a, mbits - e));
  if (m >= std::ldexp(1.0, mbits + 1)) {
    e += 1;
    m = std::ldexp(1.0, mbits);
  }
  if (std::ldexp(m, e - mbits) > maxFinite) return overflowBits;
  return (uint32_t(e + bias) << mbits) | (uint32_t(m) - (1u << mbits));
}
static double refSmallValue(uint32_t c, int ebits, int mbits, bool fn) {
  const int s = c >> (ebits + mbits), e = (c >> mbits) & ((1 << ebits) - 1), m = c & ((1 << mbits) - 1);
  const int bias = (1 << (ebits - 1)) - 1;
  double v;
  if (fn && e == (1 << ebits) - 1 && m == (1 << mbits) - 1) v = NAN;
  else if (!fn && e == (1 << ebits) - 1) v = m ? NAN : INFINITY;
  else if (e == 0) v = std::ldexp(double(m), 1 - bias - mbits);
  else v = std::ldexp(double(m | (1 << mbits)), e - bias - mbits);
  return s ? -v : v;
}

static void smallFloatConversions() {
  for (uint32_t c = 0; c < 256; c++) {
    const double a = refSmallValue(c, 4, 3, true), b = refSmallValue(c, 5, 2, false);
    const double x = e4m3ToDouble(uint8_t(c)), y = e5m2ToDouble(uint8_t(c));
    CHECK(doubleToBits(a) == doubleToBits(x) || (std::isnan(a) && std::isnan(x)), "e4m3 value %u", c);
    CHECK(doubleToBits(b) == doubleToBits(y) || (std::isnan(b) && std::isnan(y)), "e5m2 value %u", c);
  }
  struct Format { int mbits, bias; double maxFinite; uint32_t overflow; int ebits; bool fn; };
  const Format formats[] = {{3, 7, 448.0, 0x7f, 4, true}, {2, 15, 57344.0, 0x7c, 5, false}, {10, 15, 65504.0, 0x7c00, 5, false}};
  std::mt19937_64 rng(5);
  for (const Format& f : formats) {
    std::vector<double> probes;
    // Every representable magnitude, the midpoints between neighbours, and a few double ulps around each.
    const uint32_t codes = 1u << (f.ebits + f.mbits);
    for (uint32_t c = 0; c + 1 < codes; c++) {
      const double v = refSmallValue(c, f.ebits, f.mbits, f.fn), w = refSmallValue(c + 1, f.ebits, f.mbits, f.fn);
      if (!std::isfinite(v)) continue;
      for (double x : {v, std::isfinite(w) ? (v + w) / 2 : v * 1.0625}) {
        double lo = x, hi = x;
        probes.push_back(x);
        for (int k = 0; k < 3; k++) {
          lo = std::nextafter(lo, 0.0);
          hi = std::nextafter(hi, INFINITY);
          probes.push_back(lo);
          probes.push_back(hi);
        }
      }
    }
    for (int k = 0; k < 200000; k++) probes.push_back(std::ldexp(double(rng() >> 11) * 0x1p-53, int(rng() % 80) - 40));
    probes.push_back(0);
    probes.push_back(4.9e-324);
    probes.push_back(1e300);
    probes.push_back(1.7976931348623157e308);
    for (double a : probes) {
      if (!(a >= 0) || !std::isfinite(a)) continue;
      CHECK(roundSmallFloat(a, f.mbits, f.bias, f.maxFinite, f.overflow) ==
                refRoundSmallFloat(a, f.mbits, f.bias, f.maxFinite, f.overflow),
            "roundSmallFloat(%a) mbits %d", a, f.mbits);
    }
  }
}

// FP8 with block scales: bound in dequantized units, odd scales exact, corrupt chunks rejected cleanly.
static void fp8Blocks() {
  std::mt19937 rng(13);
  std::normal_distribution<double> nd(0, 60);
  for (Dtype d : {Dtype::F8_E4M3, Dtype::F8_E5M2}) {
    const uint64_t rows = 70, cols = 150;
    Fp8Scales g;
    g.cols = cols;
    g.blockRows = 16;
    g.blockCols = 128;
    g.scaleCols = 2;
    std::vector<float> scales(((rows + 15) / 16) * 2);
    for (size_t k = 0; k < scales.size(); k++) scales[k] = float(std::ldexp(1.0, -int(k % 5)) * 1e-3);
    scales[1] = 0;
    scales[2] = NAN;
    scales[5] = INFINITY;
    g.scales = scales.data();
    g.count = scales.size();
    std::vector<uint8_t> all(rows * cols);
    for (auto& b : all) b = d == Dtype::F8_E4M3 ? doubleToE4m3(nd(rng)) : doubleToE5m2(nd(rng) * 100);
    for (double eb : {1e-7, 1e-4, 3e-3, 0.1, 1e6})
      for (uint64_t firstRow : {uint64_t(0), uint64_t(5), uint64_t(17)})
      for (bool linear : {false, true}) {
        ChunkParams p;
        p.fp8Linear = linear;  // version 1 chunks (linear index) must keep decoding
        p.dtype = d;
        p.lossless = false;
        p.eb = eb;
        p.rowLength = cols;
        p.firstElement = firstRow * cols;
        p.fp8 = &g;
        const uint64_t n = (rows - firstRow) * cols;
        const uint8_t* in = all.data() + p.firstElement;
        std::vector<uint8_t> chunk, out(n);
        CHECK(encodeChunk(in, n, p, chunk) == Status::Ok, "fp8 encode");
        CHECK(chunk[2] != 2 || chunk[1] == (linear ? 1 : 3), "fp8 chunk version %d", chunk[1]);
        CHECK(decodeChunk(chunk.data(), chunk.size(), p, n, out.data()) == Status::Ok, "fp8 decode eb %g", eb);
        for (uint64_t i = 0; i < n; i++) {
          const uint64_t e = p.firstElement + i;
          const double s = scales[(e / cols) / 16 * 2 + (e % cols) / 128];
          const double x = valueOf(d, in + i) * s, y = valueOf(d, out.data() + i) * s;
          if (!(s > 0 && std::isfinite(s)) || !std::isfinite(x)) CHECK(in[i] == out[i], "fp8 exact at %llu", (unsigned long long)i);
          else CHECK(std::fabs(x - y) <= eb, "fp8 bound eb %g at %llu: %g vs %g", eb, (unsigned long long)i, x, y);
        }
        for (int k = 0; k < 300; k++) {
          std::vector<uint8_t> bad = chunk;
          const size_t at = rng() % bad.size();
          const unsigned bit = rng() % 8;
          bad[at] ^= uint8_t(1u << bit);
          // A flip may hit something that does not matter (e.g. a lossless plane's context entry for an absent
          // byte); what must never happen is other bytes without an error.
          std::vector<uint8_t> got(n);
          CHECK(decodeChunk(bad.data(), bad.size(), p, n, got.data()) != Status::Ok || got == out,
                "fp8 corruption went unnoticed: eb %g linear %d byte %zu of %zu bit %u method %d", eb, int(linear), at,
                bad.size(), bit, chunk[2]);
        }
      }
  }
}

static void crcKnownAnswer() {
  const char* s = "123456789";
  CHECK(crc32(reinterpret_cast<const uint8_t*>(s), 9) == 0xCBF43926u, "CRC-32 check value");
  CHECK(crc32(reinterpret_cast<const uint8_t*>(s) + 4, 5, crc32(reinterpret_cast<const uint8_t*>(s), 4)) == 0xCBF43926u,
        "CRC-32 continued");
  // Known zlib values past the folding threshold: a million 'a's, and 0..255 repeated to 4096 bytes.
  std::vector<uint8_t> as(1000000, 'a');
  CHECK(crc32(as.data(), as.size()) == 0xDC25BFBCu, "CRC-32 of a million 'a' %08x", crc32(as.data(), as.size()));
  std::vector<uint8_t> ramp(4096);
  for (size_t i = 0; i < ramp.size(); i++) ramp[i] = uint8_t(i);
  CHECK(crc32(ramp.data(), ramp.size()) == 0xA2912082u, "CRC-32 of the byte ramp %08x", crc32(ramp.data(), 4096));
}

// The folded CRC (when this CPU has it) must equal the table CRC for every length, alignment and continuation.
static void crcFoldingAgrees() {
  std::mt19937 rng(11);
  std::vector<uint8_t> buf(3 * 1024 * 1024 + 64);
  for (auto& b : buf) b = uint8_t(rng());
  for (size_t align = 0; align < 16; align++)
    for (size_t n = 0; n <= 300; n++) {
      const uint8_t* p = buf.data() + align;
      const uint32_t want = crc32Table(p, n);
      CHECK(crc32(p, n) == want, "CRC length %zu align %zu", n, align);
      const size_t cut = n / 3;
      CHECK(crc32(p + cut, n - cut, crc32(p, cut)) == want, "CRC continued at %zu of %zu", cut, n);
      CHECK(crc32(p, n, 0x12345678u) == crc32Table(p, n, 0x12345678u), "CRC from a start value, length %zu", n);
    }
  for (size_t n : {size_t(1) << 20, (size_t(3) << 20) + 13, size_t(4097), size_t(65536 + 48)}) {
    const size_t align = n & 7;
    const uint8_t* p = buf.data() + align;
    const uint32_t want = crc32Table(p, n);
    CHECK(crc32(p, n) == want, "CRC of %zu bytes", n);
    uint32_t c = 0;
    for (size_t at = 0; at < n;) {
      const size_t step = std::min<size_t>(n - at, 1 + rng() % 70000);
      c = crc32(p + at, step, c);
      at += step;
    }
    CHECK(c == want, "CRC of %zu bytes in random pieces", n);
  }
#ifdef SP_CRC32_CLMUL
  std::printf("crc32: folding %s\n", crc32fold::available() ? "used" : "not available (tables)");
#endif
}

static bool sameRange(const measure::Range& a, const measure::Range& b) {
  auto same = [](double x, double y) { return (std::isnan(x) && std::isnan(y)) || (x == y && std::signbit(x) == std::signbit(y)); };
  return same(a.min, b.min) && same(a.max, b.max) && a.nonFinite == b.nonFinite;
}

// The range kernels (AVX2 16-bit keys with the fused CRC, AVX2 block-scaled FP8) against plain walks, at odd
// lengths, offsets and alignments, with NaN/Inf and bad scales, under the sanitizers.
static void rangeKernelsAgree() {
  std::mt19937 rng(23);
  for (Dtype d : {Dtype::BF16, Dtype::F16}) {
    for (int pattern = 0; pattern < 3; pattern++) {
      std::vector<uint8_t> data = makeData(d, 5000, pattern, rng);
      for (size_t off : {size_t(0), size_t(1), size_t(3)})
        for (size_t n : {size_t(0), size_t(1), size_t(31), size_t(63), size_t(64), size_t(65), size_t(130), size_t(4093)}) {
          const uint8_t* p = data.data() + 2 * off;
          measure::Range plain;
          for (size_t i = 0; i < n; i++) measure::addValue(plain, valueOf(d, p + 2 * i));
          uint32_t crc = 0x1234u;
          const measure::Range fused = measure::chunkRangeCrc(p, n, d, 0, nullptr, crc);
          CHECK(sameRange(fused, plain), "16-bit range, dtype %d pattern %d n %zu", int(d), pattern, n);
          CHECK(crc == crc32Table(p, 2 * n, 0x1234u), "16-bit range CRC, dtype %d n %zu", int(d), n);
          CHECK(sameRange(measure::chunkRange(p, n, d, 0, nullptr), plain), "16-bit range alone, n %zu", n);
        }
    }
  }
  for (Dtype d : {Dtype::F8_E4M3, Dtype::F8_E5M2}) {
    const uint64_t rows = 50, cols = 300;
    std::vector<float> scales(17 * 3);
    for (int pattern = 0; pattern < 3; pattern++) {
      std::vector<uint8_t> data = makeData(d, rows * cols, pattern, rng);
      for (size_t k = 0; k < scales.size(); k++) scales[k] = 0.5f + float(k % 7);
      if (pattern == 2) scales[4] = -1.0f, scales[7] = 0.0f, scales[9] = NAN;
      Fp8Scales g;
      g.scales = scales.data();
      g.count = scales.size() - (pattern == 1 ? 3 : 0);  // pattern 1: the last block row has no scales
      g.cols = cols;
      g.blockRows = 3;
      g.blockCols = 128;
      g.scaleCols = 3;
      for (uint64_t first : {uint64_t(0), uint64_t(5), uint64_t(cols * 2 + 130)})
        for (uint64_t n : {uint64_t(0), uint64_t(1), uint64_t(33), uint64_t(cols), uint64_t(cols * 7 + 5), rows * cols - first}) {
          if (first + n > rows * cols) continue;
          const uint8_t* p = data.data() + first;
          measure::Range plain;
          for (uint64_t i = 0; i < n; i++) {
            const uint64_t e = first + i, row = e / cols, col = e % cols;
            const uint64_t at = (row / g.blockRows) * g.scaleCols + col / g.blockCols;
            const double sc = at < g.count ? double(scales[at]) : NAN;
            const double v = valueOf(d, p + i);
            measure::addValue(plain, v * sc);  // a missing or NaN scale makes the value non-finite
          }
          const measure::Range got = measure::chunkRange(p, n, d, first, &g);
          CHECK(sameRange(got, plain), "FP8 range, dtype %d pattern %d first %llu n %llu", int(d), pattern,
                (unsigned long long)first, (unsigned long long)n);
          uint32_t crc = 0;
          CHECK(sameRange(measure::chunkRangeCrc(p, n, d, first, &g, crc), plain), "FP8 range with CRC, n %llu",
                (unsigned long long)n);
          CHECK(crc == crc32Table(p, n), "FP8 range CRC, n %llu", (unsigned long long)n);
        }
    }
  }
}

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--write-seeds") == 0) {
    writeSeeds(argv[2]);
    return 0;
  }
  crcKnownAnswer();
  crcFoldingAgrees();
  smallFloatConversions();
  fp8Blocks();
  roundTrips();
  corruptions();
  wideRoundTrips();
  fastDecoderAgrees();
  rangeKernelsAgree();
  if (failures) {
    std::fprintf(stderr, "%d failures\n", failures);
    return 1;
  }
  std::printf("codec_test: all checks passed\n");
  return 0;
}
