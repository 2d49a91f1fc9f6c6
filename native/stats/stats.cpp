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

// countBlockCodes(bytes, rowStart, cols, blockRows, blockCols, scaleCols, blockRowStart, counts): `bytes` holds
// whole rows [rowStart, rowStart + k) of a row-major FP8 matrix; counts are laid out
// [blockRow − blockRowStart][blockCol][256]. Block by block, so the current block's lanes stay in L1.
napi_value CountBlockCodes(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (!getArgs(env, info, argv, 8)) return nullptr;
  View bytes, counts;
  size_t rowStart, cols, blockRows, blockCols, scaleCols, blockRowStart;
  if (!getView(env, argv[0], bytes, napi_uint8_array, "bytes must be a Uint8Array") ||
      !getIndex(env, argv[1], rowStart, "rowStart must be an index") ||
      !getIndex(env, argv[2], cols, "cols must be a count") ||
      !getIndex(env, argv[3], blockRows, "blockRows must be a count") ||
      !getIndex(env, argv[4], blockCols, "blockCols must be a count") ||
      !getIndex(env, argv[5], scaleCols, "scaleCols must be a count") ||
      !getIndex(env, argv[6], blockRowStart, "blockRowStart must be an index") ||
      !getView(env, argv[7], counts, napi_uint32_array, "counts must be a Uint32Array"))
    return nullptr;
  if (cols == 0 || blockRows == 0 || blockCols == 0 || (cols + blockCols - 1) / blockCols > scaleCols) {
    fail(env, "block layout does not cover the columns");
    return nullptr;
  }
  const size_t rows = bytes.length / cols;
  if (rows == 0) return undefinedValue(env);
  if (rowStart / blockRows < blockRowStart) {
    fail(env, "rowStart lies before blockRowStart");
    return nullptr;
  }
  const size_t lastBlockRow = (rowStart + rows - 1) / blockRows - blockRowStart;
  if ((lastBlockRow + 1) * scaleCols * 256 > counts.length) {
    fail(env, "counts is too short for these rows");
    return nullptr;
  }
  const uint8_t* p = static_cast<const uint8_t*>(bytes.data);
  uint32_t* out = static_cast<uint32_t*>(counts.data);
  uint32_t lane[4][256];
  for (size_t r0 = 0; r0 < rows;) {
    const size_t br = (rowStart + r0) / blockRows;
    size_t r1 = (br + 1) * blockRows - rowStart;
    if (r1 > rows) r1 = rows;
    uint32_t* base = out + (br - blockRowStart) * scaleCols * 256;
    for (size_t bc = 0; bc < scaleCols; bc++) {
      const size_t c0 = bc * blockCols;
      if (c0 >= cols) break;
      const size_t c1 = c0 + blockCols < cols ? c0 + blockCols : cols;
      const size_t w = c1 - c0;
      std::memset(lane, 0, sizeof lane);
      for (size_t r = r0; r < r1; r++) {
        const uint8_t* q = p + r * cols + c0;
        size_t i = 0;
        for (; i + 4 <= w; i += 4) {
          lane[0][q[i]]++;
          lane[1][q[i + 1]]++;
          lane[2][q[i + 2]]++;
          lane[3][q[i + 3]]++;
        }
        for (; i < w; i++) lane[0][q[i]]++;
      }
      uint32_t* dst = base + bc * 256;
      for (int c = 0; c < 256; c++) dst[c] += lane[0][c] + lane[1][c] + lane[2][c] + lane[3][c];
    }
    r0 = r1;
  }
  return undefinedValue(env);
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
      const double idx = std::floor((x - lo) * inv);
      // Below the histogram cannot happen (the caller covers the sub-block's range); JS would ignore it too.
      if (idx >= 0) counts[idx < kFineBins ? static_cast<size_t>(idx) : kFineBins - 1]++;
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

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"countCodes", nullptr, CountCodes, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"countBlockCodes", nullptr, CountBlockCodes, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"scanPass1", nullptr, ScanPass1, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"scanPass2", nullptr, ScanPass2, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value version;
  napi_create_uint32(env, 1, &version);
  napi_set_named_property(env, exports, "statsKernelVersion", version);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
