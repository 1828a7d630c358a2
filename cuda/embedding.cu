// embedding.cu — token embedding lookup and its gradient scatter-add on the device (the math and the
// accumulation order of lib/train/op_embedding.cpp).
#include "common.cuh"
#include "ops.h"

namespace bitlm {
namespace cuda {
namespace {

// y[r] = table_values[tokens[r]] (* its row scale): a block per output row, threads over the columns.
__global__ void embedding_forward_kernel(const float *table_values, const float *row_scale, const int32_t *tokens,
                                         uint32_t n, uint32_t dim, float *y) {
    for (uint64_t r = blockIdx.x; r < n; r += gridDim.x) {
        const uint32_t tok = (uint32_t)tokens[r];
        const float *src = table_values + (uint64_t)tok * dim;
        float *dst = y + r * dim;
        if (row_scale) {
            const float s = row_scale[tok];
            for (uint32_t c = threadIdx.x; c < dim; c += blockDim.x) dst[c] = __fmul_rn(src[c], s);
        } else {
            for (uint32_t c = threadIdx.x; c < dim; c += blockDim.x) dst[c] = src[c];
        }
    }
}

// Block (x, y) owns table rows [x*rows_per_block, ...) and a slice of the columns, and walks the tokens
// in order: every dtable element is then updated by one thread only, in token order — the CPU's sums,
// deterministic, without atomics or scratch memory. Each chunk of kThreads tokens is compacted (stably,
// by ballot) to the positions that hit this block's rows, so the threads loop over hits only.
__global__ void embedding_backward_kernel(const float *dy, const int32_t *tokens, uint32_t n, uint32_t vocab,
                                          uint32_t dim, uint32_t rows_per_block, float *dtable) {
    __shared__ uint32_t s_pos[kThreads];  // positions r of this chunk's hits, ascending
    __shared__ uint32_t s_tok[kThreads];  // and their tokens
    __shared__ uint32_t s_warp_hits[kThreads / 32];
    const uint32_t lane = threadIdx.x & 31u, warp = threadIdx.x / 32u;
    const uint64_t v0 = (uint64_t)blockIdx.x * rows_per_block;
    const uint64_t v1 = v0 + rows_per_block < vocab ? v0 + rows_per_block : vocab;
    for (uint64_t base = 0; base < n; base += kThreads) {
        const uint64_t r = base + threadIdx.x;
        const int32_t tok = r < n ? tokens[r] : -1;
        const bool hit = tok >= 0 && (uint64_t)tok >= v0 && (uint64_t)tok < v1;  // out-of-range ids: skipped
        const uint32_t ballot = __ballot_sync(0xffffffffu, hit);
        if (lane == 0) s_warp_hits[warp] = __popc(ballot);
        __syncthreads();
        uint32_t offset = 0, total = 0;
        for (uint32_t w = 0; w < kThreads / 32; w++) {
            if (w < warp) offset += s_warp_hits[w];
            total += s_warp_hits[w];
        }
        if (hit) {
            const uint32_t slot = offset + __popc(ballot & ((1u << lane) - 1u));
            s_pos[slot] = (uint32_t)r;
            s_tok[slot] = (uint32_t)tok;
        }
        __syncthreads();
        for (uint32_t j = 0; j < total; j++) {
            const float *src = dy + (uint64_t)s_pos[j] * dim;
            float *dst = dtable + (uint64_t)s_tok[j] * dim;
            for (uint64_t c = (uint64_t)blockIdx.y * kThreads + threadIdx.x; c < dim; c += (uint64_t)gridDim.y * kThreads)
                dst[c] = __fadd_rn(dst[c], src[c]);
        }
        __syncthreads();  // the next chunk rewrites the shared arrays
    }
}

}  // namespace

void embedding_forward(const float *table_values, const float *row_scale, const int32_t *tokens, uint32_t n,
                       uint32_t dim, float *y, cudaStream_t stream) {
    if (n == 0 || dim == 0) return;
    embedding_forward_kernel<<<row_blocks(n), row_threads(dim), 0, stream>>>(table_values, row_scale, tokens, n,
                                                                             dim, y);
}

void embedding_backward(const float *dy, const int32_t *tokens, uint32_t n, uint32_t vocab, uint32_t dim,
                        float *dtable, cudaStream_t stream) {
    if (n == 0 || vocab == 0 || dim == 0) return;
    // Up to 512 row ranges (every block scans all tokens, so not one block per row), times enough
    // column slices that a frequent token's adds spread over several blocks.
    const uint64_t ranges = vocab < 512u ? vocab : 512u;
    const uint32_t rows_per_block = (uint32_t)((vocab + ranges - 1) / ranges);
    const uint64_t slices = ((uint64_t)dim + kThreads - 1) / kThreads;
    const dim3 grid((unsigned)(((uint64_t)vocab + rows_per_block - 1) / rows_per_block),
                    (unsigned)(slices < 65535u ? slices : 65535u));
    embedding_backward_kernel<<<grid, kThreads, 0, stream>>>(dy, tokens, n, vocab, dim, rows_per_block, dtable);
}

}  // namespace cuda
}  // namespace bitlm
