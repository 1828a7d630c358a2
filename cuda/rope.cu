// rope.cu — rotary position embedding on the device, in place: the rotation of opk::rope_forward
// (lib/train/op_kernels.h) and its transpose for the gradient, one thread per (2i, 2i+1) pair.
#include "common.cuh"
#include "ops.h"

namespace bitlm {
namespace cuda {
namespace {

// Pair p of the whole tensor sits at columns 2p, 2p+1 (rows and heads are contiguous and even-width),
// so only its row (for the position) and its index within the head (for the angle) need working out.
template <bool Backward>
__global__ void rope_kernel(float *x, const float *cs, uint64_t pairs, uint32_t width, uint32_t head_dim,
                            uint32_t seq_len) {
    const uint32_t row_pairs = width / 2, head_pairs = head_dim / 2;
    BITLM_CUDA_FOR(p, pairs) {
        const uint64_t r = p / row_pairs;
        const uint32_t i = (uint32_t)(p % row_pairs) % head_pairs;
        const float *c = cs + (uint64_t)(r % seq_len) * head_dim + 2 * i;
        const float co = c[0], si = c[1], a = x[2 * p], b = x[2 * p + 1];
        if (Backward) {  // R^T: rotate by minus the angle
            x[2 * p] = a * co + b * si;
            x[2 * p + 1] = -a * si + b * co;
        } else {
            x[2 * p] = a * co - b * si;
            x[2 * p + 1] = a * si + b * co;
        }
    }
}

template <bool Backward>
void rope_launch(float *x, const float *cs, uint32_t n, uint32_t width, uint32_t head_dim, uint32_t seq_len,
                 cudaStream_t stream) {
    // head_dim < 2 or seq_len == 0 is a shape op_rope refuses; do nothing rather than divide by zero.
    if (n == 0 || width < 2 || head_dim < 2 || seq_len == 0) return;
    const uint64_t pairs = (uint64_t)n * (width / 2);
    rope_kernel<Backward><<<blocks_for(pairs), kThreads, 0, stream>>>(x, cs, pairs, width, head_dim, seq_len);
}

}  // namespace

void rope_forward(float *x, const float *cs, uint32_t n, uint32_t width, uint32_t head_dim, uint32_t seq_len,
                  cudaStream_t stream) {
    rope_launch<false>(x, cs, n, width, head_dim, seq_len, stream);
}

void rope_backward(float *d, const float *cs, uint32_t n, uint32_t width, uint32_t head_dim, uint32_t seq_len,
                   cudaStream_t stream) {
    rope_launch<true>(d, cs, n, width, head_dim, seq_len, stream);
}

}  // namespace cuda
}  // namespace bitlm
