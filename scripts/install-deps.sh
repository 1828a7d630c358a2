#!/usr/bin/env bash
# install-deps.sh — install (as root, with apt-get on Debian 12) exactly what `make test`,
# `make check-sanitize` and `make check-fuzz` need; packages already installed are skipped.
#   scripts/install-deps.sh           install what is missing (a warm machine takes a second)
#   scripts/install-deps.sh --check   only report what is missing (exit 1 if anything is)
set -euo pipefail

# ---- what the tests need --------------------------------------------------------------------
PACKAGES=(
    # host build: make, gcc/g++, binutils, libc headers
    build-essential make g++
    # Cortex-M: freestanding C++ (headers only), newlib headers, QEMU for the mps2/mps3 boards
    gcc-arm-none-eabi libstdc++-arm-none-eabi-dev libnewlib-dev qemu-system-arm
    # AArch64 NEON (static binaries under qemu-aarch64) and 32-bit ARMv7 NEON (qemu-arm)
    g++-aarch64-linux-gnu qemu-user g++-arm-linux-gnueabihf
    # libFuzzer for make check-fuzz: clang, plus libclang_rt.fuzzer-*.a, which Debian 12 ships in
    # libclang-rt-14-dev (only a Recommends of clang-14, so --no-install-recommends leaves it out)
    clang libclang-rt-14-dev
    # SIMDe: runs the AVX-512 kernels through portable emulation on CPUs without AVX-512
    # (tests/unit/test_kernels_avx512_emulated.cpp), so CI covers that path on any x86 machine
    libsimde-dev
)
# Commands that must exist afterwards (a package of the right name but the wrong content fails here).
COMMANDS=(make gcc g++ arm-none-eabi-gcc arm-none-eabi-g++ arm-none-eabi-nm qemu-system-arm
          aarch64-linux-gnu-g++ qemu-aarch64 qemu-arm arm-linux-gnueabihf-g++ clang clang++)

check_only=0
case "${1:-}" in
    --check) check_only=1 ;;
    -h|--help) sed -n '2,5s/^# \{0,1\}//p' "$0"; exit 0 ;;
    "") ;;
    *) echo "install-deps: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
else
    # Not a Debian system: we can only check the commands themselves.
    for c in "${COMMANDS[@]}"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "install-deps: not a Debian system (no dpkg) and missing: ${missing[*]}" >&2
        exit 1
    fi
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
else
    if [ $check_only = 1 ]; then
        echo "install-deps: missing packages: ${missing[*]}" >&2
        exit 1
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing packages (${missing[*]}); run as root: sudo $0" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    still=()
    for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
    if [ ${#still[@]} -gt 0 ]; then
        echo "install-deps: apt-get did not install: ${still[*]}" >&2
        exit 1
    fi
fi

# ---- sanity: the tools the tests call are really there ---------------------------------------
absent=()
for c in "${COMMANDS[@]}"; do command -v "$c" >/dev/null 2>&1 || absent+=("$c"); done
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1; then
    absent+=("libclang_rt.fuzzer (libclang-rt-14-dev)")
fi
if [ ${#absent[@]} -gt 0 ]; then
    echo "install-deps: packages are installed but these are missing: ${absent[*]}" >&2
    exit 1
fi
echo "install-deps: ok"
