#!/usr/bin/env bash
# firmware_faults.sh — failures end a firmware run by themselves with a non-zero status and a reason:
#   - a HardFault (FAULT_TEST=1: an undefined instruction) on the M4F and on the ARMv6-M micro:bit
#     exits 3 with the fault registers printed;
#   - a library error code (a corrupted artifact: one payload byte flipped, so bitlm_open's CRC check
#     fails) exits 1 with the library's message;
#   - a static arena smaller than the library asks for (ARENA_BYTES forced) exits 2, caught by the
#     start-time bitlm_arena_bytes check before bitlm_open.
# Skips without the cross tools (fails in CI).
set -uo pipefail
source "$(dirname "$0")/../../firmware-examples/scripts/test_helpers.sh"
fw_require_tools
fw_models

fails=0
expect() {  # name expected_status expected_text board model [make args...]
    local name=$1 want=$2 text=$3 board=$4 model=$5; shift 5
    local out="$WORK/faults-$name"
    fw_make story "$board" "$model" "$out" run QEMU_TIMEOUT=60 "$@"
    local got
    got=$(grep -a -o 'firmware exited with status [0-9]*' "$out.log" | awk '{print $NF}')
    if [ "${got:-0}" != "$want" ]; then
        echo "FAIL $name: expected exit status $want, got ${got:-0}"; sed 's/^/    /' "$out.log" | tail -12
        fails=$((fails + 1)); return
    fi
    if ! grep -aq -- "$text" "$out.log"; then
        echo "FAIL $name: status $want but no '$text' in the output"; sed 's/^/    /' "$out.log" | tail -12
        fails=$((fails + 1)); return
    fi
    echo "ok   $name: exit $want, $(grep -a -m1 -- "$text" "$out.log" | sed 's/^ *//' | cut -c1-110)"
}

expect hardfault-m4 3 "firmware fault" mps2-an386 "$WORK/mcu.blm" FAULT_TEST=1
expect hardfault-m0 3 "firmware fault" microbit "$WORK/micro.blm" FAULT_TEST=1

# One byte of the last tensor payload flipped: the header still parses, the CRC-32 does not match.
# The build's own arena query would reject the file too, so the arena size is given explicitly.
arena=$("$BITLM_RUN" info "$WORK/mcu.blm" --ctx 47 | awk '$1 == "arena_bytes:" {print $2}')
cp "$WORK/mcu.blm" "$WORK/corrupt.blm"
size=$(stat -c %s "$WORK/corrupt.blm")
byte=$(od -An -tu1 -j $((size - 100)) -N1 "$WORK/corrupt.blm" | tr -d ' ')
printf "\\$(printf '%03o' $(( byte ^ 0x5a )))" | dd of="$WORK/corrupt.blm" bs=1 seek=$((size - 100)) conv=notrunc status=none
if "$BITLM_RUN" info "$WORK/corrupt.blm" >/dev/null 2>&1; then
    echo "FAIL corrupt-artifact: the host still accepts the corrupted file (test setup)"; fails=$((fails + 1))
else
    expect corrupt-artifact 1 "error: reading the model in flash" mps2-an386 "$WORK/corrupt.blm" ARENA_BYTES="$arena"
fi

expect arena-too-small 2 "error: the static arena is 4096 bytes" mps2-an386 "$WORK/mcu.blm" ARENA_BYTES=4096

[ $fails = 0 ] || { echo "firmware_faults: $fails failed"; exit 1; }
echo "firmware_faults: every failure exits non-zero with its reason"
