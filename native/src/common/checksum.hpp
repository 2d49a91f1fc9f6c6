// A fast 32-bit checksum of a chunk's decoded bytes, so a chunk checks itself without the container.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sp {

inline uint32_t checksum32(const uint8_t* p, size_t n) {
  const uint64_t k = 0x9E3779B97F4A7C15ull;
  uint64_t h[4] = {n ^ 0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int l = 0; l < 4; l++) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * l, 8);
      h[l] = (h[l] ^ w) * k;
      h[l] ^= h[l] >> 29;
    }
  }
  uint64_t t = 0;
  for (int s = 0; i < n; i++, s++) {
    t |= uint64_t(p[i]) << (8 * (s & 7));
    if ((s & 7) == 7 || i + 1 == n) {
      h[0] = (h[0] ^ t) * k;
      h[0] ^= h[0] >> 29;
      t = 0;
    }
  }
  uint64_t r = h[0] ^ (h[1] * 3) ^ (h[2] * 5) ^ (h[3] * 7);
  r ^= r >> 31;
  r *= k;
  r ^= r >> 32;
  return uint32_t(r);
}

}  // namespace sp
