#!/usr/bin/env bash
# random_artifacts.sh — bitlm_pack --random for several presets and storage variants; `bitlm_run
# info` reports the right bits per weight; --max-bytes refuses without writing; same seed, same bytes.
source "$(dirname "$0")/lib/common.sh"

value() { grep -m1 "^$1:" "$2" | sed "s/^$1: *//; s/ .*//"; }  # key, file
in_range() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x + 0 >= lo && x + 0 <= hi) }'; }

# pack NAME ARGS... : writes $tmp/NAME.blm, checks info agrees with the pack report and the file size.
pack() {
    local name=$1; shift
    "$PACK" --random -o "$tmp/$name.blm" "$@" >"$tmp/$name.pack" || fail "pack $name: $(cat "$tmp/$name.pack")"
    "$RUN" info "$tmp/$name.blm" >"$tmp/$name.info" || fail "info $name"
    local size; size=$(stat -c %s "$tmp/$name.blm")
    [ "$(value artifact_bytes "$tmp/$name.pack")" = "$size" ] || fail "$name: pack reports $(value artifact_bytes "$tmp/$name.pack") bytes, file has $size"
    [ "$(value artifact_bytes "$tmp/$name.info")" = "$size" ] || fail "$name: info reports $(value artifact_bytes "$tmp/$name.info") bytes, file has $size"
    [ "$(value bits_per_weight "$tmp/$name.pack")" = "$(value bits_per_weight "$tmp/$name.info")" ] || fail "$name: pack and info disagree on bits_per_weight"
    echo "$name: $size bytes, $(value bits_per_weight "$tmp/$name.info") bits/weight, $(value bits_per_weight_with_scales "$tmp/$name.info") with scales"
}

# Ternary presets: 1.6 bits per weight plus row padding (ceil(cols/5) bytes per row).
pack tiny --preset tiny
bpw=$(value bits_per_weight "$tmp/tiny.info")
in_range "$bpw" 1.6 1.64 || fail "tiny: ternary bits_per_weight $bpw not in [1.6, 1.64]"
[ "$(value dim "$tmp/tiny.info")" = 64 ] || fail "tiny: dim"
[ "$(value n_layers "$tmp/tiny.info")" = 2 ] || fail "tiny: n_layers"
[ "$(value ffn_kind "$tmp/tiny.info")" = swiglu ] || fail "tiny: ffn_kind"
[ "$(value tokenizer "$tmp/tiny.info")" = bytes ] || fail "tiny: tokenizer"
grep -q "^arena_bytes: [0-9][0-9]*$" "$tmp/tiny.info" || fail "tiny: arena_bytes"
grep -Eq "^ +wq +0 +ternary +64x64 +row" "$tmp/tiny.info" || fail "tiny: tensor table lacks the wq row"

pack mcu --preset mcu-260k
bpw=$(value bits_per_weight "$tmp/mcu.info")
in_range "$bpw" 1.6 1.64 || fail "mcu-260k: bits_per_weight $bpw"
[ "$(value n_kv_heads "$tmp/mcu.info")" = 4 ] || fail "mcu-260k: n_kv_heads"
lin=$(value linear_params "$tmp/mcu.info")
in_range "$lin" 220000 250000 || fail "mcu-260k: linear_params $lin not about 0.24M"

# Binary weights (1 bit each), per-row alpha, f16 embedding, separate int8 head, ReLU^2, PRE norms.
pack binary --preset tiny --weights binary --scale row --embedding f16 --head separate --head-dtype int8 \
    --ffn-kind relu2 --norm-placement pre
bpw=$(value bits_per_weight "$tmp/binary.info")
in_range "$bpw" 1.0 1.0 || fail "binary: bits_per_weight $bpw, expected 1.0"
[ "$(value head_kind "$tmp/binary.info")" = separate ] || fail "binary: head_kind"
[ "$(value norm_placement "$tmp/binary.info")" = pre ] || fail "binary: norm_placement"
[ "$(value ffn_kind "$tmp/binary.info")" = relu2 ] || fail "binary: ffn_kind"
grep -Eq "^ +tok_embedding +- +f16 " "$tmp/binary.info" || fail "binary: f16 embedding not in the table"
grep -Eq "^ +head +- +int8 " "$tmp/binary.info" || fail "binary: int8 head not in the table"
grep -Eq "^ +w_?down " "$tmp/binary.info" || grep -q "down" "$tmp/binary.info" || fail "binary: no down projection"

# Ternary with per-group scales (group 32), f16 embedding, separate ternary head, ReLU^2, PRE.
pack group --preset tiny --scale group --group-size 32 --embedding f16 --head separate --head-dtype ternary \
    --ffn-kind relu2 --norm-placement pre
bpw=$(value bits_per_weight "$tmp/group.info")
in_range "$bpw" 1.6 1.64 || fail "group: bits_per_weight $bpw"
bws=$(value bits_per_weight_with_scales "$tmp/group.info")
# One fp16 scale per 32 weights adds 0.5 bits per weight.
in_range "$bws" 2.1 2.15 || fail "group: bits_per_weight_with_scales $bws, expected about 1.6 + 0.5"
grep -Eq " group32 " "$tmp/group.info" || fail "group: no group32 scale layout in the table"

# Every variant opens and generates.
for m in tiny mcu binary group; do
    "$RUN" generate "$tmp/$m.blm" --prompt "Hi" -n 4 --threads 1 >"$tmp/$m.gen" 2>/dev/null || fail "generate $m"
    grep -Eq "^logits-checksum: [0-9a-f]{16}$" "$tmp/$m.gen" || fail "generate $m: no checksum line"
done

# Same seed, same bytes; another seed, other bytes.
"$PACK" --random --preset tiny --seed 1 -o "$tmp/a.blm" >/dev/null
"$PACK" --random --preset tiny --seed 1 -o "$tmp/b.blm" >/dev/null
"$PACK" --random --preset tiny --seed 2 -o "$tmp/c.blm" >/dev/null
cmp -s "$tmp/a.blm" "$tmp/b.blm" || fail "same seed gave different artifacts"
cmp -s "$tmp/a.blm" "$tmp/c.blm" && fail "different seeds gave the same artifact"

# --max-bytes: under budget writes; over budget refuses, exit 1, one line, no file (nor temp file).
size=$(stat -c %s "$tmp/tiny.blm")
"$PACK" --random --preset tiny -o "$tmp/ok.blm" --max-bytes "$size" >/dev/null || fail "exact budget refused"
set +e
"$PACK" --random --preset tiny -o "$tmp/over.blm" --max-bytes $((size - 1)) >"$tmp/over.out" 2>"$tmp/over.err"
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "--max-bytes over budget: exit $rc"
[ ! -e "$tmp/over.blm" ] || fail "--max-bytes over budget left a file"
ls "$tmp" | grep -q "over.blm.tmp" && fail "--max-bytes over budget left a temporary file"
[ "$(wc -l <"$tmp/over.err")" = 1 ] || fail "--max-bytes message is not one line: $(cat "$tmp/over.err")"
grep -q "over the budget of $((size - 1)) bytes by 1" "$tmp/over.err" || fail "--max-bytes message: $(cat "$tmp/over.err")"

# The preset table (checkpoint packing is tested with the trainer: tests/cli/train_*.sh).
"$PACK" --list-presets | grep -q "bench-180m" || fail "--list-presets lacks bench-180m"
"$PACK" --help | grep -q -- "--max-bytes" || fail "--help lacks --max-bytes"
echo "random_artifacts: ok"
