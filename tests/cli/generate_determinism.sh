#!/usr/bin/env bash
# generate_determinism.sh — greedy generation gives the same text and logits-checksum on every run
# and thread count; sampling is reproducible for a seed; top-k / top-p run.
source "$(dirname "$0")/lib/common.sh"

"$PACK" --random --preset tiny --seed 7 -o "$tmp/tiny.blm" >/dev/null
# A wider model too, so matmuls split into several tasks and the thread pool really runs.
"$PACK" --random --preset tiny --dim 256 --heads 4 --kv-heads 2 --ffn 512 --seed 7 -o "$tmp/wide.blm" >/dev/null

gen() {  # out-file, model, args...
    local out=$1; shift
    "$RUN" generate "$@" >"$out" 2>"$out.err" || fail "generate $*: $(cat "$out.err")"
    grep -Eq "^logits-checksum: [0-9a-f]{16}$" "$out" || fail "no logits-checksum line from generate $*"
}

for m in tiny wide; do
    prompt="Once upon a time"
    gen "$tmp/$m.ref" "$tmp/$m.blm" --prompt "$prompt" -n 40 --temperature 0 --threads 1
    # The text starts with the prompt and continues.
    head -c ${#prompt} "$tmp/$m.ref" | grep -q "^$prompt$" || fail "$m: output does not start with the prompt"
    [ "$(wc -c <"$tmp/$m.ref")" -gt $((${#prompt} + 40)) ] || fail "$m: too little output"
    gen "$tmp/$m.again" "$tmp/$m.blm" --prompt "$prompt" -n 40 --threads 1
    cmp -s "$tmp/$m.ref" "$tmp/$m.again" || fail "$m: greedy run 2 differs from run 1"
    for t in 2 3; do
        gen "$tmp/$m.t$t" "$tmp/$m.blm" --prompt "$prompt" -n 40 --threads $t
        cmp -s "$tmp/$m.ref" "$tmp/$m.t$t" || fail "$m: --threads $t differs from --threads 1: $(tail -1 "$tmp/$m.t$t") vs $(tail -1 "$tmp/$m.ref")"
    done
    echo "$m greedy: $(tail -1 "$tmp/$m.ref") at 1, 2 and 3 threads"
done

# Prompt given as raw ids equals the same prompt as text.
gen "$tmp/ids" "$tmp/tiny.blm" --prompt-ids 79,110,99,101 -n 16 --threads 1
gen "$tmp/txt" "$tmp/tiny.blm" --prompt "Once" -n 16 --threads 1
cmp -s "$tmp/ids" "$tmp/txt" || fail "--prompt-ids differs from the same prompt as text"

# Sampling: same seed twice identical (also across threads), different seeds differ.
gen "$tmp/s1" "$tmp/tiny.blm" --prompt "The" -n 48 --temperature 1.0 --seed 11 --threads 1
gen "$tmp/s1b" "$tmp/tiny.blm" --prompt "The" -n 48 --temperature 1.0 --seed 11 --threads 2
cmp -s "$tmp/s1" "$tmp/s1b" || fail "sampling with the same seed is not reproducible"
differ=0
for seed in 12 13 14; do
    gen "$tmp/s$seed" "$tmp/tiny.blm" --prompt "The" -n 48 --temperature 1.0 --seed $seed --threads 1
    cmp -s "$tmp/s1" "$tmp/s$seed" || differ=1
done
[ $differ = 1 ] || fail "four different seeds all sampled the same text"

# top-k and top-p run, reproducibly; top-k 1 is greedy.
gen "$tmp/k1" "$tmp/tiny.blm" --prompt "Once upon a time" -n 40 --temperature 0.8 --top-k 1 --seed 3 --threads 1
cmp -s "$tmp/k1" "$tmp/tiny.ref" || fail "--top-k 1 differs from greedy"
gen "$tmp/k" "$tmp/tiny.blm" --prompt "The" -n 32 --temperature 0.8 --top-k 20 --seed 3 --threads 1
gen "$tmp/p" "$tmp/tiny.blm" --prompt "The" -n 32 --temperature 0.8 --top-p 0.9 --seed 3 --threads 1
gen "$tmp/kp" "$tmp/tiny.blm" --prompt "The" -n 32 --temperature 0.8 --top-k 40 --top-p 0.5 --seed 3 --threads 2
gen "$tmp/kp2" "$tmp/tiny.blm" --prompt "The" -n 32 --temperature 0.8 --top-k 40 --top-p 0.5 --seed 3 --threads 1
cmp -s "$tmp/kp" "$tmp/kp2" || fail "top-k + top-p is not reproducible"

# Generation that fills the context stops early with a note, still printing the checksum.
gen "$tmp/full" "$tmp/tiny.blm" --prompt "abc" -n 100 --ctx 16 --threads 1
grep -q "context" "$tmp/full.err" || fail "no note when the context filled"
echo "generate_determinism: ok"
