#!/usr/bin/env bash
# freestanding_symbols.sh — libbitlm.a builds for every cross target and needs nothing from a C library.
# For each target: `make TARGET=<t> lib` succeeds, its compile lines carry the freestanding flags of
# EMULATION.md (and no fast-math); every symbol the library leaves undefined is on the allow-list
# below; there are no static constructors/destructors or thread-locals; every function bitlm.h
# declares is defined. For the Cortex-M targets, a C99 firmware stub (tests/cross/link_stub.c) that
# calls the public API links with -nostdlib -nostartfiles --gc-sections -lgcc, with every bitlm.h
# function forced in (--require-defined), and leaves no undefined reference, not even a weak one.
# Also: bitlm.h + link_stub.c compile natively as strict C99 (-pedantic -Werror).
#
# Allowed undefined symbols (an allow-list: anything else fails):
#   memcpy, memmove, memset — GCC may emit calls to them in any freestanding code (its documented
#                             contract); every firmware libc has them, and link_stub.c provides them.
#   libgcc builtins         — whatever the target's own libgcc.a defines (integer division, 64-bit
#                             shifts, soft-float __aeabi_f*/__aeabi_d*/__addsf3, __popcount*, __clz*,
#                             __gnu_thumb1_case_*, half-float conversions, ...) EXCEPT its unwinding,
#                             exception, TLS and constructor support (_Unwind_*, __gnu_Unwind_*,
#                             __gnu_unwind_*, __aeabi_unwind_cpp_pr*, __gcc_personality_v0, __emutls_*,
#                             __CTOR_LIST__, ...), since lib/ is built without exceptions, TLS or ctors.
#   _GLOBAL_OFFSET_TABLE_   — defined by the linker (position-independent code on the Linux targets).
# So malloc/free, operator new/delete, printf/puts, __cxa_*, abort/exit/atexit, all of libm (sqrtf,
# expf, ...), strlen/strcmp/memcmp and the like all fail; each offending symbol is listed (demangled)
# with the objects that reference it and the targets where it happens.
# Without the cross compilers: a "skipped:" line (with CI=true: a failure saying to run
# scripts/install-deps.sh). Outputs go to $BUILD/<target>/freestanding/.
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
JOBS=${JOBS:-2}
TARGETS=(cortex-m4 cortex-m0plus cortex-m7 cortex-m33 cortex-m55 aarch64 armv7)

case "${CI:-}" in true|1|yes) in_ci=1 ;; *) in_ci=0 ;; esac
problems=$(mktemp)   # lines "detail<TAB>target", grouped at the end
trap 'rm -f "$problems"' EXIT
skips=()
checked=0
problem() { printf '%s\t%s\n' "$2" "$1" >>"$problems"; }  # target, detail

# Symbols libgcc defines that lib/ must still never need.
DENY='^(_Unwind_|__Unwind_|___Unwind_|__gnu_Unwind_|__gnu_unwind_|__aeabi_unwind_cpp_pr|__gcc_personality|__gxx_personality|__cxa_|__emutls_|__register_frame|__deregister_frame|__frame_state_for|__restore_core_regs$|restore_core_regs$|__CTOR_LIST__$|__DTOR_LIST__$|__enable_execute_stack$|__exidx_)'
ALWAYS_ALLOWED='^(memcpy|memmove|memset|_GLOBAL_OFFSET_TABLE_)$'

# Compile flags EMULATION.md lists for freestanding Cortex-M C++, and the numerics contract.
FREESTANDING_FLAGS=(-ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit -ffp-contract=off)
CM_FLAGS=(-mthumb -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections)
M4_FLAGS=(-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard)
FORBIDDEN_FLAGS=(-ffast-math -Ofast -funsafe-math-optimizations -ffp-contract=fast)

# A variable of platform/targets.mk for one target.
target_var() {
    # shellcheck disable=SC2016  # $(...) here is make syntax
    printf 'include platform/targets.mk\n$(info $(%s))\nnone: ;@:\n' "$2" |
        make -s --no-print-directory -f - TARGET="$1" none
}

# A linker script with the memory map of an mps2-class part (flash at 0, RAM at 0x20000000) and
# generous sizes: this test checks symbols; the firmware examples check real budgets.
write_ld() {
    cat >"$1" <<'EOF'
ENTRY(Reset_Handler)
MEMORY {
    FLASH (rx)  : ORIGIN = 0x00000000, LENGTH = 16M
    RAM   (rwx) : ORIGIN = 0x20000000, LENGTH = 16M
}
SECTIONS {
    .text : { *(.text .text.*) *(.rodata .rodata.*) } > FLASH
    .ARM.exidx : { *(.ARM.exidx .ARM.exidx.* .gnu.linkonce.armexidx.*) } > FLASH
    .init_array : { KEEP(*(.preinit_array*)) KEEP(*(.init_array*)) KEEP(*(.ctors*)) } > FLASH
    .data : { *(.data .data.*) } > RAM AT > FLASH
    .bss (NOLOAD) : { *(.bss .bss.* COMMON) } > RAM
}
EOF
}

# ---- 1. the public header is C99 (native compiler; no cross compiler needed) --------------------------
if c99_log=$(gcc -std=c99 -Wall -Wextra -pedantic -Werror -fsyntax-only -Ilib tests/cross/link_stub.c 2>&1); then
    echo "c99: lib/bitlm.h and tests/cross/link_stub.c compile as strict C99"
else
    while IFS= read -r l; do problem c99 "not C99: $l"; done < <(grep -E 'error' <<<"$c99_log" | head -10)
fi

# Every function the public header declares (preprocessed, so comments do not count).
API=$(gcc -std=c99 -E -P -Ilib lib/bitlm.h | grep -oE '\bbitlm_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u)
[ -n "$API" ] || problem api "found no function declarations in lib/bitlm.h"

# ---- 2. every target ------------------------------------------------------------------------------------
for t in "${TARGETS[@]}"; do
    if ! CXX=$(target_var "$t" CXX 2>/dev/null) || [ -z "$CXX" ]; then
        problem "$t" "platform/targets.mk does not define TARGET=$t"; continue
    fi
    FLAGS=$(target_var "$t" TARGET_FLAGS)
    prefix=${CXX%g++}
    CC=${prefix}gcc NM=${prefix}nm OBJDUMP=${prefix}objdump SIZE=${prefix}size FILT=${prefix}c++filt
    if ! command -v "$CXX" >/dev/null 2>&1 || ! command -v "$CC" >/dev/null 2>&1; then
        if [ $in_ci = 1 ]; then
            problem "$t" "$CXX not installed: run scripts/install-deps.sh (as root)"
        else
            skips+=("$CXX")
        fi
        continue
    fi
    checked=$((checked + 1))
    before=$(wc -l <"$problems")
    lib="$BUILD/$t/libbitlm.a"
    work="$BUILD/$t/freestanding"
    mkdir -p "$work"

    # 2a. compile lines carry the freestanding flags and no fast-math
    required=("${FREESTANDING_FLAGS[@]}")
    case $t in
        cortex-m4) required+=("${CM_FLAGS[@]}" "${M4_FLAGS[@]}") ;;
        cortex-m*) required+=("${CM_FLAGS[@]}") ;;
    esac
    compiles=$(make -n -B --no-print-directory BUILD="$BUILD" TARGET="$t" lib 2>/dev/null | grep -E '(^| )-c ' || true)
    [ -n "$compiles" ] || problem "$t" "make -n TARGET=$t lib shows no compile commands"
    while IFS= read -r line; do
        [ -z "$line" ] && continue
        src=$(grep -oE '[^ ]+\.(cpp|cc|c)( |$)' <<<"$line" | head -1 | tr -d ' ')
        for f in "${required[@]}"; do
            [[ " $line " == *" $f "* ]] || problem "$t" "compile flags: $src is built without $f"
        done
        for f in "${FORBIDDEN_FLAGS[@]}"; do
            [[ " $line " == *" $f "* ]] && problem "$t" "compile flags: $src is built with $f"
        done
    done <<<"$compiles"

    # 2b. the library builds
    if ! make -j"$JOBS" --no-print-directory BUILD="$BUILD" TARGET="$t" lib >"$work/build.log" 2>&1; then
        errs=$(grep -E ': (fatal )?error: ' "$work/build.log" | sed -E 's/^[^ ]*\/(lib|platform)\//\1\//' | sort -u | head -15)
        [ -n "$errs" ] || errs=$(tail -5 "$work/build.log")
        while IFS= read -r l; do problem "$t" "build: $l"; done <<<"$errs"
        echo "$t: FAILED (make TARGET=$t lib; log: $work/build.log)"
        continue
    fi

    # 2c. undefined symbols against the allow-list
    # nm -A: "<archive>:<object>:<value> <type> <name>" (no value for undefined symbols)
    "$NM" -A -g "$lib" 2>/dev/null | awk '{print $(NF-1), $NF, $1}' >"$work/syms.txt"
    awk '$1 !~ /^[Uw]$/ {print $2}' "$work/syms.txt" | sort -u >"$work/defined.txt"
    awk '$1 ~ /^[Uw]$/ {print $2}' "$work/syms.txt" | sort -u | comm -23 - "$work/defined.txt" >"$work/undefined.txt"
    # shellcheck disable=SC2086  # FLAGS is a list of flags
    libgcc=$($CC $FLAGS -print-libgcc-file-name)
    "$NM" -g --defined-only "$libgcc" 2>/dev/null | awk 'NF == 3 {print $3}' | grep -vE "$DENY" | sort -u >"$work/libgcc_allowed.txt"
    libc=() helpers=() reported=()
    while IFS= read -r s; do
        [ -z "$s" ] && continue
        if [[ $s =~ $ALWAYS_ALLOWED ]]; then
            [ "$s" = _GLOBAL_OFFSET_TABLE_ ] || libc+=("$s")   # the GOT comes from the linker
            continue
        fi
        if grep -qxF -- "$s" "$work/libgcc_allowed.txt"; then helpers+=("$s"); continue; fi
        users=$(awk -v s="$s" '$1 ~ /^[Uw]$/ && $2 == s {n = split($3, p, ":"); print p[n - 1]}' "$work/syms.txt" | sort -u | tr '\n' ' ')
        name=$s; d=$(echo "$s" | "$FILT" 2>/dev/null) || d=$s
        [ "$d" != "$s" ] && name="$s = $d"
        reported+=("${d:-$s}")
        if [[ $s == bitlm_* || $s == _ZN5bitlm* || $s == _ZN*bitlm* ]]; then
            problem "$t" "defined nowhere in libbitlm.a: $name  (used by ${users% })"
        else
            problem "$t" "outside the freestanding allow-list: $name  (used by ${users% })"
        fi
    done <"$work/undefined.txt"

    # 2c'. exports stay in the bitlm_ / C++ namespaces (a global memcpy or crc32 would clash with firmware)
    "$NM" -A -g --defined-only "$lib" 2>/dev/null | awk '{n = split($1, p, ":"); print $NF, p[n - 1]}' |
        grep -vE '^(bitlm_|BITLM_|_Z)' | sort -u | while read -r s o; do
            problem "$t" "exports a global symbol outside the bitlm_/C++ namespaces: $s  (from $o)"
        done

    # 2d. no static constructors/destructors, no thread-locals
    "$OBJDUMP" -h "$lib" 2>/dev/null | awk '
        /file format/ {obj = $1; sub(/:$/, "", obj)}
        $1 ~ /^[0-9]+$/ && $2 ~ /^\.(init_array|preinit_array|fini_array|ctors|dtors|tdata|tbss)/ {print obj ": " $2}' |
        sort -u | while IFS= read -r l; do problem "$t" "static constructor/destructor or thread-local: $l"; done

    # 2e. the whole public API is defined
    for f in $(comm -23 <(echo "$API") "$work/defined.txt"); do
        reported+=("$f")
        problem "$t" "bitlm.h declares $f() but libbitlm.a does not define it"
    done

    summary="$t: lib ok; needs from libc: ${libc[*]:-none}; libgcc helpers: ${helpers[*]:-none}"

    # 2f. Cortex-M: link a firmware stub with no C library
    if [[ $t == cortex-m* ]]; then
        write_ld "$work/link.ld"
        require=()
        for f in $API; do require+=("-Wl,--require-defined=$f"); done
        # shellcheck disable=SC2086  # FLAGS is a list of flags
        if ! $CC $FLAGS -std=c99 -Os -ffreestanding -fno-tree-loop-distribute-patterns -Wall -Wextra \
                -pedantic -Werror -Ilib -c tests/cross/link_stub.c -o "$work/link_stub.o" 2>"$work/link.log"; then
            while IFS= read -r l; do problem "$t" "link_stub.c: $l"; done < <(grep error "$work/link.log" | head -5)
        elif ! $CC $FLAGS -nostdlib -nostartfiles -Wl,--gc-sections -T "$work/link.ld" "${require[@]}" \
                -Wl,-Map="$work/link_stub.map" "$work/link_stub.o" \
                -Wl,--start-group "$lib" -lgcc -Wl,--end-group -o "$work/link_stub.elf" 2>"$work/link.log"; then
            errs=$( { grep -oE "undefined reference to \`[^']+'" "$work/link.log"
                      grep -vE "undefined reference|: in function|ld returned" "$work/link.log" |
                          sed -E 's/^.*\/ld(\.bfd)?: //'; } | sort -u | head -25)
            # references already reported from nm above are not repeated
            while IFS= read -r l; do
                [ -z "$l" ] && continue
                for r in "${reported[@]}"; do
                    [ "$l" = "undefined reference to \`$r'" ] || [ "$l" = "required symbol \`$r' not defined" ] && continue 2
                done
                problem "$t" "firmware link (-nostdlib, memcpy/memmove/memset only): $l"
            done <<<"$errs"
        else
            for s in $("$NM" "$work/link_stub.elf" | awk 'NF == 2 && $1 ~ /^[Uuvw]$/ {print $2}'); do
                problem "$t" "linked firmware keeps an undefined (weak) reference: $s"
            done
            for s in $("$NM" "$work/link_stub.elf" | awk 'NF == 3 {print $3}' | grep -E "$DENY"); do
                problem "$t" "linked firmware pulled in unwinding/exception support: $s"
            done
            sz=$("$SIZE" "$work/link_stub.elf" | awk 'NR == 2 {print "text=" $1 " data=" $2 " bss=" $3}')
            summary+="; firmware link ok ($sz, bss incl. a 32 KiB arena)"
        fi
    fi
    if [ "$(wc -l <"$problems")" = "$before" ]; then echo "$summary"; else echo "$t: FAILED"; fi
done

# ---- 3. verdict: each problem once, with the targets it occurs on ----------------------------------------
if [ -s "$problems" ]; then
    echo "freestanding_symbols: problems (target list; 'all' = every checked target):"
    awk -F'\t' -v n="$checked" '
        {if (!($1 in seen)) {order[++k] = $1; seen[$1] = 1}
         if (index(" " where[$1] " ", " " $2 " ") == 0) {where[$1] = where[$1] (where[$1] == "" ? "" : " ") $2; cnt[$1]++}}
        END {for (i = 1; i <= k; i++) {d = order[i]; w = (cnt[d] == n && n > 1) ? "all" : where[d]; print "  [" w "] " d}}' "$problems"
    echo "freestanding_symbols: FAILED"
    exit 1
fi
if [ ${#skips[@]} -gt 0 ]; then
    echo "skipped: $(printf '%s\n' "${skips[@]}" | sort -u | tr '\n' ' ')not installed (run scripts/install-deps.sh)"
    exit 0
fi
echo "freestanding_symbols: all $checked targets ok"
