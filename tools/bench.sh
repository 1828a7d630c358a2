#!/usr/bin/env bash
# bench.sh — `make bench`: prefill and decode tokens/s of a random-weight bench-180m artifact
# (BENCHMARKS.md) for every kernel path this build and CPU have (bitlm_run --kernels NAME) at 1 and
# 2 threads, as one table; then the kernels alone (test_kernels --bench); then the emulated targets
# (AArch64/ARMv7 NEON, Cortex-M) in instructions per generated token, then CPU training throughput
# (tools/bench_train.sh). The generic (portable reference) rows are slow: minutes at bench-180m.
# Columns: prefill and decode tokens/s of one run (PROMPT tokens, then DECODE more), and tg64: decode
# of 64 tokens after a 1-token prompt, the protocol of llama-bench's tg64 (BENCHMARKS.md's anchors),
# where the KV cache is short; after a 128-token prompt every decoded token reads ~9x more of it.
# Knobs: PRESET (bench-180m), PROMPT (128), DECODE (32), REPEAT (3), THREADS ("1 2"),
#        KERNELS (default: every path, e.g. "generic avx2 avx512").
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PRESET=${PRESET:-bench-180m}
PROMPT=${PROMPT:-128}; DECODE=${DECODE:-32}; REPEAT=${REPEAT:-3}; THREADS=${THREADS:-1 2}
KERNELS=${KERNELS:-$("$BUILD/bitlm_run" bench --kernels list | awk -F': ' '$1 == "kernels" {print $2}' | tr -d ',')}
MODEL="$BUILD/bench/$PRESET.blm"
mkdir -p "$BUILD/bench"
[ -f "$MODEL" ] || "$BUILD/bitlm_pack" --random --preset "$PRESET" --seed 1 -o "$MODEL" >/dev/null
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
# bitlm_run asks for transparent huge pages for the artifact and arena (decode streams every weight each
# token: ~8% here); where THP is "never" the figures are lower.
[ -r /sys/kernel/mm/transparent_hugepage/enabled ] &&
    echo "transparent huge pages: $(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled)"
echo "model: $PRESET, $(stat -c %s "$MODEL") bytes; prefill $PROMPT tokens, decode $DECODE tokens; tg64: 64 tokens after 1; median of $REPEAT"
echo "kernel paths: $KERNELS (default: $("$BUILD/bitlm_run" bench --kernels list | awk -F': ' '$1 == "default" {print $2}'))"
printf '%-14s %-8s %14s %14s %14s %14s %14s\n' kernels threads prefill_tok_s decode_tok_s tg64_tok_s arena_bytes \
    repack_bytes
# One row per table and thread count; a table that reads a 2-bit in-RAM weight copy by default
# (repack_bytes > 0: bitlm_repack) gets a second row reading the artifact's base 3 (--no-repack).
row() {  # kernels threads [--no-repack]
    local out tg
    out=$("$BUILD/bitlm_run" bench "$MODEL" --kernels "$1" --threads "$2" --prompt-len "$PROMPT" --decode "$DECODE" \
          --repeat "$REPEAT" ${3:-} 2>/dev/null)
    tg=$("$BUILD/bitlm_run" bench "$MODEL" --kernels "$1" --threads "$2" --prompt-len 1 --decode 64 \
         --repeat "$REPEAT" ${3:-} 2>/dev/null)
    get() { echo "$out" | awk -v k="$1:" '$1 == k {print $2}'; }
    printf '%-14s %-8s %14s %14s %14s %14s %14s\n' "$(get kernels)${3:+/base3}" "$2" "$(get prefill_tok_s)" \
        "$(get decode_tok_s)" "$(echo "$tg" | awk '$1 == "decode_tok_s:" {print $2}')" "$(get arena_bytes)" \
        "$(get repack_bytes)"
    [ -z "${3:-}" ] && [ "$(get repack_bytes)" != 0 ] && row "$1" "$2" --no-repack
    return 0
}
for k in $KERNELS; do
    for t in $THREADS; do row "$k" "$t"; done
done

# The kernels alone (one thread, the bench-180m matrix shapes).
echo
"$BUILD/tests/test_kernels" --bench

# Emulated targets: exact instructions per generated token (QEMU plugin), mcu-260k shape.
echo
bash platform/arm_neon/bench_insns.sh
echo
bash tools/bench_mcu.sh
echo
bash tools/bench_train.sh
echo
bash tools/bench_train_cuda.sh
