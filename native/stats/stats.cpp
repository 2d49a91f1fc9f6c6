// Native statistics kernel for the model inventory (src-main/core/model/stats-native.ts): counts 8/16-bit codes,
// counts FP8 codes per scale block, and runs the two passes of the 32/64-bit value scan. Every function only
// accumulates into typed arrays the caller owns (no allocation visible to JS, no global state, so it is safe in
// worker_threads); results must equal the JavaScript implementation in stats.ts, which stays the fallback and the
// test oracle. Build flags keep floating point strict (-ffp-contract=off, no fast-math) so sums match bit for bit.
#include <node_api.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

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
// Finishing a block-scaled FP8 tensor (stats.ts finishStats, kind 'blocks'): every non-zero count stands for the
// value code × block scale, counted n times. The two passes of statsFromWeighted run here over the count tables
// directly, in the same order as the JavaScript, instead of first gathering the (value, count) pairs.

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

// The codes of one block that occur, in increasing order, gathered without a branch per code (whether a count is
// zero is unpredictable in the sparse tails of a weight distribution).
int usedCodes(const uint32_t* cnt, uint8_t* used) {
  int m = 0;
  for (int c = 0; c < 256; c++) {
    used[m] = static_cast<uint8_t>(c);
    m += cnt[c] != 0;
  }
  return m;
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
  double finite = o[0], sum = o[1], mn = o[2], mx = o[3], zeros = o[4], nan = o[5], posInf = o[6], negInf = o[7];
  for (size_t b = 0; b < a.nBlocks; b++) {
    const double scale = static_cast<double>(a.scales[b]);
    const uint32_t* cnt = a.counts + (b << 8);
    uint8_t used[256];
    const int m = usedCodes(cnt, used);
    for (int j = 0; j < m; j++) {
      const int c = used[j];
      const double n = static_cast<double>(cnt[c]);
      const double v = a.table[c] * scale;
      if (v - v == 0) {
        finite += n;
        sum += v * n;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
        if (v == 0) zeros += n;
      } else if (v != v) {
        nan += n;
      } else if (v > 0) {
        posInf += n;
      } else {
        negInf += n;
      }
    }
  }
  o[0] = finite;
  o[1] = sum;
  o[2] = mn;
  o[3] = mx;
  o[4] = zeros;
  o[5] = nan;
  o[6] = posInf;
  o[7] = negInf;
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
  const double bins = static_cast<double>(hist.length);
  const size_t last = hist.length - 1;
  // Integer bin counts in two alternating lanes (neighbouring codes often share a bin, and one counter would
  // serialize on it); added to the caller's doubles at the end, which is exact below 2^53 like the JS sums.
  uint64_t lane[2][256] = {};
  for (size_t b = 0; b < a.nBlocks; b++) {
    const double scale = static_cast<double>(a.scales[b]);
    const uint32_t* cnt = a.counts + (b << 8);
    uint8_t used[256];
    const int m = usedCodes(cnt, used);
    for (int j = 0; j < m; j++) {
      const int c = used[j];
      const double n = static_cast<double>(cnt[c]);
      const double v = a.table[c] * scale;
      if (v - v != 0) continue;
      const double d = v - mean;
      m2 += d * d * n;
      // As in JS: floor (truncation for x ≥ 0); NaN (0 × ∞ for a subnormal span) and overflow go to the last bin.
      const double at = (v - mn) * binScale;
      if (at < bins) {
        if (at >= 0) lane[j & 1][static_cast<size_t>(at)] += cnt[c];
      } else {
        lane[j & 1][last] += cnt[c];
      }
    }
  }
  double* h = static_cast<double*>(hist.data);
  for (size_t i = 0; i < hist.length; i++) h[i] += static_cast<double>(lane[0][i] + lane[1][i]);
  napi_value r;
  napi_create_double(env, m2, &r);
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
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value version;
  napi_create_uint32(env, 2, &version);
  napi_set_named_property(env, exports, "statsKernelVersion", version);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
