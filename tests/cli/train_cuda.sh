#!/usr/bin/env bash
# train_cuda.sh — the GPU trainer against the CPU one: 50 steps of the tiny preset on real text on both
# devices (same seed, same batches). The GPU loss curve must follow the CPU's — fp32 GEMMs: every step
# within 0.03 nats; bf16 GEMMs: within 0.15; micro-batches of 1: within 0.03 of the whole batch — its
# checkpoint must pack and `bitlm_run eval` of the artifact must be within 0.01 of the trainer's own
# val_bpb, and a CPU checkpoint must resume on the GPU. Without a GPU (or a build without CUDA) the CPU
# run and the clear refusal of --device cuda are checked, then the test reports "skipped: no GPU".
source "$(dirname "$0")/lib/common.sh"
head -c 300000 ../shared/data/tinyshakespeare.txt >"$tmp/data.txt"
common=(--data "$tmp/data.txt" --preset tiny --steps 50 --eval-every 0 --sample-every 0 --seed 3 --threads 2)

"$TRAIN" "${common[@]}" --out "$tmp/cpu" >"$tmp/cpu.out" 2>"$tmp/cpu.err" || fail "CPU run failed: $(tail -2 "$tmp/cpu.err")"
losses() { grep '"loss":' "$1/log.jsonl" | sed 's/.*"step":\([0-9]*\),"loss":\([0-9.e+-]*\).*/\1 \2/'; }
losses "$tmp/cpu" >"$tmp/cpu.loss"
[ "$(wc -l <"$tmp/cpu.loss")" = 50 ] || fail "the CPU log has $(wc -l <"$tmp/cpu.loss") losses, not 50"

set +e
"$TRAIN" "${common[@]}" --out "$tmp/gpu" --device cuda --gpu-precision fp32 >"$tmp/gpu.out" 2>"$tmp/gpu.err"
rc=$?
set -e
if [ $rc -ne 0 ]; then
    if grep -q "no GPU\|no CUDA backend" "$tmp/gpu.err"; then
        [ "$(wc -l <"$tmp/gpu.err")" = 1 ] || fail "not one line on stderr: $(cat "$tmp/gpu.err")"
        [ $rc = 1 ] || [ $rc = 2 ] || fail "exit $rc for a missing GPU"
        echo "CPU side ran (50 steps, final loss $(tail -1 "$tmp/cpu.loss" | cut -d' ' -f2))"
        echo "skipped: no GPU ($(cat "$tmp/gpu.err"))"
        exit 0
    fi
    fail "GPU run failed (exit $rc): $(tail -3 "$tmp/gpu.err")"
fi

# max |loss_gpu - loss_cpu| over the 50 steps, and the final losses.
follows() {  # name, run dir, bound
    losses "$2" >"$tmp/$1.loss"
    [ "$(wc -l <"$tmp/$1.loss")" = 50 ] || fail "$1: $(wc -l <"$tmp/$1.loss") losses, not 50"
    local worst
    worst=$(join "$tmp/cpu.loss" "$tmp/$1.loss" | awk '{d = $2 - $3; if (d < 0) d = -d; if (!(d <= m)) m = d} END {print m}')
    echo "$1: max |loss - cpu| over 50 steps = $worst (bound $3); final cpu $(tail -1 "$tmp/cpu.loss" | cut -d' ' -f2), $1 $(tail -1 "$tmp/$1.loss" | cut -d' ' -f2)"
    awk -v w="$worst" -v b="$3" 'BEGIN { exit !(w <= b) }' || fail "$1 does not follow the CPU loss curve"
}
follows gpu_fp32 "$tmp/gpu" 0.03
"$TRAIN" "${common[@]}" --out "$tmp/bf16" --device cuda >/dev/null 2>"$tmp/bf16.err" || fail "bf16 run: $(tail -2 "$tmp/bf16.err")"
follows gpu_bf16 "$tmp/bf16" 0.15
"$TRAIN" "${common[@]}" --out "$tmp/micro" --device cuda --gpu-precision fp32 --micro-batch 1 >/dev/null 2>"$tmp/m.err" ||
    fail "micro-batch run: $(tail -2 "$tmp/m.err")"
follows gpu_micro1 "$tmp/micro" 0.03

# The GPU checkpoint packs and runs like any other.
val=$(sed -n 's/^val_bpb: //p' "$tmp/gpu.out")
start=$(sed -n 's/^val_split: bytes \([0-9]*\)\.\..*/\1/p' "$tmp/gpu.out")
"$PACK" "$tmp/gpu" -o "$tmp/gpu.blm" >/dev/null || fail "packing the GPU checkpoint failed"
bpb=$("$RUN" eval "$tmp/gpu.blm" "$tmp/data.txt" --skip-bytes "$start" 2>/dev/null | sed -n 's/^bpb: //p')
echo "GPU val_bpb $val, packed artifact bpb $bpb"
awk -v a="$val" -v b="$bpb" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.01) }' ||
    fail "GPU trainer val_bpb $val vs artifact $bpb"

# A CPU checkpoint at step 50 resumes on the GPU to step 60.
cp -r "$tmp/cpu" "$tmp/resume"
"$TRAIN" "${common[@]}" --steps 60 --out "$tmp/resume" --device cuda >/dev/null 2>"$tmp/r.err" ||
    fail "resume on the GPU failed: $(tail -2 "$tmp/r.err")"
[ "$(losses "$tmp/resume" | tail -1 | cut -d' ' -f1)" = 60 ] || fail "the resumed run did not reach step 60"
echo "train_cuda: ok"
