#!/usr/bin/env bash
# train_bad_input.sh — bitlm_train and bitlm_pack (checkpoint mode) on bad input: one line naming
# the problem, a non-zero exit, never a crash, and never a lost checkpoint.
source "$(dirname "$0")/lib/common.sh"
head -c 20000 ../shared/data/tinyshakespeare.txt >"$tmp/data.txt"
: >"$tmp/empty.txt"
head -c 50 "$tmp/data.txt" >"$tmp/short.txt"
echo "not a directory" >"$tmp/file"
quick=(--preset tiny --steps 2 --eval-every 0 --sample-every 0 --final-eval-tokens 500 --threads 1)

expect_error "cannot open" "$TRAIN" --data "$tmp/missing.txt" --out "$tmp/o1" "${quick[@]}"
expect_error "empty" "$TRAIN" --data "$tmp/empty.txt" --out "$tmp/o1" "${quick[@]}"
expect_error "shorter than one sequence" "$TRAIN" --data "$tmp/short.txt" --out "$tmp/o1" "${quick[@]}"
expect_error "no training data" "$TRAIN" --out "$tmp/o1" "${quick[@]}"
expect_error "output directory" "$TRAIN" --data "$tmp/data.txt" "${quick[@]}"
expect_error "cannot create\|not a directory" "$TRAIN" --data "$tmp/data.txt" --out "$tmp/file/sub" "${quick[@]}"
expect_error "not a directory" "$TRAIN" --data "$tmp/data.txt" --out "$tmp/file" "${quick[@]}"
expect_error "over --max-bytes" "$TRAIN" --data "$tmp/data.txt" --out "$tmp/o1" --max-bytes 1000 "${quick[@]}"
expect_error "unknown preset" "$TRAIN" --data "$tmp/data.txt" --out "$tmp/o1" --preset nope
expect_error "does not divide" "$TRAIN" --data "$tmp/data.txt" --out "$tmp/o1" "${quick[@]}" --batch 6 --micro-batch 4
expect_error "gpu-precision" "$TRAIN" --data "$tmp/data.txt" --out "$tmp/o1" "${quick[@]}" --gpu-precision fp8
expect_error "gemm kernel" "$TRAIN" --data "$tmp/data.txt" --out "$tmp/o1" "${quick[@]}" --gemm nope
[ ! -e "$tmp/o1/checkpoint.bin" ] || fail "a failed start left a checkpoint"

# A good run, then: resuming it with another shape or other training flags is refused.
"$TRAIN" --data "$tmp/data.txt" --out "$tmp/run" "${quick[@]}" >/dev/null 2>&1 || fail "good run failed"
cp "$tmp/run/checkpoint.bin" "$tmp/good.bin"
expect_error "another model shape" "$TRAIN" --data "$tmp/data.txt" --out "$tmp/run" "${quick[@]}" --dim 32
expect_error "trained with" "$TRAIN" --data "$tmp/data.txt" --out "$tmp/run" "${quick[@]}" --lr 0.5
cmp -s "$tmp/run/checkpoint.bin" "$tmp/good.bin" || fail "a refused resume changed the checkpoint"

# Divergence: stop with a clear message as the last line, keep the last good checkpoint.
for variant in "" "--fp32"; do
    rm -rf "$tmp/nan"
    set +e
    "$TRAIN" --data "$tmp/data.txt" --out "$tmp/nan" --preset tiny --steps 40 --checkpoint-every 1 --eval-every 0 \
        --sample-every 0 --warmup 0 --lr 2e4 --adam-lr 2e4 --grad-clip 0 --threads 1 $variant >/dev/null 2>"$tmp/err"
    rc=$?
    set -e
    [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "divergence $variant: exit $rc"
    tail -1 "$tmp/err" | grep -q "^bitlm_train: .*\(NaN\|infinite\|diverged\|not finite\).*last good checkpoint (step [1-9][0-9]*)" ||
        fail "divergence $variant: $(tail -1 "$tmp/err")"
    [ -s "$tmp/nan/checkpoint.bin" ] || fail "divergence $variant: no checkpoint kept"
    "$PACK" "$tmp/nan" -o "$tmp/nan.blm" >/dev/null 2>&1 || fail "divergence $variant: the kept checkpoint does not pack"
    checks=$((checks + 1))
done

# bitlm_pack on checkpoints.
expect_error "over the budget" "$PACK" "$tmp/run" -o "$tmp/small.blm" --max-bytes 1000
[ ! -e "$tmp/small.blm" ] || fail "an over-budget pack wrote a file"
head -c 300 "$tmp/good.bin" >"$tmp/trunc.bin"
expect_error "truncated\|corrupted" "$PACK" "$tmp/trunc.bin" -o "$tmp/x.blm"
expect_error "not a bitlm checkpoint" "$PACK" "$tmp/data.txt" -o "$tmp/x.blm"
expect_error "does not apply" "$PACK" "$tmp/run" -o "$tmp/x.blm" --dim 32
echo "train_bad_input: $checks error cases ok"
