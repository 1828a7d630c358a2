// gemm_avx2.cpp — the training GEMM micro-kernel for AVX2+FMA: a 6 x 16 tile of C in twelve YMM
// accumulators (compiled with -mavx2 -mfma, flags.mk); chosen at run time only where CPUID says so.
//
// Measured (AMD EPYC Zen 3 VM, 2 vCPUs shared with other work, gcc 12 -O2; test_train_gemm --bench):
// a loop of independent FMAs peaks at ~98 GFLOP/s on one core (3.1 GHz x 32), ~190 on two. This kernel
// under the driver: 88-97 GFLOP/s on one thread for (m, n, k) = (2048, 256, 256), (2048, 1024, 256),
// (2048, 256, 1024), (2048, 384, 1536) and the Bt forward shape; 75-92 for the weight gradient
// (256, 256, 2048) with At, where packing (every element of A and B packed for only 2 x 256 flops)
// takes ~15% of the time; 165-185 on two threads. kc 128/192/384/512 and mc 48-96 measured no
// better than 256/144; unrolling the p loop by 4 gained a few percent.
#include "train_cpu/gemm_kernels.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#include <stddef.h>

#include "train_cpu/gemm_pack_x86.h"
#include "x86/kernels_x86.h"

namespace bitlm {
namespace host {
namespace {

// 6 rows x 16 columns: 12 accumulators + 2 B vectors + 1 broadcast = 15 of the 16 YMM registers. Per
// step of p: 2 loads of B and 6 broadcasts feed 12 FMAs, so with two FMA pipes the loads (2-3 a cycle)
// never limit, and 12 independent chains cover the FMA latency (4-5 cycles x 2 pipes).
constexpr uint32_t kRows = 6;
constexpr uint32_t kCols = 16;

// Multiply then add, never fused: the edge tiles of cpu_backend.cpp round beta*C + sum the same way.
inline void store_row(float *c, __m256 lo, __m256 hi, float beta) {
    if (beta == 0.0f) {
        _mm256_storeu_ps(c, lo);
        _mm256_storeu_ps(c + 8, hi);
    } else if (beta == 1.0f) {
        _mm256_storeu_ps(c, _mm256_add_ps(_mm256_loadu_ps(c), lo));
        _mm256_storeu_ps(c + 8, _mm256_add_ps(_mm256_loadu_ps(c + 8), hi));
    } else {
        const __m256 vb = _mm256_set1_ps(beta);
        _mm256_storeu_ps(c, _mm256_add_ps(_mm256_mul_ps(vb, _mm256_loadu_ps(c)), lo));
        _mm256_storeu_ps(c + 8, _mm256_add_ps(_mm256_mul_ps(vb, _mm256_loadu_ps(c + 8)), hi));
    }
}

void tile_avx2(uint32_t kc, const float *a, const float *b, float beta, float *c, uint32_t ldc) {
    // The C tile is read (or written) only after the whole pass: start fetching its lines now.
    for (uint32_t r = 0; r < kRows; r++) {
        _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)r * ldc + kCols - 1), _MM_HINT_T0);
    }
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (uint32_t p = 0; p < kc; p++, a += kRows, b += kCols) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 av = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(av, b0, c00);
        c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(av, b0, c10);
        c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(av, b0, c20);
        c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(av, b0, c30);
        c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(av, b0, c40);
        c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(av, b0, c50);
        c51 = _mm256_fmadd_ps(av, b1, c51);
    }
    store_row(c + 0 * (size_t)ldc, c00, c01, beta);
    store_row(c + 1 * (size_t)ldc, c10, c11, beta);
    store_row(c + 2 * (size_t)ldc, c20, c21, beta);
    store_row(c + 3 * (size_t)ldc, c30, c31, beta);
    store_row(c + 4 * (size_t)ldc, c40, c41, beta);
    store_row(c + 5 * (size_t)ldc, c50, c51, beta);
}

// Packs a micro-panel of 6 rows of a row-major A: the shared AVX2 transpose.
void pack_a_rows_avx2(const float *a, size_t lda, uint32_t depth, float *dst) {
    pack_six_rows_avx2(a, lda, depth, dst, kRows);
}

// Called before anything else of this file runs: a plain call into baseline code (select_kernels.cpp,
// which is linked whenever this file has its ISA flags), no AVX instruction on the way.
bool avx2_supported() { return x86::cpu_has_avx2(); }

// kc: a B micro-panel is 256 x 16 floats = 16 KB of the 32 KB L1, an A micro-panel 6 KB more;
// mc: 144 rows x 256 = 144 KB of packed A per task, in a 512 KB+ L2.
const GemmMicroKernel kAvx2 = {"avx2", kRows, kCols, 256, 144, avx2_supported, tile_avx2, pack_a_rows_avx2};

}  // namespace

const GemmMicroKernel *gemm_kernel_avx2() { return &kAvx2; }

}  // namespace host
}  // namespace bitlm

#else  // not x86-64, or built without -mavx2 -mfma (NO_SIMD=1): no such kernel in this build

const bitlm::host::GemmMicroKernel *bitlm::host::gemm_kernel_avx2() { return nullptr; }

#endif
