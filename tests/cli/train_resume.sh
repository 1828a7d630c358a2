#!/usr/bin/env bash
# train_resume.sh — exact resume: a run killed with SIGKILL and resumed from its last checkpoint
# logs the same loss at every step, to the bit, as the same run left alone.
source "$(dirname "$0")/lib/common.sh"
DATA=../shared/data/tinyshakespeare.txt
head -c 200000 "$DATA" >"$tmp/data.txt"
flags=(--data "$tmp/data.txt" --preset tiny --steps 120 --checkpoint-every 10 --eval-every 0 --sample-every 0
       --final-eval-tokens 2000 --threads 2)
losses() { grep -o '"step":[0-9]*,"loss":[^,]*' "$1/log.jsonl"; }

"$TRAIN" "${flags[@]}" --out "$tmp/a" >/dev/null 2>"$tmp/a.err" || fail "run a: $(tail -2 "$tmp/a.err")"

# Run b: killed hard once it has passed a checkpoint (but not finished), then resumed.
"$TRAIN" "${flags[@]}" --out "$tmp/b" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    [ -s "$tmp/b/log.jsonl" ] && [ "$(losses "$tmp/b" | wc -l)" -ge 25 ] && break
    sleep 0.05
done
kill -KILL $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
n_killed=$(losses "$tmp/b" | wc -l)
[ "$n_killed" -lt 120 ] || fail "run b finished before it could be killed (make the test run longer)"
"$TRAIN" "${flags[@]}" --out "$tmp/b" >/dev/null 2>"$tmp/b.err" || fail "resume: $(tail -2 "$tmp/b.err")"
grep -q "resuming from step" "$tmp/b.err" || fail "run b did not resume from its checkpoint"
losses "$tmp/a" >"$tmp/a.loss"
losses "$tmp/b" >"$tmp/b.loss"
[ "$(wc -l <"$tmp/a.loss")" = 120 ] || fail "run a logged $(wc -l <"$tmp/a.loss") steps"
cmp -s "$tmp/a.loss" "$tmp/b.loss" || fail "resumed losses differ: $(diff "$tmp/a.loss" "$tmp/b.loss" | head -4)"
cmp -s "$tmp/a/checkpoint.bin" "$tmp/b/checkpoint.bin" ||
    cmp <(grep -v elapsed "$tmp/a/log.jsonl" | grep -o '"step":[0-9]*,"val_bpb":[^,]*') \
        <(grep -v elapsed "$tmp/b/log.jsonl" | grep -o '"step":[0-9]*,"val_bpb":[^,]*') >/dev/null ||
    fail "final validation differs after resume"
echo "train_resume: killed after $n_killed logged steps; all 120 losses equal to the bit"
