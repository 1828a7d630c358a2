#!/usr/bin/env bash
# train_step_ms.sh LOG WARM — the median step time in ms of a bitlm_train log (DIR/log.jsonl), from the
# elapsed_s of consecutive steps, skipping the first WARM steps. Shared by bench_train.sh (CPU) and
# bench_train_cuda.sh (GPU).
set -euo pipefail
grep -o '"step":[0-9]*,"loss":[^}]*"elapsed_s":[0-9.e+-]*' "$1" |
    sed 's/"step":\([0-9]*\),.*"elapsed_s":\(.*\)/\1 \2/' |
    awk -v w="$2" 'NR > 1 && $1 > w { print ($2 - prev) * 1000 } { prev = $2 }' | sort -n |
    awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
