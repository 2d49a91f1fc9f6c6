// The chunk codec: composes the stages (dtype → special values → quantizer → predictor → entropy coder, or the
// lossless byte-plane path) into one independently decodable, self-checking chunk. Layout in native/README.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../common/status.hpp"
#include "../dtype/dtype.hpp"

namespace sp {

constexpr uint8_t kChunkMagic = 0xB5;
// The newest chunk version this codec reads and writes. Version 3 chunks check themselves with zlib's CRC-32 of the
// decoded bytes (which the pipeline records as well, so the encoder digests them once); versions 1 and 2 with a
// multiply-xor hash, and differ only in how block-scaled FP8 maps indices to codes (1 linear, 2 and 3 a per-block
// code grid). Version 4 adds F32 output for 16-bit inputs (ChunkParams::wideOutput); only such chunks say 4. The
// encoder writes version 3 otherwise, and version 1 only for the tests' fp8Linear chunks.
constexpr uint8_t kCodecVersion = 4;
constexpr size_t kChunkHeaderBytes = 12;
// Chunks count elements in 32 bits; tensors larger than this are split by the caller.
constexpr uint64_t kMaxChunkElements = 0xFFFFFFFFull;

struct Fp8Scales {
  const float* scales = nullptr;
  uint64_t count = 0;
  uint64_t cols = 0, blockRows = 0, blockCols = 0, scaleCols = 0;
};

struct ChunkParams {
  Dtype dtype = Dtype::BF16;
  bool lossless = true;
  double eb = 0;
  uint64_t rowLength = 1;
  uint64_t firstElement = 0;
  const Fp8Scales* fp8 = nullptr;  // only for F8_* dtypes
  // BF16/F16 only: decode to F32 (4 bytes per element) instead of the input dtype, so that bin centres need
  // not be representable in the input dtype (SZ3's setting: it reconstructs floats). Every decoded F32 value is
  // within eb of the original; exactly stored values (NaN, ±Inf, −0, unbinned) come back widened exactly.
  bool wideOutput = false;
  // Tests only: write block-scaled FP8 the version-1 way (linear index, raw escapes) to check old chunks decode.
  bool fp8Linear = false;
};

// Bytes per decoded element.
inline unsigned outputBytes(const ChunkParams& p) { return p.wideOutput ? 4 : dtypeBytes(p.dtype); }

// Hard upper bound of an encoded chunk of n elements: the raw fallback plus the header.
inline uint64_t maxChunkBytes(uint64_t n, Dtype d) { return kChunkHeaderBytes + n * dtypeBytes(d); }

// Encodes n elements (input is n × dtypeBytes raw little-endian bytes); out is replaced.
Status encodeChunk(const uint8_t* in, uint64_t n, const ChunkParams& p, std::vector<uint8_t>& out);
namespace measure {
struct ErrorSums;
}
// encodeChunk that also reports what the decoder will produce without decoding: the zlib CRC-32 of the decoded
// bytes and the error sums of decoded against input under bound checkEb (compareChunk in pipeline/values.ts); and,
// given inputCrc, the zlib CRC-32 of the input.
Status encodeChunkMeasured(const uint8_t* in, uint64_t n, const ChunkParams& p, double checkEb,
                           std::vector<uint8_t>& out, uint32_t& decodedCrc, measure::ErrorSums& sums,
                           uint32_t* inputCrc = nullptr);
// Decodes a chunk that must hold exactly n elements into out (n × outputBytes(p) bytes).
Status decodeChunk(const uint8_t* in, size_t len, const ChunkParams& p, uint64_t n, uint8_t* out);
// Checks caller parameters (bound, dtype, scales) before encoding or decoding.
Status checkParams(const ChunkParams& p, uint64_t n);

}  // namespace sp
