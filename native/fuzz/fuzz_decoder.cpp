// libFuzzer harness for the chunk decoder. The first 6 bytes pick the parameters (dtype, mode, bound, element
// count, row length); the rest is fed to decodeChunk as a chunk. Odd selector bytes instead encode the rest as
// raw values and check the round trip, so the encoder's outputs are fuzzed too.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
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
  p.eb = bounds[(data[1] >> 2) & 7];
  p.rowLength = 1 + data[2] % 64;
  const uint64_t n = uint64_t(data[3]) | uint64_t(data[4]) << 8;
  const uint8_t* body = data + 6;
  const size_t len = size - 6;
  const unsigned B = dtypeBytes(d);
  if (roundTrip) {
    const uint64_t m = len / B;
    std::vector<uint8_t> chunk;
    if (encodeChunk(body, m, p, chunk) != Status::Ok) abort();
    if (chunk.size() > maxChunkBytes(m, d)) abort();
    std::vector<uint8_t> out(m * B);
    if (decodeChunk(chunk.data(), chunk.size(), p, m, out.data()) != Status::Ok) abort();
    if (lossless && m != 0 && std::memcmp(out.data(), body, m * B) != 0) abort();
    return 0;
  }
  std::vector<uint8_t> chunk(body, body + len);  // exact-size heap copy so overreads are caught
  std::vector<uint8_t> out(n * B);
  (void)decodeChunk(chunk.data(), chunk.size(), p, n, out.data());
  return 0;
}
