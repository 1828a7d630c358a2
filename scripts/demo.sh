#!/usr/bin/env bash
# demo.sh — the main job until training lands: build, write a random-weight artifact of the demo
# shape, show what is in it, generate from it (with the logits checksum other targets compare
# against) and benchmark it. `make demo` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PRESET=${PRESET:-demo}
MODEL="$BUILD/demo/$PRESET-random.blm"
mkdir -p "$BUILD/demo"
make -j2 tools >/dev/null
"$BUILD/bitlm_pack" --random --preset "$PRESET" --seed 1 -o "$MODEL"
"$BUILD/bitlm_run" info "$MODEL" | grep -E '^(dim|n_layers|vocab_size|linear_params|bits_per_weight|artifact_bytes|arena_bytes)'
echo "--- generate (greedy; random weights, so the text is noise) ---"
"$BUILD/bitlm_run" generate "$MODEL" --prompt "Once upon a time" -n 32 --temperature 0
echo "--- bench ---"
"$BUILD/bitlm_run" bench "$MODEL" --prompt-len 64 --decode 32 --repeat 3
