#!/usr/bin/env bash
# cross_target_checksum.sh — the same artifact and prompt give the same greedy text and the same
# logits checksum on every target: the host (every x86 dispatch path it lists), AArch64 under QEMU
# (cortex-a53: the ARMv8.0 NEON table; max: the dot-product table; plus every table by name) and
# ARMv7 under QEMU (cortex-a15).
#
# Artifacts (random weights, bitlm_pack --random), chosen to reach every kernel kind:
#   tiny        ternary, row scales, int8 embedding tied to the head (the default recipe)
#   group-f16   ternary with group-64 scales on dim 96 / ffn 200 rows (tails of 20 and 40 weights, a
#               group boundary inside a 160-weight tail block), f16 embedding, separate int8 head
#   binary      1-bit weights, per-tensor scale, f16 embedding tied to the head (the f16 matmul)
# For each: `bitlm_run generate MODEL --prompt P -n 24 --temperature 0`, whose whole stdout (the text
# and the `logits-checksum:` line) must be identical everywhere.
# If bitlm_run has --kernels NAME ('--kernels list' names the tables), every table of every target is
# run by name as well. Without cross compilers or QEMU: a "skipped:" line (CI=true: a failure).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
JOBS=${JOBS:-2}
case "${CI:-}" in true|1|yes) in_ci=1 ;; *) in_ci=0 ;; esac
have() { command -v "$1" >/dev/null 2>&1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 missing=() compared=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# ---- builds: host tools, bitlm_run for each cross target that has a compiler and QEMU ----------------
if ! make -j"$JOBS" --no-print-directory BUILD="$BUILD" "$BUILD/bitlm_run" "$BUILD/bitlm_pack" >"$work/host.log" 2>&1; then
    echo "FAIL: host build"; tail -20 "$work/host.log"; exit 1
fi
targets=()  # "name|qemu command|binary"
if have aarch64-linux-gnu-g++ && have qemu-aarch64; then
    if make -j"$JOBS" --no-print-directory BUILD="$BUILD" TARGET=aarch64 "$BUILD/aarch64/bitlm_run" >"$work/a64.log" 2>&1; then
        targets+=("aarch64-cortex-a53|qemu-aarch64 -cpu cortex-a53|$BUILD/aarch64/bitlm_run")
        targets+=("aarch64-max|qemu-aarch64 -cpu max|$BUILD/aarch64/bitlm_run")
    else
        fail "make TARGET=aarch64 bitlm_run"; grep error "$work/a64.log" | head -10
    fi
else
    missing+=("aarch64-linux-gnu-g++/qemu-aarch64")
fi
if have arm-linux-gnueabihf-g++ && have qemu-arm; then
    if make -j"$JOBS" --no-print-directory BUILD="$BUILD" TARGET=armv7 "$BUILD/armv7/bitlm_run" >"$work/a32.log" 2>&1; then
        targets+=("armv7-cortex-a15|qemu-arm -cpu cortex-a15|$BUILD/armv7/bitlm_run")
    else
        fail "make TARGET=armv7 bitlm_run"; grep error "$work/a32.log" | head -10
    fi
else
    missing+=("arm-linux-gnueabihf-g++/qemu-arm")
fi

# ---- artifacts ----------------------------------------------------------------------------------------
pack() {  # name, options...
    local name=$1; shift
    if ! "$BUILD/bitlm_pack" --random --preset tiny "$@" -o "$work/$name.blm" >"$work/pack.log" 2>&1; then
        fail "bitlm_pack $* failed: $(tail -1 "$work/pack.log")"
        return 1
    fi
}
models=()
pack tiny && models+=(tiny)
pack group-f16 --seed 7 --dim 96 --ffn 200 --scale group --group-size 64 --embedding f16 --head separate \
    --head-dtype int8 && models+=(group-f16)
pack binary --seed 3 --weights binary --scale tensor --embedding f16 && models+=(binary)
prompt="Once upon a time"

# The kernel tables a bitlm_run build lists with --kernels list ("kernels: a, b, c"), or nothing.
tables_of() {  # qemu command (may be empty), binary
    local q=$1 bin=$2 line
    # shellcheck disable=SC2086  # $q is a command line
    line=$($q "$bin" generate "$work/tiny.blm" --prompt x -n 1 --kernels list 2>/dev/null | grep -m1 '^kernels: ') || return 0
    echo "${line#kernels: }" | tr -d ' ' | tr ',' ' '
}

# run LABEL QEMU BIN MODEL [KERNELS]: stdout of a greedy generation into $work/out.<label>.<model>
run() {
    local label=$1 q=$2 bin=$3 model=$4 kern=${5:-}
    local args=(generate "$work/$model.blm" --prompt "$prompt" -n 24 --temperature 0)
    [ -n "$kern" ] && args+=(--kernels "$kern")
    # shellcheck disable=SC2086
    if ! timeout 300 $q "$bin" "${args[@]}" >"$work/out.$label.$model" 2>"$work/err"; then
        fail "$label $model: bitlm_run failed: $(tail -1 "$work/err")"
        return 1
    fi
    if ! grep -qE '^logits-checksum: [0-9a-f]{16}$' "$work/out.$label.$model"; then
        fail "$label $model: no logits-checksum line"
        return 1
    fi
}

for model in "${models[@]}"; do
    run host "" "$BUILD/bitlm_run" "$model" || continue
    ref="$work/out.host.$model"
    runs=("host")
    for k in $(tables_of "" "$BUILD/bitlm_run"); do
        run "host-$k" "" "$BUILD/bitlm_run" "$model" "$k" && runs+=("host-$k")
    done
    for t in "${targets[@]}"; do
        IFS='|' read -r name q bin <<<"$t"
        run "$name" "$q" "$bin" "$model" && runs+=("$name")
        # Every table by name on the CPU that runs them all (cortex-a53 only runs a subset).
        if [ "$name" != aarch64-cortex-a53 ]; then
            for k in $(tables_of "$q" "$bin"); do
                run "$name-$k" "$q" "$bin" "$model" "$k" && runs+=("$name-$k")
            done
        fi
    done
    same=() differ=()
    for r in "${runs[@]}"; do
        compared=$((compared + 1))
        if cmp -s "$ref" "$work/out.$r.$model"; then same+=("$r"); else differ+=("$r"); fi
    done
    echo "$model: $(grep '^logits-checksum:' "$ref")  identical on: ${same[*]}"
    if [ ${#differ[@]} -gt 0 ]; then
        fail "$model: output differs from the host on: ${differ[*]}"
        for r in "${differ[@]}"; do
            echo "  --- host vs $r"; diff "$ref" "$work/out.$r.$model" | head -6 | sed 's/^/  /'
        done
    fi
done

if [ ${#missing[@]} -gt 0 ] && [ $in_ci = 1 ]; then
    fail "not installed: ${missing[*]} (run scripts/install-deps.sh as root)"
fi
if [ $failures -gt 0 ]; then
    echo "cross_target_checksum: $failures failure(s)"
    exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "skipped: ${missing[*]} not installed (host paths compared: $compared runs)"
    exit 0
fi
echo "cross_target_checksum: ${#models[@]} artifacts, $compared runs, identical text and logits checksum"
