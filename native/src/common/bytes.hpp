// Bounds-checked byte and bit streams: the only way the decoder touches input bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "status.hpp"

namespace sp {

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; i++) out_.push_back(uint8_t(v >> (8 * i)));
  }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(uint8_t(v) | 0x80);
      v >>= 7;
    }
    out_.push_back(uint8_t(v));
  }
  void bytes(const uint8_t* p, size_t n) { out_.insert(out_.end(), p, p + n); }
  size_t size() const { return out_.size(); }
  std::vector<uint8_t>& buffer() { return out_; }

 private:
  std::vector<uint8_t>& out_;
};

// Sticky-error reader: after the first failure every read returns 0 and status() tells why.
class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  uint8_t u8() {
    if (!need(1)) return 0;
    return *p_++;
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = uint32_t(p_[0]) | uint32_t(p_[1]) << 8 | uint32_t(p_[2]) << 16 | uint32_t(p_[3]) << 24;
    p_ += 4;
    return v;
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!need(1)) return 0;
      uint8_t b = *p_++;
      if (shift == 63 && b > 1) return fail(Status::CorruptChunk);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    return fail(Status::CorruptChunk);
  }
  // Hands out a view of n bytes, or nullptr (and a TRUNCATED status) if they are not there.
  const uint8_t* take(uint64_t n) {
    if (!need(n)) return nullptr;
    const uint8_t* r = p_;
    p_ += n;
    return r;
  }
  size_t remaining() const { return size_t(end_ - p_); }
  bool ok() const { return status_ == Status::Ok; }
  Status status() const { return status_; }
  uint64_t fail(Status s) {
    if (status_ == Status::Ok) status_ = s;
    p_ = end_;
    return 0;
  }

 private:
  bool need(uint64_t n) {
    if (status_ != Status::Ok) return false;
    if (uint64_t(end_ - p_) < n) {
      fail(Status::Truncated);
      return false;
    }
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  Status status_ = Status::Ok;
};

class BitWriter {
 public:
  explicit BitWriter(std::vector<uint8_t>& out) : out_(out) {}
  void put(uint64_t v, unsigned n) {  // n <= 32
    acc_ |= (v & ((uint64_t(1) << n) - 1)) << fill_;
    fill_ += n;
    while (fill_ >= 8) {
      out_.push_back(uint8_t(acc_));
      acc_ >>= 8;
      fill_ -= 8;
    }
  }
  void flush() {
    if (fill_ > 0) out_.push_back(uint8_t(acc_));
    acc_ = 0;
    fill_ = 0;
  }

 private:
  std::vector<uint8_t>& out_;
  uint64_t acc_ = 0;
  unsigned fill_ = 0;
};

// Reads bits from a byte span; running past the end is reported, not undefined.
class BitReader {
 public:
  BitReader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  uint32_t get(unsigned n) {  // n <= 32
    while (fill_ < n) {
      if (p_ == end_) {
        overrun_ = true;
        return 0;
      }
      acc_ |= uint64_t(*p_++) << fill_;
      fill_ += 8;
    }
    uint32_t v = uint32_t(acc_ & ((uint64_t(1) << n) - 1));
    acc_ >>= n;
    fill_ -= n;
    return v;
  }
  bool overrun() const { return overrun_; }
  // Skips to the next byte; the skipped padding bits must be zero (so no bit of a chunk is free to flip).
  bool align() {
    const unsigned d = fill_ % 8;
    const bool zero = (acc_ & ((uint64_t(1) << d) - 1)) == 0;
    acc_ >>= d;
    fill_ -= d;
    return zero;
  }
  // True when every byte was used and nothing is left over.
  bool atEnd() const { return fill_ == 0 && p_ == end_ && !overrun_; }
  // Bytes consumed so far, rounding the partial byte up (the writer pads to a byte).
  size_t consumed(const uint8_t* start) const { return size_t(p_ - start); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t acc_ = 0;
  unsigned fill_ = 0;
  bool overrun_ = false;
};

inline uint32_t zigzag32(int64_t v) { return uint32_t((uint64_t(v) << 1) ^ uint64_t(v >> 63)); }
inline int64_t unzigzag32(uint32_t u) { return int64_t(u >> 1) ^ -int64_t(u & 1); }

}  // namespace sp
