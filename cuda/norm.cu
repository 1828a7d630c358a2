// norm.cu — RMSNorm forward and backward on the device (the math of opk::rmsnorm_* in
// lib/train/op_kernels.h, same formula shapes; the row sums are warp reductions).
#include "common.cuh"
#include "ops.h"

namespace bitlm {
namespace cuda {
namespace {

constexpr uint32_t kRowsPerBlock = kThreads / 32;  // one warp per row for the row sums
constexpr uint32_t kGainRows = 64;                 // rows per fixed block of the dg reduction

// 1 / sqrt, not rsqrtf: rsqrtf is approximate, and the CPU divides by a correctly rounded sqrt.
__device__ __forceinline__ float rsqrt_accurate(float v) { return 1.0f / sqrtf(v); }

__global__ void rmsnorm_forward_kernel(const float *x, const float *g, uint32_t n, uint32_t dim, float eps,
                                       float *y, float *rinv) {
    const uint32_t lane = threadIdx.x & 31;
    const uint64_t r = (uint64_t)blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
    if (r >= n) return;  // whole warps leave together, so the shuffles below stay full-warp
    const float *xr = x + r * dim;
    float ss = 0.0f;
    for (uint32_t i = lane; i < dim; i += 32) ss += xr[i] * xr[i];
    ss = warp_sum(ss);
    const float ri = rsqrt_accurate(ss / (float)dim + eps);
    if (lane == 0) rinv[r] = ri;
    float *yr = y + r * dim;
    for (uint32_t i = lane; i < dim; i += 32) yr[i] = (xr[i] * ri) * g[i];
}

// dx += r*g*dy - (r^3 * dot / n) * x, dot = sum_j g_j dy_j x_j over the row.
__global__ void rmsnorm_backward_x_kernel(const float *x, const float *g, const float *rinv, const float *dy,
                                          uint32_t n, uint32_t dim, float *dx) {
    const uint32_t lane = threadIdx.x & 31;
    const uint64_t r = (uint64_t)blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
    if (r >= n) return;
    const float *xr = x + r * dim, *dyr = dy + r * dim;
    float dot = 0.0f;
    for (uint32_t i = lane; i < dim; i += 32) dot += g[i] * dyr[i] * xr[i];
    dot = warp_sum(dot);
    const float ri = rinv[r], c = ri * ri * ri * dot / (float)dim;
    float *dxr = dx + r * dim;
    for (uint32_t i = lane; i < dim; i += 32) dxr[i] += ri * g[i] * dyr[i] - c * xr[i];
}

// partials[b * dim + c] = sum over rows of block b (ascending) of dy * x * r, one thread per column.
// Grid: x = row block, y = column chunk.
__global__ void rmsnorm_gain_partials_kernel(const float *x, const float *rinv, const float *dy, uint32_t n,
                                             uint32_t dim, float *partials) {
    const uint32_t c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= dim) return;
    const uint32_t r0 = blockIdx.x * kGainRows;
    const uint32_t r1 = min(n, r0 + kGainRows);
    float s = 0.0f;
    for (uint32_t r = r0; r < r1; r++) s += dy[(uint64_t)r * dim + c] * x[(uint64_t)r * dim + c] * rinv[r];
    partials[(uint64_t)blockIdx.x * dim + c] = s;
}

// dg[c] += the row blocks' partials added in block order: a fixed order, so dg is deterministic.
__global__ void rmsnorm_gain_reduce_kernel(const float *partials, uint32_t blocks, uint32_t dim, float *dg) {
    BITLM_CUDA_FOR(c, dim) {
        float s = 0.0f;
        for (uint32_t b = 0; b < blocks; b++) s += partials[(uint64_t)b * dim + c];
        dg[c] += s;
    }
}

uint32_t gain_blocks(uint32_t n) { return (n + kGainRows - 1) / kGainRows; }

}  // namespace

uint64_t rmsnorm_partial_floats(uint32_t n, uint32_t dim) { return (uint64_t)gain_blocks(n) * dim; }

void rmsnorm_forward(const float *x, const float *g, uint32_t n, uint32_t dim, float eps, float *y, float *rinv,
                     cudaStream_t stream) {
    if (n == 0 || dim == 0) return;
    const unsigned blocks = (n + kRowsPerBlock - 1) / kRowsPerBlock;
    rmsnorm_forward_kernel<<<blocks, kThreads, 0, stream>>>(x, g, n, dim, eps, y, rinv);
}

// dx or dg may be null (that gradient is not wanted); partials is needed only for dg.
void rmsnorm_backward(const float *x, const float *g, const float *rinv, const float *dy, uint32_t n, uint32_t dim,
                      float *dx, float *dg, float *partials, cudaStream_t stream) {
    if (n == 0 || dim == 0) return;
    if (dx) {
        const unsigned blocks = (n + kRowsPerBlock - 1) / kRowsPerBlock;
        rmsnorm_backward_x_kernel<<<blocks, kThreads, 0, stream>>>(x, g, rinv, dy, n, dim, dx);
    }
    if (dg) {
        const dim3 grid(gain_blocks(n), (dim + kThreads - 1) / kThreads);
        rmsnorm_gain_partials_kernel<<<grid, kThreads, 0, stream>>>(x, rinv, dy, n, dim, partials);
        rmsnorm_gain_reduce_kernel<<<blocks_for(dim), kThreads, 0, stream>>>(partials, gain_blocks(n), dim, dg);
    }
}

}  // namespace cuda
}  // namespace bitlm
