// linear.cu — the BitLinear epilogues around the GEMMs: output scaling (acc * w_scale) * x_scale and the
// per-row scaling of the backward (x_hat = codes * x_scale; W_deq = codes * w_scale).
#include "common.cuh"
#include "ops.h"

namespace bitlm {
namespace cuda {
namespace {

// The CPU computes (y * ws) * xs with xs = 1 when there is no input scale and skips ws off the integer
// path; multiplying by 1 changes no finite or infinite value, so skipping a null factor gives its bits.
__global__ void scale_output_kernel(float *y, uint32_t n, uint32_t out, const float *w_scale, const float *x_scale) {
    for (uint64_t r = blockIdx.x; r < n; r += gridDim.x) {
        float *yr = y + r * out;
        for (uint32_t o = threadIdx.x; o < out; o += blockDim.x) {
            float v = yr[o];
            if (w_scale) v = __fmul_rn(v, w_scale[o]);
            if (x_scale) v = __fmul_rn(v, x_scale[r]);
            yr[o] = v;
        }
    }
}

// out may alias m: each element is read and written by the same thread only.
__global__ void scale_rows_kernel(const float *m, uint32_t n, uint32_t cols, const float *row_scale, float *out) {
    for (uint64_t r = blockIdx.x; r < n; r += gridDim.x) {
        const float s = row_scale[r];
        for (uint32_t c = threadIdx.x; c < cols; c += blockDim.x) out[r * cols + c] = __fmul_rn(m[r * cols + c], s);
    }
}

}  // namespace

void scale_output(float *y, uint32_t n, uint32_t out, const float *w_scale, const float *x_scale,
                  cudaStream_t stream) {
    if (n == 0 || out == 0 || (!w_scale && !x_scale)) return;
    scale_output_kernel<<<row_blocks(n), row_threads(out), 0, stream>>>(y, n, out, w_scale, x_scale);
}

void scale_rows(const float *m, uint32_t n, uint32_t cols, const float *row_scale, float *out, cudaStream_t stream) {
    if (n == 0 || cols == 0) return;
    scale_rows_kernel<<<row_blocks(n), row_threads(cols), 0, stream>>>(m, n, cols, row_scale, out);
}

}  // namespace cuda
}  // namespace bitlm
