// gemm_avx2.cpp — the training GEMM micro-kernel for AVX2+FMA: a 6 x 16 tile of C in twelve YMM
// accumulators (compiled with -mavx2 -mfma, flags.mk); chosen at run time only where CPUID says so.
#include "train_cpu/gemm_kernels.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#include <stddef.h>

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

// Packs 6 rows of a row-major A into a micro-panel (dst[p*6 + r] = a[r*lda + p]): 8 values of p at a
// time, a 6 x 8 transpose in registers, then per p the 4 values of rows 0-3 and the 2 of rows 4-5.
void pack_a_rows_avx2(const float *a, size_t lda, uint32_t depth, float *dst) {
    const float *r0 = a, *r1 = a + lda, *r2 = a + 2 * lda, *r3 = a + 3 * lda, *r4 = a + 4 * lda, *r5 = a + 5 * lda;
    uint32_t p = 0;
    for (; p + 8 <= depth; p += 8, dst += 8 * kRows) {
        const __m256 x0 = _mm256_loadu_ps(r0 + p), x1 = _mm256_loadu_ps(r1 + p), x2 = _mm256_loadu_ps(r2 + p);
        const __m256 x3 = _mm256_loadu_ps(r3 + p), x4 = _mm256_loadu_ps(r4 + p), x5 = _mm256_loadu_ps(r5 + p);
        // Pairs of rows interleaved; per 128-bit lane (p, p+1) or (p+2, p+3), the upper lane p+4...
        const __m256 t01lo = _mm256_unpacklo_ps(x0, x1), t01hi = _mm256_unpackhi_ps(x0, x1);
        const __m256 t23lo = _mm256_unpacklo_ps(x2, x3), t23hi = _mm256_unpackhi_ps(x2, x3);
        const __m256 t45lo = _mm256_unpacklo_ps(x4, x5), t45hi = _mm256_unpackhi_ps(x4, x5);
        // Rows 0-3 of one p per lane: q0 = (p | p+4), q1 = (p+1 | p+5), q2 = (p+2 | p+6), q3 = (p+3 | p+7).
        const __m256 q0 = _mm256_shuffle_ps(t01lo, t23lo, 0x44), q1 = _mm256_shuffle_ps(t01lo, t23lo, 0xee);
        const __m256 q2 = _mm256_shuffle_ps(t01hi, t23hi, 0x44), q3 = _mm256_shuffle_ps(t01hi, t23hi, 0xee);
        // Rows 4-5: t45lo holds (p, p+1 | p+4, p+5), t45hi (p+2, p+3 | p+6, p+7), two floats each.
        const __m128d s45[4] = {_mm_castps_pd(_mm256_castps256_ps128(t45lo)), _mm_castps_pd(_mm256_castps256_ps128(t45hi)),
                                _mm_castps_pd(_mm256_extractf128_ps(t45lo, 1)), _mm_castps_pd(_mm256_extractf128_ps(t45hi, 1))};
        const __m128 q[8] = {_mm256_castps256_ps128(q0),    _mm256_castps256_ps128(q1),    _mm256_castps256_ps128(q2),
                             _mm256_castps256_ps128(q3),    _mm256_extractf128_ps(q0, 1), _mm256_extractf128_ps(q1, 1),
                             _mm256_extractf128_ps(q2, 1), _mm256_extractf128_ps(q3, 1)};
#pragma GCC unroll 8
        for (uint32_t i = 0; i < 8; i++) {
            float *out = dst + i * kRows;
            _mm_storeu_ps(out, q[i]);
            const __m128d pair = s45[(i >> 2) * 2 + ((i >> 1) & 1)];
            if (i & 1) {
                _mm_storeh_pd((double *)(out + 4), pair);
            } else {
                _mm_storel_pd((double *)(out + 4), pair);
            }
        }
    }
    for (; p < depth; p++, dst += kRows) {
        dst[0] = r0[p], dst[1] = r1[p], dst[2] = r2[p];
        dst[3] = r3[p], dst[4] = r4[p], dst[5] = r5[p];
    }
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
