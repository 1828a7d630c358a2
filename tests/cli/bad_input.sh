#!/usr/bin/env bash
# bad_input.sh — every bad input gets a non-zero exit and one line "tool: <reason>" on stderr that
# names the problem; never a crash (exit codes >= 128 are signals: segfault, abort, sanitizer).
source "$(dirname "$0")/lib/common.sh"

"$PACK" --random --preset tiny -o "$tmp/m.blm" >/dev/null
M=$tmp/m.blm
for i in 1 2 3 4 5 6; do echo "just some text, not a model: long enough to cover a header"; done >"$tmp/text.txt"
: >"$tmp/empty.blm"
mkdir "$tmp/dir.blm"
head -c 200 "$M" >"$tmp/truncated.blm"
cp "$M" "$tmp/corrupt.blm"
size=$(stat -c %s "$M")
printf '\x55' | dd of="$tmp/corrupt.blm" bs=1 seek=$((size - 10)) conv=notrunc status=none
head -c 64 /dev/urandom >"$tmp/random.blm"

# Files.
expect_error "cannot open" "$RUN" generate "$tmp/missing.blm" --prompt hi -n 1
expect_error "not a usable model" "$RUN" generate "$tmp/text.txt" --prompt hi -n 1
expect_error "magic" "$RUN" info "$tmp/text.txt"
expect_error "empty" "$RUN" info "$tmp/empty.blm"
expect_error "directory" "$RUN" info "$tmp/dir.blm"
expect_error "truncated\|header\|not a usable" "$RUN" info "$tmp/truncated.blm"
expect_error "checksum" "$RUN" generate "$tmp/corrupt.blm" --prompt hi -n 1
expect_error "not a usable model" "$RUN" bench "$tmp/random.blm" --prompt-len 4 --decode 1
expect_error "cannot open" "$RUN" eval "$M" "$tmp/missing.txt"
expect_error "empty" "$RUN" eval "$M" "$tmp/empty.blm"

# Tokens and lengths.
expect_error "out of range" "$RUN" generate "$M" --prompt-ids 1,2,300 -n 1
expect_error "prompt is 20 tokens but the context holds 8" "$RUN" generate "$M" --prompt "aaaaaaaaaaaaaaaaaaaa" -n 1 --ctx 8
expect_error "arena too small" "$RUN" generate "$M" --prompt hi -n 1 --arena-bytes 1000
expect_error "longer than" "$RUN" generate "$M" --prompt hi -n 1 --ctx 100000
expect_error "empty" "$RUN" generate "$M" --prompt "" -n 1
expect_error "do not fit" "$RUN" bench "$M" --prompt-len 120 --decode 64
expect_error "at least 2 tokens" "$RUN" eval "$M" "$tmp/text.txt" --max-bytes 1

# Flag values.
expect_error "expects a positive integer, got 'x'" "$RUN" generate "$M" --prompt hi -n 1 --threads x
expect_error "expects a positive integer" "$RUN" generate "$M" --prompt hi -n 1 --threads 0
expect_error "temperature" "$RUN" generate "$M" --prompt hi -n 1 --temperature -1
expect_error "top-p" "$RUN" generate "$M" --prompt hi -n 1 --top-p 1.5
expect_error "top-k" "$RUN" generate "$M" --prompt hi -n 1 --top-k -3
expect_error "unknown flag '--frobnicate'" "$RUN" generate "$M" --prompt hi --frobnicate
expect_error "needs a value" "$RUN" generate "$M" --prompt
expect_error "unknown command" "$RUN" explode "$M"
expect_error "no model" "$RUN" info
expect_error "prompt" "$RUN" generate "$M" -n 1

# bitlm_pack.
expect_error "unknown preset" "$PACK" --random --preset huge -o "$tmp/x.blm"
expect_error "must divide" "$PACK" --random --preset tiny --kv-heads 3 -o "$tmp/x.blm"
expect_error "multiple of 32" "$PACK" --random --preset tiny --group-size 48 -o "$tmp/x.blm"
expect_error "binary" "$PACK" --random --preset tiny --weights binary --scale group -o "$tmp/x.blm"
expect_error "expects one of" "$PACK" --random --preset tiny --ffn-kind gelu -o "$tmp/x.blm"
expect_error "cannot write" "$PACK" --random --preset tiny -o "$tmp/no/such/dir/x.blm"
expect_error "directory" "$PACK" --random --preset tiny -o "$tmp/dir.blm"
expect_error "-o" "$PACK" --random --preset tiny
expect_error "vocab" "$PACK" --random --preset tiny --vocab 100 -o "$tmp/x.blm"
[ ! -e "$tmp/x.blm" ] || fail "a failed pack left a file"

# --help works everywhere.
for c in generate eval bench info; do "$RUN" $c --help | grep -q "usage: bitlm_run $c" || fail "$c --help"; done
"$RUN" --help | grep -q "usage:" || fail "bitlm_run --help"
echo "bad_input: $checks error cases ok"
