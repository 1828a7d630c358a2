#!/usr/bin/env bash
# firmware_story.sh — the story generator (firmware-examples/story) on every emulated board: it must
# build, exit by itself with status 0 under qemu-system-arm, and print exactly what the host prints,
#   bitlm_run generate MODEL --prompt "Once upon a time" -n 32 --temperature 0
# (prompt, generated text, "logits-checksum:" line), byte for byte. Boards: mps2-an386 (M4F),
# mps2-an500 (M7), mps2-an505 (M33), mps3-an547 (M55) with the mcu-260k model, microbit (nRF51,
# ARMv6-M soft float, 16 KB RAM) with a smaller one; plus mps2-an386 printing over its UART instead
# of semihosting. Skips without the cross tools (fails in CI).
set -uo pipefail
source "$(dirname "$0")/../../firmware-examples/scripts/test_helpers.sh"
fw_require_tools
fw_models

PROMPT="Once upon a time"
for m in mcu micro; do
    "$BITLM_RUN" generate "$WORK/$m.blm" --prompt "$PROMPT" -n 32 --temperature 0 >"$WORK/host-$m.txt" 2>/dev/null ||
        { echo "FAIL: host bitlm_run generate $m.blm"; exit 1; }
done

fails=0
check() {  # name board model [make args...]
    local name=$1 board=$2 model=$3; shift 3
    local out="$WORK/story-$name"
    fw_make story "$board" "$WORK/$model.blm" "$out" run "$@"
    local rc=$?
    if [ $rc != 0 ]; then
        echo "FAIL $name: make run exited $rc"; sed 's/^/    /' "$out.log" | tail -15; fails=$((fails + 1)); return
    fi
    if ! fw_output "$out.log" >"$out.text" || ! cmp -s "$out.text" "$WORK/host-$model.txt"; then
        echo "FAIL $name: firmware output differs from the host's"
        echo "  host:     $(tr -c '[:print:]\n' '?' <"$WORK/host-$model.txt" | tr '\n' '|')"
        echo "  firmware: $(tr -c '[:print:]\n' '?' <"$out.text" | tr '\n' '|')"
        fails=$((fails + 1)); return
    fi
    echo "ok   $name: $(grep -a '^logits-checksum:' "$out.text"), $(grep -a '^insns_per_token:' "$out.log")," \
         "$(grep -a '^stack_peak_bytes:' "$out.log"), $(grep -a '^flash:' "$out.log" | cut -d= -f1)"
}

check mps2-an386 mps2-an386 mcu
check mps2-an386-uart mps2-an386 mcu CONSOLE=uart
check mps2-an500 mps2-an500 mcu
check mps2-an505 mps2-an505 mcu
check mps3-an547 mps3-an547 mcu
check microbit microbit micro

[ $fails = 0 ] || { echo "firmware_story: $fails failed"; exit 1; }
echo "firmware_story: all boards match the host"
