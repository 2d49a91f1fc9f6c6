// CRC-32 as zlib computes it (reflected polynomial 0xEDB88320, initial and final xor 0xFFFFFFFF), so a chunk's
// decoded bytes can be digested where they are produced. Slicing-by-8: eight table lookups per 8 input bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sp {

struct Crc32Tables {
  uint32_t t[8][256];
  constexpr Crc32Tables() : t() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
      for (int s = 1; s < 8; s++) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
};
inline constexpr Crc32Tables kCrc32Tables{};

// Continues crc (the value returned for the bytes before p; 0 to start) over n more bytes.
inline uint32_t crc32(const uint8_t* p, size_t n, uint32_t crc = 0) {
  const auto& T = kCrc32Tables.t;
  uint32_t c = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);  // little-endian hosts only, like the rest of the codec
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = T[7][lo & 0xff] ^ T[6][(lo >> 8) & 0xff] ^ T[5][(lo >> 16) & 0xff] ^ T[4][lo >> 24] ^ T[3][hi & 0xff] ^
        T[2][(hi >> 8) & 0xff] ^ T[1][(hi >> 16) & 0xff] ^ T[0][hi >> 24];
  }
  for (; n > 0; n--, p++) c = (c >> 8) ^ T[0][(c ^ *p) & 0xff];
  return ~c;
}

}  // namespace sp
