// Errors as values: every decoder failure is one of these codes, never an exception or a crash.
#pragma once
#include <cstdint>

namespace sp {

enum class Status : uint8_t {
  Ok = 0,
  CorruptChunk,     // a length, count, table or state inside the chunk is impossible
  Truncated,        // the chunk ends before its declared contents
  ChecksumMismatch, // decoded values do not match the checksum the encoder stored
  SizeMismatch,     // the chunk holds a different number of elements than the caller expects
  BadParams,        // caller-side parameters are invalid (dtype, bound, sizes)
  UnsupportedVersion,
};

inline const char* statusCode(Status s) {
  switch (s) {
    case Status::Ok: return "OK";
    case Status::CorruptChunk: return "CORRUPT_CHUNK";
    case Status::Truncated: return "TRUNCATED";
    case Status::ChecksumMismatch: return "CHECKSUM_MISMATCH";
    case Status::SizeMismatch: return "SIZE_MISMATCH";
    case Status::BadParams: return "BAD_PARAMS";
    case Status::UnsupportedVersion: return "UNSUPPORTED_VERSION";
  }
  return "CORRUPT_CHUNK";
}

inline const char* statusMessage(Status s) {
  switch (s) {
    case Status::Ok: return "ok";
    case Status::CorruptChunk: return "the compressed chunk is corrupt";
    case Status::Truncated: return "the compressed chunk is truncated";
    case Status::ChecksumMismatch: return "the decoded chunk does not match its checksum";
    case Status::SizeMismatch: return "the compressed chunk holds a different number of elements than expected";
    case Status::BadParams: return "invalid codec parameters";
    case Status::UnsupportedVersion: return "the compressed chunk was written by an unsupported codec version";
  }
  return "the compressed chunk is corrupt";
}

}  // namespace sp
