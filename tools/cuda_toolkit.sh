#!/usr/bin/env bash
# tools/cuda_toolkit.sh NVCC — print "INCLUDE_DIR LIB_DIR" of the CUDA Toolkit that NVCC belongs to, or
# nothing (exit 1) when its headers or its cuBLAS/cudart libraries cannot be found.
#
# Why not derive the paths from NVCC's own path: nvcc is often reached through a link or a wrapper
# (/usr/local/bin/nvcc -> /usr/local/cuda-13.0/bin/nvcc, Debian's /usr/bin/nvcc), and "<dir>/../include"
# is then the wrong place. nvcc's dry run prints the include and library directories it would pass itself.
set -u
nvcc=${1:?usage: cuda_toolkit.sh NVCC}
dry=$("$nvcc" --dryrun -c -x cu /dev/null -o /dev/null 2>&1) || exit 1

# Directories named in the INCLUDES / LIBRARIES lines (-I"dir" or -L"dir", quoted or not).
dirs_of() {
    printf '%s\n' "$dry" | grep -E "^#\\$ $1=" | grep -oE -- "-$2\"?[^\" ]+" | sed -E "s/^-$2\"?//"
}

include_dir=
for d in $(dirs_of INCLUDES I) /usr/include; do
    if [ -f "$d/cuda_runtime.h" ]; then include_dir=$(cd "$d" && pwd -P); break; fi
done
lib_dir=
for d in $(dirs_of LIBRARIES L | grep -v '/stubs$') /usr/lib/x86_64-linux-gnu /usr/lib64; do
    if [ -e "$d/libcublas.so" ] && [ -e "$d/libcudart.so" ]; then lib_dir=$(cd "$d" && pwd -P); break; fi
done
[ -n "$include_dir" ] && [ -n "$lib_dir" ] || exit 1
echo "$include_dir $lib_dir"
