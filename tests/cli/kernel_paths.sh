#!/usr/bin/env bash
# kernel_paths.sh — the same artifact and prompt give the same greedy text and logits-checksum with
# every kernel table this build and CPU have (bitlm_run --kernels NAME) at 1, 2 and 3 threads, for
# ternary (tensor/row/group scales, odd widths), binary, int8/f16 embeddings and separate heads;
# prompts long enough that prefill takes the multi-token (GEMM) path; each table with and without the
# 2-bit in-RAM weight copy (--no-repack). Also: --kernels list and an
# unknown name, and that the ISA-specific objects export no weak (inline) functions the linker could
# pick for code that runs on CPUs without that ISA.
source "$(dirname "$0")/lib/common.sh"

names=$("$RUN" bench --kernels list | awk -F': ' '$1 == "kernels" {print $2}' | tr -d ',')
[ -n "$names" ] || fail "--kernels list printed no names"
case " $names " in *" generic "*) ;; *) fail "--kernels list lacks generic: $names" ;; esac
set +e
err=$("$RUN" generate "$tmp/none.blm" --prompt x --kernels no-such-kernels 2>&1 >/dev/null); rc=$?
set -e
[ $rc = 2 ] || fail "unknown --kernels: exit $rc, expected 2"
echo "$err" | grep -q "generic" || fail "unknown --kernels does not list the available names: $err"

# name: pack options
models=(
    "rows|--preset tiny --dim 96 --heads 4 --kv-heads 2 --ffn 200"
    "tensor|--preset tiny --scale tensor --dim 64 --ffn 161"
    "group|--preset tiny --dim 160 --heads 5 --kv-heads 5 --ffn 480 --group-size 96"
    "group32|--preset tiny --dim 64 --ffn 96 --group-size 32 --embedding f16"
    "binary|--preset tiny --weights binary --dim 72 --heads 3 --kv-heads 1 --ffn 136 --head separate --head-dtype binary"
    "int8head|--preset tiny --dim 128 --ffn 320 --head separate --head-dtype int8 --embedding f16"
    "wide|--preset tiny --dim 256 --heads 4 --kv-heads 2 --ffn 512"
)
prompt="Once upon a time, in a land of bits and trits, there lived a small model that"
for spec in "${models[@]}"; do
    m=${spec%%|*}; opts=${spec#*|}
    # shellcheck disable=SC2086
    "$PACK" --random $opts --seed 3 -o "$tmp/$m.blm" >/dev/null || fail "pack $m"
    ref=""
    for k in $names; do
        for t in 1 2 3; do
            out="$tmp/$m.$k.$t"
            "$RUN" generate "$tmp/$m.blm" --prompt "$prompt" -n 24 --temperature 0 --kernels "$k" --threads $t \
                >"$out" 2>"$out.err" || fail "$m --kernels $k --threads $t: $(cat "$out.err")"
            grep -Eq "^logits-checksum: [0-9a-f]{16}$" "$out" || fail "$m $k: no checksum line"
            if [ -z "$ref" ]; then ref=$out; continue; fi
            cmp -s "$ref" "$out" || fail "$m: --kernels $k --threads $t differs from $(basename "$ref"): $(tail -1 "$out") vs $(tail -1 "$ref")"
        done
        # Tables that read a 2-bit in-RAM copy by default (bitlm_repack): the artifact's base 3 too.
        out="$tmp/$m.$k.base3"
        "$RUN" generate "$tmp/$m.blm" --prompt "$prompt" -n 24 --temperature 0 --kernels "$k" --threads 2 --no-repack \
            >"$out" 2>"$out.err" || fail "$m --kernels $k --no-repack: $(cat "$out.err")"
        cmp -s "$ref" "$out" || fail "$m: --kernels $k --no-repack differs: $(tail -1 "$out") vs $(tail -1 "$ref")"
    done
    echo "$m: $(tail -1 "$ref") with every path ($names) at 1, 2, 3 threads"
done

# eval goes through the same kernels: same bits per byte on every path.
printf 'The quick brown fox jumps over the lazy dog. %.0s' $(seq 1 12) >"$tmp/text.txt"
ref_bpb=""
for k in $names; do
    bpb=$("$RUN" eval "$tmp/wide.blm" "$tmp/text.txt" --ctx 64 --kernels "$k" --threads 2 | awk '$1 == "bpb:" {print $2}')
    [ -n "$bpb" ] || fail "eval --kernels $k printed no bpb"
    [ -z "$ref_bpb" ] && ref_bpb=$bpb
    [ "$bpb" = "$ref_bpb" ] || fail "eval bpb with --kernels $k is $bpb, expected $ref_bpb"
done
echo "eval: bpb $ref_bpb on every path"

# ISA objects: no weak definitions (an out-of-line inline function compiled with AVX-512 flags could
# be the copy the linker keeps for everyone).
for o in "$BUILD"/obj/platform/x86/kernels_*.o; do
    [ -f "$o" ] || continue
    weak=$(nm -C --defined-only "$o" | awk '$2 == "W" || $2 == "V" || $2 == "u"' || true)
    [ -z "$weak" ] || fail "$(basename "$o") defines weak symbols: $weak"
done
echo "kernel_paths: ok"
