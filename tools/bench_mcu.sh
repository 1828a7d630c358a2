#!/usr/bin/env bash
# bench_mcu.sh — `make bench`, MCU part: instructions per generated token of the mcu-260k shape
# (BENCHMARKS.md; random weights) on the emulated Cortex-M boards, counted exactly by the QEMU TCG
# plugin of ../shared/tools/qemu-insncount (built into $BUILD/tools/), beside the firmware's own
# SysTick figure (-icount shift=0). The story firmware is built twice per board, generating TOKENS
# and 1 token from the default prompt at the same context, so
#   insns_per_token = (insns(TOKENS) - insns(1)) / (TOKENS - 1)
# is the exact average cost of one decode step (forward + sampling + checksum), start-up and prompt
# excluded. The goal for the M4 is <= 800k instructions per token.
# Knobs: BOARDS ("mps2-an386 mps2-an500 mps2-an505 mps3-an547"), TOKENS (32), INSNCOUNT_SRC.
# Prints a table, then `mcu_insns_per_token: N` (M4) for scripts. Skips (exit 0) without the tools.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
BOARDS=${BOARDS:-mps2-an386 mps2-an500 mps2-an505 mps3-an547}
TOKENS=${TOKENS:-32}
INSNCOUNT_SRC=${INSNCOUNT_SRC:-$TOP/../shared/tools/qemu-insncount}
WORK="$BUILD/bench/mcu"
mkdir -p "$WORK" "$BUILD/tools"

for c in arm-none-eabi-gcc qemu-system-arm; do
    command -v $c >/dev/null 2>&1 || { echo "bench_mcu: skipped ($c not installed: scripts/install-deps.sh)"; exit 0; }
done

# The plugin: exact counts. Without it the SysTick figures are still printed.
PLUGIN="$BUILD/tools/libinsncount.so"
if [ ! -f "$PLUGIN" ] && [ -f "$INSNCOUNT_SRC/insncount.c" ]; then
    gcc -O2 -shared -fPIC -o "$PLUGIN" "$INSNCOUNT_SRC/insncount.c"
fi
[ -f "$PLUGIN" ] || { echo "bench_mcu: note: no QEMU plugin ($INSNCOUNT_SRC/insncount.c not found): SysTick figures only"; PLUGIN=; }

MODEL="$WORK/mcu-260k.blm"
[ -f "$MODEL" ] || "$BUILD/bitlm_pack" --random --preset mcu-260k --seed 1 -o "$MODEL" >/dev/null
PROMPT_LEN=16                                   # "Once upon a time"
CTX=$((PROMPT_LEN + TOKENS - 1))

# build_run BOARD N OUT — the story firmware generating N tokens, run under QEMU (+ plugin).
build_run() {
    local board=$1 n=$2 out=$3 extra=()
    [ -n "$PLUGIN" ] && extra=(QEMU_EXTRA="-plugin $PLUGIN,sym=on,out=$out.insns")
    make -s --no-print-directory -C firmware-examples/story BOARD="$board" MODEL="$MODEL" TOKENS="$n" CTX="$CTX" \
        BITLM_RUN="$BUILD/bitlm_run" FW_OUT="$out" >"$out.build.log" 2>&1 || { cat "$out.build.log"; return 1; }
    make -s --no-print-directory -C firmware-examples/story BOARD="$board" MODEL="$MODEL" TOKENS="$n" CTX="$CTX" \
        BITLM_RUN="$BUILD/bitlm_run" FW_OUT="$out" "${extra[@]}" run >"$out.log" 2>&1 || { cat "$out.log"; return 1; }
}
get() { grep -a "^$1:" "$2" | awk '{print $2}'; }

echo "model: mcu-260k (random weights), $(stat -c %s "$MODEL") bytes; prompt $PROMPT_LEN tokens, $TOKENS generated, context $CTX"
printf '%-12s %-14s %16s %16s %18s %9s %9s  %s\n' board cpu insns_per_token systick_insns prefill_insns_tok flash ram top_symbols
m4=""
for board in $BOARDS; do
    a="$WORK/$board-n$TOKENS" b="$WORK/$board-n1"
    build_run "$board" "$TOKENS" "$a" && build_run "$board" 1 "$b" || { echo "$board: FAILED"; continue; }
    exact="-" top="-"
    if [ -n "$PLUGIN" ]; then
        ia=$(awk '$1 == "insns_total" {print $2}' "$a.insns"); ib=$(awk '$1 == "insns_total" {print $2}' "$b.insns")
        exact=$(( (ia - ib) / (TOKENS - 1) ))
        top=$(awk -v t="$ia" '$1 == "insns_sym" {n = $3; sub(/^_ZN5bitlm(12_GLOBAL__N_1)?[0-9]+/, "", n); sub(/E.*/, "", n);
                  printf "%s%s %.0f%%", (k++ ? ", " : ""), n, 100 * $2 / t} k == 3 {exit}' "$a.insns")
    fi
    cpu=$(awk '$1 == "BOARD_CPU" {print $3}' platform/cortex_m/boards/$board.mk)
    # the size report (printed by the link step, kept in report.txt: an up-to-date build prints nothing)
    flash=$(awk '$1 == "flash:" {print $2}' "$a/report.txt"); ram=$(awk '$1 == "ram:" {print $2}' "$a/report.txt")
    printf '%-12s %-14s %16s %16s %18s %9s %9s  %s\n' "$board" "$cpu" "$exact" "$(get insns_per_token "$a.log")" \
        "$(get prefill_insns_per_token "$a.log")" "$flash" "$ram" "$top"
    [ "$board" = mps2-an386 ] && m4=$exact
done
echo "(insns_per_token: exact QEMU plugin count per decode step; systick_insns: the firmware's own SysTick"
echo " figure under -icount shift=0; flash/ram: bytes of the firmware; goal for the M4: <= 800000)"
echo "(kernel tables: cm-dsp on the M4/M7/M33 (platform/cortex_m_dsp: SMLAD), cm-mve on the M55"
echo " (platform/cortex_m_mve: Helium); tests/cross/mcu_kernels.sh checks them against the reference)"
[ -n "$m4" ] && echo "mcu_insns_per_token: $m4"
exit 0
