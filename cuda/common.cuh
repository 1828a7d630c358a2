// common.cuh — small device helpers every kernel file shares: launch sizes, warp reductions, and the
// bit-exact float pieces of the library's numerics contract (fp16 rounding, round-to-nearest-even).
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

namespace bitlm {
namespace cuda {

constexpr uint32_t kThreads = 256;  // threads per block for elementwise kernels

// Blocks for `count` elements at kThreads per block with each thread striding over the rest; capped so
// a huge count does not ask for more blocks than the grid allows.
inline unsigned blocks_for(uint64_t count, uint32_t threads = kThreads) {
    uint64_t b = (count + threads - 1) / threads;
    if (b > 65535ull * 16) b = 65535ull * 16;
    return b == 0 ? 1u : (unsigned)b;
}

// Row kernels: a block per row (grid-stride over rows), threads over the columns, so no per-element
// index division. Threads: a whole number of warps, at most kThreads; blocks: one per row, capped.
inline unsigned row_threads(uint32_t cols) {
    const uint32_t t = (cols + 31u) / 32u * 32u;
    return t == 0 ? 32u : t > kThreads ? kThreads : t;
}
inline unsigned row_blocks(uint64_t rows) { return rows == 0 ? 1u : rows > (1u << 20) ? (1u << 20) : (unsigned)rows; }

// Grid-stride loop over [0, count).
#define BITLM_CUDA_FOR(i, count)                                                                  \
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (uint64_t)(count); \
         i += (uint64_t)gridDim.x * blockDim.x)

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ uint32_t warp_max_u32(uint32_t v) {
    for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// fp16(x) as a float: round to nearest even, overflow to inf (core/fp16.h's f32_to_f16 then back).
__device__ __forceinline__ float round_to_f16(float x) { return __half2float(__float2half_rn(x)); }
// True if fp16(x) is finite (a usable scale).
__device__ __forceinline__ bool f16_finite(float x) { return isfinite(round_to_f16(x)); }

// clamp(rne(v), -limit, limit) with NaN -> 0 (quantize.cpp's round_clamp), as a float.
__device__ __forceinline__ float round_clamp(float v, float limit) {
    const float r = rintf(v);
    if (r > limit) return limit;
    if (r < -limit) return -limit;
    if (isnan(r)) return 0.0f;
    return r;
}

}  // namespace cuda
}  // namespace bitlm
