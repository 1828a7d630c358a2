#!/usr/bin/env bash
# eval.sh — `bitlm_run eval` on a slice of Tiny Shakespeare: prints a finite `bpb: X` near 8 for a
# random model, the same number every run and every thread count.
source "$(dirname "$0")/lib/common.sh"
data=""
for d in "$(git rev-parse --show-toplevel 2>/dev/null || pwd)/../shared/data" "$(pwd)/../shared/data"; do
    [ -f "$d/tinyshakespeare.txt" ] && { data=$d/tinyshakespeare.txt; break; }
done
[ -n "$data" ] || { echo "skipped: tinyshakespeare.txt not found in ../shared/data"; exit 0; }

"$PACK" --random --preset tiny -o "$tmp/m.blm" >/dev/null
"$RUN" eval "$tmp/m.blm" "$data" --max-bytes 2000 --threads 1 >"$tmp/a" || fail "eval failed"
"$RUN" eval "$tmp/m.blm" "$data" --max-bytes 2000 --threads 2 >"$tmp/b" || fail "eval failed (2 threads)"
tail -1 "$tmp/a" | grep -Eq '^bpb: [0-9]+\.[0-9]{6}$' || fail "last line is not 'bpb: X': $(tail -1 "$tmp/a")"
bpb=$(sed -n 's/^bpb: //p' "$tmp/a")
awk -v x="$bpb" 'BEGIN { exit !(x > 4 && x < 20) }' || fail "bpb $bpb of a random model not in (4, 20)"
[ "$(grep '^bpb:' "$tmp/a")" = "$(grep '^bpb:' "$tmp/b")" ] || fail "bpb differs between runs: $(grep '^bpb:' "$tmp/a" "$tmp/b")"
[ "$(sed -n 's/^predicted_bytes: //p' "$tmp/a")" = 1999 ] || fail "2000 bytes should predict 1999: $(cat "$tmp/a")"
# A short context: more windows, every byte but the first still predicted once.
"$RUN" eval "$tmp/m.blm" "$data" --max-bytes 500 --ctx 16 --threads 1 >"$tmp/c" || fail "eval --ctx 16 failed"
[ "$(sed -n 's/^predicted_bytes: //p' "$tmp/c")" = 499 ] || fail "--ctx 16: predicted_bytes"
[ "$(sed -n 's/^windows: //p' "$tmp/c")" = 34 ] || fail "--ctx 16: 499 predictions in windows of 15 should take 34 windows"
echo "eval: bpb $bpb (2000 bytes, same twice)"
