#!/usr/bin/env bash
# neon_kernels.sh — the ARM NEON kernel tables (platform/arm_neon) against the reference, under qemu-user.
#
# Builds the unit tests for TARGET=aarch64 and TARGET=armv7 (static binaries) and runs
#   test_kernels  every kernel table the emulated CPU can run, bit for bit against the reference, at
#                 awkward sizes and edge cases (tests/unit/kernel_checks.h);
#   test_model    the whole forward pass with the default table, against a double-precision reference;
# on these CPUs:
#   qemu-aarch64 -cpu cortex-a53   ARMv8.0 without dot product: the "neon" table only — run-time detection
#                                  must not pick "neon-dot" (QEMU would trap its SDOT as illegal anyway);
#   qemu-aarch64 -cpu max          has the dot product: "neon" and "neon-dot", "neon-dot" the default;
#   qemu-arm -cpu cortex-a15       ARMv7-A with NEON (VFPv4): "neon-armv7";
#   qemu-arm -cpu cortex-a7        the other common ARMv7 NEON core: test_kernels only.
# Prints the tables each run tested. Without a cross compiler or QEMU: a "skipped:" line and exit 0
# (with CI=true: a failure naming scripts/install-deps.sh).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
JOBS=${JOBS:-2}
mkdir -p "$BUILD"
case "${CI:-}" in true|1|yes) in_ci=1 ;; *) in_ci=0 ;; esac

failures=0 missing=()
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# run_tests LABEL EXPECT_TABLES EXPECT_DEFAULT QEMU... -- TEST...: runs each test binary, checks the
# "kernels tested:" line of test_kernels names exactly EXPECT_TABLES and EXPECT_DEFAULT.
run_tests() {
    local label=$1 want=$2 want_default=$3; shift 3
    local qemu=()
    while [ "$1" != "--" ]; do qemu+=("$1"); shift; done
    shift
    local t log line
    for t in "$@"; do
        log=$(mktemp)
        if ! timeout 600 "${qemu[@]}" "$t" >"$log" 2>&1; then
            fail "$label: $(basename "$t") failed"
            sed 's/^/    /' "$log" | tail -25
            rm -f "$log"
            continue
        fi
        if [ "$(basename "$t")" = test_kernels ]; then
            line=$(grep -m1 '^kernels tested:' "$log")
            echo "$label: $line"
            [ "$line" = "kernels tested: $want (default: $want_default)" ] ||
                fail "$label: expected 'kernels tested: $want (default: $want_default)'"
        fi
        echo "$label: $(basename "$t"): $(tail -1 "$log")"
        rm -f "$log"
    done
}

have() { command -v "$1" >/dev/null 2>&1; }

# ---- AArch64 --------------------------------------------------------------------------------------------
if ! have aarch64-linux-gnu-g++; then
    missing+=("aarch64-linux-gnu-g++")
elif ! have qemu-aarch64; then
    missing+=("qemu-aarch64")
else
    out="$BUILD/aarch64/tests"
    if ! make -j"$JOBS" --no-print-directory BUILD="$BUILD" TARGET=aarch64 "$out/test_kernels" "$out/test_model" \
            >"$BUILD/neon_aarch64_build.log" 2>&1; then
        fail "make TARGET=aarch64 tests (log: $BUILD/neon_aarch64_build.log)"
        grep -E 'error' "$BUILD/neon_aarch64_build.log" | head -10
    else
        run_tests "aarch64 cortex-a53" "generic, neon" neon qemu-aarch64 -cpu cortex-a53 -- "$out/test_kernels" "$out/test_model"
        run_tests "aarch64 max" "generic, neon, neon-dot" neon-dot qemu-aarch64 -cpu max -- "$out/test_kernels" "$out/test_model"
    fi
fi

# ---- ARMv7 ------------------------------------------------------------------------------------------------
if ! have arm-linux-gnueabihf-g++; then
    missing+=("arm-linux-gnueabihf-g++")
elif ! have qemu-arm; then
    missing+=("qemu-arm")
else
    out="$BUILD/armv7/tests"
    if ! make -j"$JOBS" --no-print-directory BUILD="$BUILD" TARGET=armv7 "$out/test_kernels" "$out/test_model" \
            >"$BUILD/neon_armv7_build.log" 2>&1; then
        fail "make TARGET=armv7 tests (log: $BUILD/neon_armv7_build.log)"
        grep -E 'error' "$BUILD/neon_armv7_build.log" | head -10
    else
        run_tests "armv7 cortex-a15" "generic, neon-armv7" neon-armv7 qemu-arm -cpu cortex-a15 -- "$out/test_kernels" "$out/test_model"
        run_tests "armv7 cortex-a7" "generic, neon-armv7" neon-armv7 qemu-arm -cpu cortex-a7 -- "$out/test_kernels"
    fi
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ $in_ci = 1 ]; then
        fail "not installed: ${missing[*]} (run scripts/install-deps.sh as root)"
    fi
fi
if [ $failures -gt 0 ]; then
    echo "neon_kernels: $failures failure(s)"
    exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "skipped: ${missing[*]} not installed (run scripts/install-deps.sh)"
    exit 0
fi
echo "neon_kernels: all NEON tables equal the reference (aarch64 baseline + dot, armv7)"
