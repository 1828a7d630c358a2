#!/usr/bin/env bash
# mcu_kernels.sh — every Cortex-M kernel table equals the portable reference bit for bit, on the
# emulated cores: the test firmware of tests/mcu (random matrices at awkward sizes, every scale
# layout, the activation quantizer, the fp16 scale conversion) built for each board's CPU and run
# under qemu-system-arm: mps2-an386 (M4F: reference + cm-dsp), mps2-an500 (M7), mps2-an505 (M33),
# mps3-an547 (M55: reference + cm-dsp + cm-mve), microbit (ARMv6-M: the reference alone).
# Skips without the cross tools (fails in CI). Outputs: build/mcu-tests/<board>/.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

missing=()
for c in arm-none-eabi-gcc arm-none-eabi-g++ qemu-system-arm timeout; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
    case "${CI:-}" in
        true|1|yes) echo "FAIL: ${missing[*]} not installed (run scripts/install-deps.sh as root)"; exit 1 ;;
        *) echo "skipped: ${missing[*]} not installed (run scripts/install-deps.sh)"; exit 0 ;;
    esac
fi

BOARDS=${BOARDS:-mps2-an386 mps2-an500 mps2-an505 mps3-an547 microbit}
mkdir -p build/mcu-tests
fails=0
for board in $BOARDS; do
    log="build/mcu-tests/$board.log"
    if ! make -s --no-print-directory -j2 -C tests/mcu BOARD="$board" >"$log" 2>&1; then
        echo "FAIL $board: build"; tail -15 "$log" | sed 's/^/    /'; fails=$((fails + 1)); continue
    fi
    make -s --no-print-directory -C tests/mcu BOARD="$board" TEST_TIMEOUT=60 run >"$log" 2>&1
    status=$?
    if [ $status != 0 ]; then
        echo "FAIL $board: the kernel test firmware failed (status $status; 1: mismatch, 3: fault, 124: timeout)"
        grep -a -v '^arm-none-eabi' "$log" | tail -20 | sed 's/^/    /'; fails=$((fails + 1)); continue
    fi
    tables=$(grep -a '^bitlm kernel test:' "$log" | sed 's/^bitlm kernel test: //')
    checks=$(grep -a '^table ' "$log" | awk '{print $2 $3}' | tr '\n' ' ')
    echo "ok   $board: $tables; checks per table: $checks"
done
[ $fails = 0 ] || { echo "mcu_kernels: $fails board(s) failed"; exit 1; }
echo "mcu_kernels: every table equals the reference on every board"
