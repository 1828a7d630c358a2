# common.sh — sourced by every tests/cli script: repository root as cwd, the built tools in $PACK and
# $RUN (fails if missing), a temporary directory $tmp removed on exit, and fail().
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
BUILD=${BUILD:-build}
PACK=$BUILD/bitlm_pack RUN=$BUILD/bitlm_run
for b in "$PACK" "$RUN"; do [ -x "$b" ] || { echo "missing $b (run make)"; exit 1; }; done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
