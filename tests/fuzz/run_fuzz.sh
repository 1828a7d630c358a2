#!/usr/bin/env bash
# run_fuzz.sh — build the artifact-reader fuzzer (libFuzzer + ASan + UBSan, clang) from the lib
# sources, seed its corpus with small valid artifacts, and fuzz for FUZZ_SECONDS (default 20).
# Exits non-zero if the build fails or a crash is found (the crashing input lands in build/fuzz/).
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-20}
CLANGXX=${CLANGXX:-clang++}
OUT=build/fuzz
mkdir -p "$OUT/corpus"

# The lib sources compiled directly with clang (the gcc-built archive carries no fuzzer coverage).
LIB_SRCS=(lib/artifact/*.cpp lib/core/*.cpp lib/tensor/*.cpp)
FLAGS=(-std=c++17 -g -O1 -Ilib -Iplatform)

echo "fuzz: building $OUT/fuzz_reader"
"$CLANGXX" "${FLAGS[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    tests/fuzz/fuzz_reader.cpp "${LIB_SRCS[@]}" -o "$OUT/fuzz_reader"
"$CLANGXX" "${FLAGS[@]}" tests/fuzz/make_seed.cpp "${LIB_SRCS[@]}" -o "$OUT/make_seed"
"$OUT/make_seed" "$OUT/corpus"

echo "fuzz: running for ${FUZZ_SECONDS}s"
status=0
"$OUT/fuzz_reader" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$OUT/" "$OUT/corpus" || status=$?
if [ "$status" -ne 0 ]; then
    echo "fuzz: FAILED (exit $status); crashing input saved under $OUT/"
    exit 1
fi
echo "fuzz: ok"
