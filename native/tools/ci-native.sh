#!/usr/bin/env bash
# Native checks for CI: the codec test driver under ASan+UBSan, then the libFuzzer decoder harness for a bounded
# time (FUZZ_SECONDS, default 60). Needs clang++ and libclang-rt-14-dev (installed by .ci/run).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${NATIVE_BUILD_DIR:-native/build-ci}
mkdir -p "$OUT"
SRC="native/src/chunk/chunk.cpp native/src/entropy/rans.cpp native/src/entropy/context.cpp native/src/lossless/planes.cpp native/src/predictor/predictor.cpp"
CXX=${CXX_SAN:-clang++}
command -v "$CXX" >/dev/null || CXX=g++
FLAGS="-std=c++17 -O1 -g -fno-omit-frame-pointer -ffp-contract=off -fsanitize=address,undefined -fno-sanitize-recover=undefined"

echo "--- sanitizer test driver ($CXX)"
# shellcheck disable=SC2086
"$CXX" $FLAGS native/test/codec_test.cpp $SRC -o "$OUT/codec_test"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 "$OUT/codec_test"

echo "--- libFuzzer decoder harness"
if ! command -v clang++ >/dev/null; then
  echo "clang++ not found: cannot build the fuzzer" >&2
  exit 1
fi
# shellcheck disable=SC2086
clang++ -std=c++17 -O1 -g -ffp-contract=off -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  native/fuzz/fuzz_decoder.cpp $SRC -o "$OUT/fuzz_decoder"
CORPUS="$OUT/corpus"
mkdir -p "$CORPUS"
"$OUT/codec_test" --write-seeds "$CORPUS"
# Crash reproducers land in $OUT (printed below with the sanitizer report) instead of the working tree.
"$OUT/fuzz_decoder" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
  -artifact_prefix="$OUT/" -print_final_stats=1 "$CORPUS" 2>&1 | tail -n 40
echo "native checks passed"
