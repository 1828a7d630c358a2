// optim.cu — the optimizer math of lib/train/optim.cpp on the device: gradient-norm partial sums,
// AdamW, SGD, and the elementwise pieces of Muon (its Newton–Schulz GEMMs go through blas.cu).
#include "common.cuh"
#include "train/optim.h"  // OptimHyper, which ops.h names without including
#include "ops.h"

namespace bitlm {
namespace cuda {
namespace {

constexpr uint32_t kReduceThreads = 256;  // threads of a one-block-per-chunk reduction (a power of 2)

__host__ __device__ inline uint64_t chunks_of(uint64_t count) { return (count + kOptimChunk - 1) / kOptimChunk; }

// Blocks for `chunks` chunks of one block each; a block takes further chunks by striding past the
// grid, so a huge parameter still launches a legal grid.
inline unsigned chunk_blocks(uint64_t chunks) { return blocks_for(chunks, 1); }

// Sum of v over the block in a fixed tree (the same bits every run); the result is valid in thread 0.
// The leading barrier lets a block call it once per chunk of a grid-stride loop.
__device__ double block_sum(double v) {
    __shared__ double sh[kReduceThreads];
    __syncthreads();
    sh[threadIdx.x] = v;
    __syncthreads();
    for (uint32_t s = kReduceThreads / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    return sh[0];
}

// The CPU's adam_sqrt bit for bit (lib/train/optim.cpp): an inverse-sqrt Newton iteration and a Heron
// correction in a fixed order of IEEE operations (cuda/ is built with -fmad=false, so nothing fuses),
// the correctly rounded root outside [2^-100, 2^100]. A plain sqrtf would differ from the CPU by an ulp
// now and then, and AdamW could not be checked bit for bit.
__device__ __forceinline__ float adam_sqrt(float x) {
    if (!(x >= 0x1p-100f && x <= 0x1p100f)) return __fsqrt_rn(x);
    float r = __uint_as_float(0x5f375a86u - (__float_as_uint(x) >> 1));
    const float half = 0.5f * x;
    r = r * (1.5f - half * r * r);
    r = r * (1.5f - half * r * r);
    r = r * (1.5f - half * r * r);
    const float s = x * r;
    return s + (0.5f * r) * (x - s * s);
}

// g scaled in place when clipping, so the caller sees the clipped gradient (as the CPU).
__device__ __forceinline__ float read_grad(const OptimHyper &h, float *g, uint64_t i) {
    float v = g[i];
    if (h.clip) {
        v = v * h.g_scale;
        g[i] = v;
    }
    return v;
}

__global__ void sumsq_chunks_kernel(const float *g, uint64_t count, double *partials) {
    const uint64_t chunks = chunks_of(count);
    for (uint64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
        const uint64_t begin = c * kOptimChunk, end = count - begin < kOptimChunk ? count : begin + kOptimChunk;
        double sum = 0.0;
        for (uint64_t i = begin + threadIdx.x; i < end; i += kReduceThreads) sum += (double)g[i] * (double)g[i];
        sum = block_sum(sum);
        if (threadIdx.x == 0) partials[c] = sum;
    }
}

__global__ void sum_in_order_kernel(const double *partials, uint64_t n, double *out) {
    double sum = 0.0;
    for (uint64_t i = 0; i < n; i++) sum += partials[i];
    *out = sum;
}

__global__ void adamw_kernel(OptimHyper h, bool decays, float *w, float *g, float *m, float *v, uint64_t count) {
    // Decoupled decay as PyTorch's AdamW: w *= 1 - lr*wd, then the Adam step.
    const float keep = decays ? 1.0f - h.adam_lr * h.wd : 1.0f;
    BITLM_CUDA_FOR(i, count) {
        const float gi = read_grad(h, g, i);
        const float mi = h.b1 * m[i] + h.one_minus_b1 * gi;
        const float vi = h.b2 * v[i] + h.one_minus_b2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        const float update = (mi * h.inv_bc1) / (adam_sqrt(vi * h.inv_bc2) + h.eps);
        w[i] = w[i] * keep - h.adam_lr * update;
    }
}

__global__ void sgd_kernel(OptimHyper h, bool decays, float *w, float *g, float *buf, uint64_t count) {
    const float keep = decays ? 1.0f - h.lr * h.wd : 1.0f;
    BITLM_CUDA_FOR(i, count) {
        const float gi = read_grad(h, g, i);
        const float b = h.mu * buf[i] + gi;
        buf[i] = b;
        const float update = h.nesterov ? gi + h.mu * b : b;
        w[i] = w[i] * keep - h.lr * update;
    }
}

// One block per 16384-element chunk: the element updates, and the chunk's sum of u^2 for the norm.
__global__ void muon_momentum_kernel(OptimHyper h, float *g, float *buf, uint32_t rows, uint32_t cols,
                                     bool transpose, float *x, double *partials) {
    const uint64_t count = (uint64_t)rows * cols, chunks = chunks_of(count);
    for (uint64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
        const uint64_t begin = c * kOptimChunk, end = count - begin < kOptimChunk ? count : begin + kOptimChunk;
        double sum = 0.0;
        for (uint64_t i = begin + threadIdx.x; i < end; i += kReduceThreads) {
            const float gi = read_grad(h, g, i);
            const float b = h.mu * buf[i] + gi;
            buf[i] = b;
            const float u = h.nesterov ? gi + h.mu * b : b;
            x[transpose ? (i % cols) * rows + i / cols : i] = u;
            sum += (double)u * (double)u;
        }
        sum = block_sum(sum);
        if (threadIdx.x == 0) partials[c] = sum;
    }
}

__global__ void muon_normalize_kernel(float *x, uint64_t count, const double *sumsq) {
    // Once per block: a double sqrt per element would cost more than the division it feeds.
    __shared__ float denom;
    if (threadIdx.x == 0) denom = (float)(sqrt(*sumsq) + kMuonNormEps);
    __syncthreads();
    BITLM_CUDA_FOR(i, count) x[i] = x[i] / denom;
}

__global__ void muon_combine_kernel(const float *a, float *b, uint64_t count, float kb, float kc) {
    BITLM_CUDA_FOR(i, count) b[i] = kb * a[i] + kc * b[i];
}

__global__ void muon_step_x_kernel(float *x, const float *t, uint64_t count, float ka) {
    BITLM_CUDA_FOR(i, count) x[i] = ka * x[i] + t[i];
}

__global__ void muon_apply_kernel(float *w, const float *x, uint32_t rows, uint32_t cols, bool transpose, float keep,
                                  float lr_eff) {
    BITLM_CUDA_FOR(i, (uint64_t)rows * cols) {
        w[i] = w[i] * keep - lr_eff * x[transpose ? (i % cols) * rows + i / cols : i];
    }
}

}  // namespace

void grad_sumsq_chunks(const float *g, uint64_t count, double *partials, cudaStream_t stream) {
    if (count == 0) return;
    sumsq_chunks_kernel<<<chunk_blocks(chunks_of(count)), kReduceThreads, 0, stream>>>(g, count, partials);
}

void sum_doubles_in_order(const double *partials, uint64_t n, double *out, cudaStream_t stream) {
    sum_in_order_kernel<<<1, 1, 0, stream>>>(partials, n, out);  // n == 0 still writes 0
}

void adamw_update(const OptimHyper &h, bool decays, float *w, float *g, float *m, float *v, uint64_t count,
                  cudaStream_t stream) {
    if (count == 0) return;
    adamw_kernel<<<blocks_for(count), kThreads, 0, stream>>>(h, decays, w, g, m, v, count);
}

void sgd_update(const OptimHyper &h, bool decays, float *w, float *g, float *buf, uint64_t count,
                cudaStream_t stream) {
    if (count == 0) return;
    sgd_kernel<<<blocks_for(count), kThreads, 0, stream>>>(h, decays, w, g, buf, count);
}

void muon_momentum(const OptimHyper &h, float *g, float *buf, uint32_t rows, uint32_t cols, bool transpose,
                   float *x, double *partials, cudaStream_t stream) {
    const uint64_t count = (uint64_t)rows * cols;
    if (count == 0) return;
    muon_momentum_kernel<<<chunk_blocks(chunks_of(count)), kReduceThreads, 0, stream>>>(h, g, buf, rows, cols,
                                                                                        transpose, x, partials);
}

void muon_normalize(float *x, uint64_t count, const double *sumsq, cudaStream_t stream) {
    if (count == 0) return;
    muon_normalize_kernel<<<blocks_for(count), kThreads, 0, stream>>>(x, count, sumsq);
}

void muon_combine(const float *a, float *b, uint64_t count, float kb, float kc, cudaStream_t stream) {
    if (count == 0) return;
    muon_combine_kernel<<<blocks_for(count), kThreads, 0, stream>>>(a, b, count, kb, kc);
}

void muon_step_x(float *x, const float *t, uint64_t count, float ka, cudaStream_t stream) {
    if (count == 0) return;
    muon_step_x_kernel<<<blocks_for(count), kThreads, 0, stream>>>(x, t, count, ka);
}

void muon_apply(float *w, const float *x, uint32_t rows, uint32_t cols, bool transpose, float keep, float lr_eff,
                cudaStream_t stream) {
    const uint64_t count = (uint64_t)rows * cols;
    if (count == 0) return;
    muon_apply_kernel<<<blocks_for(count), kThreads, 0, stream>>>(w, x, rows, cols, transpose, keep, lr_eff);
}

}  // namespace cuda
}  // namespace bitlm
