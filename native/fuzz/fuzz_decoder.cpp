// libFuzzer harness for the chunk decoder. The first 6 bytes pick the parameters (dtype, mode, bound, element
// count, row length, FP8 block scales); the rest is fed to decodeChunk as a chunk. Odd selector bytes instead encode the rest as
// raw values and check the round trip, so the encoder's outputs are fuzzed too (block-scaled FP8 in both chunk
// versions: byte 1 bit 5 selects the version-1 linear index, else the version-2 code grid). For BF16/F16, byte 5
// bit 0 selects F32 output; its round trips are checked against the bound (and exact widening when lossless).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <vector>

#include "../src/chunk/chunk.hpp"

using namespace sp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const Dtype d = Dtype(data[0] % kDtypeCount);
  const bool lossless = data[1] & 1;
  const bool roundTrip = data[1] & 2;
  const double bounds[] = {1e-6, 1e-4, 1e-3, 1e-2, 0.1, 1, 100, 1e-30};
  ChunkParams p;
  p.dtype = d;
  p.lossless = lossless;
  p.fp8Linear = data[1] & 0x20;  // round trips: block-scaled FP8 written as version 1 (linear index)
  p.eb = bounds[(data[1] >> 2) & 7];
  p.rowLength = 1 + data[2] % 64;
  const uint64_t n = uint64_t(data[3]) | uint64_t(data[4]) << 8;
  const uint8_t* body = data + 6;
  const size_t len = size - 6;
  const unsigned B = dtypeBytes(d);
  // FP8 with block scales (byte 5, bit 0): small blocks, awkward scales, chunks starting a few rows in.
  Fp8Scales g;
  std::vector<float> scales;
  if ((d == Dtype::F8_E4M3 || d == Dtype::F8_E5M2) && (data[5] & 1)) {
    g.cols = p.rowLength;
    g.blockRows = 1 + (data[5] >> 1) % 4;
    g.blockCols = 1 + (data[5] >> 3) % 8;
    g.scaleCols = (g.cols + g.blockCols - 1) / g.blockCols;
    p.firstElement = g.cols * ((data[5] >> 6) % 3);
    const uint64_t maxElems = std::max<uint64_t>(n, len) + p.firstElement;
    const uint64_t rows = maxElems / g.cols + 1;
    scales.resize(size_t((rows / g.blockRows + 1) * g.scaleCols));
    const float odd[] = {1e-3f, 0.5f, 0.0f, NAN, INFINITY, -1.0f, 3e-38f, 7.0f};
    for (size_t k = 0; k < scales.size(); k++) scales[k] = odd[(k * 5 + data[5]) % 8];
    g.scales = scales.data();
    g.count = scales.size();
    p.fp8 = &g;
  }
  const bool half = d == Dtype::BF16 || d == Dtype::F16;
  p.wideOutput = half && (data[5] & 1);
  const unsigned OB = outputBytes(p);
  if (roundTrip) {
    const uint64_t m = len / B;
    std::vector<uint8_t> chunk;
    if (encodeChunk(body, m, p, chunk) != Status::Ok) abort();
    if (chunk.size() > maxChunkBytes(m, d)) abort();
    std::vector<uint8_t> out(m * OB);
    if (decodeChunk(chunk.data(), chunk.size(), p, m, out.data()) != Status::Ok) abort();
    if (p.wideOutput) {
      for (uint64_t i = 0; i < m; i++) {
        uint16_t b;
        uint32_t y;
        std::memcpy(&b, body + 2 * i, 2);
        std::memcpy(&y, out.data() + 4 * i, 4);
        const uint32_t exact = d == Dtype::BF16 ? bf16ToF32Bits(b) : f16ToF32Bits(b);
        const double v = d == Dtype::BF16 ? bf16ToDouble(b) : f16ToDouble(b);
        const bool special = !std::isfinite(v) || (v == 0 && std::signbit(v));
        if (lossless || special) {
          if (y != exact) abort();
        } else if (!(std::fabs(double(bitsToFloat(y)) - v) <= p.eb)) {
          abort();
        }
      }
      return 0;
    }
    if (lossless && m != 0 && std::memcmp(out.data(), body, m * B) != 0) abort();
    return 0;
  }
  std::vector<uint8_t> chunk(body, body + len);  // exact-size heap copy so overreads are caught
  std::vector<uint8_t> out(n * OB);
  (void)decodeChunk(chunk.data(), chunk.size(), p, n, out.data());
  return 0;
}
