// Node-API face of the codec: compressChunk(Measured) / decompressChunk(Into) / maxCompressedChunkSize, and mapped file
// regions (io/mapped.hpp) as inputs. The only global state is the registry of mapped regions, behind a lock, so the
// module is safe in worker_threads; results are copied into JS-owned ArrayBuffers (no external buffers, which
// Electron's memory cage forbids).
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../chunk/chunk.hpp"
#include "../common/crc32.hpp"
#include "../io/mapped.hpp"
#include "../measure/measure.hpp"
#include "../measure/range.hpp"

namespace {

using sp::ChunkParams;
using sp::Dtype;
using sp::Status;

Napi::Value throwCodec(Napi::Env env, Status s, const char* detail = nullptr) {
  Napi::Error err = Napi::Error::New(env, detail ? detail : sp::statusMessage(s));
  err.Set("code", Napi::String::New(env, sp::statusCode(s)));
  err.ThrowAsJavaScriptException();
  return env.Undefined();
}

bool getNumber(const Napi::Object& o, const char* key, double& out) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) return false;
  out = v.As<Napi::Number>().DoubleValue();
  return true;
}

bool validCount(double v) { return v >= 0 && v <= 9007199254740991.0 && v == double(uint64_t(v)); }

// Reads {dtype, lossless, eb, rowLength, firstElement, fp8?, fp8Linear?, wideOutput?} as passed by src-main/core/codec/index.ts.
bool readParams(const Napi::Object& o, ChunkParams& p, sp::Fp8Scales& g) {
  double dtype, lossless, eb, rowLength, first;
  if (!getNumber(o, "dtype", dtype) || !getNumber(o, "lossless", lossless) || !getNumber(o, "eb", eb) ||
      !getNumber(o, "rowLength", rowLength) || !getNumber(o, "firstElement", first))
    return false;
  if (!(dtype >= 0 && dtype < sp::kDtypeCount) || dtype != double(int(dtype))) return false;
  if (!validCount(rowLength) || !validCount(first)) return false;
  p.dtype = Dtype(int(dtype));
  p.lossless = lossless != 0;
  p.eb = eb;
  p.rowLength = uint64_t(rowLength);
  p.firstElement = uint64_t(first);
  p.fp8 = nullptr;
  // Tests only: encode block-scaled FP8 as codec version 1 did.
  const Napi::Value lin = o.Get("fp8Linear");
  p.fp8Linear = lin.IsBoolean() && lin.As<Napi::Boolean>().Value();
  const Napi::Value wide = o.Get("wideOutput");
  p.wideOutput = wide.IsBoolean() && wide.As<Napi::Boolean>().Value();
  Napi::Value f = o.Get("fp8");
  if (f.IsObject()) {
    Napi::Object fo = f.As<Napi::Object>();
    Napi::Value sv = fo.Get("scales");
    if (!sv.IsTypedArray() || sv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) return false;
    Napi::Float32Array sc = sv.As<Napi::Float32Array>();
    double cols, br, bc, scol;
    if (!getNumber(fo, "cols", cols) || !getNumber(fo, "blockRows", br) || !getNumber(fo, "blockCols", bc) ||
        !getNumber(fo, "scaleCols", scol))
      return false;
    if (!validCount(cols) || !validCount(br) || !validCount(bc) || !validCount(scol)) return false;
    g.scales = sc.Data();
    g.count = sc.ElementLength();
    g.cols = uint64_t(cols);
    g.blockRows = uint64_t(br);
    g.blockCols = uint64_t(bc);
    g.scaleCols = uint64_t(scol);
    p.fp8 = &g;
  }
  return true;
}

bool readBytes(const Napi::Value& v, const uint8_t*& data, size_t& len) {
  if (!v.IsTypedArray()) return false;
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array u = ta.As<Napi::Uint8Array>();
  data = u.Data();
  len = u.ByteLength();
  return true;
}

// info[0..n) as numbers into out; false when there are fewer arguments or one is not a number.
bool readNumbers(const Napi::CallbackInfo& info, double* out, size_t n) {
  if (info.Length() < n) return false;
  for (size_t i = 0; i < n; i++) {
    if (!info[i].IsNumber()) return false;
    out[i] = info[i].As<Napi::Number>().DoubleValue();
  }
  return true;
}

// A mapped region's id as JavaScript holds it: an integer in [1, 2^32).
bool regionId(double v, uint32_t& id) {
  if (!(v >= 1 && v <= 4294967295.0) || v != double(uint32_t(v))) return false;
  id = uint32_t(v);
  return true;
}

// A Uint8Array, or the id of a mapped file region, which `hold` keeps mapped while the call runs. False for
// anything else, and for an id that names no region (never mapped, or already released).
bool readInput(const Napi::Value& v, const uint8_t*& data, size_t& len, std::shared_ptr<sp::io::MappedRegion>& hold) {
  if (v.IsNumber()) {
    uint32_t id;
    if (!regionId(v.As<Napi::Number>().DoubleValue(), id)) return false;
    hold = sp::io::findRegion(id);
    if (!hold) return false;
    data = hold->data();
    len = hold->size();
    return true;
  }
  return readBytes(v, data, len);
}

// The (input, params) every chunk call starts with: input (a Uint8Array, or a mapped region's id, which `hold` keeps
// mapped while the call runs) as whole elements of the dtype. Not copyable: p.fp8 points at g.
struct ChunkArgs {
  const uint8_t* data = nullptr;
  size_t len = 0;
  ChunkParams p;
  sp::Fp8Scales g;
  std::shared_ptr<sp::io::MappedRegion> hold;
  ChunkArgs() = default;
  ChunkArgs(const ChunkArgs&) = delete;
  ChunkArgs& operator=(const ChunkArgs&) = delete;
};

// Reads a call's ChunkArgs. On false a BadParams error naming `fn` is pending and the caller returns.
bool readChunkArgs(const Napi::CallbackInfo& info, const char* fn, const char* usage, ChunkArgs& a) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !readInput(info[0], a.data, a.len, a.hold) || !info[1].IsObject() ||
      !readParams(info[1].As<Napi::Object>(), a.p, a.g)) {
    throwCodec(env, Status::BadParams, (std::string(fn) + ": expected " + usage).c_str());
    return false;
  }
  if (a.len % sp::dtypeBytes(a.p.dtype) != 0) {
    throwCodec(env, Status::BadParams, (std::string(fn) + ": input length is not a whole number of elements").c_str());
    return false;
  }
  return true;
}

// The optional output buffer at info[index] (absent or undefined: none). False after throwing: not a Uint8Array, or
// overlapping the input.
bool readTarget(const Napi::CallbackInfo& info, size_t index, const char* fn, const uint8_t* data, size_t len,
                uint8_t*& target, size_t& targetLen) {
  target = nullptr;
  targetLen = 0;
  if (info.Length() <= index || info[index].IsUndefined()) return true;
  const uint8_t* t;
  if (!readBytes(info[index], t, targetLen)) {
    throwCodec(info.Env(), Status::BadParams, (std::string(fn) + ": target must be a Uint8Array").c_str());
    return false;
  }
  target = const_cast<uint8_t*>(t);
  if (target < data + len && data < target + targetLen) {
    throwCodec(info.Env(), Status::BadParams, (std::string(fn) + ": input and target overlap").c_str());
    return false;
  }
  return true;
}

// Copies an encoded chunk into the caller's target. False after throwing when it does not fit.
bool copyToTarget(Napi::Env env, const char* fn, const std::vector<uint8_t>& out, uint8_t* target, size_t targetLen) {
  if (out.size() > targetLen) {
    throwCodec(env, Status::BadParams, (std::string(fn) + ": target is too small").c_str());
    return false;
  }
  if (!out.empty()) std::memcpy(target, out.data(), out.size());
  return true;
}

Napi::Value Compress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ChunkArgs a;
  if (!readChunkArgs(info, "compressChunk", "(Uint8Array | region, params[, target])", a)) return env.Undefined();
  const uint8_t* data = a.data;
  const size_t len = a.len;
  const ChunkParams& p = a.p;
  // Optional target: the chunk is written there and its length returned, so a caller compressing chunk after
  // chunk allocates nothing per chunk (as compressChunkMeasured's target).
  uint8_t* target;
  size_t targetLen;
  if (!readTarget(info, 2, "compressChunk", data, len, target, targetLen)) return env.Undefined();
  const unsigned B = sp::dtypeBytes(p.dtype);
  // Per-thread output buffer, kept between calls so that chunk after chunk does not pay fresh page faults; the
  // result is copied into the ArrayBuffer anyway. Buffers of oversized chunks are let go.
  static thread_local std::vector<uint8_t> out;
  const Status s = sp::encodeChunk(data, len / B, p, out);
  if (s != Status::Ok) return throwCodec(env, s);
  if (target) {
    if (!copyToTarget(env, "compressChunk", out, target, targetLen)) return env.Undefined();
    const size_t size = out.size();
    if (out.capacity() > (size_t(1) << 26)) std::vector<uint8_t>().swap(out);
    return Napi::Number::New(env, double(size));
  }
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, out.size());
  if (!out.empty()) std::memcpy(ab.Data(), out.data(), out.size());
  const size_t size = out.size();
  if (out.capacity() > (size_t(1) << 26)) std::vector<uint8_t>().swap(out);
  return Napi::Uint8Array::New(env, size, ab, 0);
}

// compressChunkMeasured(input, params, checkEb[, target[, inputCrc = true]]) → {compressed | length, decodedCrc,
// compressedCrc, inputCrc?, sums}: compressChunk's bytes plus the CRC-32 and error sums of what the decoder will
// produce, taken from the encoder's own reconstruction, the CRC-32 of the chunk itself, and (unless inputCrc is false:
// a caller that has it already) the CRC-32 of the input.
Napi::Value CompressMeasured(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ChunkArgs a;
  if (!readChunkArgs(info, "compressChunkMeasured", "(Uint8Array | region, params, checkEb[, target[, inputCrc]])", a))
    return env.Undefined();
  const uint8_t* data = a.data;
  const size_t len = a.len;
  const ChunkParams& p = a.p;
  if (info.Length() < 3 || !info[2].IsNumber())
    return throwCodec(env, Status::BadParams, "compressChunkMeasured: expected (Uint8Array, params, checkEb[, target])");
  // Optional target (e.g. a view of a SharedArrayBuffer slot): the chunk is written there and only its length
  // returned, so a pipeline worker allocates nothing per chunk.
  uint8_t* target;
  size_t targetLen;
  if (!readTarget(info, 3, "compressChunkMeasured", data, len, target, targetLen)) return env.Undefined();
  const double checkEb = info[2].As<Napi::Number>().DoubleValue();
  if (!(checkEb >= 0)) return throwCodec(env, Status::BadParams, "compressChunkMeasured: checkEb must be a number >= 0");
  const bool wantInputCrc = info.Length() <= 4 || !info[4].IsBoolean() || info[4].As<Napi::Boolean>().Value();
  const unsigned B = sp::dtypeBytes(p.dtype);
  static thread_local std::vector<uint8_t> out;
  uint32_t crc = 0, inputCrc = 0, compressedCrc = 0;
  sp::measure::ErrorSums sums;
  const Status s = sp::encodeChunkMeasured(data, len / B, p, checkEb, out, crc, sums, wantInputCrc ? &inputCrc : nullptr);
  if (s != Status::Ok) return throwCodec(env, s);
  const size_t size = out.size();
  Napi::Value compressed;
  if (target) {
    if (size > targetLen) return throwCodec(env, Status::BadParams, "compressChunkMeasured: target is too small");
    // Copied block by block, each block digested right after from L1: one pass over the chunk for both.
    constexpr size_t kBlock = 64 << 10;
    for (size_t at = 0; at < size; at += kBlock) {
      const size_t m = std::min(kBlock, size - at);
      std::memcpy(target + at, out.data() + at, m);
      compressedCrc = sp::crc32(target + at, m, compressedCrc);
    }
  } else {
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, size);
    if (size) std::memcpy(ab.Data(), out.data(), size);
    compressedCrc = sp::crc32(out.data(), size);
    compressed = Napi::Uint8Array::New(env, size, ab, 0);
  }
  if (out.capacity() > (size_t(1) << 26)) std::vector<uint8_t>().swap(out);
  Napi::Object so = Napi::Object::New(env);
  so.Set("count", Napi::Number::New(env, double(sums.count)));
  so.Set("sumAbs", Napi::Number::New(env, sums.sumAbs));
  so.Set("sumSq", Napi::Number::New(env, sums.sumSq));
  so.Set("maxAbs", Napi::Number::New(env, sums.maxAbs));
  so.Set("over", Napi::Number::New(env, double(sums.over)));
  so.Set("min", Napi::Number::New(env, sums.min));
  so.Set("max", Napi::Number::New(env, sums.max));
  Napi::Object r = Napi::Object::New(env);
  if (target) r.Set("length", Napi::Number::New(env, double(size)));
  else r.Set("compressed", compressed);
  r.Set("decodedCrc", Napi::Number::New(env, double(crc)));
  r.Set("compressedCrc", Napi::Number::New(env, double(compressedCrc)));
  if (wantInputCrc) r.Set("inputCrc", Napi::Number::New(env, double(inputCrc)));
  r.Set("sums", so);
  return r;
}

Napi::Value Decompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data;
  size_t len;
  ChunkParams p;
  sp::Fp8Scales g;
  std::shared_ptr<sp::io::MappedRegion> hold;
  if (info.Length() < 3 || !readInput(info[0], data, len, hold) || !info[1].IsObject() ||
      !readParams(info[1].As<Napi::Object>(), p, g) || !info[2].IsNumber())
    return throwCodec(env, Status::BadParams, "decompressChunk: expected (Uint8Array | region, params, elementCount)");
  const double count = info[2].As<Napi::Number>().DoubleValue();
  if (!validCount(count) || count > double(sp::kMaxChunkElements))
    return throwCodec(env, Status::BadParams, "decompressChunk: invalid element count");
  const uint64_t n = uint64_t(count);
  // Reject before allocating: a chunk this short cannot hold n elements' header.
  if (len < sp::kChunkHeaderBytes) return throwCodec(env, Status::Truncated);
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, size_t(n * sp::outputBytes(p)));
  const Status s = sp::decodeChunk(data, len, p, n, static_cast<uint8_t*>(ab.Data()));
  if (s != Status::Ok) return throwCodec(env, s);
  return Napi::Uint8Array::New(env, ab.ByteLength(), ab, 0);
}

// decompressChunkInto(input, params, elementCount, target): decodes straight into target (a Uint8Array of exactly
// elementCount × output element bytes: dtypeBytes, or 4 with wideOutput), saving an allocation and a copy per chunk for whole-tensor decoding.
Napi::Value DecompressInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data;
  size_t len;
  ChunkParams p;
  sp::Fp8Scales g;
  std::shared_ptr<sp::io::MappedRegion> hold;
  if (info.Length() < 4 || !readInput(info[0], data, len, hold) || !info[1].IsObject() ||
      !readParams(info[1].As<Napi::Object>(), p, g) || !info[2].IsNumber() || !info[3].IsTypedArray())
    return throwCodec(env, Status::BadParams,
                      "decompressChunkInto: expected (Uint8Array | region, params, elementCount, Uint8Array)");
  const double count = info[2].As<Napi::Number>().DoubleValue();
  if (!validCount(count) || count > double(sp::kMaxChunkElements))
    return throwCodec(env, Status::BadParams, "decompressChunkInto: invalid element count");
  Napi::TypedArray ta = info[3].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return throwCodec(env, Status::BadParams, "decompressChunkInto: target must be a Uint8Array");
  Napi::Uint8Array target = ta.As<Napi::Uint8Array>();
  const uint64_t n = uint64_t(count);
  if (target.ByteLength() != n * sp::outputBytes(p))
    return throwCodec(env, Status::BadParams,
                      "decompressChunkInto: target length differs from elementCount × output element size");
  if (data == target.Data() || (data < target.Data() + target.ByteLength() && target.Data() < data + len))
    return throwCodec(env, Status::BadParams, "decompressChunkInto: input and target overlap");
  const Status s = sp::decodeChunk(data, len, p, n, target.Data());
  if (s != Status::Ok) return throwCodec(env, s);
  return env.Undefined();
}

Napi::Value MaxSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    return throwCodec(env, Status::BadParams, "maxCompressedChunkSize: expected (elementCount, dtype)");
  const double n = info[0].As<Napi::Number>().DoubleValue();
  const double d = info[1].As<Napi::Number>().DoubleValue();
  if (!validCount(n) || !(d >= 0 && d < sp::kDtypeCount)) return throwCodec(env, Status::BadParams);
  return Napi::Number::New(env, double(sp::maxChunkBytes(uint64_t(n), Dtype(int(d)))));
}

// Block scales a range pass can walk: a row length and block sizes of at least one (scales past the end of the table
// count as unusable, value by value). False after throwing.
bool rangeScalesUsable(Napi::Env env, const char* fn, const ChunkParams& p) {
  if (!p.fp8 || (p.fp8->cols > 0 && p.fp8->blockRows > 0 && p.fp8->blockCols > 0)) return true;
  throwCodec(env, Status::BadParams, (std::string(fn) + ": fp8 cols, blockRows and blockCols must be at least 1").c_str());
  return false;
}

// chunkRange(input, params): {min, max, nonFinite} of the chunk's finite values (dequantized under block scales),
// for REL bounds; only dtype, firstElement and fp8 of params are used.
Napi::Value Range(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ChunkArgs a;
  if (!readChunkArgs(info, "chunkRange", "(Uint8Array | region, params)", a)) return env.Undefined();
  if (!rangeScalesUsable(env, "chunkRange", a.p)) return env.Undefined();
  const sp::measure::Range r =
      sp::measure::chunkRange(a.data, a.len / sp::dtypeBytes(a.p.dtype), a.p.dtype, a.p.firstElement, a.p.fp8);
  Napi::Object o = Napi::Object::New(env);
  o.Set("min", Napi::Number::New(env, r.min));
  o.Set("max", Napi::Number::New(env, r.max));
  o.Set("nonFinite", Napi::Number::New(env, double(r.nonFinite)));
  return o;
}

// chunkRangeAsync(region, params[, pieceBytes]) → Promise<{min, max, nonFinite, crcs?}>: chunkRange of a mapped region
// on a libuv thread, so that range passes run beside the thread that schedules (and, at a job's start, several at
// once). Given pieceBytes, also the CRC-32 of each pieceBytes-long piece (the pipeline's chunks), taken in the same
// pass over the bytes. The region is held, and the block scales copied, for the duration.
class RangeWorker : public Napi::AsyncWorker {
 public:
  RangeWorker(Napi::Env env, std::shared_ptr<sp::io::MappedRegion> hold, const ChunkParams& p, uint64_t piece)
      : Napi::AsyncWorker(env, "shardpress:chunkRange"),
        deferred_(Napi::Promise::Deferred::New(env)),
        hold_(std::move(hold)),
        p_(p),
        piece_(piece) {
    if (p.fp8) {
      scales_.assign(p.fp8->scales, p.fp8->scales + p.fp8->count);
      g_ = *p.fp8;
      g_.scales = scales_.data();
      p_.fp8 = &g_;
    }
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    const uint8_t* d = hold_->data();
    const uint64_t size = hold_->size();
    const unsigned B = sp::dtypeBytes(p_.dtype);
    if (piece_ == 0) {
      r_ = sp::measure::chunkRange(d, size / B, p_.dtype, p_.firstElement, p_.fp8);
      return;
    }
    // Range and CRC in one pass: the bytes come from memory once for both.
    for (uint64_t at = 0; at < size; at += piece_) {
      const uint64_t len = std::min<uint64_t>(piece_, size - at);
      uint32_t crc = 0;
      sp::measure::mergeRange(
          r_, sp::measure::chunkRangeCrc(d + at, len / B, p_.dtype, p_.firstElement + at / B, p_.fp8, crc));
      crcs_.push_back(crc);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("min", Napi::Number::New(env, r_.min));
    o.Set("max", Napi::Number::New(env, r_.max));
    o.Set("nonFinite", Napi::Number::New(env, double(r_.nonFinite)));
    if (piece_) {
      Napi::Array crcs = Napi::Array::New(env, crcs_.size());
      for (size_t i = 0; i < crcs_.size(); i++) crcs.Set(uint32_t(i), Napi::Number::New(env, double(crcs_[i])));
      o.Set("crcs", crcs);
    }
    deferred_.Resolve(o);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<sp::io::MappedRegion> hold_;
  ChunkParams p_;
  uint64_t piece_;
  sp::Fp8Scales g_;
  std::vector<float> scales_;
  sp::measure::Range r_;
  std::vector<uint32_t> crcs_;
};

Napi::Value RangeAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ChunkArgs a;
  if (!readChunkArgs(info, "chunkRangeAsync", "(region, params[, pieceBytes])", a)) return env.Undefined();
  if (!a.hold) return throwCodec(env, Status::BadParams, "chunkRangeAsync: the input must be a mapped region");
  if (!rangeScalesUsable(env, "chunkRangeAsync", a.p)) return env.Undefined();
  double piece = 0;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsNumber() || !validCount(piece = info[2].As<Napi::Number>().DoubleValue()) ||
        uint64_t(piece) % sp::dtypeBytes(a.p.dtype) != 0)
      return throwCodec(env, Status::BadParams, "chunkRangeAsync: pieceBytes must be a whole number of elements");
  }
  RangeWorker* w = new RangeWorker(env, std::move(a.hold), a.p, uint64_t(piece));
  Napi::Promise promise = w->promise();
  w->Queue();
  return promise;
}

// crc32(bytes, previous = 0): zlib's CRC-32 continued over bytes (same values as node:zlib's crc32, folded with
// carry-less multiplies where the CPU has them), for tensor checksums on the pipeline's hot path.
Napi::Value Crc32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data;
  size_t len;
  double prev = 0;
  std::shared_ptr<sp::io::MappedRegion> hold;
  if (info.Length() < 1 || !readInput(info[0], data, len, hold) ||
      (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNumber()))
    return throwCodec(env, Status::BadParams, "crc32: expected (Uint8Array | region, previous?)");
  if (info.Length() > 1 && info[1].IsNumber()) prev = info[1].As<Napi::Number>().DoubleValue();
  if (!(prev >= 0 && prev <= 4294967295.0) || prev != double(uint32_t(prev)))
    return throwCodec(env, Status::BadParams, "crc32: previous must be an unsigned 32-bit value");
  return Napi::Number::New(env, double(sp::crc32(data, len, uint32_t(prev))));
}

// memoryOffset(bytes, unit = 4096): the address of bytes[0] modulo unit (a power of two up to 2^30), so that buffers
// can be laid out for O_DIRECT writes (which need the memory, the file offset and the length block-aligned) or on
// huge pages. The address itself is not exposed.
Napi::Value MemoryOffset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data;
  size_t len;
  double unit = 4096;
  if (info.Length() < 1 || !readBytes(info[0], data, len))
    return throwCodec(env, Status::BadParams, "memoryOffset: expected (Uint8Array, unit?)");
  if (info.Length() > 1 && info[1].IsNumber()) unit = info[1].As<Napi::Number>().DoubleValue();
  const uint64_t u = uint64_t(unit);
  if (!(unit >= 1 && unit <= 1073741824.0) || double(u) != unit || (u & (u - 1)) != 0)
    return throwCodec(env, Status::BadParams, "memoryOffset: unit must be a power of two up to 2^30");
  return Napi::Number::New(env, double(reinterpret_cast<uintptr_t>(data) & (u - 1)));
}

// copyBytes(target, source): memmove of source into the start of target (at least as long). V8 copies between
// SharedArrayBuffers with relaxed atomic stores, several times slower than memmove: O_DIRECT writes bounce whole
// compressed chunks through an aligned buffer with this.
Napi::Value CopyBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t *t, *src;
  size_t tLen, sLen;
  if (info.Length() < 2 || !readBytes(info[0], t, tLen) || !readBytes(info[1], src, sLen))
    return throwCodec(env, Status::BadParams, "copyBytes: expected (Uint8Array, Uint8Array)");
  if (sLen > tLen) return throwCodec(env, Status::BadParams, "copyBytes: target is shorter than source");
  if (sLen) std::memmove(const_cast<uint8_t*>(t), src, sLen);
  return env.Undefined();
}

// mapFileRegion(fd, offset, length) → Promise<id>: maps [offset, offset + length) of an open file read-only on a
// libuv thread, pages faulted in there, and resolves with the id every chunk call takes in place of a Uint8Array.
// Rejects with code MAP_UNSUPPORTED (no mmap here, or not a regular file), RANGE (offset/length unusable), PAST_END
// (the file is shorter: someone truncated it) or MAP_FAILED (errno in the message).
class MapWorker : public Napi::AsyncWorker {
 public:
  MapWorker(Napi::Env env, int fd, uint64_t offset, uint64_t length)
      : Napi::AsyncWorker(env, "shardpress:mapFileRegion"),
        deferred_(Napi::Promise::Deferred::New(env)),
        fd_(fd),
        offset_(offset),
        length_(length) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override { status_ = sp::io::mapRegion(fd_, offset_, length_, region_, errno_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (status_ == sp::io::MapStatus::Ok) {
      deferred_.Resolve(Napi::Number::New(env, double(sp::io::addRegion(std::move(region_)))));
      return;
    }
    const char* code = status_ == sp::io::MapStatus::Unsupported ? "MAP_UNSUPPORTED"
                       : status_ == sp::io::MapStatus::BadRange  ? "RANGE"
                       : status_ == sp::io::MapStatus::PastEnd   ? "PAST_END"
                                                                 : "MAP_FAILED";
    std::string msg = status_ == sp::io::MapStatus::PastEnd
                          ? "the file ends before the mapped range"
                          : std::string("mapping the file failed") +
                                (errno_ ? std::string(": ") + std::strerror(errno_) : std::string());
    Napi::Error err = Napi::Error::New(env, msg);
    err.Set("code", Napi::String::New(env, code));
    deferred_.Reject(err.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  uint64_t offset_, length_;
  sp::io::MapStatus status_ = sp::io::MapStatus::Failed;
  int errno_ = 0;
  std::shared_ptr<sp::io::MappedRegion> region_;
};

Napi::Value MapFileRegion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double a[3];
  if (!readNumbers(info, a, 3)) return throwCodec(env, Status::BadParams, "mapFileRegion: expected (fd, offset, length)");
  const double fd = a[0], offset = a[1], length = a[2];
  if (!(fd >= 0 && fd <= 2147483647.0) || fd != double(int(fd)) || !validCount(offset) || !validCount(length) ||
      length == 0)
    return throwCodec(env, Status::BadParams, "mapFileRegion: fd, offset and length must be integers, length > 0");
  MapWorker* w = new MapWorker(env, int(fd), uint64_t(offset), uint64_t(length));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// unmapFileRegion(id) → whether id named a region. Calls running on it (in any thread) finish first; later calls
// with the id fail as bad parameters.
Napi::Value UnmapFileRegion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double v;
  if (!readNumbers(info, &v, 1)) return throwCodec(env, Status::BadParams, "unmapFileRegion: expected (id)");
  uint32_t id;
  return Napi::Boolean::New(env, regionId(v, id) && sp::io::releaseRegion(id));
}

// sliceRegion(id, offset, length) → a new id for that byte range of region id, sharing its mapping (each id is
// released on its own). Throws BAD_PARAMS if id names no region or the range does not fit.
Napi::Value SliceRegion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double a[3];
  if (!readNumbers(info, a, 3)) return throwCodec(env, Status::BadParams, "sliceRegion: expected (id, offset, length)");
  uint32_t id, slice = 0;
  if (regionId(a[0], id) && validCount(a[1]) && validCount(a[2]))
    slice = sp::io::sliceRegion(id, uint64_t(a[1]), uint64_t(a[2]));
  if (slice == 0) return throwCodec(env, Status::BadParams, "sliceRegion: no such region, or the range does not fit in it");
  return Napi::Number::New(env, double(slice));
}

// adviseHugePages(bytes) → bytes now backed by huge pages: for long-lived buffers the pipeline decodes into and
// writes from with O_DIRECT, where the kernel pins and maps every 4 KB page of a write otherwise.
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data;
  size_t len;
  if (info.Length() < 1 || !readBytes(info[0], data, len))
    return throwCodec(env, Status::BadParams, "adviseHugePages: expected (Uint8Array)");
  return Napi::Number::New(env, double(sp::io::adviseHugePages(const_cast<uint8_t*>(data), len)));
}

Napi::Value MappedRegionCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(sp::io::regionCount()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("mapFileRegion", Napi::Function::New(env, MapFileRegion, "mapFileRegion"));
  exports.Set("unmapFileRegion", Napi::Function::New(env, UnmapFileRegion, "unmapFileRegion"));
  exports.Set("sliceRegion", Napi::Function::New(env, SliceRegion, "sliceRegion"));
  exports.Set("adviseHugePages", Napi::Function::New(env, AdviseHugePages, "adviseHugePages"));
  exports.Set("mappedRegionCount", Napi::Function::New(env, MappedRegionCount, "mappedRegionCount"));
  exports.Set("mappingSupported", Napi::Boolean::New(env, sp::io::mappingSupported()));
  exports.Set("compressChunk", Napi::Function::New(env, Compress, "compressChunk"));
  exports.Set("compressChunkMeasured", Napi::Function::New(env, CompressMeasured, "compressChunkMeasured"));
  exports.Set("decompressChunk", Napi::Function::New(env, Decompress, "decompressChunk"));
  exports.Set("decompressChunkInto", Napi::Function::New(env, DecompressInto, "decompressChunkInto"));
  exports.Set("maxCompressedChunkSize", Napi::Function::New(env, MaxSize, "maxCompressedChunkSize"));
  exports.Set("chunkRange", Napi::Function::New(env, Range, "chunkRange"));
  exports.Set("chunkRangeAsync", Napi::Function::New(env, RangeAsync, "chunkRangeAsync"));
  exports.Set("crc32", Napi::Function::New(env, Crc32, "crc32"));
  exports.Set("memoryOffset", Napi::Function::New(env, MemoryOffset, "memoryOffset"));
  exports.Set("copyBytes", Napi::Function::New(env, CopyBytes, "copyBytes"));
  exports.Set("codecVersion", Napi::Number::New(env, sp::kCodecVersion));
  return exports;
}

}  // namespace

NODE_API_MODULE(shardpress_codec, Init)
