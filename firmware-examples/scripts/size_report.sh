#!/usr/bin/env bash
# size_report.sh — the flash and RAM figures of a linked firmware: arm-none-eabi-size's own line, then
# flash and RAM split into what they hold. RAM is arena + stack + globals, all placed by the linker
# script: there is no heap, so these are the whole story.
#   size_report.sh FIRMWARE.elf [SIZE_TOOL [NM_TOOL]]
set -euo pipefail
elf=$1
size_tool=${2:-arm-none-eabi-size}
nm_tool=${3:-arm-none-eabi-nm}
"$size_tool" "$elf"
"$size_tool" -A -d "$elf" | awk '
    $1 ~ /^\./ { sz[$1] = $2 }
    END {
        code = sz[".vectors"] + sz[".text"] + sz[".ARM.exidx"] + sz[".init_array"]
        model = sz[".bitlm_model"]; data = sz[".data"]; bss = sz[".bss"]
        arena = sz[".bitlm_arena"]; stack = sz[".stack"]
        printf "flash: %d bytes = code+constants %d + model %d + .data image %d\n", code + model + data, code, model, data
        if (arena > 0)
            printf "ram:   %d bytes = arena %d + stack %d + globals %d (.data %d + .bss %d); no heap\n", arena + stack + data + bss, arena, stack, data + bss, data, bss
        else   # the arena is an ordinary global: see "largest RAM objects"
            printf "ram:   %d bytes = stack %d + globals %d (.data %d + .bss %d, arena included); no heap\n", stack + data + bss, stack, data + bss, data, bss
    }'
# The biggest objects in RAM by name (an arena kept in plain .bss shows up here).
"$nm_tool" -S --size-sort -t d "$elf" | awk '$3 ~ /^[bBdD]$/ {n[++k] = $4 " " ($2 + 0)}
    END {printf "largest RAM objects:"; for (i = k; i > 0 && i > k - 4; i--) printf "%s %s", (i < k ? "," : ""), n[i]; printf "\n"}'
