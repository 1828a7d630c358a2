// loss.cu — cross-entropy on the device, fused with its gradient (the math of opk::xent_forward and
// xent_backward in lib/train/op_kernels.h), and the in-order sum that makes the mean loss deterministic.
#include <math.h>
#include "common.cuh"
#include "ops.h"

namespace bitlm {
namespace cuda {
namespace {

constexpr uint32_t kWarps = kThreads / 32;

// Reduces v over the block with op (warp_sum or warp_max); every thread gets the result. Each warp
// reduces the per-warp values itself, in the same order, so no broadcast is needed. The trailing
// barrier lets the next call reuse `part`, and also means every thread has finished reading the
// values it reduced.
template <float (*WarpOp)(float)>
__device__ float block_reduce(float v, float identity, float *part) {
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = WarpOp(v);
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = WarpOp(lane < kWarps ? part[lane] : identity);
    __syncthreads();
    return v;
}

// One block of kThreads per row.
__global__ void cross_entropy_kernel(float *logits, const int32_t *targets, uint32_t vocab, float dlogit_scale,
                                     float *row_loss, uint32_t *error_flag) {
    __shared__ float part[kWarps];
    const uint32_t r = blockIdx.x;
    const int32_t t = targets[r];
    if (t < 0 || (uint32_t)t >= vocab) {  // uniform over the block: all threads leave before any barrier
        if (threadIdx.x == 0) {
            if (error_flag) *error_flag = 1;
            if (row_loss) row_loss[r] = NAN;
        }
        return;
    }
    float *l = logits + (uint64_t)r * vocab;
    const float target_logit = l[t];  // read before any thread may overwrite it with its gradient
    float m = -INFINITY;
    for (uint32_t i = threadIdx.x; i < vocab; i += blockDim.x) m = fmaxf(m, l[i]);
    m = block_reduce<warp_max>(m, -INFINITY, part);
    float sum = 0.0f;
    for (uint32_t i = threadIdx.x; i < vocab; i += blockDim.x) sum += expf(l[i] - m);
    sum = block_reduce<warp_sum>(sum, 0.0f, part);
    // block_reduce's barriers: every logit has been read for max and sum, so overwriting is safe now.
    if (threadIdx.x == 0 && row_loss) row_loss[r] = logf(sum) + m - target_logit;
    if (dlogit_scale == 0.0f) return;
    // softmax * d, then - d at the target: the CPU's order (it adds then subtracts into the gradient).
    for (uint32_t i = threadIdx.x; i < vocab; i += blockDim.x) {
        float d = expf(l[i] - m) / sum * dlogit_scale;
        if (i == (uint32_t)t) d -= dlogit_scale;
        l[i] = d;
    }
}

__global__ void sum_in_order_kernel(const float *x, uint32_t n, float *out) {
    float s = 0.0f;
    for (uint32_t i = 0; i < n; i++) s += x[i];
    *out = s;
}

}  // namespace

// row_loss may be null (only the gradient wanted).
void cross_entropy(float *logits, const int32_t *targets, uint32_t n, uint32_t vocab, float dlogit_scale,
                   float *row_loss, uint32_t *error_flag, cudaStream_t stream) {
    if (n == 0) return;
    cross_entropy_kernel<<<n, kThreads, 0, stream>>>(logits, targets, vocab, dlogit_scale, row_loss, error_flag);
}

// Launched even for n == 0, so *out is the empty sum 0 rather than whatever it held.
void sum_in_order(const float *x, uint32_t n, float *out, cudaStream_t stream) {
    sum_in_order_kernel<<<1, 1, 0, stream>>>(x, n, out);
}

}  // namespace cuda
}  // namespace bitlm
