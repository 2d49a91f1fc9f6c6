// CRC-32 as zlib computes it (reflected polynomial 0xEDB88320, initial and final xor 0xFFFFFFFF), so a chunk's
// decoded bytes and a tensor's bytes can be digested where they are produced. On x86-64 with PCLMULQDQ the bulk
// is folded with carry-less multiplies (about ten times faster than tables); elsewhere, and for short inputs and
// tails, slicing-by-8 (eight table lookups per 8 input bytes). Both give the same values.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define SP_CRC32_CLMUL 1
#include <immintrin.h>
#endif

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

// The CRC register (already inverted, no final xor) continued over n bytes by table lookups.
inline uint32_t crc32Register(uint32_t c, const uint8_t* p, size_t n) {
  const auto& T = kCrc32Tables.t;
  for (; n >= 8; n -= 8, p += 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);  // little-endian hosts only, like the rest of the codec
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = T[7][lo & 0xff] ^ T[6][(lo >> 8) & 0xff] ^ T[5][(lo >> 16) & 0xff] ^ T[4][lo >> 24] ^ T[3][hi & 0xff] ^
        T[2][(hi >> 8) & 0xff] ^ T[1][(hi >> 16) & 0xff] ^ T[0][hi >> 24];
  }
  for (; n > 0; n--, p++) c = (c >> 8) ^ T[0][(c ^ *p) & 0xff];
  return c;
}

// Continues crc (the value returned for the bytes before p; 0 to start) over n more bytes, tables only.
inline uint32_t crc32Table(const uint8_t* p, size_t n, uint32_t crc = 0) { return ~crc32Register(~crc, p, n); }

#ifdef SP_CRC32_CLMUL
namespace crc32fold {

// Why these constants: a 16-byte block loaded little-endian holds its first message bit (bit 0 of byte 0) in
// register bit 0, which stands for the highest power, x^127 relative to the block's end. Moving a block D bits
// further along the message multiplies it by x^D; split into its halves (low qword = the x^64..x^127 part, high
// qword = the x^0..x^63 part) that is hi·x^(64+D) + lo·x^D, and modulo P each power is a 32-bit remainder. A
// carry-less multiply of two such bit-reversed 64-bit values yields their product times x (bit k stands for
// x^(126-k), the 128-bit register reads it as x^(127-k)), so each constant is the remainder of one power less.

// x^k mod P in plain bit order (bit j = coefficient of x^j), P = x^32 + 0x04C11DB7.
constexpr uint32_t powMod(uint32_t k) {
  uint64_t v = 1;
  for (uint32_t i = 0; i < k; i++) {
    v <<= 1;
    if (v & (uint64_t(1) << 32)) v ^= 0x104C11DB7ull;
  }
  return uint32_t(v);
}

constexpr uint32_t reverse32(uint32_t v) {
  uint32_t r = 0;
  for (int i = 0; i < 32; i++) r |= ((v >> i) & 1u) << (31 - i);
  return r;
}

// A remainder as a bit-reversed 64-bit operand: coefficient of x^j at bit 63 - j.
constexpr uint64_t operand(uint32_t rem) { return uint64_t(reverse32(rem)) << 32; }

// Multipliers that move a 128-bit block D bits on: {low qword's, high qword's}.
struct Fold {
  uint64_t lo, hi;
};
constexpr Fold foldBy(uint32_t bits) { return {operand(powMod(64 + bits - 1)), operand(powMod(bits - 1))}; }

inline constexpr Fold k512 = foldBy(512);
inline constexpr Fold k384 = foldBy(384);
inline constexpr Fold k256 = foldBy(256);
inline constexpr Fold k128 = foldBy(128);

__attribute__((target("pclmul,sse4.1"))) inline __m128i fold(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

__attribute__((target("pclmul,sse4.1"))) inline __m128i constants(const Fold& f) {
  return _mm_set_epi64x(int64_t(f.hi), int64_t(f.lo));
}

// Four chains 64 bytes apart folded into one 16-byte block congruent to all of them.
__attribute__((target("pclmul,sse4.1"))) inline __m128i reduce4(__m128i x0, __m128i x1, __m128i x2, __m128i x3) {
  return _mm_xor_si128(_mm_xor_si128(fold(x0, constants(k384)), fold(x1, constants(k256))),
                       _mm_xor_si128(fold(x2, constants(k128)), x3));
}

// The register a folded block stands for: its CRC from a zero register.
__attribute__((target("pclmul,sse4.1"))) inline uint32_t registerOf(__m128i x) {
  alignas(16) uint8_t last[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(last), x);
  return crc32Register(0, last, 16);
}

// The register continued over n >= 64 bytes: folds whole 16-byte blocks, then tables for the last < 16.
__attribute__((target("pclmul,sse4.1"))) inline uint32_t registerClmul(uint32_t c, const uint8_t* p, size_t n) {
  auto load = [](const uint8_t* q) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)); };
  // The register stands for the first 32 message bits' worth of history: xor it into them, then fold from zero.
  __m128i x0 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(int(c)));
  __m128i x1 = load(p + 16), x2 = load(p + 32), x3 = load(p + 48);
  p += 64;
  n -= 64;
  const __m128i m512 = constants(k512);
  // Four independent chains keep the multiplier busy.
  for (; n >= 64; n -= 64, p += 64) {
    x0 = _mm_xor_si128(fold(x0, m512), load(p));
    x1 = _mm_xor_si128(fold(x1, m512), load(p + 16));
    x2 = _mm_xor_si128(fold(x2, m512), load(p + 32));
    x3 = _mm_xor_si128(fold(x3, m512), load(p + 48));
  }
  __m128i x = reduce4(x0, x1, x2, x3);
  const __m128i m128 = constants(k128);
  for (; n >= 16; n -= 16, p += 16) x = _mm_xor_si128(fold(x, m128), load(p));
  // What is left is congruent to everything so far: its CRC from a zero register is the register.
  return crc32Register(registerOf(x), p, n);
}

inline bool available() {
  static const bool yes = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return yes;
}

}  // namespace crc32fold
#endif

// Continues crc (the value returned for the bytes before p; 0 to start) over n more bytes.
inline uint32_t crc32(const uint8_t* p, size_t n, uint32_t crc = 0) {
#ifdef SP_CRC32_CLMUL
  // Below a few blocks the fixed cost of folding is not worth it.
  if (n >= 128 && crc32fold::available()) return ~crc32fold::registerClmul(~crc, p, n);
#endif
  return crc32Table(p, n, crc);
}

}  // namespace sp
