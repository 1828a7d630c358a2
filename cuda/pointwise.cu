// pointwise.cu — element-wise ops on the device: residual add, ReLU^2 and SwiGLU with their backwards
// (the math of lib/train/op_kernels.h; the backwards write their outputs instead of accumulating).
#include "common.cuh"
#include "ops.h"

namespace bitlm {
namespace cuda {
namespace {

// expf, not __expf: the fast intrinsic is too inaccurate to match the CPU's det_expf.
__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

__global__ void add_kernel(const float *a, const float *b, uint64_t count, float *out) {
    BITLM_CUDA_FOR(i, count) out[i] = a[i] + b[i];
}

__global__ void relu2_forward_kernel(const float *x, uint64_t count, float *y) {
    BITLM_CUDA_FOR(i, count) {
        const float u = x[i] > 0.0f ? x[i] : 0.0f;
        y[i] = u * u;
    }
}

__global__ void relu2_backward_kernel(const float *x, const float *dy, uint64_t count, float *dx) {
    BITLM_CUDA_FOR(i, count) dx[i] = x[i] > 0.0f ? dy[i] * 2.0f * x[i] : 0.0f;
}

// silu(g) = g / (1 + e^-g) in that order, as det_silu computes it.
__global__ void swiglu_forward_kernel(const float *gate, const float *up, uint64_t count, float *y) {
    BITLM_CUDA_FOR(i, count) {
        const float g = gate[i];
        y[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

__global__ void swiglu_backward_kernel(const float *gate, const float *up, const float *dy, uint64_t count,
                                       float *dgate, float *dup) {
    BITLM_CUDA_FOR(i, count) {
        const float g = gate[i], sig = sigmoid(g);
        if (dgate) dgate[i] = dy[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
        if (dup) dup[i] = dy[i] * g * sig;
    }
}

}  // namespace

void add(const float *a, const float *b, uint64_t count, float *out, cudaStream_t stream) {
    if (count == 0) return;
    add_kernel<<<blocks_for(count), kThreads, 0, stream>>>(a, b, count, out);
}

void relu2_forward(const float *x, uint64_t count, float *y, cudaStream_t stream) {
    if (count == 0) return;
    relu2_forward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(x, count, y);
}

void relu2_backward(const float *x, const float *dy, uint64_t count, float *dx, cudaStream_t stream) {
    if (count == 0) return;
    relu2_backward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(x, dy, count, dx);
}

void swiglu_forward(const float *gate, const float *up, uint64_t count, float *y, cudaStream_t stream) {
    if (count == 0) return;
    swiglu_forward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(gate, up, count, y);
}

// Either output may be null (that input needs no gradient).
void swiglu_backward(const float *gate, const float *up, const float *dy, uint64_t count, float *dgate, float *dup,
                     cudaStream_t stream) {
    if (count == 0 || (!dgate && !dup)) return;
    swiglu_backward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(gate, up, dy, count, dgate, dup);
}

}  // namespace cuda
}  // namespace bitlm
