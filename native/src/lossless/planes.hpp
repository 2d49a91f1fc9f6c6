// Lossless stage (the ZipNN idea): rotate each element so the sign sits below the mantissa, split into byte
// planes, and entropy-code each plane; the exponent plane carries nearly all the redundancy, the next plane is
// coded under the exponent as context, low mantissa planes are usually stored raw.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../common/bytes.hpp"
#include "../common/status.hpp"

namespace sp::lossless {

// Encodes n elements of `width` bytes (1, 2, 4 or 8), little-endian, appending to out.
void encodePlanes(const uint8_t* in, size_t n, unsigned width, std::vector<uint8_t>& out);
// Decodes exactly n elements into out (n × width bytes) reading from r.
Status decodePlanes(ByteReader& r, size_t n, unsigned width, uint8_t* out);

}  // namespace sp::lossless
