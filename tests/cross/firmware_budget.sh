#!/usr/bin/env bash
# firmware_budget.sh — memory budgets are enforced at link time and reported by every build:
#   - the build prints arm-none-eabi-size figures, flash/RAM split (arena + stack + globals) and the
#     static stack estimate (-fcallgraph-info=su);
#   - a model too big for the micro:bit's 256 KB flash fails to link, and the user sees by how many
#     bytes ("region `FLASH' overflowed by N bytes" plus the example's own summary line);
#   - an arena too big for its RAM fails the same way ("region `RAM' overflowed by N bytes");
#   - a stack reservation below the static estimate fails the build;
#   - the real part (STM32H743: 2 MB flash, arena in the 512 KB AXI SRAM, stack in DTCM) links, for
#     the story and the minimal example (build only: nothing here can flash it).
# Skips without the cross tools (fails in CI).
set -uo pipefail
source "$(dirname "$0")/../../firmware-examples/scripts/test_helpers.sh"
fw_require_tools
fw_models

fails=0
fail() { echo "FAIL $1"; [ -f "${2:-}" ] && sed 's/^/    /' "$2" | tail -12; fails=$((fails + 1)); }

# ---- a normal build reports sizes and stack ----
out="$WORK/budget-report"
rm -rf "$out"  # a fresh link: an up-to-date build prints no report
if fw_make story mps2-an386 "$WORK/mcu.blm" "$out"; then
    for want in 'text.*data.*bss' '^flash: [0-9]* bytes = code' '^ram: *[0-9]* bytes = arena [0-9]* + stack' \
                '^stack (static.*worst case [0-9]* bytes' 'largest frames:'; do
        grep -aq -- "$want" "$out.log" || fail "report: no line matching '$want'" "$out.log"
    done
    echo "ok   report: $(grep -a '^ram:' "$out.log")"
else
    fail "report: the build failed" "$out.log"
fi

# ---- flash over budget: 20 layers of d=64 with a 512-wide FFN, about 2.1M ternary weights (~440 KB) ----
"$BITLM_PACK" --random --preset tiny --dim 64 --layers 20 --heads 8 --kv-heads 1 --head-dim 8 --ffn 512 \
    --seed 3 -o "$WORK/big.blm" >/dev/null
out="$WORK/budget-flash"
if fw_make story microbit "$WORK/big.blm" "$out" CTX=2; then
    fail "flash: a $(stat -c %s "$WORK/big.blm")-byte model linked for the 256 KB micro:bit" "$out.log"
elif ! grep -aq "region \`FLASH' overflowed by [0-9]* bytes" "$out.log" ||
     ! grep -aq "error: story does not fit microbit: region \`FLASH' overflowed by [0-9]* bytes" "$out.log"; then
    fail "flash: the link failed without saying by how much FLASH overflowed" "$out.log"
else
    echo "ok   flash: $(grep -a -m1 'error: story does not fit' "$out.log")"
fi

# ---- RAM over budget: the mcu-260k arena (~70 KB at context 47) on the 16 KB micro:bit ----
out="$WORK/budget-ram"
if fw_make story microbit "$WORK/mcu.blm" "$out"; then
    fail "ram: a 70 KB arena linked for the 16 KB micro:bit" "$out.log"
elif ! grep -aq "error: story does not fit microbit: region \`RAM' overflowed by [0-9]* bytes" "$out.log"; then
    fail "ram: the link failed without saying by how much RAM overflowed" "$out.log"
else
    echo "ok   ram: $(grep -a -m1 'error: story does not fit' "$out.log")"
fi

# ---- stack reservation below the static estimate ----
out="$WORK/budget-stack"
if fw_make story mps2-an386 "$WORK/mcu.blm" "$out" STACK_SIZE=256; then
    fail "stack: STACK_SIZE=256 built" "$out.log"
elif ! grep -aq 'exceeds the reserved stack (256 bytes)' "$out.log"; then
    fail "stack: the build failed for another reason" "$out.log"
else
    echo "ok   stack: $(grep -a -m1 'exceeds the reserved stack' "$out.log")"
fi

# ---- the real part ----
for ex in story minimal; do
    out="$WORK/budget-stm32h743-$ex"
    rm -rf "$out"  # a fresh link, so the memory report is printed
    if fw_make "$ex" stm32h743 "$WORK/mcu.blm" "$out" && grep -aq 'AXISRAM:' "$out.log"; then
        echo "ok   stm32h743 $ex: $(grep -a '^ *FLASH:' "$out.log" | tr -s ' '), $(grep -a 'AXISRAM:' "$out.log" | tr -s ' ')"
    else
        fail "stm32h743 $ex: the real-part build failed" "$out.log"
    fi
done

[ $fails = 0 ] || { echo "firmware_budget: $fails failed"; exit 1; }
echo "firmware_budget: budgets enforced at link time"
