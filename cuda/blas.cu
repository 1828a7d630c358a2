// blas.cu — row-major fp32 GEMM over cuBLAS (column-major), with the operand rounding picked by
// Precision; the semantics are TrainBackend::gemm's (lib/train/backend.h), repeated over a strided batch.
#include <cublas_v2.h>
#include <limits.h>

#include <new>

#include "common.cuh"
#include "train/optim.h"  // OptimHyper, which ops.h names without including
#include "ops.h"

namespace bitlm {
namespace cuda {

struct Blas {
    cublasHandle_t handle;
    cudaStream_t stream;  // kept for the k == 0 case, which runs our own kernel instead of cuBLAS
    cublasStatus_t last;  // the last failure, for error messages
};

namespace {

// C = beta * C for every matrix of the batch (k == 0: the product is empty). beta == 0 writes zeros,
// so garbage or NaN in C does not survive, as in cuBLAS.
__global__ void scale_matrices(float *c, uint32_t m, uint32_t n, uint32_t ldc, uint32_t batch, uint64_t stride_c,
                               float beta) {
    const uint64_t per = (uint64_t)m * n;
    BITLM_CUDA_FOR(i, per * batch) {
        const uint64_t b = i / per, r = (i % per) / n, col = i % n;
        float *p = c + b * stride_c + r * ldc + col;
        *p = beta == 0.0f ? 0.0f : beta * *p;
    }
}

// Fp32 asks for full single precision: CUBLAS_COMPUTE_32F under the handle's default math mode never
// uses tf32 (cuBLAS 11+). Exact shares bf16 tensor cores with Bf16: its operands are integers of at
// most 8 significant bits, which bf16 holds exactly, and the fp32 accumulation of integer products is
// exact below 2^24.
cublasComputeType_t compute_type(Precision p) {
    switch (p) {
        case Precision::Tf32: return CUBLAS_COMPUTE_32F_FAST_TF32;
        case Precision::Bf16:
        case Precision::Exact: return CUBLAS_COMPUTE_32F_FAST_16BF;
        case Precision::Fp32:
        default: return CUBLAS_COMPUTE_32F;
    }
}

inline bool fits_int(uint64_t x) { return x <= (uint64_t)INT_MAX; }

}  // namespace

Blas *blas_create(cudaStream_t stream) {
    cublasHandle_t h = nullptr;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return nullptr;
    // Host pointer mode: beta is passed by value from the host. Default math mode: see compute_type.
    if (cublasSetStream(h, stream) != CUBLAS_STATUS_SUCCESS ||
        cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST) != CUBLAS_STATUS_SUCCESS ||
        cublasSetMathMode(h, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS) {
        cublasDestroy(h);
        return nullptr;
    }
    Blas *b = new (std::nothrow) Blas;
    if (!b) {
        cublasDestroy(h);
        return nullptr;
    }
    b->handle = h;
    b->stream = stream;
    b->last = CUBLAS_STATUS_SUCCESS;
    return b;
}

const char *blas_last_error(const Blas *blas) {
    return blas && blas->last != CUBLAS_STATUS_SUCCESS ? cublasGetStatusName(blas->last) : nullptr;
}

void blas_destroy(Blas *blas) {
    if (!blas) return;
    cublasDestroy(blas->handle);
    delete blas;
}

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and a row-major matrix read as
// column-major is its transpose: so cuBLAS gets B first (transposed iff trans_b), then A (iff
// trans_a), with m and n swapped and every leading dimension unchanged.
bool gemm(Blas *blas, Precision precision, bool trans_a, bool trans_b, uint32_t m, uint32_t n, uint32_t k,
          const float *a, uint32_t lda, const float *b, uint32_t ldb, float beta, float *c, uint32_t ldc,
          uint32_t batch, uint64_t stride_a, uint64_t stride_b, uint64_t stride_c) {
    if (!blas) return false;
    if (m == 0 || n == 0 || batch == 0) return true;
    if (k == 0) {
        if (beta == 1.0f) return true;
        const uint64_t total = (uint64_t)m * n * batch;
        scale_matrices<<<blocks_for(total), kThreads, 0, blas->stream>>>(c, m, n, ldc, batch, stride_c, beta);
        return cudaPeekAtLastError() == cudaSuccess;
    }
    if (!fits_int(m) || !fits_int(n) || !fits_int(k) || !fits_int(lda) || !fits_int(ldb) || !fits_int(ldc) ||
        !fits_int(batch) || stride_a > (uint64_t)LLONG_MAX || stride_b > (uint64_t)LLONG_MAX ||
        stride_c > (uint64_t)LLONG_MAX)
        return false;
    const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasComputeType_t ct = compute_type(precision);
    const float alpha = 1.0f;
    cublasStatus_t st;
    if (batch == 1) {
        st = cublasGemmEx(blas->handle, op_b, op_a, (int)n, (int)m, (int)k, &alpha, b, CUDA_R_32F, (int)ldb, a,
                          CUDA_R_32F, (int)lda, &beta, c, CUDA_R_32F, (int)ldc, ct, CUBLAS_GEMM_DEFAULT);
    } else {
        st = cublasGemmStridedBatchedEx(blas->handle, op_b, op_a, (int)n, (int)m, (int)k, &alpha, b, CUDA_R_32F,
                                        (int)ldb, (long long)stride_b, a, CUDA_R_32F, (int)lda, (long long)stride_a,
                                        &beta, c, CUDA_R_32F, (int)ldc, (long long)stride_c, (int)batch, ct,
                                        CUBLAS_GEMM_DEFAULT);
    }
    if (st != CUBLAS_STATUS_SUCCESS) blas->last = st;
    return st == CUBLAS_STATUS_SUCCESS;
}

}  // namespace cuda
}  // namespace bitlm
