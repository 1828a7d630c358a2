#!/usr/bin/env bash
# stack_report.sh — static stack usage of a linked firmware, from GCC's -fcallgraph-info=su files (the
# call graph with each function's frame size, the same numbers as -fstack-usage):
#   - the worst-case sum along the deepest call path from Reset_Handler (main and everything below),
#     plus the exception handlers that can interrupt it (SysTick, then a fault) with their hardware
#     exception frames;
#   - the largest single frames.
# Indirect calls (the kernel table, callbacks) cannot be followed statically: each one is charged the
# deepest function that is linked but never called directly (that is, only reached through a pointer),
# an over-estimate on purpose. Recursion and unbounded dynamic frames are reported, not summed.
# libgcc helpers (__aeabi_*) have no call-graph file and are not counted (small leaf frames).
#   stack_report.sh FIRMWARE.elf NM_TOOL RESERVED_BYTES FP(0|1) CI_FILE...
# Exit status 1 (after the report) if the estimate exceeds RESERVED_BYTES.
set -euo pipefail
elf=$1 nm_tool=$2 reserved=$3 fp=$4
shift 4
linked=$(mktemp)
trap 'rm -f "$linked"' EXIT
"$nm_tool" "$elf" | awk 'NF == 3 && $2 ~ /^[tTwW]$/ {print $3}' | sort -u >"$linked"

awk -v reserved="$reserved" -v fp="$fp" -v linked_file="$linked" '
function sym(title) { sub(/^.*:/, "", title); return title }   # "file.cpp:_ZN..." (static) -> symbol
function pretty(t,   p, n, w) {
    p = label[t]; sub(/\\n.*/, "", p); sub(/\(.*/, "", p); n = split(p, w, " "); p = w[n]
    sub(/.*::/, "", p); return p == "" ? sym(t) : p
}
# deepest stack below and including t; path[t] = the call chain that attains it
function depth(t,   best, b, i, c, k, bpath) {
    if (t in memo) return memo[t]
    if (t in busy) { recursion = recursion " " pretty(t); return 0 }
    busy[t] = 1
    best = 0; bpath = ""
    for (i = 1; i <= ncallee[t]; i++) {
        c = callee[t, i]
        if (c == "__indirect_call") {
            for (k = 1; k <= nindirect; k++) {
                if (indirect[k] in busy) continue   # a pointer target already on this path
                b = depth(indirect[k])
                if (b > best) { best = b; bpath = "(indirect) " path[indirect[k]] }
            }
        } else if (c in frame) {
            b = depth(c)
            if (b > best) { best = b; bpath = path[c] }
        }
    }
    delete busy[t]
    memo[t] = frame[t] + best
    path[t] = pretty(t) " " frame[t] (bpath == "" ? "" : " > " bpath)
    return memo[t]
}
BEGIN { while ((getline s < linked_file) > 0) linked[s] = 1 }
/^node:/ {
    if (!match($0, /title: "[^"]*"/)) next
    t = substr($0, RSTART + 8, RLENGTH - 9)
    if (match($0, /\\n[0-9]+ bytes \([a-z,]+\)/)) {
        f = substr($0, RSTART + 2, RLENGTH - 2); split(f, parts, " ")
        if (!(sym(t) in linked)) next                  # dropped by --gc-sections
        frame[t] = parts[1] + 0
        if (f ~ /dynamic\)/) unbounded = unbounded " " t
        match($0, /label: "[^"]*"/); label[t] = substr($0, RSTART + 8, RLENGTH - 9)
    }
    next
}
/^edge:/ {
    match($0, /sourcename: "[^"]*"/); s = substr($0, RSTART + 13, RLENGTH - 14)
    match($0, /targetname: "[^"]*"/); d = substr($0, RSTART + 13, RLENGTH - 14)
    callee[s, ++ncallee[s]] = d
    if (d != "__indirect_call") called[d] = 1
}
END {
    roots["Reset_Handler"]; roots["main"]; roots["SysTick_Handler"]; roots["fault_report"]
    roots["Default_Handler"]; roots["fault_entry"]
    for (t in frame) if (!(t in called) && !(sym(t) in roots)) indirect[++nindirect] = t
    main_d = depth("Reset_Handler")
    # exception entry pushes 8 words, or 26 with the lazy FP context (S0-S15, FPSCR, padding)
    xf = fp ? 104 : 32
    tick = ("SysTick_Handler" in frame) ? depth("SysTick_Handler") + xf : 0
    fault = ("fault_report" in frame) ? depth("fault_report") + xf : 0
    other = ("Default_Handler" in frame) ? depth("Default_Handler") + xf : 0
    if (other > fault) fault = other
    total = main_d + tick + fault
    printf "stack (static, from -fcallgraph-info=su): worst case %d bytes of %d reserved\n", total, reserved
    printf "  deepest path %d: %s\n", main_d, path["Reset_Handler"]
    printf "  + SysTick interrupt %d + fault handler %d (each with its %d-byte exception frame)\n", tick, fault, xf
    if (recursion != "") printf "  warning: recursion (not summed):%s\n", recursion
    if (unbounded != "") printf "  warning: dynamic stack frames (not bounded):%s\n", unbounded
    # largest frames, by a simple selection (a handful of lines)
    printf "  largest frames:"
    for (k = 0; k < 6; k++) {
        bt = ""; bf = -1
        for (t in frame) if (!(t in shown) && frame[t] > bf) { bf = frame[t]; bt = t }
        if (bt == "") break
        shown[bt] = 1; printf "%s %s %d", (k ? "," : ""), pretty(bt), bf
    }
    printf "\n"
    if (total > reserved) {
        printf "stack: the static estimate (%d bytes) exceeds the reserved stack (%d bytes): raise STACK_SIZE\n", total, reserved
        exit 1
    }
}' "$@"
