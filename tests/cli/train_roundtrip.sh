#!/usr/bin/env bash
# train_roundtrip.sh — train the tiny preset on real text, pack the checkpoint, and check that
# `bitlm_run eval` of the artifact gives the trainer's own final validation bits per byte (within
# 0.002, the issue's bound; the two use the same windows and, for evaluation, the same arithmetic).
# Also: training lowers the loss, the log and plot are written, and samples come from the model.
source "$(dirname "$0")/lib/common.sh"
DATA=../shared/data/tinyshakespeare.txt
[ -f "$DATA" ] || fail "missing $DATA"
head -c 300000 "$DATA" >"$tmp/data.txt"

"$TRAIN" --data "$tmp/data.txt" --out "$tmp/run" --preset tiny --steps 40 --eval-every 20 --threads 2 \
    >"$tmp/train.out" 2>"$tmp/train.err" || fail "training failed: $(tail -3 "$tmp/train.err")"
val=$(sed -n 's/^val_bpb: //p' "$tmp/train.out")
[ -n "$val" ] || fail "no val_bpb line: $(cat "$tmp/train.out")"
range=$(sed -n 's/^val_split: bytes \([0-9]*\)\.\.\([0-9]*\) of .*/\1/p' "$tmp/train.out")
[ -n "$range" ] || fail "no val_split line"
for f in checkpoint.bin log.jsonl loss.svg; do [ -s "$tmp/run/$f" ] || fail "missing $tmp/run/$f"; done
grep -q '<polyline' "$tmp/run/loss.svg" || fail "the plot has no curve"
grep -q '"sample":' "$tmp/run/log.jsonl" || fail "no text sample in the log"

# The loss went down: mean of the last 5 steps well under the first step's.
first=$(grep -m1 '"loss":' "$tmp/run/log.jsonl" | sed 's/.*"loss":\([0-9.e+-]*\).*/\1/')
last=$(grep '"loss":' "$tmp/run/log.jsonl" | tail -5 | sed 's/.*"loss":\([0-9.e+-]*\).*/\1/' | awk '{s+=$1} END {print s/NR}')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 1.0) }' || fail "loss did not fall: first $first, last-5 mean $last"

"$PACK" "$tmp/run" -o "$tmp/m.blm" >"$tmp/pack.out" || fail "pack failed"
grep -q '^bits_per_weight: 1\.6' "$tmp/pack.out" || fail "unexpected bits per weight: $(grep bits_per_weight "$tmp/pack.out")"
bpb=$("$RUN" eval "$tmp/m.blm" "$tmp/data.txt" --skip-bytes "$range" 2>/dev/null | sed -n 's/^bpb: //p')
[ -n "$bpb" ] || fail "bitlm_run eval printed no bpb"
awk -v a="$val" -v b="$bpb" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.002) }' ||
    fail "roundtrip gap: trainer val_bpb $val, packed artifact bpb $bpb"
echo "train_roundtrip: loss $first -> $last, val_bpb $val, artifact bpb $bpb"
