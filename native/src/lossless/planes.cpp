// Byte-plane coding of IEEE words: plane 0 = the top byte after rotating the sign to bit 0 (exponent bits),
// planes 1.. = the following bytes. Each plane is stored raw, order-0 rANS, or rANS under a context drawn
// from plane 0 (the exponent predicts how the leading mantissa bits are distributed).
#include "planes.hpp"

#include <algorithm>
#include <cstring>

#include "../entropy/rans.hpp"

namespace sp::lossless {

namespace {

enum PlaneMode : uint8_t { kRaw = 0, kOrder0 = 1, kExpContext = 2 };
constexpr size_t kMaxContexts = 8;  // plane-0 values with their own model; the rest share the last one

template <class W>
W rotl1(W v) {
  return W((v << 1) | (v >> (sizeof(W) * 8 - 1)));
}
template <class W>
W rotr1(W v) {
  return W((v >> 1) | (v << (sizeof(W) * 8 - 1)));
}

template <class W>
void splitPlanes(const uint8_t* in, size_t n, std::vector<std::vector<uint16_t>>& planes) {
  constexpr unsigned B = sizeof(W);
  planes.resize(B);
  uint16_t* dst[B];
  for (unsigned b = 0; b < B; b++) {
    planes[b].resize(n);
    dst[b] = planes[b].data();
  }
  for (size_t i = 0; i < n; i++) {
    W v;
    std::memcpy(&v, in + i * B, B);
    if constexpr (B > 1) v = rotl1(v);
    for (unsigned b = 0; b < B; b++) dst[b][i] = uint16_t((v >> (8 * (B - 1 - b))) & 0xff);
  }
}

template <class W>
void joinPlanes(const std::vector<std::vector<uint16_t>>& planes, size_t n, uint8_t* out) {
  constexpr unsigned B = sizeof(W);
  const uint16_t* src[B];
  for (unsigned b = 0; b < B; b++) src[b] = planes[b].data();
  for (size_t i = 0; i < n; i++) {
    W v = 0;
    for (unsigned b = 0; b < B; b++) v |= W(W(src[b][i]) << (8 * (B - 1 - b)));
    if constexpr (B > 1) v = rotr1(v);
    std::memcpy(out + i * B, &v, B);
  }
}

// Estimated stored bytes of a model (its bit-packed table is about this size in practice).
double modelBytesEstimate(const entropy::Model& m) {
  size_t present = 0;
  for (auto f : m.freq) present += f != 0;
  return 4 + present * 1.2 + (m.alphabet() - present) * 0.15;
}

// counts[base(i) + v[i]]++ over i < n (base = 0 without contexts, ctx[i]·256 with): four interleaved tables,
// since a plane repeats few values (exponents) and one table would wait on its own increments.
void countInto(const uint16_t* v, const uint8_t* ctx, size_t n, size_t tableSize, std::vector<uint32_t>& counts) {
  const size_t stride = tableSize + 16;  // not a multiple of 4 KB apart (4K aliasing between the tables)
  std::vector<uint32_t> t(4 * stride, 0);
  auto at = [&](size_t i) { return (ctx ? size_t(ctx[i]) << 8 : 0) + v[i]; };
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    t[at(i)]++;
    t[stride + at(i + 1)]++;
    t[2 * stride + at(i + 2)]++;
    t[3 * stride + at(i + 3)]++;
  }
  for (; i < n; i++) t[at(i)]++;
  counts.assign(tableSize, 0);
  for (size_t k = 0; k < 4; k++)
    for (size_t j = 0; j < tableSize; j++) counts[j] += t[k * stride + j];
}

void writeStream(ByteWriter& w, const std::vector<uint8_t>& s) {
  w.varint(s.size());
  w.bytes(s.data(), s.size());
}

}  // namespace

void encodePlanes(const uint8_t* in, size_t n, unsigned width, std::vector<uint8_t>& out) {
  // Per-thread plane buffers, kept between chunks of ordinary size (fresh ones cost a page fault per 4 KB).
  static thread_local std::vector<std::vector<uint16_t>> kept;
  std::vector<std::vector<uint16_t>> oneOff;
  std::vector<std::vector<uint16_t>>& planes = n <= (size_t(1) << 24) ? kept : oneOff;
  // 16-bit words: the histogram of the rotated words is the joint histogram of (plane 0, plane 1), from which every
  // count below follows without another pass (the same counts, so the same choices and bytes).
  std::vector<uint32_t> joint;
  switch (width) {
    case 1: splitPlanes<uint8_t>(in, n, planes); break;
    case 2: {
      planes.resize(2);
      planes[0].resize(n);
      planes[1].resize(n);
      joint.assign(65536, 0);
      uint16_t* d0 = planes[0].data();
      uint16_t* d1 = planes[1].data();
      uint32_t* h = joint.data();
      for (size_t i = 0; i < n; i++) {
        uint16_t v;
        std::memcpy(&v, in + 2 * i, 2);
        v = rotl1(v);
        d0[i] = uint16_t(v >> 8);
        d1[i] = uint16_t(v & 0xff);
        h[v]++;
      }
      break;
    }
    case 4: splitPlanes<uint32_t>(in, n, planes); break;
    default: splitPlanes<uint64_t>(in, n, planes); break;
  }
  ByteWriter w(out);
  const uint32_t sb = entropy::scaleBitsFor(n);
  // Context map from plane-0 values: the most frequent ones get their own model.
  std::vector<uint32_t> counts0;
  if (width == 2) {
    counts0.assign(256, 0);
    for (size_t v = 0; v < 65536; v++) counts0[v >> 8] += joint[v];
  } else {
    countInto(planes[0].data(), nullptr, n, 256, counts0);
  }
  uint8_t ctxOf[256];
  size_t nctx = 0;
  {
    std::vector<int> order(256);
    for (int i = 0; i < 256; i++) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return counts0[a] > counts0[b]; });
    std::fill(ctxOf, ctxOf + 256, uint8_t(kMaxContexts - 1));
    for (size_t k = 0; k + 1 < kMaxContexts; k++)
      if (counts0[order[k]] >= 256) ctxOf[order[k]] = uint8_t(nctx++);
    nctx++;
  }
  std::vector<uint8_t> ctx;
  for (unsigned b = 0; b < width; b++) {
    const std::vector<uint16_t>& p = planes[b];
    std::vector<uint32_t> counts;
    if (b == 0) {
      counts = counts0;
    } else if (width == 2) {
      counts.assign(256, 0);
      for (size_t v = 0; v < 65536; v++) counts[v & 0xff] += joint[v];
    } else {
      countInto(p.data(), nullptr, n, 256, counts);
    }
    entropy::Model m0;
    entropy::buildModel(counts.data(), 256, sb, m0);
    const double rawBytes = double(n);
    const double o0Bytes = entropy::modelCostBits(counts.data(), m0) / 8 + modelBytesEstimate(m0) + 20;
    double ctxBytes = 1e300;
    std::vector<entropy::Model> cm;
    // The per-element context of plane 1 (built when counted through it, or when the plane is coded under it).
    auto buildCtx = [&]() {
      if (!ctx.empty()) return;
      ctx.resize(n);
      uint8_t clamped[256];
      for (int v = 0; v < 256; v++) clamped[v] = std::min<uint8_t>(ctxOf[v], uint8_t(nctx - 1));
      // Raw pointers: a byte store may alias anything, so through the vectors every pointer is reloaded.
      const uint16_t* p0 = planes[0].data();
      uint8_t* c = ctx.data();
      for (size_t i = 0; i < n; i++) c[i] = clamped[p0[i]];
    };
    if (b == 1 && nctx > 1) {
      if (width != 2) buildCtx();
      std::vector<uint32_t> cc;
      if (width == 2) {
        cc.assign(nctx * 256, 0);
        for (size_t v = 0; v < 65536; v++) cc[size_t(std::min<uint8_t>(ctxOf[v >> 8], uint8_t(nctx - 1))) * 256 + (v & 0xff)] += joint[v];
      } else {
        countInto(p.data(), ctx.data(), n, nctx * 256, cc);
      }
      cm.resize(nctx);
      ctxBytes = 20 + 256;
      for (size_t k = 0; k < nctx; k++) {
        // 12-bit models keep the K slot tables small enough to stay in cache while decoding.
        entropy::buildModel(cc.data() + k * 256, 256, std::min<uint32_t>(sb, 12), cm[k]);
        ctxBytes += entropy::modelCostBits(cc.data() + k * 256, cm[k]) / 8 + modelBytesEstimate(cm[k]);
      }
    }
    if (ctxBytes < o0Bytes && ctxBytes < rawBytes * 0.995) {
      w.u8(kExpContext);
      w.u8(uint8_t(nctx));
      std::vector<uint8_t> map(ctxOf, ctxOf + 256);
      for (auto& v : map) v = std::min<uint8_t>(v, uint8_t(nctx - 1));
      // The context map as (value, ctx) pairs for the dedicated contexts.
      w.u8(uint8_t(nctx - 1));
      for (int v = 0; v < 256; v++)
        if (map[v] < nctx - 1) {
          w.u8(uint8_t(v));
          w.u8(map[v]);
        }
      std::vector<uint8_t> tables;
      BitWriter bw(tables);
      for (auto& m : cm) entropy::writeModel(bw, m);
      writeStream(w, tables);
      buildCtx();
      std::vector<uint8_t> s;
      entropy::encode(p.data(), ctx.data(), n, cm.data(), s);
      writeStream(w, s);
    } else if (o0Bytes < rawBytes * 0.995) {
      w.u8(kOrder0);
      std::vector<uint8_t> tables;
      BitWriter bw(tables);
      entropy::writeModel(bw, m0);
      writeStream(w, tables);
      std::vector<uint8_t> s;
      entropy::encode(p.data(), nullptr, n, &m0, s);
      writeStream(w, s);
    } else {
      w.u8(kRaw);
      const size_t base = out.size();
      out.resize(base + n);
      const uint16_t* src = p.data();
      uint8_t* dst = out.data() + base;
      for (size_t i = 0; i < n; i++) dst[i] = uint8_t(src[i]);
    }
  }
}

namespace {

// One plane's coding as read from the stream: raw bytes, or models and an rANS stream (with the plane-0 context
// map for kExpContext). Everything is checked here; the decoders only run the streams.
struct PlaneCode {
  uint8_t mode = kRaw;
  const uint8_t* raw = nullptr;
  size_t nmodels = 1;
  uint8_t map[256];
  std::vector<entropy::Model> models;
  const uint8_t* stream = nullptr;
  size_t streamLen = 0;
};

Status readPlane(ByteReader& r, size_t n, unsigned b, PlaneCode& pc) {
  pc.mode = r.u8();
  if (!r.ok()) return r.status();
  if (pc.mode == kRaw) {
    pc.raw = r.take(n);
    if (!pc.raw) return r.status();
    return Status::Ok;
  }
  pc.nmodels = 1;
  if (pc.mode == kExpContext) {
    if (b == 0) return Status::CorruptChunk;
    pc.nmodels = r.u8();
    const uint8_t pairs = r.u8();
    if (!r.ok()) return r.status();
    if (pc.nmodels < 2 || pc.nmodels > kMaxContexts || pairs != pc.nmodels - 1) return Status::CorruptChunk;
    std::fill(pc.map, pc.map + 256, uint8_t(pc.nmodels - 1));
    for (unsigned k = 0; k < pairs; k++) {
      const uint8_t v = r.u8();
      const uint8_t c = r.u8();
      if (!r.ok()) return r.status();
      if (c >= pc.nmodels - 1) return Status::CorruptChunk;
      pc.map[v] = c;
    }
  } else if (pc.mode != kOrder0) {
    return Status::CorruptChunk;
  }
  const uint64_t tlen = r.varint();
  const uint8_t* tp = r.take(tlen);
  if (!tp) return r.ok() ? Status::Truncated : r.status();
  pc.models.assign(pc.nmodels, entropy::Model());
  BitReader br(tp, tlen);
  for (auto& m : pc.models) {
    Status s = entropy::readModel(br, 256, m);
    if (s != Status::Ok) return s;
    if (!br.align()) return Status::CorruptChunk;  // the writer pads each model to a byte
  }
  if (!br.atEnd()) return Status::CorruptChunk;
  const uint64_t slen = r.varint();
  pc.stream = r.take(slen);
  if (!pc.stream) return r.ok() ? Status::Truncated : r.status();
  pc.streamLen = size_t(slen);
  return Status::Ok;
}

// 16-bit words straight into the output: after the rotation a word is plane 0 << 7 | f(plane 1) with disjoint
// bits (f moves the sign back from bit 0 to bit 15), so plane 0 is decoded into out as s << 7 through the
// single-model fast decoder, and plane 1 ORs f(s) in, its context read back from out. No plane buffers, no join.
Status decodePlanes16(ByteReader& r, size_t n, uint16_t* o) {
  entropy::Decoder dec;
  PlaneCode p0;
  Status s = readPlane(r, n, 0, p0);
  if (s != Status::Ok) return s;
  if (p0.mode == kRaw) {
    for (size_t i = 0; i < n; i++) o[i] = uint16_t(p0.raw[i] << 7);
  } else {
    s = dec.init(p0.models.data(), 1);
    if (s != Status::Ok) return s;
    uint16_t lut[256];
    for (unsigned v = 0; v < 256; v++) lut[v] = uint16_t(v << 7);
    s = dec.decodeMapped(p0.stream, p0.streamLen, n, lut, o);
    if (s != Status::Ok) return s;
  }
  PlaneCode p1;
  s = readPlane(r, n, 1, p1);
  if (s != Status::Ok) return s;
  uint16_t low[256];
  for (unsigned v = 0; v < 256; v++) low[v] = uint16_t((v >> 1) | ((v & 1) << 15));
  if (p1.mode == kRaw) {
    for (size_t i = 0; i < n; i++) o[i] |= low[p1.raw[i]];
    return Status::Ok;
  }
  struct OrSink {
    uint16_t* o;
    const uint16_t* low;
    void operator()(size_t i, uint16_t v) { o[i] |= low[v]; }  // v < 256: models have at most 256 symbols
  } sink{o, low};
  s = dec.init(p1.models.data(), p1.nmodels);
  if (s != Status::Ok) return s;
  if (p1.mode == kOrder0) return dec.decodeWith<false>(p1.stream, p1.streamLen, n, nullptr, sink);
  static thread_local std::vector<uint8_t> ctx;
  if (ctx.size() < n) ctx.resize(n);
  uint8_t* c = ctx.data();
  for (size_t i = 0; i < n; i++) c[i] = p1.map[(o[i] >> 7) & 0xff];
  // Context models are written at 12 bits or less (their slot tables stay in cache): one table load per symbol.
  s = dec.decodeMappedCtxOr(p1.stream, p1.streamLen, n, c, low, 256, o);
  if (s == Status::BadParams) s = dec.decodeWith<true>(p1.stream, p1.streamLen, n, c, sink);
  if (n > (size_t(1) << 24)) std::vector<uint8_t>().swap(ctx);
  return s;
}

}  // namespace

Status decodePlanes(ByteReader& r, size_t n, unsigned width, uint8_t* out) {
  if (width == 2 && n > 0 && reinterpret_cast<uintptr_t>(out) % 2 == 0)
    return decodePlanes16(r, n, reinterpret_cast<uint16_t*>(out));
  std::vector<std::vector<uint16_t>> planes(width);
  for (auto& p : planes) p.resize(n);
  std::vector<uint8_t> ctx;
  entropy::Decoder dec;
  for (unsigned b = 0; b < width; b++) {
    std::vector<uint16_t>& p = planes[b];
    PlaneCode pc;
    Status s = readPlane(r, n, b, pc);
    if (s != Status::Ok) return s;
    if (pc.mode == kRaw) {
      uint16_t* dst = p.data();
      for (size_t i = 0; i < n; i++) dst[i] = pc.raw[i];
      continue;
    }
    if (pc.mode == kExpContext) {
      ctx.resize(n);
      const uint16_t* p0 = planes[0].data();
      uint8_t* c = ctx.data();
      for (size_t i = 0; i < n; i++) c[i] = pc.map[p0[i]];
    }
    s = dec.init(pc.models.data(), pc.nmodels);
    if (s != Status::Ok) return s;
    s = dec.decode(pc.stream, pc.streamLen, n, pc.mode == kExpContext ? ctx.data() : nullptr, p.data());
    if (s != Status::Ok) return s;
  }
  switch (width) {
    case 1: joinPlanes<uint8_t>(planes, n, out); break;
    case 2: joinPlanes<uint16_t>(planes, n, out); break;
    case 4: joinPlanes<uint32_t>(planes, n, out); break;
    default: joinPlanes<uint64_t>(planes, n, out); break;
  }
  return Status::Ok;
}

}  // namespace sp::lossless
