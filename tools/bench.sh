#!/usr/bin/env bash
# bench.sh — `make bench`: prefill and decode tokens/s of a random-weight bench-180m artifact
# (BENCHMARKS.md) at 1 and 2 threads with the build's default kernels, as one table.
# Knobs: PRESET (bench-180m), PROMPT (128), DECODE (32), REPEAT (3), THREADS ("1 2").
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PRESET=${PRESET:-bench-180m}
PROMPT=${PROMPT:-128}; DECODE=${DECODE:-32}; REPEAT=${REPEAT:-3}; THREADS=${THREADS:-1 2}
MODEL="$BUILD/bench/$PRESET.blm"
mkdir -p "$BUILD/bench"
[ -f "$MODEL" ] || "$BUILD/bitlm_pack" --random --preset "$PRESET" --seed 1 -o "$MODEL" >/dev/null
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
echo "model: $PRESET, $(stat -c %s "$MODEL") bytes; prefill $PROMPT tokens, decode $DECODE tokens, median of $REPEAT"
printf '%-10s %-8s %14s %14s %14s\n' kernels threads prefill_tok_s decode_tok_s arena_bytes
for t in $THREADS; do
    out=$("$BUILD/bitlm_run" bench "$MODEL" --threads "$t" --prompt-len "$PROMPT" --decode "$DECODE" --repeat "$REPEAT")
    get() { echo "$out" | awk -v k="$1:" '$1 == k {print $2}'; }
    printf '%-10s %-8s %14s %14s %14s\n' "$(get kernels)" "$t" "$(get prefill_tok_s)" "$(get decode_tok_s)" "$(get arena_bytes)"
done
