#!/usr/bin/env bash
# bench_insns.sh — instructions per generated token of the NEON builds under qemu-user, counted exactly
# by the QEMU TCG plugin of ../shared/tools/qemu-insncount, for every kernel table of each target
# (AArch64: generic, neon, neon-dot; ARMv7: generic, neon-armv7). Same protocol as tools/bench_mcu.sh:
# the mcu-260k shape (random weights, seed 1), prompt "Once upon a time" (16 tokens), context 47, one
# thread, and
#   insns_per_token = (insns(generate -n TOKENS) - insns(generate -n 1)) / (TOKENS - 1)
# so start-up, file reading and the prompt cancel out; kernel_insns is the same difference over the
# kernel table's own symbols only (matmuls, quantizer, and the helpers the reference calls), the rest
# being attention, norms, exp and sampling (lib/model). QEMU has no timing model: this is the cost
# measure for the emulated targets (and what the kernel notes in kernels_neon.cpp quote).
# Knobs: PRESET (mcu-260k), TOKENS (32), INSNCOUNT_SRC. Skips (exit 0) without the tools.
set -euo pipefail
cd "$(dirname "$0")/../.."
TOP=$(pwd)
# BUILD stays as given (relative to the repository root by default): make's dependency files name
# their targets by the path make was given, so mixing absolute and relative BUILD paths in one build
# tree hides header dependencies from the other form.
BUILD=${BUILD:-build}
PRESET=${PRESET:-mcu-260k}
TOKENS=${TOKENS:-32}
JOBS=${JOBS:-2}
INSNCOUNT_SRC=${INSNCOUNT_SRC:-$TOP/../shared/tools/qemu-insncount}
WORK="$BUILD/bench/neon"
mkdir -p "$WORK" "$BUILD/tools"

PLUGIN="$BUILD/tools/libinsncount.so"
if [ ! -f "$PLUGIN" ]; then
    [ -f "$INSNCOUNT_SRC/insncount.c" ] || { echo "bench_insns: skipped (no $INSNCOUNT_SRC/insncount.c)"; exit 0; }
    gcc -O2 -shared -fPIC -o "$PLUGIN" "$INSNCOUNT_SRC/insncount.c"
fi
make -s -j"$JOBS" --no-print-directory BUILD="$BUILD" "$BUILD/bitlm_pack" >/dev/null
MODEL="$WORK/$PRESET.blm"
[ -f "$MODEL" ] || "$BUILD/bitlm_pack" --random --preset "$PRESET" --seed 1 -o "$MODEL" >/dev/null
PROMPT="Once upon a time"
CTX=$((16 + TOKENS - 1))

# count QEMU BIN KERNELS N -> total guest instructions of one generation (symbols in $WORK/n<N>.insns)
count() {
    local q=$1 bin=$2 k=$3 n=$4
    # shellcheck disable=SC2086  # $q is a command line
    $q -plugin "$PLUGIN,sym=on,out=$WORK/n$n.insns" "$bin" generate "$MODEL" --prompt "$PROMPT" -n "$n" \
        --ctx "$CTX" --threads 1 --kernels "$k" >"$WORK/last.out" 2>/dev/null
    awk '$1 == "insns_total" {print $2}' "$WORK/n$n.insns"
}
# Kernel-table symbols (the NEON templates, the reference kernels and what they call).
KERNEL_SYMS='matmul_q8|matmul_f16|quantize_act|dot_ternary|dot_binary|dot_int8|ternary_gemv|ternary_prefill'
KERNEL_SYMS+='|int8_matmul|binary_gemv|dense_|decode_ternary|f16_to_f32|det_rne|det_isnan|RowAccumulator'
kernel_insns() {  # per-token difference of the kernel symbols between $WORK/n1.insns and $WORK/n$TOKENS.insns
    awk -v re="$KERNEL_SYMS" -v d="$((TOKENS - 1))" 'FNR == NR {if ($1 == "insns_sym" && $3 ~ re) a += $2; next}
        $1 == "insns_sym" && $3 ~ re {b += $2} END {printf "%d", (b - a) / d}' "$WORK/n1.insns" "$WORK/n$TOKENS.insns"
}

echo "model: $PRESET (random weights, seed 1); prompt 16 tokens, $TOKENS generated, context $CTX, 1 thread"
printf '%-8s %-11s %-11s %16s %13s  %s\n' target cpu kernels insns_per_token kernel_insns "logits-checksum / top symbols"
for spec in "aarch64|qemu-aarch64 -cpu max|aarch64-linux-gnu-g++" "armv7|qemu-arm -cpu cortex-a15|arm-linux-gnueabihf-g++"; do
    IFS='|' read -r target q cxx <<<"$spec"
    if ! command -v "$cxx" >/dev/null 2>&1 || ! command -v "${q%% *}" >/dev/null 2>&1; then
        echo "$target: skipped ($cxx or ${q%% *} not installed)"; continue
    fi
    make -s -j"$JOBS" --no-print-directory BUILD="$BUILD" TARGET="$target" "$BUILD/$target/bitlm_run" >"$WORK/build.log" 2>&1 ||
        { echo "$target: build failed ($WORK/build.log)"; exit 1; }
    bin="$BUILD/$target/bitlm_run"
    # shellcheck disable=SC2086
    tables=$($q "$bin" generate "$MODEL" --prompt x -n 1 --kernels list | awk -F': ' '$1 == "kernels" {print $2}' | tr -d ',')
    for k in $tables; do
        a=$(count "$q" "$bin" "$k" 1)
        b=$(count "$q" "$bin" "$k" "$TOKENS")
        sum=$(grep -m1 '^logits-checksum:' "$WORK/last.out" | awk '{print $2}')
        top=$(awk -v t="$b" '$1 == "insns_sym" {n = $3; sub(/^_ZN5bitlm(12_GLOBAL__N_1)?[0-9]+/, "", n); sub(/I.*|E.*/, "", n);
                 printf "%s%s %.0f%%", (k++ ? ", " : ""), n, 100 * $2 / t} k == 3 {exit}' "$WORK/n$TOKENS.insns")
        printf '%-8s %-11s %-11s %16d %13s  %s / %s\n' "$target" "${q##* }" "$k" $(((b - a) / (TOKENS - 1))) \
            "$(kernel_insns)" "$sum" "$top"
        echo "neon_insns_per_token_${target}_${k//-/_}: $(((b - a) / (TOKENS - 1)))" >>"$WORK/summary.txt.new"
    done
done
[ -f "$WORK/summary.txt.new" ] && mv "$WORK/summary.txt.new" "$WORK/summary.txt" && cat "$WORK/summary.txt"
