#!/usr/bin/env bash
# run_all.sh — run every test and print one closing line "N passed, N failed[, N skipped]".
# Suites: build/tests/test_* (unit), tests/cli/*.sh (tools end to end), tests/cross/*.sh (targets).
# --host-only skips the cross-target suites (used by check-sanitize).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
host_only=0; [ "${1:-}" = "--host-only" ] && host_only=1
pass=0; fail=0; skip=0; failed=()
run() {  # name, command...
    local name=$1; shift
    local log; log=$(mktemp)
    local start=$SECONDS
    if "$@" >"$log" 2>&1; then
        if grep -q '^skipped:' "$log"; then
            skip=$((skip+1)); echo "SKIP $name ($(grep -m1 '^skipped:' "$log"))"
        else
            pass=$((pass+1)); echo "ok   $name ($((SECONDS-start))s)"
        fi
    else
        fail=$((fail+1)); failed+=("$name"); echo "FAIL $name"; sed 's/^/     /' "$log" | tail -40
    fi
    rm -f "$log"
}
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] && run "unit/$(basename "$t")" "$t"
done
for t in tests/cli/*.sh; do
    [ -f "$t" ] && run "cli/$(basename "$t" .sh)" env BUILD="$BUILD" bash "$t"
done
if [ $host_only = 0 ]; then
    for t in tests/cross/*.sh; do
        [ -f "$t" ] && run "cross/$(basename "$t" .sh)" env BUILD="$BUILD" bash "$t"
    done
fi
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
