#!/usr/bin/env bash
# bench_train_cuda.sh — GPU training throughput (part of `make bench`; prints "skipped: no GPU" without
# one): bitlm_train --device cuda on the 16MB-class preset (golf-16mb: 12 layers, d=768, 12/6 heads,
# MLP 2304, vocab 1024, sequence 2048) and on the demo preset; median step time over STEPS steps after
# WARM warm-up steps, tokens/s, and model FLOPs utilization against PEAK_TFLOPS (default 989, the H100
# SXM dense bf16 figure). FLOPs per token: 6 x weights (forward + backward of every matrix, head
# included) + 6 x layers x seq x q_dim (causal attention: QK^T and PV, forward and backward, half the
# square). Knobs: STEPS (20), WARM (5), BATCH_golf (64 sequences, split into micro-batches that fit), PRECISIONS ("bf16"), PEAK_TFLOPS.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPS=${STEPS:-20}; WARM=${WARM:-5}; PRECISIONS=${PRECISIONS:-bf16}; PEAK_TFLOPS=${PEAK_TFLOPS:-989}
DATA=${DATA:-../shared/data/tinystories_train_prefix_lowercase_4MB.txt}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "GPU training: median of $STEPS steps after $WARM warm-up steps; MFU against $PEAK_TFLOPS TFLOP/s"
printf '%-10s %-6s %-6s %-6s %12s %14s %8s\n' preset gemm batch micro ms_per_step train_tok_s mfu
for spec in "golf-16mb ${BATCH_golf:-64}" "demo 16"; do
    set -- $spec
    preset=$1 batch=$2
    for prec in $PRECISIONS; do
        rm -rf "$tmp/run"
        set +e
        "$BUILD/bitlm_train" --data "$DATA" --out "$tmp/run" --preset "$preset" --batch "$batch" \
            --steps $((STEPS + WARM)) --time-limit 0 --eval-every 0 --sample-every 0 --checkpoint-every 0 \
            --final-eval-tokens 4096 --device cuda --gpu-precision "$prec" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        set -e
        if [ $rc -ne 0 ]; then
            if grep -q "no GPU\|no CUDA backend" "$tmp/err"; then echo "skipped: no GPU ($(cat "$tmp/err"))"; exit 0; fi
            echo "bitlm_train failed: $(tail -2 "$tmp/err")"; exit 1
        fi
        micro=$(sed -n 's/^backend: .*micro-batch \([0-9]*\).*/\1/p' "$tmp/out")
        weights=$(sed -n 's/^weights: \([0-9]*\) .*/\1/p' "$tmp/out")
        shape=$(sed -n 's/^shape: //p' "$tmp/out")
        ms=$(bash tools/train_step_ms.sh "$tmp/run/log.jsonl" "$WARM")
        tokens=$(sed -n 's/.*"tokens_per_step":\([0-9]*\).*/\1/p' "$tmp/run/log.jsonl" | head -1)
        # layers, sequence and query width from the shape line ("... layers 12, heads 12/6, head_dim 64, ... ctx 2048").
        layers=$(echo "$shape" | grep -o 'layers [0-9]*' | grep -o '[0-9]*')
        seq=$(echo "$shape" | grep -o 'ctx [0-9]*' | grep -o '[0-9]*')
        heads=$(echo "$shape" | grep -o 'heads [0-9]*' | grep -o '[0-9]*')
        hd=$(echo "$shape" | grep -o 'head_dim [0-9]*' | grep -o '[0-9]*')
        qdim=$((heads * hd))
        tok_s=$(awk -v t="$tokens" -v m="$ms" 'BEGIN { print t * 1000 / m }')
        mfu=$(awk -v ts="$tok_s" -v w="$weights" -v l="$layers" -v s="$seq" -v q="$qdim" -v p="$PEAK_TFLOPS" \
              'BEGIN { f = 6 * w + 6 * l * s * q; printf "%.1f%%", 100 * ts * f / (p * 1e12) }')
        printf '%-10s %-6s %-6s %-6s %12.1f %14.0f %8s\n' "$preset" "$prec" "$batch" "$micro" "$ms" "$tok_s" "$mfu"
    done
done
echo "goal (issue 6): golf-16mb >= 1.5 x 515k tok/s per H100 (the 16 MB challenge's ternary entry, PyTorch)"
