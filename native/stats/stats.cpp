// Native statistics kernel for the model inventory (src-main/core/model/stats-native.ts): counts 8/16-bit codes,
// counts FP8 codes per scale block, finishes block-scaled FP8 statistics, scans whole F8_E4M3 tensors with AVX2,
// AVX-512BW or AVX-512 VNNI (chosen at run time; other CPUs count codes), and runs the two passes of the 32/64-bit
// value scan. Every function only accumulates into typed arrays the caller owns (scratch memory is internal to a
// call, no mutable global state, so it is safe in worker_threads); results must equal the JavaScript implementation
// in stats.ts, which stays the fallback and the test oracle. Build flags keep floating point strict
// (-ffp-contract=off, no fast-math) so sums match bit for bit.
#include <node_api.h>

#include <cmath>
#include <cstdlib>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <new>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

#if defined(__linux__)
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace {

constexpr int kFineBins = 16384;

// ---------------------------------------------------------------------------------------------------------------
// Argument helpers: every failure throws a TypeError with code STATS_BAD_ARGS and returns false.

bool fail(napi_env env, const char* msg) {
  napi_throw_type_error(env, "STATS_BAD_ARGS", msg);
  return false;
}

struct View {
  napi_typedarray_type type;
  size_t length;  // elements
  void* data;
};

bool getView(napi_env env, napi_value v, View& out, const char* what) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return fail(env, what);
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &out.type, &out.length, &out.data, &ab, &off) != napi_ok)
    return fail(env, what);
  if (out.data == nullptr && out.length != 0) return fail(env, what);
  return true;
}

bool getView(napi_env env, napi_value v, View& out, napi_typedarray_type want, const char* what) {
  if (!getView(env, v, out, what)) return false;
  if (out.type != want) return fail(env, what);
  return true;
}

bool getDouble(napi_env env, napi_value v, double& out, const char* what) {
  if (napi_get_value_double(env, v, &out) != napi_ok) return fail(env, what);
  return true;
}

// A non-negative integer that fits in size_t (element indices, counts, sizes).
bool getIndex(napi_env env, napi_value v, size_t& out, const char* what) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0 || d != std::floor(d))
    return fail(env, what);
  out = static_cast<size_t>(d);
  return true;
}

bool getArgs(napi_env env, napi_callback_info info, napi_value* argv, size_t want) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < want)
    return fail(env, "too few arguments");
  return true;
}

napi_value undefinedValue(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

#if defined(__linux__)
// A read-only private mapping of a byte range of an open file, unmapped when it goes out of scope.
class MappedRange {
 public:
  const uint8_t* data = nullptr;

  // Maps [position, position + length); false (nothing mapped) when the file is shorter or mmap refuses.
  bool map(int fd, size_t position, size_t length) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    if (position > static_cast<size_t>(st.st_size) || length > static_cast<size_t>(st.st_size) - position)
      return false;
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t start = position - position % page;
    len_ = length + (position - start);
    // MAP_POPULATE maps the (cached) pages in one go instead of one fault per few pages.
    void* a = mmap(nullptr, len_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, static_cast<off_t>(start));
    if (a == MAP_FAILED) return false;
    madvise(a, len_, MADV_SEQUENTIAL);
    base_ = a;
    data = static_cast<const uint8_t*>(a) + (position - start);
    return true;
  }

  ~MappedRange() {
    if (base_ != nullptr) munmap(base_, len_);
  }

 private:
  void* base_ = nullptr;
  size_t len_ = 0;
};
#endif

// ---------------------------------------------------------------------------------------------------------------
// Code counts. Runs of one code (zeros, padding) would serialize on a single counter, so consecutive elements go to
// four lane tables that are summed at the end; for 256 bins the lanes live on the stack and stay in L1.

// countCodes(bytes: Uint8Array, width: 1 | 2, counts: Uint32Array(256 | 65536)): adds the little-endian codes.
napi_value CountCodes(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!getArgs(env, info, argv, 3)) return nullptr;
  View bytes, counts;
  size_t width = 0;
  if (!getView(env, argv[0], bytes, napi_uint8_array, "bytes must be a Uint8Array") ||
      !getIndex(env, argv[1], width, "width must be 1 or 2") ||
      !getView(env, argv[2], counts, napi_uint32_array, "counts must be a Uint32Array"))
    return nullptr;
  if (width != 1 && width != 2) {
    fail(env, "width must be 1 or 2");
    return nullptr;
  }
  const size_t bins = width == 1 ? 256 : 65536;
  if (counts.length < bins) {
    fail(env, "counts is too short for the code width");
    return nullptr;
  }
  const uint8_t* p = static_cast<const uint8_t*>(bytes.data);
  uint32_t* out = static_cast<uint32_t*>(counts.data);
  if (width == 1) {
    uint32_t lane[4][256];
    std::memset(lane, 0, sizeof lane);
    const size_t n = bytes.length;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      lane[0][p[i]]++;
      lane[1][p[i + 1]]++;
      lane[2][p[i + 2]]++;
      lane[3][p[i + 3]]++;
    }
    for (; i < n; i++) lane[0][p[i]]++;
    for (int c = 0; c < 256; c++) out[c] += lane[0][c] + lane[1][c] + lane[2][c] + lane[3][c];
  } else {
    // 65536 bins: two interleaved halves of the caller's table would need 256 KB more per lane; 16-bit data
    // (BF16/F16 weights) spreads over thousands of codes, so direct counting rarely stalls.
    const size_t n = bytes.length / 2;
    for (size_t i = 0; i < n; i++) out[uint32_t(p[2 * i]) | (uint32_t(p[2 * i + 1]) << 8)]++;
  }
  return undefinedValue(env);
}

// Counts FP8 codes of whole rows [rowStart, rowStart + rows) of a row-major matrix into counts laid out
// [blockRow − blockRowStart][blockCol][256]. Two ways, both exact; every lane table is 16-bit and flushed into
// 32-bit sums before any counter could reach 65536.

// Block by block (the current block's four lanes stay in L1): used when a band's tables would be too large.
void countBlocksOneByOne(const uint8_t* p, size_t rowStart, size_t rows, size_t cols, size_t blockRows,
                         size_t blockCols, size_t scaleCols, size_t blockRowStart, uint32_t* out) {
  uint16_t lane[4][256];
  uint32_t acc[256];
  for (size_t r0 = 0; r0 < rows;) {
    const size_t br = (rowStart + r0) / blockRows;
    size_t r1 = (br + 1) * blockRows - rowStart;
    if (r1 > rows) r1 = rows;
    uint32_t* base = out + (br - blockRowStart) * scaleCols * 256;
    for (size_t bc = 0; bc < scaleCols; bc++) {
      const size_t c0 = bc * blockCols;
      if (c0 >= cols) break;
      const size_t w = c0 + blockCols < cols ? blockCols : cols - c0;
      // A lane takes at most (w + 3) / 4 codes per row.
      const size_t rowsPerFlush = 65535 / ((w + 3) / 4);
      std::memset(acc, 0, sizeof acc);
      for (size_t rs = r0; rs < r1; rs += rowsPerFlush) {
        const size_t re = rs + rowsPerFlush < r1 ? rs + rowsPerFlush : r1;
        std::memset(lane, 0, sizeof lane);
        for (size_t r = rs; r < re; r++) {
          const uint8_t* q = p + r * cols + c0;
          size_t i = 0;
          for (; i + 4 <= w; i += 4) {
            lane[0][q[i]]++;
            lane[1][q[i + 1]]++;
            lane[2][q[i + 2]]++;
            lane[3][q[i + 3]]++;
          }
          for (; i < w; i++) lane[i & 3][q[i]]++;
        }
        for (int c = 0; c < 256; c++)
          acc[c] += uint32_t(lane[0][c]) + uint32_t(lane[1][c]) + uint32_t(lane[2][c]) + uint32_t(lane[3][c]);
      }
      uint32_t* dst = base + bc * 256;
      for (int c = 0; c < 256; c++) dst[c] += acc[c];
    }
    r0 = r1;
  }
}

// Largest band tables (scaleCols × 2 lanes × 256 × 16 bits) for the row-by-row way: 2 MB stays in L2.
constexpr size_t kBandTableLimit = size_t(1) << 20;

// Row by row over a whole band of block rows, with two alternating 16-bit lanes per block: memory is read in order
// (block by block strides across rows, which costs about a fifth more time) and eight codes come from one load.
void countBlocks(const uint8_t* p, size_t rowStart, size_t rows, size_t cols, size_t blockRows, size_t blockCols,
                 size_t scaleCols, size_t blockRowStart, uint32_t* out) {
  const size_t nb = (cols + blockCols - 1) / blockCols;
  uint16_t* t = nb * 512 <= kBandTableLimit ? new (std::nothrow) uint16_t[nb * 512] : nullptr;
  if (t == nullptr) {
    countBlocksOneByOne(p, rowStart, rows, cols, blockRows, blockCols, scaleCols, blockRowStart, out);
    return;
  }
  // A lane takes at most (blockCols + 1) / 2 codes of a block per row.
  const size_t rowsPerFlush = 65535 / ((blockCols + 1) / 2);
  for (size_t r0 = 0; r0 < rows;) {
    const size_t br = (rowStart + r0) / blockRows;
    size_t r1 = (br + 1) * blockRows - rowStart;
    if (r1 > rows) r1 = rows;
    uint32_t* base = out + (br - blockRowStart) * scaleCols * 256;
    for (size_t rs = r0; rs < r1; rs += rowsPerFlush) {
      const size_t re = rs + rowsPerFlush < r1 ? rs + rowsPerFlush : r1;
      std::memset(t, 0, nb * 512 * sizeof(uint16_t));
      for (size_t r = rs; r < re; r++) {
        const uint8_t* row = p + r * cols;
        for (size_t bc = 0; bc < nb; bc++) {
          const size_t c0 = bc * blockCols;
          const size_t w = c0 + blockCols < cols ? blockCols : cols - c0;
          const uint8_t* q = row + c0;
          uint16_t* a = t + bc * 512;
          uint16_t* b = a + 256;
          size_t i = 0;
          for (; i + 8 <= w; i += 8) {
            uint64_t x;
            std::memcpy(&x, q + i, 8);
            a[x & 255]++;
            b[(x >> 8) & 255]++;
            a[(x >> 16) & 255]++;
            b[(x >> 24) & 255]++;
            a[(x >> 32) & 255]++;
            b[(x >> 40) & 255]++;
            a[(x >> 48) & 255]++;
            b[x >> 56]++;
          }
          for (; i < w; i++) (i & 1 ? b : a)[q[i]]++;
        }
      }
      for (size_t bc = 0; bc < nb; bc++) {
        const uint16_t* a = t + bc * 512;
        uint32_t* dst = base + bc * 256;
        for (int c = 0; c < 256; c++) dst[c] += uint32_t(a[c]) + uint32_t(a[256 + c]);
      }
    }
    r0 = r1;
  }
  delete[] t;
}

struct BlockLayout {
  size_t rowStart, cols, blockRows, blockCols, scaleCols, blockRowStart;
};

// Reads and checks the layout arguments argv[0..5] and the counts table for `rows` rows.
bool getBlockLayout(napi_env env, napi_value* argv, BlockLayout& l) {
  if (!getIndex(env, argv[0], l.rowStart, "rowStart must be an index") ||
      !getIndex(env, argv[1], l.cols, "cols must be a count") ||
      !getIndex(env, argv[2], l.blockRows, "blockRows must be a count") ||
      !getIndex(env, argv[3], l.blockCols, "blockCols must be a count") ||
      !getIndex(env, argv[4], l.scaleCols, "scaleCols must be a count") ||
      !getIndex(env, argv[5], l.blockRowStart, "blockRowStart must be an index"))
    return false;
  if (l.cols == 0 || l.blockRows == 0 || l.blockCols == 0 || (l.cols + l.blockCols - 1) / l.blockCols > l.scaleCols)
    return fail(env, "block layout does not cover the columns");
  if (l.rowStart / l.blockRows < l.blockRowStart) return fail(env, "rowStart lies before blockRowStart");
  return true;
}

bool countsCover(napi_env env, const BlockLayout& l, size_t rows, const View& counts) {
  if (rows == 0) return true;
  const size_t lastBlockRow = (l.rowStart + rows - 1) / l.blockRows - l.blockRowStart;
  if ((lastBlockRow + 1) * l.scaleCols * 256 > counts.length) return fail(env, "counts is too short for these rows");
  return true;
}

// countBlockCodes(bytes, rowStart, cols, blockRows, blockCols, scaleCols, blockRowStart, counts): `bytes` holds
// whole rows [rowStart, rowStart + k) of a row-major FP8 matrix; counts are laid out
// [blockRow − blockRowStart][blockCol][256].
napi_value CountBlockCodes(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (!getArgs(env, info, argv, 8)) return nullptr;
  View bytes, counts;
  BlockLayout l;
  if (!getView(env, argv[0], bytes, napi_uint8_array, "bytes must be a Uint8Array") ||
      !getBlockLayout(env, argv + 1, l) ||
      !getView(env, argv[7], counts, napi_uint32_array, "counts must be a Uint32Array"))
    return nullptr;
  const size_t rows = bytes.length / l.cols;
  if (rows == 0) return undefinedValue(env);
  if (!countsCover(env, l, rows, counts)) return nullptr;
  countBlocks(static_cast<const uint8_t*>(bytes.data), l.rowStart, rows, l.cols, l.blockRows, l.blockCols,
              l.scaleCols, l.blockRowStart, static_cast<uint32_t*>(counts.data));
  return undefinedValue(env);
}

// countBlockCodesAt(fd, position, rows, rowStart, cols, blockRows, blockCols, scaleCols, blockRowStart, counts,
// samples: Float64Array, codes: Uint8Array): countBlockCodes over rows × cols bytes of the open file `fd` at byte
// `position`, mapped into memory instead of copied into a buffer (the copy costs about as much as a third of the
// counting). samples holds byte offsets within the range whose codes are stored into `codes` (the tensor's sample).
// Returns false, having done nothing, where mapping is not available (not Linux, mmap refused, or the file is
// shorter than the range): the caller then reads the range with pread, which also reports a short file properly.
// Risk: a file truncated by another process while it is mapped raises SIGBUS and ends the process; the size is
// checked right before mapping and each mapping lives for one call only, which keeps that window small (model
// files are not expected to change while they are inventoried).
napi_value CountBlockCodesAt(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  if (!getArgs(env, info, argv, 12)) return nullptr;
  size_t fd, position, rows;
  View counts, samples, codes;
  BlockLayout l;
  if (!getIndex(env, argv[0], fd, "fd must be a file descriptor") ||
      !getIndex(env, argv[1], position, "position must be an index") ||
      !getIndex(env, argv[2], rows, "rows must be a count") || !getBlockLayout(env, argv + 3, l) ||
      !getView(env, argv[9], counts, napi_uint32_array, "counts must be a Uint32Array") ||
      !getView(env, argv[10], samples, napi_float64_array, "samples must be a Float64Array") ||
      !getView(env, argv[11], codes, napi_uint8_array, "codes must be a Uint8Array"))
    return nullptr;
  if (codes.length < samples.length) {
    fail(env, "codes is shorter than samples");
    return nullptr;
  }
  if (!countsCover(env, l, rows, counts)) return nullptr;
  const size_t length = rows * l.cols;
  const double* sp = static_cast<const double*>(samples.data);
  for (size_t i = 0; i < samples.length; i++) {
    if (!(sp[i] >= 0 && sp[i] < static_cast<double>(length))) {
      fail(env, "sample offset lies outside the range");
      return nullptr;
    }
  }
  bool done = false;
#if defined(__linux__)
  if (length == 0) {
    done = true;
  } else if (fd <= 0x7fffffff) {
    MappedRange m;
    if (m.map(static_cast<int>(fd), position, length)) {
      countBlocks(m.data, l.rowStart, rows, l.cols, l.blockRows, l.blockCols, l.scaleCols, l.blockRowStart,
                  static_cast<uint32_t*>(counts.data));
      uint8_t* cd = static_cast<uint8_t*>(codes.data);
      for (size_t i = 0; i < samples.length; i++) cd[i] = m.data[static_cast<size_t>(sp[i])];
      done = true;
    }
  }
#else
  (void)fd;
  (void)position;
#endif
  napi_value r;
  napi_get_boolean(env, done, &r);
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// 32/64-bit values, scanned in sub-blocks by stats.ts: pass 1 gathers counts, sum and range of a sub-block; the
// caller then sizes its fine histogram; pass 2 adds squared deviations from the sub-block mean and fills the bins.
// Same operations in the same order as the JS loops, in doubles, so results are identical.

template <typename T>
void pass1(const T* v, size_t s, size_t e, double* out) {
  double n = 0, sum = 0, zeros = 0, nan = 0, posInf = 0, negInf = 0;
  double bmin = INFINITY, bmax = -INFINITY;
  for (size_t i = s; i < e; i++) {
    const double x = static_cast<double>(v[i]);
    if (x - x == 0) {
      n++;
      sum += x;
      if (x < bmin) bmin = x;
      if (x > bmax) bmax = x;
      if (x == 0) zeros++;
    } else if (x != x) {
      nan++;
    } else if (x > 0) {
      posInf++;
    } else {
      negInf++;
    }
  }
  out[0] = n;
  out[1] = sum;
  out[2] = bmin;
  out[3] = bmax;
  out[4] = zeros;
  out[5] = nan;
  out[6] = posInf;
  out[7] = negInf;
}

template <typename T>
double pass2(const T* v, size_t s, size_t e, double mean, double lo, double inv, double* counts) {
  double m2 = 0;
  for (size_t i = s; i < e; i++) {
    const double x = static_cast<double>(v[i]);
    if (x - x == 0) {
      const double d = x - mean;
      m2 += d * d;
      // floor() of JS; truncation equals it for x ≥ 0 and avoids a libm call per value (no SSE4.1 here). As in JS:
      // NaN and overflow go to the last bin; below the first cannot happen (the caller covers the sub-block's
      // range) and JS would drop it, so it is dropped here too.
      const double at = (x - lo) * inv;
      if (at < kFineBins) {
        if (at >= 0) counts[static_cast<size_t>(at)]++;
      } else {
        counts[kFineBins - 1]++;
      }
    }
  }
  return m2;
}

bool getValues(napi_env env, napi_value a, napi_value sv, napi_value ev, View& values, size_t& s, size_t& e) {
  if (!getView(env, a, values, "values must be a Float32Array or Float64Array")) return false;
  if (values.type != napi_float32_array && values.type != napi_float64_array)
    return fail(env, "values must be a Float32Array or Float64Array");
  if (!getIndex(env, sv, s, "start must be an index") || !getIndex(env, ev, e, "end must be an index")) return false;
  if (s > e || e > values.length) return fail(env, "range lies outside values");
  return true;
}

// scanPass1(values, start, end, out: Float64Array(8)): out = [finite, sum, min, max, zeros, nan, +inf, −inf].
napi_value ScanPass1(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!getArgs(env, info, argv, 4)) return nullptr;
  View values, out;
  size_t s, e;
  if (!getValues(env, argv[0], argv[1], argv[2], values, s, e)) return nullptr;
  if (!getView(env, argv[3], out, napi_float64_array, "out must be a Float64Array")) return nullptr;
  if (out.length < 8) {
    fail(env, "out must hold 8 numbers");
    return nullptr;
  }
  double* o = static_cast<double*>(out.data);
  if (values.type == napi_float32_array)
    pass1(static_cast<const float*>(values.data), s, e, o);
  else
    pass1(static_cast<const double*>(values.data), s, e, o);
  return undefinedValue(env);
}

// scanPass2(values, start, end, mean, lo, inv, counts: Float64Array(16384)): returns the sum of squared deviations.
napi_value ScanPass2(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!getArgs(env, info, argv, 7)) return nullptr;
  View values, counts;
  size_t s, e;
  double mean, lo, inv;
  if (!getValues(env, argv[0], argv[1], argv[2], values, s, e) || !getDouble(env, argv[3], mean, "mean") ||
      !getDouble(env, argv[4], lo, "lo") || !getDouble(env, argv[5], inv, "inv") ||
      !getView(env, argv[6], counts, napi_float64_array, "counts must be a Float64Array"))
    return nullptr;
  if (counts.length < static_cast<size_t>(kFineBins)) {
    fail(env, "counts must hold 16384 bins");
    return nullptr;
  }
  double* c = static_cast<double*>(counts.data);
  const double m2 = values.type == napi_float32_array
                        ? pass2(static_cast<const float*>(values.data), s, e, mean, lo, inv, c)
                        : pass2(static_cast<const double*>(values.data), s, e, mean, lo, inv, c);
  napi_value r;
  napi_create_double(env, m2, &r);
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// Finishing a block-scaled FP8 tensor (stats.ts finishStats, kind 'blocks'): values are code × block scale. Each
// block is reduced to moments of its code values (count, sum, sum of squares, zeros, smallest and largest value),
// the block scale is applied to those, and the blocks are combined in order (sum of block sums; squared deviations
// by Chan et al.). For F8_E4M3 blocks of up to 65536 values every one of those sums is exact (code values are
// multiples of 2^-9 below 2^9, their squares multiples of 2^-18 below 2^18), so the moments do not depend on the
// order of the values and the vector scan of blockStatsAt gives the same bits as the code counts. stats.ts
// (blockMomentsJs and friends) does the same operations in the same order.

struct BlockMoments {
  double n = 0, sum = 0, sq = 0, zeros = 0;  // finite values, in code units (before the scale)
  double tmin = INFINITY, tmax = -INFINITY;
  double nan = 0, posInf = 0, negInf = 0;  // values that are not finite once scaled
};

void momentsFromCounts(const uint32_t* cnt, const double* table, double scale, BlockMoments& b) {
  const bool finiteScale = scale - scale == 0;
  for (int c = 0; c < 256; c++) {
    if (cnt[c] == 0) continue;
    const double n = static_cast<double>(cnt[c]);
    const double t = table[c];
    if (finiteScale && t - t == 0) {
      b.n += n;
      b.sum += t * n;
      b.sq += t * t * n;
      if (t == 0) b.zeros += n;
      if (t < b.tmin) b.tmin = t;
      if (t > b.tmax) b.tmax = t;
    } else {
      const double v = t * scale;
      if (v != v)
        b.nan += n;
      else if (v > 0)
        b.posInf += n;
      else
        b.negInf += n;
    }
  }
  // ±0 alike, whichever zero codes the block holds (the vector scan sees only the smallest and largest code).
  b.tmin += 0;
  b.tmax += 0;
}

// acc = [finite, sum, min, max, zeros, nan, +inf, −inf], continued.
void foldPass1(const BlockMoments& b, double s, double* o) {
  if (b.n > 0) {
    o[0] += b.n;
    o[1] += b.sum * s;
    const double a = b.tmin * s;
    const double z = b.tmax * s;
    const double lo = a < z ? a : z;
    const double hi = a < z ? z : a;
    if (lo < o[2]) o[2] = lo;
    if (hi > o[3]) o[3] = hi;
    o[4] += s == 0 ? b.n : b.zeros;
  }
  o[5] += b.nan;
  o[6] += b.posInf;
  o[7] += b.negInf;
}

// m2 plus the block's squared deviations from the tensor mean: its own (sum of squares less n × its mean²) and
// its mean's distance from the tensor mean.
double foldPass2(const BlockMoments& b, double s, double mean, double m2) {
  if (b.n > 0) {
    const double bmean = b.sum * s / b.n;
    double inner = b.sq - b.sum * b.sum / b.n;
    if (!(inner > 0)) inner = 0;
    const double d = bmean - mean;
    m2 += inner * (s * s) + d * d * b.n;
  }
  return m2;
}

// Histogram bin of a finite value as in JS: floor (truncation for x ≥ 0); NaN (0 × ∞ for a subnormal span) and
// overflow go to the last bin; below the first (cannot happen, the caller covers the range) is dropped (−1).
inline int binOf(double v, double mn, double binScale, size_t bins) {
  const double at = (v - mn) * binScale;
  if (at < static_cast<double>(bins)) return at >= 0 ? static_cast<int>(at) : -1;
  return static_cast<int>(bins - 1);
}

// Adds a block's counts to integer bins (two alternating lanes: neighbouring codes often share a bin, and one
// counter would serialize on it).
void histFromCounts(const uint32_t* cnt, const double* table, double scale, double mn, double binScale, size_t bins,
                    uint64_t (*lane)[256]) {
  int j = 0;
  for (int c = 0; c < 256; c++) {
    if (cnt[c] == 0) continue;
    const double v = table[c] * scale;
    if (v - v != 0) continue;
    const int b = binOf(v, mn, binScale, bins);
    if (b >= 0) lane[j & 1][b] += cnt[c];
    j++;
  }
}

struct BlockArgs {
  const uint32_t* counts;
  size_t nBlocks;
  const float* scales;
  const double* table;
};

bool getBlockArgs(napi_env env, napi_value* argv, BlockArgs& a) {
  View counts, scales, table;
  size_t blockRowStart, scaleCols;
  if (!getView(env, argv[0], counts, napi_uint32_array, "counts must be a Uint32Array") ||
      !getIndex(env, argv[1], blockRowStart, "blockRowStart must be an index") ||
      !getIndex(env, argv[2], scaleCols, "scaleCols must be a count") ||
      !getView(env, argv[3], scales, napi_float32_array, "scales must be a Float32Array") ||
      !getView(env, argv[4], table, napi_float64_array, "table must be a Float64Array"))
    return false;
  if (table.length < 256) return fail(env, "table must hold 256 values");
  a.nBlocks = counts.length >> 8;
  if (a.nBlocks > 0 && blockRowStart * scaleCols + a.nBlocks > scales.length)
    return fail(env, "counts cover more blocks than there are scales");
  a.counts = static_cast<const uint32_t*>(counts.data);
  a.scales = static_cast<const float*>(scales.data) + blockRowStart * scaleCols;
  a.table = static_cast<const double*>(table.data);
  return true;
}

// blockPass1(counts, blockRowStart, scaleCols, scales, table, acc): acc = [finite, sum, min, max, zeros, nan, +inf,
// −inf], continued from its current contents (several parts of one tensor accumulate in order).
napi_value BlockPass1(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!getArgs(env, info, argv, 6)) return nullptr;
  BlockArgs a;
  View acc;
  if (!getBlockArgs(env, argv, a) || !getView(env, argv[5], acc, napi_float64_array, "acc must be a Float64Array"))
    return nullptr;
  if (acc.length < 8) {
    fail(env, "acc must hold 8 numbers");
    return nullptr;
  }
  double* o = static_cast<double*>(acc.data);
  for (size_t b = 0; b < a.nBlocks; b++) {
    const double scale = static_cast<double>(a.scales[b]);
    BlockMoments m;
    momentsFromCounts(a.counts + (b << 8), a.table, scale, m);
    foldPass1(m, scale, o);
  }
  return undefinedValue(env);
}

// blockPass2(counts, blockRowStart, scaleCols, scales, table, mean, min, binScale, m2, hist: Float64Array(bins)):
// adds the counts to the histogram bins and returns m2 plus their squared deviations from the mean.
napi_value BlockPass2(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!getArgs(env, info, argv, 10)) return nullptr;
  BlockArgs a;
  View hist;
  double mean, mn, binScale, m2;
  if (!getBlockArgs(env, argv, a) || !getDouble(env, argv[5], mean, "mean") || !getDouble(env, argv[6], mn, "min") ||
      !getDouble(env, argv[7], binScale, "binScale") || !getDouble(env, argv[8], m2, "m2") ||
      !getView(env, argv[9], hist, napi_float64_array, "hist must be a Float64Array"))
    return nullptr;
  if (hist.length == 0 || hist.length > 256) {
    fail(env, "hist must hold 1 to 256 bins");
    return nullptr;
  }
  uint64_t lane[2][256] = {};
  for (size_t b = 0; b < a.nBlocks; b++) {
    const double scale = static_cast<double>(a.scales[b]);
    const uint32_t* cnt = a.counts + (b << 8);
    BlockMoments m;
    momentsFromCounts(cnt, a.table, scale, m);
    m2 = foldPass2(m, scale, mean, m2);
    histFromCounts(cnt, a.table, scale, mn, binScale, hist.length, lane);
  }
  double* h = static_cast<double*>(hist.data);
  for (size_t i = 0; i < hist.length; i++) h[i] += static_cast<double>(lane[0][i] + lane[1][i]);
  napi_value r;
  napi_create_double(env, m2, &r);
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// A whole F8_E4M3 tensor in two vector passes over its mapped bytes, without per-block code counts (counting costs
// one memory increment per byte, which bounds it near a cycle per byte). Pass A reduces each block to its moments:
// code values as integers (value × 512) from their exponent and mantissa bits, summed and squared with 16-bit
// multiply-adds, plus the smallest and largest code in value order. With the tensor's range known, pass B finds
// for each block the codes where the histogram bin changes (few: most blocks' scales are well below the largest)
// and counts the values at or above each of them with byte compares. A block whose codes include NaN, whose scale
// is not finite, or whose bins change too often is counted code by code instead; both ways are exact, so results
// equal blockPass1/blockPass2 over code counts bit for bit.

// Value order of E4M3 codes as a signed byte: negative codes reversed below the positive ones; NaN codes (0x7f,
// 0xff) land on 127 and −128, which finite codes never reach.
inline int orderedOf(uint8_t c) { return c & 0x80 ? -static_cast<int>(c & 0x7f) - 1 : c; }
inline uint8_t codeOfOrdered(int o) { return o >= 0 ? static_cast<uint8_t>(o) : static_cast<uint8_t>(0x80 | (-o - 1)); }

double e4m3Value(int c) {
  const int e = (c >> 3) & 15;
  const int m = c & 7;
  if (e == 15 && m == 7) return NAN;
  const double v = e == 0 ? std::ldexp(m, -9) : std::ldexp(8 + m, e - 10);
  return c & 0x80 ? -v : v;
}

// Code counts of one block (four lanes of 16-bit counters, flushed before they could overflow).
void countOneBlock(const uint8_t* p, size_t rows, size_t w, size_t stride, uint32_t* out) {
  uint16_t lane[4][256];
  const size_t rowsPerFlush = 65535 / ((w + 3) / 4);
  for (size_t rs = 0; rs < rows; rs += rowsPerFlush) {
    const size_t re = rs + rowsPerFlush < rows ? rs + rowsPerFlush : rows;
    std::memset(lane, 0, sizeof lane);
    for (size_t r = rs; r < re; r++) {
      const uint8_t* q = p + r * stride;
      size_t i = 0;
      for (; i + 4 <= w; i += 4) {
        lane[0][q[i]]++;
        lane[1][q[i + 1]]++;
        lane[2][q[i + 2]]++;
        lane[3][q[i + 3]]++;
      }
      for (; i < w; i++) lane[i & 3][q[i]]++;
    }
    for (int c = 0; c < 256; c++)
      out[c] += uint32_t(lane[0][c]) + uint32_t(lane[1][c]) + uint32_t(lane[2][c]) + uint32_t(lane[3][c]);
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__linux__)
#define SHARDPRESS_VECTOR_BLOCKS 1

struct BlockScan {
  int64_t sum = 0;  // Σ value × 512
  int64_t sq = 0;   // Σ (value × 512)²
  int64_t zeros = 0;
  int64_t negatives = -1;  // codes with the sign bit set, where the scan counts them (−1: not counted)
  int omin = 127, omax = -128;
};

// Pass A. A code is ± M × 2^k (M = 8 + mantissa, k = exponent − 1; subnormal: M = mantissa, k = 0); value × 512
// is split as lo + 128 × hi with lo = M × 2^k for k ≤ 6 and hi = M × 2^(k − 7) above, each from an 8-bit
// multiply-add with one byte of each pair masked out, so every product stays exact in 16 bits. Bands of blocks are
// read row by row (in memory order: block by block would stride across pages and stall on memory), so each block's
// running sums live in a ScanState between its row segments.
// Seven vector accumulators (sums lo/hi, squares lo/hi, zeros, smallest and largest code), 64 bytes each so that
// both the 256-bit and the 512-bit code can keep them here; the VNNI scan keeps eleven (see scanRowsVnni).
struct alignas(64) ScanState {
  uint8_t raw[11 * 64];
};

enum Slot { kSumLo, kSumHi, kSqLo, kSqHi, kZeros, kMin, kMax };

// ---- AVX2 (32 bytes at a time)

template <int I>
__attribute__((target("avx2"))) inline __m256i& at2(ScanState& st) {
  return *reinterpret_cast<__m256i*>(st.raw + 64 * I);
}
template <int I>
__attribute__((target("avx2"))) inline __m256i at2(const ScanState& st) {
  return *reinterpret_cast<const __m256i*>(st.raw + 64 * I);
}

__attribute__((target("avx2"))) void scanStart2(ScanState& st) {
  at2<kSumLo>(st) = at2<kSumHi>(st) = at2<kSqLo>(st) = at2<kSqHi>(st) = at2<kZeros>(st) = _mm256_setzero_si256();
  at2<kMin>(st) = _mm256_set1_epi8(127);
  at2<kMax>(st) = _mm256_set1_epi8(-128);
}

// One row segment of a block: w bytes, a multiple of 32 and at most 256 (16-bit sums stay below 8 × 3840, 32-bit
// squares below 8 × 4 × 1920²; a block has at most 256 rows, so the 32-bit sums stay below 2^25).
__attribute__((target("avx2"))) void scanRow2(const uint8_t* q, size_t w, ScanState& st) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i m0f = _mm256_set1_epi8(0x0f);
  const __m256i m07 = _mm256_set1_epi8(0x07);
  const __m256i m7f = _mm256_set1_epi8(0x7f);
  const __m256i even = _mm256_set1_epi16(0x00ff);
  const __m256i odd = _mm256_set1_epi16(static_cast<int16_t>(0xff00));
  const __m256i ones = _mm256_set1_epi16(1);
  // By exponent field: the implicit 8, 2^k for the low part, 2^(k − 7) for the high part.
  const __m256i tabM8 = _mm256_setr_epi8(0, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 0, 8, 8, 8, 8, 8, 8, 8, 8, 8,
                                         8, 8, 8, 8, 8, 8);
  const __m256i tabLo = _mm256_setr_epi8(1, 1, 2, 4, 8, 16, 32, 64, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 4, 8, 16, 32,
                                         64, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i tabHi =
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, static_cast<char>(128), 0, 0, 0, 0, 0, 0, 0, 0,
                       1, 2, 4, 8, 16, 32, 64, static_cast<char>(128));
  __m256i wLo = zero, wHi = zero, rLo = zero, rHi = zero, zc = zero;
  __m256i vmin = at2<kMin>(st), vmax = at2<kMax>(st);
  for (size_t i = 0; i < w; i += 32) {
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i));
    const __m256i e = _mm256_and_si256(_mm256_srli_epi16(c, 3), m0f);
    const __m256i mag = _mm256_or_si256(_mm256_and_si256(c, m07), _mm256_shuffle_epi8(tabM8, e));
    const __m256i sm = _mm256_sign_epi8(mag, c);
    const __m256i pLo = _mm256_shuffle_epi8(tabLo, e);
    const __m256i pHi = _mm256_shuffle_epi8(tabHi, e);
    const __m256i le = _mm256_maddubs_epi16(_mm256_and_si256(pLo, even), sm);
    const __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(pLo, odd), sm);
    const __m256i he = _mm256_maddubs_epi16(_mm256_and_si256(pHi, even), sm);
    const __m256i ho = _mm256_maddubs_epi16(_mm256_and_si256(pHi, odd), sm);
    wLo = _mm256_add_epi16(wLo, _mm256_add_epi16(le, lo));
    wHi = _mm256_add_epi16(wHi, _mm256_add_epi16(he, ho));
    rLo = _mm256_add_epi32(rLo, _mm256_add_epi32(_mm256_madd_epi16(le, le), _mm256_madd_epi16(lo, lo)));
    rHi = _mm256_add_epi32(rHi, _mm256_add_epi32(_mm256_madd_epi16(he, he), _mm256_madd_epi16(ho, ho)));
    const __m256i o = _mm256_xor_si256(c, _mm256_and_si256(_mm256_cmpgt_epi8(zero, c), m7f));
    vmin = _mm256_min_epi8(vmin, o);
    vmax = _mm256_max_epi8(vmax, o);
    zc = _mm256_sub_epi8(zc, _mm256_cmpeq_epi8(_mm256_and_si256(c, m7f), zero));
  }
  at2<kMin>(st) = vmin;
  at2<kMax>(st) = vmax;
  at2<kSumLo>(st) = _mm256_add_epi32(at2<kSumLo>(st), _mm256_madd_epi16(wLo, ones));
  at2<kSumHi>(st) = _mm256_add_epi32(at2<kSumHi>(st), _mm256_madd_epi16(wHi, ones));
  at2<kSqLo>(st) = _mm256_add_epi64(
      at2<kSqLo>(st), _mm256_add_epi64(_mm256_unpacklo_epi32(rLo, zero), _mm256_unpackhi_epi32(rLo, zero)));
  at2<kSqHi>(st) = _mm256_add_epi64(
      at2<kSqHi>(st), _mm256_add_epi64(_mm256_unpacklo_epi32(rHi, zero), _mm256_unpackhi_epi32(rHi, zero)));
  at2<kZeros>(st) = _mm256_add_epi64(at2<kZeros>(st), _mm256_sad_epu8(zc, zero));
}

void finishScan(const int32_t* sLo, const int32_t* sHi, const int64_t* qLo, const int64_t* qHi, const int64_t* z,
                const int8_t* mn, const int8_t* mx, int lanes32, BlockScan& out) {
  out.sum = 0;
  out.sq = 0;
  out.zeros = 0;
  for (int i = 0; i < lanes32; i++) out.sum += int64_t(sLo[i]) + 128 * int64_t(sHi[i]);
  for (int i = 0; i < lanes32 / 2; i++) {
    out.sq += qLo[i] + 16384 * qHi[i];
    out.zeros += z[i];
  }
  out.omin = 127;
  out.omax = -128;
  for (int i = 0; i < lanes32 * 4; i++) {
    if (mn[i] < out.omin) out.omin = mn[i];
    if (mx[i] > out.omax) out.omax = mx[i];
  }
}

void scanFinish2(const ScanState& st, BlockScan& out) {
  const uint8_t* r = st.raw;
  finishScan(reinterpret_cast<const int32_t*>(r + 64 * kSumLo), reinterpret_cast<const int32_t*>(r + 64 * kSumHi),
             reinterpret_cast<const int64_t*>(r + 64 * kSqLo), reinterpret_cast<const int64_t*>(r + 64 * kSqHi),
             reinterpret_cast<const int64_t*>(r + 64 * kZeros), reinterpret_cast<const int8_t*>(r + 64 * kMin),
             reinterpret_cast<const int8_t*>(r + 64 * kMax), 8, out);
}

// count[j] += how many codes of a block (rows of w bytes every `stride` bytes, w a multiple of 32), read as signed
// bytes, are greater than gt[j]; K thresholds per sweep, counted in byte lanes widened before they could wrap.
template <int K>
__attribute__((target("avx2"))) void countGreater2(const uint8_t* p, size_t rows, size_t w, size_t stride,
                                                    const int* gt, uint64_t* count) {
  const __m256i zero = _mm256_setzero_si256();
  __m256i t[K], acc[K], tot[K];
  for (int k = 0; k < K; k++) {
    t[k] = _mm256_set1_epi8(static_cast<char>(gt[k]));
    acc[k] = zero;
    tot[k] = zero;
  }
  size_t inLanes = 0;
  const size_t perRow = w / 32;
  for (size_t r = 0; r < rows; r++) {
    const uint8_t* q = p + r * stride;
    for (size_t i = 0; i < w; i += 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i));
      for (int k = 0; k < K; k++) acc[k] = _mm256_sub_epi8(acc[k], _mm256_cmpgt_epi8(v, t[k]));
    }
    inLanes += perRow;
    if (inLanes + perRow > 255) {
      for (int k = 0; k < K; k++) {
        tot[k] = _mm256_add_epi64(tot[k], _mm256_sad_epu8(acc[k], zero));
        acc[k] = zero;
      }
      inLanes = 0;
    }
  }
  alignas(32) int64_t x[4];
  for (int k = 0; k < K; k++) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(x), _mm256_add_epi64(tot[k], _mm256_sad_epu8(acc[k], zero)));
    count[k] += uint64_t(x[0] + x[1] + x[2] + x[3]);
  }
}

// GCC 12 reports its own _mm512_undefined_* placeholders inside the AVX-512 intrinsics as uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// ---- AVX-512BW (64 bytes at a time; the same arithmetic, with masks where AVX2 has sign and compare vectors)

template <int I>
__attribute__((target("avx512f,avx512bw"))) inline __m512i& at5(ScanState& st) {
  return *reinterpret_cast<__m512i*>(st.raw + 64 * I);
}

// acc + 1 in the byte lanes selected by k, in place. GCC (12) copies a merge-masked accumulator to another register
// and back on every use, which doubles the instructions of the counting loops; the assembly keeps it in place.
__attribute__((target("avx512f,avx512bw"))) inline __m512i countInto(__m512i acc, __mmask64 k, __m512i one8) {
#if defined(__GNUC__) && !defined(__clang__)
  __asm__("vpaddb %[one], %[acc], %[acc]%{%[k]%}" : [acc] "+v"(acc) : [k] "Yk"(k), [one] "v"(one8));
  return acc;
#else
  return _mm512_mask_add_epi8(acc, k, acc, one8);
#endif
}

__attribute__((target("avx512f,avx512bw"))) void scanStart5(ScanState& st) {
  at5<kSumLo>(st) = at5<kSumHi>(st) = at5<kSqLo>(st) = at5<kSqHi>(st) = at5<kZeros>(st) = _mm512_setzero_si512();
  at5<kMin>(st) = _mm512_set1_epi8(127);
  at5<kMax>(st) = _mm512_set1_epi8(-128);
}

// As scanRow2 with w a multiple of 64 and at most 256 (4 vectors a row: the same bounds hold).
__attribute__((target("avx512f,avx512bw"))) void scanRow5(const uint8_t* q, size_t w, ScanState& st) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i m0f = _mm512_set1_epi8(0x0f);
  const __m512i m07 = _mm512_set1_epi8(0x07);
  const __m512i m7f = _mm512_set1_epi8(0x7f);
  const __m512i one8 = _mm512_set1_epi8(1);
  const __m512i ones = _mm512_set1_epi16(1);
  const __mmask64 even = 0x5555555555555555ull;
  // The exponent tables of scanRow2, repeated in each 128-bit lane.
  const __m512i tabM8 = _mm512_set4_epi32(0x08080808, 0x08080808, 0x08080808, 0x08080800);
  const __m512i tabLo = _mm512_set4_epi32(0, 0, 0x40201008, 0x04020101);
  const __m512i tabHi = _mm512_set4_epi32(static_cast<int>(0x80402010), 0x08040201, 0, 0);
  __m512i wLo = zero, wHi = zero, rLo = zero, rHi = zero, zc = zero;
  __m512i vmin = at5<kMin>(st), vmax = at5<kMax>(st);
  for (size_t i = 0; i < w; i += 64) {
    const __m512i c = _mm512_loadu_si512(q + i);
    const __mmask64 neg = _mm512_movepi8_mask(c);
    const __m512i e = _mm512_and_si512(_mm512_srli_epi16(c, 3), m0f);
    const __m512i mag = _mm512_or_si512(_mm512_and_si512(c, m07), _mm512_shuffle_epi8(tabM8, e));
    const __m512i sm = _mm512_mask_sub_epi8(mag, neg, zero, mag);
    const __m512i pLo = _mm512_shuffle_epi8(tabLo, e);
    const __m512i pHi = _mm512_shuffle_epi8(tabHi, e);
    const __m512i le = _mm512_maddubs_epi16(_mm512_maskz_mov_epi8(even, pLo), sm);
    const __m512i lo = _mm512_maddubs_epi16(_mm512_maskz_mov_epi8(~even, pLo), sm);
    const __m512i he = _mm512_maddubs_epi16(_mm512_maskz_mov_epi8(even, pHi), sm);
    const __m512i ho = _mm512_maddubs_epi16(_mm512_maskz_mov_epi8(~even, pHi), sm);
    wLo = _mm512_add_epi16(wLo, _mm512_add_epi16(le, lo));
    wHi = _mm512_add_epi16(wHi, _mm512_add_epi16(he, ho));
    rLo = _mm512_add_epi32(rLo, _mm512_add_epi32(_mm512_madd_epi16(le, le), _mm512_madd_epi16(lo, lo)));
    rHi = _mm512_add_epi32(rHi, _mm512_add_epi32(_mm512_madd_epi16(he, he), _mm512_madd_epi16(ho, ho)));
    const __m512i ord = _mm512_xor_si512(c, _mm512_maskz_mov_epi8(neg, m7f));
    vmin = _mm512_min_epi8(vmin, ord);
    vmax = _mm512_max_epi8(vmax, ord);
    zc = countInto(zc, _mm512_testn_epi8_mask(c, m7f), one8);
  }
  at5<kMin>(st) = vmin;
  at5<kMax>(st) = vmax;
  at5<kSumLo>(st) = _mm512_add_epi32(at5<kSumLo>(st), _mm512_madd_epi16(wLo, ones));
  at5<kSumHi>(st) = _mm512_add_epi32(at5<kSumHi>(st), _mm512_madd_epi16(wHi, ones));
  // The 32-bit squares are non-negative: even and odd ones widen to 64 bits by a mask and a shift.
  const __m512i low32 = _mm512_set1_epi64(0xffffffff);
  at5<kSqLo>(st) = _mm512_add_epi64(at5<kSqLo>(st),
                                    _mm512_add_epi64(_mm512_and_si512(rLo, low32), _mm512_srli_epi64(rLo, 32)));
  at5<kSqHi>(st) = _mm512_add_epi64(at5<kSqHi>(st),
                                    _mm512_add_epi64(_mm512_and_si512(rHi, low32), _mm512_srli_epi64(rHi, 32)));
  at5<kZeros>(st) = _mm512_add_epi64(at5<kZeros>(st), _mm512_sad_epu8(zc, zero));
}

void scanFinish5(const ScanState& st, BlockScan& out) {
  const uint8_t* r = st.raw;
  finishScan(reinterpret_cast<const int32_t*>(r + 64 * kSumLo), reinterpret_cast<const int32_t*>(r + 64 * kSumHi),
             reinterpret_cast<const int64_t*>(r + 64 * kSqLo), reinterpret_cast<const int64_t*>(r + 64 * kSqHi),
             reinterpret_cast<const int64_t*>(r + 64 * kZeros), reinterpret_cast<const int8_t*>(r + 64 * kMin),
             reinterpret_cast<const int8_t*>(r + 64 * kMax), 16, out);
}

template <int K>
__attribute__((target("avx512f,avx512bw"))) void countGreater5(const uint8_t* p, size_t rows, size_t w,
                                                                size_t stride, const int* gt, uint64_t* count) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i one8 = _mm512_set1_epi8(1);
  __m512i t[K], acc[K], tot[K];
  for (int k = 0; k < K; k++) {
    t[k] = _mm512_set1_epi8(static_cast<char>(gt[k]));
    acc[k] = zero;
    tot[k] = zero;
  }
  size_t inLanes = 0;
  const size_t perRow = w / 64;
  for (size_t r = 0; r < rows; r++) {
    const uint8_t* q = p + r * stride;
    for (size_t i = 0; i < w; i += 64) {
      const __m512i v = _mm512_loadu_si512(q + i);
      for (int k = 0; k < K; k++) acc[k] = countInto(acc[k], _mm512_cmpgt_epi8_mask(v, t[k]), one8);
    }
    inLanes += perRow;
    if (inLanes + perRow > 255) {
      for (int k = 0; k < K; k++) {
        tot[k] = _mm512_add_epi64(tot[k], _mm512_sad_epu8(acc[k], zero));
        acc[k] = zero;
      }
      inLanes = 0;
    }
  }
  alignas(64) int64_t x[8];
  for (int k = 0; k < K; k++) {
    _mm512_store_si512(x, _mm512_add_epi64(tot[k], _mm512_sad_epu8(acc[k], zero)));
    count[k] += static_cast<uint64_t>(x[0] + x[1] + x[2] + x[3] + x[4] + x[5] + x[6] + x[7]);
  }
}

// ---- AVX-512 VNNI: the sums go straight into 32-bit lanes with vpdpbusd (unsigned byte × signed byte, four
// products a lane), so a block's running sums stay exact in 32 bits for all its rows and a strip of rows is scanned
// in registers. Σ value × 512 = Σ P_lo × ±M + 128 Σ P_hi × ±M as before. Σ (value × 512)² = Σ M² × 4^k splits
// into four groups of exponents, k = 4g + j (j ≤ 3): M² (at most 225) is an unsigned byte and 4^j (at most 64) a
// signed one, and the group sums are weighted by 4^(4g) at the end. The smallest and largest code in value order
// come from three byte maxima/minima of the raw codes (signed maximum: largest non-negative code; unsigned maximum:
// the negative code of largest magnitude; unsigned minimum: the other end when all codes share a sign). Zeros and
// non-negative codes are counted in byte lanes, flushed at the end of each call (at most 255 vectors per lane).

enum VnniSlot { kVSumLo, kVSumHi, kVSq0, kVSq1, kVSq2, kVSq3, kVZeros, kVNeg, kVMaxS, kVMaxU, kVMinU };

template <int I>
__attribute__((target("avx512f,avx512bw"))) inline __m512i& atV(ScanState& st) {
  return *reinterpret_cast<__m512i*>(st.raw + 64 * I);
}

__attribute__((target("avx512f,avx512bw"))) void scanStartVnni(ScanState& st) {
  const __m512i zero = _mm512_setzero_si512();
  atV<kVSumLo>(st) = atV<kVSumHi>(st) = zero;
  atV<kVSq0>(st) = atV<kVSq1>(st) = atV<kVSq2>(st) = atV<kVSq3>(st) = zero;
  atV<kVZeros>(st) = atV<kVNeg>(st) = zero;
  atV<kVMaxS>(st) = _mm512_set1_epi8(-128);
  atV<kVMaxU>(st) = zero;
  atV<kVMinU>(st) = _mm512_set1_epi8(-1);
}

// n rows of w bytes every `stride` bytes (w a multiple of 64, n × w / 64 ≤ 255 for the byte counters).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void scanStripVnni(const uint8_t* q, size_t stride,
                                                                          size_t n, size_t w, ScanState& st) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i m0f = _mm512_set1_epi8(0x0f);
  const __m512i m07 = _mm512_set1_epi8(0x07);
  const __m512i m7f = _mm512_set1_epi8(0x7f);
  const __m512i one8 = _mm512_set1_epi8(1);
  // By exponent field e, repeated in each 128-bit lane: the implicit 8; 2^k for k ≤ 6; 2^(k − 7) above; 4^j of
  // each square group.
  const __m512i tabM8 = _mm512_set4_epi32(0x08080808, 0x08080808, 0x08080808, 0x08080800);
  const __m512i tabLo = _mm512_set4_epi32(0, 0, 0x40201008, 0x04020101);
  const __m512i tabHi = _mm512_set4_epi32(static_cast<int>(0x80402010), 0x08040201, 0, 0);
  const __m512i tabG0 = _mm512_set4_epi32(0, 0, 0x40, 0x10040101);           // e 0..4: 1, 1, 4, 16, 64
  const __m512i tabG1 = _mm512_set4_epi32(0, 0x40, 0x10040100, 0);           // e 5..8: 1, 4, 16, 64
  const __m512i tabG2 = _mm512_set4_epi32(0x40, 0x10040100, 0, 0);           // e 9..12
  const __m512i tabG3 = _mm512_set4_epi32(0x10040100, 0, 0, 0);              // e 13..15: 1, 4, 16
  // M² by M (0..15).
  const __m512i tabSq = _mm512_set4_epi32(static_cast<int>(0xe1c4a990), 0x79645140, 0x31241910, 0x09040100);
  __m512i sLo = atV<kVSumLo>(st), sHi = atV<kVSumHi>(st);
  __m512i g0 = atV<kVSq0>(st), g1 = atV<kVSq1>(st), g2 = atV<kVSq2>(st), g3 = atV<kVSq3>(st);
  __m512i maxS = atV<kVMaxS>(st), maxU = atV<kVMaxU>(st), minU = atV<kVMinU>(st);
  __m512i zc = zero, nn = zero;
  for (size_t r = 0; r < n; r++) {
    const uint8_t* row = q + r * stride;
    for (size_t i = 0; i < w; i += 64) {
      const __m512i c = _mm512_loadu_si512(row + i);
      const __mmask64 neg = _mm512_movepi8_mask(c);
      const __m512i e = _mm512_and_si512(_mm512_srli_epi16(c, 3), m0f);
      const __m512i mag = _mm512_or_si512(_mm512_and_si512(c, m07), _mm512_shuffle_epi8(tabM8, e));
      const __m512i sm = _mm512_mask_sub_epi8(mag, neg, zero, mag);
      sLo = _mm512_dpbusd_epi32(sLo, _mm512_shuffle_epi8(tabLo, e), sm);
      sHi = _mm512_dpbusd_epi32(sHi, _mm512_shuffle_epi8(tabHi, e), sm);
      const __m512i sq = _mm512_shuffle_epi8(tabSq, mag);
      g0 = _mm512_dpbusd_epi32(g0, sq, _mm512_shuffle_epi8(tabG0, e));
      g1 = _mm512_dpbusd_epi32(g1, sq, _mm512_shuffle_epi8(tabG1, e));
      g2 = _mm512_dpbusd_epi32(g2, sq, _mm512_shuffle_epi8(tabG2, e));
      g3 = _mm512_dpbusd_epi32(g3, sq, _mm512_shuffle_epi8(tabG3, e));
      maxS = _mm512_max_epi8(maxS, c);
      maxU = _mm512_max_epu8(maxU, c);
      minU = _mm512_min_epu8(minU, c);
      zc = countInto(zc, _mm512_testn_epi8_mask(c, m7f), one8);
      nn = countInto(nn, neg, one8);
    }
  }
  atV<kVSumLo>(st) = sLo;
  atV<kVSumHi>(st) = sHi;
  atV<kVSq0>(st) = g0;
  atV<kVSq1>(st) = g1;
  atV<kVSq2>(st) = g2;
  atV<kVSq3>(st) = g3;
  atV<kVMaxS>(st) = maxS;
  atV<kVMaxU>(st) = maxU;
  atV<kVMinU>(st) = minU;
  atV<kVZeros>(st) = _mm512_add_epi64(atV<kVZeros>(st), _mm512_sad_epu8(zc, zero));
  atV<kVNeg>(st) = _mm512_add_epi64(atV<kVNeg>(st), _mm512_sad_epu8(nn, zero));
}

// Rows of one block segment, in strips the byte counters can hold.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void scanRowsVnni(const uint8_t* q, size_t stride,
                                                                         size_t n, size_t w, ScanState& st) {
  const size_t strip = 255 / (w / 64);
  for (size_t r = 0; r < n; r += strip) scanStripVnni(q + r * stride, stride, n - r < strip ? n - r : strip, w, st);
}

void scanFinishVnni(const ScanState& st, BlockScan& out) {
  const int32_t* sLo = reinterpret_cast<const int32_t*>(st.raw + 64 * kVSumLo);
  const int32_t* sHi = reinterpret_cast<const int32_t*>(st.raw + 64 * kVSumHi);
  int64_t g[4] = {0, 0, 0, 0};
  out.sum = 0;
  for (int i = 0; i < 16; i++) {
    out.sum += int64_t(sLo[i]) + 128 * int64_t(sHi[i]);
    for (int k = 0; k < 4; k++) g[k] += reinterpret_cast<const int32_t*>(st.raw + 64 * (kVSq0 + k))[i];
  }
  out.sq = g[0] + (g[1] << 8) + (g[2] << 16) + (g[3] << 24);
  const int64_t* z = reinterpret_cast<const int64_t*>(st.raw + 64 * kVZeros);
  const int64_t* ng = reinterpret_cast<const int64_t*>(st.raw + 64 * kVNeg);
  out.zeros = 0;
  out.negatives = 0;
  for (int i = 0; i < 8; i++) {
    out.zeros += z[i];
    out.negatives += ng[i];
  }
  const int8_t* ms = reinterpret_cast<const int8_t*>(st.raw + 64 * kVMaxS);
  const uint8_t* mu = st.raw + 64 * kVMaxU;
  const uint8_t* nu = st.raw + 64 * kVMinU;
  int maxS = -128, maxU = 0, minU = 255;
  for (int i = 0; i < 64; i++) {
    if (ms[i] > maxS) maxS = ms[i];
    if (mu[i] > maxU) maxU = mu[i];
    if (nu[i] < minU) minU = nu[i];
  }
  // maxS is a non-negative code exactly when the block has one.
  const bool anyNonNeg = maxS >= 0, anyNeg = maxU >= 0x80;
  out.omax = anyNonNeg ? maxS : orderedOf(static_cast<uint8_t>(minU));
  out.omin = anyNeg ? orderedOf(static_cast<uint8_t>(maxU)) : orderedOf(static_cast<uint8_t>(minU));
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// ---- Dispatch

using CountGreaterFn = void (*)(const uint8_t*, size_t, size_t, size_t, const int*, uint64_t*);

// n rows of one block segment of w bytes, `stride` bytes apart, one row at a time (the 16-bit sums of scanRow2 and
// scanRow5 are widened after each row).
template <void (*Row)(const uint8_t*, size_t, ScanState&)>
void scanRowsEach(const uint8_t* q, size_t stride, size_t n, size_t w, ScanState& st) {
  for (size_t r = 0; r < n; r++) Row(q + r * stride, w, st);
}

struct VectorScan {
  void (*start)(ScanState&);
  void (*rows)(const uint8_t*, size_t, size_t, size_t, ScanState&);
  void (*finish)(const ScanState&, BlockScan&);
  CountGreaterFn greater[9];  // by number of thresholds, 1 to 8
  int (*runs)(const double*, int, double, double, double, size_t, int*, int*, int*);

  void countGreater(const uint8_t* p, size_t rows, size_t w, size_t stride, const int* gt, int k,
                    uint64_t* count) const {
    for (; k >= 8; k -= 8, gt += 8, count += 8) greater[8](p, rows, w, stride, gt, count);
    if (k > 0) greater[k](p, rows, w, stride, gt, count);
  }
};

int runsNarrow(const double* t, int n, double scale, double mn, double binScale, size_t bins, int* codeBin, int* at,
               int* runBin);
__attribute__((target("avx512f,avx512vl"))) int runsWide(const double* t, int n, double scale, double mn,
                                                          double binScale, size_t bins, int* codeBin, int* at,
                                                          int* runBin);

const VectorScan kAvx2 = {scanStart2,
                          scanRowsEach<scanRow2>,
                          scanFinish2,
                          {nullptr, countGreater2<1>, countGreater2<2>, countGreater2<3>, countGreater2<4>,
                           countGreater2<5>, countGreater2<6>, countGreater2<7>, countGreater2<8>},
                          runsNarrow};
const VectorScan kAvx512 = {scanStart5,
                            scanRowsEach<scanRow5>,
                            scanFinish5,
                            {nullptr, countGreater5<1>, countGreater5<2>, countGreater5<3>, countGreater5<4>,
                             countGreater5<5>, countGreater5<6>, countGreater5<7>, countGreater5<8>},
                            runsNarrow};
const VectorScan kAvx512Vnni = {scanStartVnni,
                                scanRowsVnni,
                                scanFinishVnni,
                                {nullptr, countGreater5<1>, countGreater5<2>, countGreater5<3>, countGreater5<4>,
                                 countGreater5<5>, countGreater5<6>, countGreater5<7>, countGreater5<8>},
                                 runsWide};

// The widest implementation this CPU runs for rows of w bytes, or null.
const VectorScan* vectorScanFor(size_t w) {
  __builtin_cpu_init();
  static const bool avx2 = __builtin_cpu_supports("avx2");
  static const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  static const bool vnni =
      avx512 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl");
  // SHARDPRESS_STATS_AVX512=0 keeps to AVX2, =bw to AVX-512BW without VNNI (comparisons and tests; read per call
  // so a test can switch it).
  const char* env = std::getenv("SHARDPRESS_STATS_AVX512");
  const bool allow512 = env == nullptr || std::strcmp(env, "0") != 0;
  const bool allowVnni = env == nullptr || std::strcmp(env, "bw") != 0;
  if (vnni && allow512 && allowVnni && w % 64 == 0) return &kAvx512Vnni;
  if (avx512 && allow512 && w % 64 == 0) return &kAvx512;
  if (avx2 && w % 32 == 0) return &kAvx2;
  return nullptr;
}

// More bin changes than this in one block: counting its codes one by one is cheaper than K compares per byte.
constexpr int kMaxThresholds = 40;

// Rows that pass A scans per block before going on to the next block of the group (the VNNI scan keeps a block's
// sums in registers over them); the next strip is prefetched meanwhile.
constexpr size_t kStripRows = 8;
constexpr size_t kPrefetchStrips = 2;


// binOf for n values t[i] × scale, four at a time (the same operations, so the same bins).
__attribute__((target("avx2"))) void binsOf(const double* t, int n, double scale, double mn, double binScale,
                                             size_t bins, int* out) {
  const __m256d s = _mm256_set1_pd(scale), m = _mm256_set1_pd(mn), k = _mm256_set1_pd(binScale);
  const __m256d top = _mm256_set1_pd(static_cast<double>(bins)), zero = _mm256_setzero_pd();
  const int last = static_cast<int>(bins - 1);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d at = _mm256_mul_pd(_mm256_sub_pd(_mm256_mul_pd(_mm256_loadu_pd(t + i), s), m), k);
    const int below = _mm256_movemask_pd(_mm256_cmp_pd(at, top, _CMP_LT_OQ));
    const int nonNeg = _mm256_movemask_pd(_mm256_cmp_pd(at, zero, _CMP_GE_OQ));
    alignas(16) int32_t tr[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(tr), _mm256_cvttpd_epi32(at));
    for (int j = 0; j < 4; j++) out[i + j] = (below >> j) & 1 ? ((nonNeg >> j) & 1 ? tr[j] : -1) : last;
  }
  for (; i < n; i++) out[i] = binOf(t[i] * scale, mn, binScale, bins);
}

// Where the bin changes along n codes in value order (values t[i] × scale): at[j] the index of the first code of
// run j + 1, runBin[j] the bin of run j; returns the number of changes, or −1 beyond kMaxThresholds. codeBin is
// scratch for n bins.
int runsNarrow(const double* t, int n, double scale, double mn, double binScale, size_t bins, int* codeBin, int* at,
               int* runBin) {
  binsOf(t, n, scale, mn, binScale, bins, codeBin);
  int k = 0;
  runBin[0] = codeBin[0];
  for (int i = 1; i < n; i++) {
    const int bin = codeBin[i];
    if (bin == runBin[k]) continue;
    if (k == kMaxThresholds) return -1;
    at[k++] = i;
    runBin[k] = bin;
  }
  return k;
}

// The same eight bins at a time, and the changes sixteen at a time.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
__attribute__((target("avx512f,avx512vl"))) int runsWide(const double* t, int n, double scale, double mn,
                                                          double binScale, size_t bins, int* codeBin, int* at,
                                                          int* runBin) {
  const __m512d s = _mm512_set1_pd(scale), m = _mm512_set1_pd(mn), k8 = _mm512_set1_pd(binScale);
  const __m512d top = _mm512_set1_pd(static_cast<double>(bins)), zero = _mm512_setzero_pd();
  const __m256i last = _mm256_set1_epi32(static_cast<int>(bins - 1)), minus1 = _mm256_set1_epi32(-1);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512d a = _mm512_mul_pd(_mm512_sub_pd(_mm512_mul_pd(_mm512_loadu_pd(t + i), s), m), k8);
    const __mmask8 below = _mm512_cmp_pd_mask(a, top, _CMP_LT_OQ);
    const __mmask8 nonNeg = _mm512_cmp_pd_mask(a, zero, _CMP_GE_OQ);
    const __m256i b = _mm256_mask_blend_epi32(nonNeg, minus1, _mm512_cvttpd_epi32(a));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(codeBin + i), _mm256_mask_blend_epi32(below, last, b));
  }
  for (; i < n; i++) codeBin[i] = binOf(t[i] * scale, mn, binScale, bins);
  int k = 0;
  runBin[0] = codeBin[0];
  for (int o = 1; o < n; o += 16) {
    const __mmask16 valid = n - o >= 16 ? 0xffff : static_cast<__mmask16>((1u << (n - o)) - 1);
    const __m512i cur = _mm512_maskz_loadu_epi32(valid, codeBin + o);
    const __m512i prev = _mm512_maskz_loadu_epi32(valid, codeBin + o - 1);
    for (unsigned ch = _mm512_mask_cmpneq_epi32_mask(valid, cur, prev); ch != 0; ch &= ch - 1) {
      if (k == kMaxThresholds) return -1;
      const int j = o + __builtin_ctz(ch);
      at[k++] = j;
      runBin[k] = codeBin[j];
    }
  }
  return k;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Owns the per-call buffers of blockStatsAt (no exceptions: allocation failure is reported, not thrown).
struct TensorScratch {
  BlockMoments* moments = nullptr;
  uint32_t* order = nullptr;
  ScanState* state = nullptr;
  ~TensorScratch() {
    delete[] moments;
    delete[] order;
    delete[] state;
  }
};

// Blocks per group of pass A and B: a group's rows (16 × 128 × 128 bytes = 256 KB) stay in L2 between the passes
// (a whole band of 56 blocks, 917 KB, measured about a fifth slower: the two workers share L2 here).
constexpr size_t kGroupBytes = size_t(1) << 18;

// Smallest and largest finite value (code value × scale) of one block, as foldPass1 takes them.
void blockRange(const VectorScan& vs, const uint8_t* p, size_t rows, size_t w, size_t stride, const double* table,
                double scale, double& lo, double& hi) {
  ScanState st;
  vs.start(st);
  vs.rows(p, stride, rows, w, st);
  BlockScan sc;
  vs.finish(st, sc);
  BlockMoments m;
  if (sc.omin > -128 && sc.omax < 127) {
    m.n = 1;
    m.tmin = table[codeOfOrdered(sc.omin)] + 0;
    m.tmax = table[codeOfOrdered(sc.omax)] + 0;
  } else {
    uint32_t cnt[256] = {};
    countOneBlock(p, rows, w, stride, cnt);
    momentsFromCounts(cnt, table, scale, m);
  }
  double acc[8] = {0, 0, INFINITY, -INFINITY, 0, 0, 0, 0};
  foldPass1(m, scale, acc);
  lo = acc[2];
  hi = acc[3];
}

// The whole of blockStatsAt once the range is mapped; false when a buffer cannot be allocated or the range found
// up front is not the tensor's (cannot happen; the caller then counts codes).
//
// The histogram's bins need the tensor's range before any block is binned. It is found first from the blocks with
// the largest scales: no value of a block exceeds 448 × |scale|, so once the range found covers that bound for the
// next block, the remaining blocks cannot widen it (usually after a few blocks; at worst every block is read twice).
// Then one pass, a group of blocks at a time: pass A (moments) in strips of rows, pass B (bins) block by block
// while the group is still in L2.
bool tensorStats(const VectorScan& vs, const uint8_t* data, size_t rows, size_t cols, size_t blockRows, size_t blockCols, size_t scaleCols,
                 const float* scales, const double* table, double* out, double* hist, size_t bins) {
  const size_t nbr = (rows + blockRows - 1) / blockRows;
  const size_t nbc = cols / blockCols;
  const size_t nb = nbr * nbc;
  size_t group = kGroupBytes / (blockRows * blockCols);
  if (group < 1) group = 1;
  if (group > nbc) group = nbc;
  TensorScratch s;
  s.moments = new (std::nothrow) BlockMoments[nb];
  s.order = new (std::nothrow) uint32_t[nb];
  s.state = new (std::nothrow) ScanState[group];
  if (!s.moments || !s.order || !s.state || nb > 0xffffffffu) return false;
  const auto scaleOf = [&](size_t b) { return static_cast<double>(scales[(b / nbc) * scaleCols + b % nbc]); };
  const auto rowsOf = [&](size_t br) { return br * blockRows + blockRows <= rows ? blockRows : rows - br * blockRows; };
  const auto blockAt = [&](size_t b) { return data + (b / nbc) * blockRows * cols + (b % nbc) * blockCols; };

  // The range, from the blocks in decreasing order of |scale| (NaN scales last; they hold no finite value). A heap
  // rather than a sort: usually a few blocks settle it.
  size_t nFinite = 0;
  for (size_t b = 0; b < nb; b++)
    if (scaleOf(b) - scaleOf(b) == 0) s.order[nFinite++] = static_cast<uint32_t>(b);
  // "Comes later": smaller |scale|, or equal and a larger index.
  const auto later = [&](uint32_t x, uint32_t y) {
    const double ax = std::fabs(scaleOf(x)), ay = std::fabs(scaleOf(y));
    return ax < ay || (ax == ay && x > y);
  };
  std::make_heap(s.order, s.order + nFinite, later);
  double mn = INFINITY, mx = -INFINITY;
  for (size_t left = nFinite; left > 0; left--) {
    std::pop_heap(s.order, s.order + left, later);
    const size_t b = s.order[left - 1];
    const double bound = 448 * std::fabs(scaleOf(b));
    if (mx >= bound && mn <= -bound) break;
    double lo, hi;
    blockRange(vs, blockAt(b), rowsOf(b / nbc), blockCols, cols, table, scaleOf(b), lo, hi);
    if (lo < mn) mn = lo;
    if (hi > mx) mx = hi;
  }
  const double span = mx - mn;
  const double binScale = span > 0 ? static_cast<double>(bins) / span : 0;

  uint64_t lane[2][256] = {};
  uint64_t* h = lane[0];
  int at[kMaxThresholds];
  int runBin[kMaxThresholds + 1];
  int gt[kMaxThresholds + 1];
  uint64_t above[kMaxThresholds + 1];
  uint32_t cnt[256];
  int codeBin[256];
  double ordered[256];  // code values in value order: ordered[o + 128]
  for (int o = -128; o < 128; o++) ordered[o + 128] = table[codeOfOrdered(o)];
  for (size_t br = 0; br < nbr; br++) {
    const size_t r = rowsOf(br);
    for (size_t g0 = 0; g0 < nbc; g0 += group) {
      const size_t g1 = g0 + group < nbc ? g0 + group : nbc;
      // Pass A, a strip of rows at a time over the group (memory order within the strip's rows).
      for (size_t bc = g0; bc < g1; bc++) vs.start(s.state[bc - g0]);
      const uint8_t* base = data + br * blockRows * cols;
      for (size_t i = 0; i < r; i += kStripRows) {
        const size_t n = r - i < kStripRows ? r - i : kStripRows;
        // Rows of the strip kPrefetchStrips ahead (none past the block row: the next band is prefetched by the
        // hardware as the band's first rows stream in).
        const size_t from = i + kPrefetchStrips * kStripRows;
        const size_t ahead = from < r ? (r - from < kStripRows ? r - from : kStripRows) : 0;
        for (size_t bc = g0; bc < g1; bc++) {
          const uint8_t* seg = base + i * cols + bc * blockCols;
          // The rows' segments are too short for the hardware prefetcher to ramp up on: ask for this block's part
          // of the next strip while scanning this one.
          for (size_t k = 0; k < ahead; k++)
            for (size_t off = 0; off < blockCols; off += 64)
              _mm_prefetch(reinterpret_cast<const char*>(seg + (from - i + k) * cols + off), _MM_HINT_T0);
          vs.rows(seg, cols, n, blockCols, s.state[bc - g0]);
        }
      }
      // Pass B, block by block.
      for (size_t bc = g0; bc < g1; bc++) {
        const size_t b = br * nbc + bc;
        const uint8_t* p = base + bc * blockCols;
        const double scale = scaleOf(b);
        BlockScan sc;
        vs.finish(s.state[bc - g0], sc);
        BlockMoments& m = s.moments[b];
        if (!(scale - scale == 0 && sc.omin > -128 && sc.omax < 127)) {
          // NaN codes or a non-finite scale: counted code by code.
          std::memset(cnt, 0, sizeof cnt);
          countOneBlock(p, r, blockCols, cols, cnt);
          momentsFromCounts(cnt, table, scale, m);
          histFromCounts(cnt, table, scale, mn, binScale, bins, lane);
          continue;
        }
        m.n = static_cast<double>(r * blockCols);
        m.sum = static_cast<double>(sc.sum) / 512;
        m.sq = static_cast<double>(sc.sq) / 262144;
        m.zeros = static_cast<double>(sc.zeros);
        m.tmin = table[codeOfOrdered(sc.omin)] + 0;
        m.tmax = table[codeOfOrdered(sc.omax)] + 0;
        // The runs of codes, in value order, that share a bin.
        const int k = vs.runs(ordered + 128 + sc.omin, sc.omax - sc.omin + 1, scale, mn, binScale, bins, codeBin, at,
                              runBin);
        for (int j = 0; j < k; j++) at[j] += sc.omin;
        if (k < 0) {
          std::memset(cnt, 0, sizeof cnt);
          countOneBlock(p, r, blockCols, cols, cnt);
          histFromCounts(cnt, table, scale, mn, binScale, bins, lane);
          continue;
        }
        // Values at or above a value-order code o, counted on the codes as signed bytes: for o ≥ 0 those greater
        // than o − 1; for o < 0 all non-negative codes plus the negative ones up to −129 − o.
        const uint64_t n = r * blockCols;
        if (k > 0) {
          bool anyNeg = false;
          for (int j = 0; j < k; j++) {
            gt[j] = at[j] >= 0 ? at[j] - 1 : -129 - at[j];
            anyNeg = anyNeg || at[j] < 0;
          }
          gt[k] = -1;
          // The non-negative codes (above −1): counted here unless pass A has counted them or no run needs them.
          const bool countSign = anyNeg && sc.negatives < 0;
          std::memset(above, 0, sizeof(uint64_t) * (k + 1));
          vs.countGreater(p, r, blockCols, cols, gt, countSign ? k + 1 : k, above);
          if (!countSign) above[k] = n - static_cast<uint64_t>(sc.negatives);
          for (int j = 0; j < k; j++)
            if (at[j] < 0) above[j] = above[k] + (n - above[j]);
        }
        for (int j = 0; j <= k; j++) {
          const uint64_t upper = j < k ? above[j] : 0;
          const uint64_t inRun = (j == 0 ? n : above[j - 1]) - upper;
          if (runBin[j] >= 0) h[runBin[j]] += inRun;
        }
      }
    }
  }

  // The tensor's moments, as stats.ts blockStats computes them from blockPass1 and blockPass2.
  double acc[8] = {0, 0, INFINITY, -INFINITY, 0, 0, 0, 0};
  for (size_t b = 0; b < nb; b++) foldPass1(s.moments[b], scaleOf(b), acc);
  for (int i = 0; i < 8; i++) out[i] = acc[i];
  out[8] = 0;
  out[9] = 0;
  for (size_t i = 0; i < bins; i++) hist[i] = 0;
  if (!(acc[0] > 0)) return true;
  if (!(acc[2] == mn && acc[3] == mx)) return false;
  const double mean = acc[1] / acc[0];
  double m2 = 0;
  for (size_t b = 0; b < nb; b++) m2 = foldPass2(s.moments[b], scaleOf(b), mean, m2);
  out[8] = mean;
  out[9] = m2;
  for (size_t i = 0; i < bins; i++) hist[i] = static_cast<double>(lane[0][i] + lane[1][i]);
  return true;
}
#endif

// blockStatsAt(fd, position, rows, cols, blockRows, blockCols, scaleCols, scales, table, samples, codes, out, hist):
// the statistics of a whole F8_E4M3 tensor of rows × cols bytes at byte `position` of the open file `fd`, mapped:
// out = [finite, sum, min, max, zeros, nan, +inf, −inf, mean, m2], hist the bins over [min, max], exactly what
// finishStats gives from blockPass1/blockPass2 over the code counts. Sample codes as in countBlockCodesAt. Returns
// false, having done nothing, where the vector path does not apply (no AVX2, not Linux, a block layout it does not
// cover, a table that is not E4M3, mapping refused): the caller then counts codes.
napi_value BlockStatsAt(napi_env env, napi_callback_info info) {
  napi_value argv[13];
  if (!getArgs(env, info, argv, 13)) return nullptr;
  size_t fd, position, rows, cols, blockRows, blockCols, scaleCols;
  View scales, table, samples, codes, out, hist;
  if (!getIndex(env, argv[0], fd, "fd must be a file descriptor") ||
      !getIndex(env, argv[1], position, "position must be an index") ||
      !getIndex(env, argv[2], rows, "rows must be a count") || !getIndex(env, argv[3], cols, "cols must be a count") ||
      !getIndex(env, argv[4], blockRows, "blockRows must be a count") ||
      !getIndex(env, argv[5], blockCols, "blockCols must be a count") ||
      !getIndex(env, argv[6], scaleCols, "scaleCols must be a count") ||
      !getView(env, argv[7], scales, napi_float32_array, "scales must be a Float32Array") ||
      !getView(env, argv[8], table, napi_float64_array, "table must be a Float64Array") ||
      !getView(env, argv[9], samples, napi_float64_array, "samples must be a Float64Array") ||
      !getView(env, argv[10], codes, napi_uint8_array, "codes must be a Uint8Array") ||
      !getView(env, argv[11], out, napi_float64_array, "out must be a Float64Array") ||
      !getView(env, argv[12], hist, napi_float64_array, "hist must be a Float64Array"))
    return nullptr;
  if (table.length < 256 || out.length < 10 || hist.length == 0 || hist.length > 256 || codes.length < samples.length) {
    fail(env, "table, out, hist or codes is too short");
    return nullptr;
  }
  if (cols == 0 || blockRows == 0 || blockCols == 0 || (cols + blockCols - 1) / blockCols > scaleCols) {
    fail(env, "block layout does not cover the columns");
    return nullptr;
  }
  if (rows > 0 && ((rows + blockRows - 1) / blockRows) * scaleCols > scales.length) {
    fail(env, "there are fewer scales than blocks");
    return nullptr;
  }
  if (rows != 0 && cols > SIZE_MAX / rows) {
    fail(env, "rows × cols is too large");
    return nullptr;
  }
  const size_t length = rows * cols;
  const double* sp = static_cast<const double*>(samples.data);
  for (size_t i = 0; i < samples.length; i++) {
    if (!(sp[i] >= 0 && sp[i] < static_cast<double>(length))) {
      fail(env, "sample offset lies outside the range");
      return nullptr;
    }
  }
  bool done = false;
#if defined(SHARDPRESS_VECTOR_BLOCKS)
  const double* tp = static_cast<const double*>(table.data);
  // The E4M3 values, worked out once (thread-safe static initialisation) rather than per tensor.
  struct E4m3Table {
    double v[256];
    E4m3Table() {
      for (int c = 0; c < 256; c++) v[c] = e4m3Value(c);
    }
  };
  static const E4m3Table want;
  bool e4m3 = true;
  for (int c = 0; c < 256 && e4m3; c++) {
    const double v = want.v[c];
    e4m3 = v != v ? tp[c] != tp[c] : (tp[c] == v && std::signbit(tp[c]) == std::signbit(v));
  }
  const bool layout = blockCols % 32 == 0 && blockCols <= 256 && blockRows <= 256 && cols % blockCols == 0 &&
                      length > 0 && length <= (size_t(1) << 30);
  const VectorScan* vs = layout ? vectorScanFor(blockCols) : nullptr;
  if (vs && e4m3 && fd <= 0x7fffffff) {
    MappedRange m;
    if (m.map(static_cast<int>(fd), position, length)) {
      if (tensorStats(*vs, m.data, rows, cols, blockRows, blockCols, scaleCols, static_cast<const float*>(scales.data), tp,
                      static_cast<double*>(out.data), static_cast<double*>(hist.data), hist.length)) {
        uint8_t* cd = static_cast<uint8_t*>(codes.data);
        for (size_t i = 0; i < samples.length; i++) cd[i] = m.data[static_cast<size_t>(sp[i])];
        done = true;
      }
    }
  }
#else
  (void)fd;
  (void)position;
#endif
  napi_value r;
  napi_get_boolean(env, done, &r);
  return r;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"countCodes", nullptr, CountCodes, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"countBlockCodes", nullptr, CountBlockCodes, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"countBlockCodesAt", nullptr, CountBlockCodesAt, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"scanPass1", nullptr, ScanPass1, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"scanPass2", nullptr, ScanPass2, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"blockPass1", nullptr, BlockPass1, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"blockPass2", nullptr, BlockPass2, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"blockStatsAt", nullptr, BlockStatsAt, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value version;
  napi_create_uint32(env, 3, &version);
  napi_set_named_property(env, exports, "statsKernelVersion", version);
  // Which vector scan blockStatsAt uses for 128-wide blocks (for benchmark reports).
  const char* path = "none";
#if defined(SHARDPRESS_VECTOR_BLOCKS)
  const VectorScan* vs = vectorScanFor(128);
  path = vs == &kAvx512Vnni ? "avx512vnni" : vs == &kAvx512 ? "avx512" : vs == &kAvx2 ? "avx2" : "none";
#endif
  napi_value pathValue;
  napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &pathValue);
  napi_set_named_property(env, exports, "vectorPath", pathValue);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
