#!/usr/bin/env bash
# bench_train.sh — CPU training throughput (part of `make bench`): bitlm_train on the S1 and S2
# shapes of BENCHMARKS.md (batch 8 x 256 tokens, AdamW, ternary weights with int8 activations, and
# the same shapes in fp32), median step time over STEPS steps after WARM warm-up steps, at 1 and 2
# threads. Real text (tinyshakespeare). Knobs: STEPS (10), WARM (3), THREADS ("1 2"), PRESETS ("s1 s2").
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPS=${STEPS:-10}; WARM=${WARM:-3}; THREADS=${THREADS:-1 2}; PRESETS=${PRESETS:-s1 s2}
DATA=${DATA:-../shared/data/tinyshakespeare.txt}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
echo "training: batch 8 x 256 tokens, AdamW; median of $STEPS steps after $WARM warm-up steps"
printf '%-6s %-8s %-8s %12s %12s\n' shape mode threads ms_per_step train_tok_s
for p in $PRESETS; do
    for mode in ternary fp32; do
        for t in $THREADS; do
            rm -rf "$tmp/run"
            flag=(); [ "$mode" = fp32 ] && flag=(--fp32)
            "$BUILD/bitlm_train" --data "$DATA" --out "$tmp/run" --preset "$p" --batch 8 --steps $((STEPS + WARM)) \
                --eval-every 0 --sample-every 0 --checkpoint-every 0 --final-eval-tokens 300 --threads "$t" "${flag[@]}" \
                >/dev/null 2>"$tmp/err" || { echo "bitlm_train failed: $(tail -1 "$tmp/err")"; exit 1; }
            ms=$(bash tools/train_step_ms.sh "$tmp/run/log.jsonl" "$WARM")
            printf '%-6s %-8s %-8s %12.1f %12.0f\n' "$p" "$mode" "$t" "$ms" "$(awk -v m="$ms" 'BEGIN { print 2048 * 1000 / m }')"
        done
    done
done
echo "anchor (BENCHMARKS.md, llm.c fp32 train_gpt2.c, 2 threads, a different machine): S1 1267 tok/s, S2 426 tok/s"
