#!/usr/bin/env bash
# firmware_minimal.sh — the minimal "link libbitlm.a into your firmware" example builds and runs
# under QEMU on the M4F (mps2-an386) and the ARMv6-M micro:bit, exits 0, and its whole output equals
#   bitlm_run generate MODEL --prompt "Once upon a time" -n 32 --temperature 0
# Skips without the cross tools (fails in CI).
set -uo pipefail
source "$(dirname "$0")/../../firmware-examples/scripts/test_helpers.sh"
fw_require_tools
fw_models

fails=0
check() {  # board model [make args...]
    local board=$1 model=$2; shift 2
    local out="$WORK/minimal-$board"
    "$BITLM_RUN" generate "$WORK/$model.blm" --prompt "Once upon a time" -n 32 --temperature 0 \
        >"$out.host" 2>/dev/null || { echo "FAIL $board: host generate"; fails=$((fails + 1)); return; }
    # build first (its report goes to the log), then run: the run's stdout is the firmware's alone
    if ! fw_make minimal "$board" "$WORK/$model.blm" "$out" "$@"; then
        echo "FAIL $board: build"; sed 's/^/    /' "$out.log" | tail -12; fails=$((fails + 1)); return
    fi
    if ! fw_make minimal "$board" "$WORK/$model.blm" "$out" run QEMU_TIMEOUT=120 "$@"; then
        echo "FAIL $board: run"; sed 's/^/    /' "$out.log" | tail -12; fails=$((fails + 1)); return
    fi
    if ! cmp -s "$out.log" "$out.host"; then
        echo "FAIL $board: output differs from the host's"
        echo "  host:     $(tr -c '[:print:]\n' '?' <"$out.host" | tr '\n' '|')"
        echo "  firmware: $(tr -c '[:print:]\n' '?' <"$out.log" | tr '\n' '|')"
        fails=$((fails + 1)); return
    fi
    echo "ok   $board: $(grep -a '^logits-checksum:' "$out.log")"
}

check mps2-an386 mcu
check microbit micro CTX=47

[ $fails = 0 ] || { echo "firmware_minimal: $fails failed"; exit 1; }
echo "firmware_minimal: output equals the host's"
