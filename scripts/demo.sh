#!/usr/bin/env bash
# demo.sh — the main job (`make demo`): train the demo preset on real text on this machine's CPU
# (about 5 minutes on 2 cores), pack it into a .blm artifact, print its size, evaluate it on the
# held-out 10%, generate text from it, and run the same artifact on an emulated Cortex-M4 board,
# which prints the same text and logits checksum as the host.
#   make demo                                  tinyshakespeare, demo preset
#   DATA=my.txt make demo                      any text file (or llm.c token shard)
#   TIME_LIMIT=60 make demo                    a shorter run;  PRESET=tiny for seconds
#   RESUME=1 make demo                         continue build/demo/run instead of starting over
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PRESET=${PRESET:-demo}
DATA=${DATA:-../shared/data/tinyshakespeare.txt}
PROMPT=${PROMPT:-ROMEO:}
OUT="$BUILD/demo/run"
MODEL="$BUILD/demo/$PRESET.blm"
[ -f "$DATA" ] || { echo "demo: no data file '$DATA' (set DATA=FILE)"; exit 1; }
make -j2 tools >/dev/null
mkdir -p "$BUILD/demo"
[ "${RESUME:-0}" = 1 ] || rm -rf "$OUT"

echo "=== train ($PRESET preset on $DATA) ==="
train_flags=(--data "$DATA" --out "$OUT" --preset "$PRESET")
[ -n "${TIME_LIMIT:-}" ] && train_flags+=(--time-limit "$TIME_LIMIT")
"$BUILD/bitlm_train" "${train_flags[@]}" | tee "$BUILD/demo/train.out"
val_start=$(sed -n 's/^val_split: bytes \([0-9]*\)\..*/\1/p' "$BUILD/demo/train.out")

echo "=== pack ==="
"$BUILD/bitlm_pack" "$OUT" -o "$MODEL" | grep -E '^(checkpoint|shape|storage|artifact_bytes|bits_per_weight|wrote):'

echo "=== evaluate the packed artifact on the held-out text ==="
"$BUILD/bitlm_run" eval "$MODEL" "$DATA" ${val_start:+--skip-bytes "$val_start"} 2>/dev/null | grep -E '^(tokens|bpb):'
echo "(the trainer's own val_bpb: $(sed -n 's/^val_bpb: //p' "$BUILD/demo/train.out"))"

echo "=== generate (temperature 0.8, top-k 40) ==="
"$BUILD/bitlm_run" generate "$MODEL" --prompt "$PROMPT" -n 300 --temperature 0.8 --top-k 40 --seed 7
echo

echo "=== the same artifact on an emulated Cortex-M4 (QEMU mps2-an386), greedy ==="
if command -v qemu-system-arm >/dev/null && command -v arm-none-eabi-gcc >/dev/null; then
    make -s -C firmware-examples/story BOARD=mps2-an386 MODEL="$(realpath "$MODEL")" PROMPT="$PROMPT" TOKENS=64 run \
        2>&1 | tail -n +1
    echo "--- host, same prompt (the checksum lines must match) ---"
    "$BUILD/bitlm_run" generate "$MODEL" --prompt "$PROMPT" -n 64 --temperature 0 | tail -1
else
    echo "skipped: qemu-system-arm / arm-none-eabi-gcc not installed (bash scripts/install-deps.sh)"
fi
