# common.sh — sourced by every tests/cli script: repository root as cwd, the built tools in $PACK,
# $RUN and $TRAIN (fails if missing), a temporary directory $tmp removed on exit, fail(), expect_error().
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
BUILD=${BUILD:-build}
PACK=$BUILD/bitlm_pack RUN=$BUILD/bitlm_run TRAIN=$BUILD/bitlm_train
for b in "$PACK" "$RUN" "$TRAIN"; do [ -x "$b" ] || { echo "missing $b (run make)"; exit 1; }; done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# expect_error WORD command... : non-zero exit below 128 (>= 128 means a signal: crash, abort,
# sanitizer), exactly one stderr line "bitlm_<tool>: ..." containing WORD. Counts in $checks.
checks=0
expect_error() {
    local word=$1; shift
    set +e
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    set -e
    [ $rc -ne 0 ] || fail "exit 0 from: $*"
    [ $rc -lt 128 ] || fail "crash (exit $rc) from: $*: $(cat "$tmp/err")"
    [ "$(wc -l <"$tmp/err")" = 1 ] || fail "not one line on stderr from: $*: $(cat "$tmp/err")"
    grep -qi -- "$word" "$tmp/err" || fail "message lacks '$word' from: $*: $(cat "$tmp/err")"
    grep -q "^bitlm_\(run\|pack\|train\): " "$tmp/err" || fail "message lacks the tool name: $(cat "$tmp/err")"
    checks=$((checks + 1))
}
