// gemm_avx512.cpp — the training GEMM micro-kernel for AVX-512F: a 12 x 32 tile of C in 24 ZMM
// accumulators (compiled with -mavx512f -mfma, flags.mk); chosen at run time only where CPUID says so.
#include "train_cpu/gemm_kernels.h"

// BITLM_GEMM_AVX512_EMULATED: tests/unit/test_train_gemm.cpp includes this file after SIMDe's portable
// intrinsics, to check the kernel's logic on CPUs without AVX-512.
#if defined(__x86_64__) && ((defined(__AVX512F__) && defined(__FMA__)) || defined(BITLM_GEMM_AVX512_EMULATED))
#ifndef BITLM_GEMM_AVX512_EMULATED
#include <immintrin.h>

#include "x86/kernels_x86.h"
#endif
#include <stddef.h>

#include "train_cpu/gemm_pack_x86.h"

namespace bitlm {
namespace host {
namespace {

// 12 rows x 32 columns: 24 accumulators + 2 B vectors + a broadcast, of 32 ZMM registers. Per step of
// p: 2 loads of B and 12 broadcasts feed 24 FMAs; 24 independent chains cover 2 pipes x 4 cycles.
constexpr uint32_t kRows = 12;
constexpr uint32_t kCols = 32;

void tile_avx512(uint32_t kc, const float *a, const float *b, float beta, float *c, uint32_t ldc) {
    // The C tile is read (or written) only after the whole pass: start fetching its lines now.
    for (uint32_t r = 0; r < kRows; r++) {
        _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)r * ldc + kCols - 1), _MM_HINT_T0);
    }
    __m512 acc[kRows][2];
#pragma GCC unroll 12
    for (uint32_t r = 0; r < kRows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (uint32_t p = 0; p < kc; p++, a += kRows, b += kCols) {
        const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        // Fully unrolled, so every acc[r][h] is a register.
#pragma GCC unroll 12
        for (uint32_t r = 0; r < kRows; r++) {
            const __m512 av = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    // Multiply then add, never fused: the edge tiles of cpu_backend.cpp round beta*C + sum the same way.
    const __m512 vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 12
    for (uint32_t r = 0; r < kRows; r++) {
        float *crow = c + (size_t)r * ldc;
        __m512 lo = acc[r][0], hi = acc[r][1];
        if (beta == 1.0f) {
            lo = _mm512_add_ps(_mm512_loadu_ps(crow), lo);
            hi = _mm512_add_ps(_mm512_loadu_ps(crow + 16), hi);
        } else if (beta != 0.0f) {
            lo = _mm512_add_ps(_mm512_mul_ps(vbeta, _mm512_loadu_ps(crow)), lo);
            hi = _mm512_add_ps(_mm512_mul_ps(vbeta, _mm512_loadu_ps(crow + 16)), hi);
        }
        _mm512_storeu_ps(crow, lo);
        _mm512_storeu_ps(crow + 16, hi);
    }
}

// Packs a micro-panel of 12 rows of a row-major A: the shared AVX2 transpose, rows 0-5 then 6-11 (each
// writes its 6 values of every p, so neither overwrites the other).
void pack_a_rows_avx512(const float *a, size_t lda, uint32_t depth, float *dst) {
    pack_six_rows_avx2(a, lda, depth, dst, kRows);
    pack_six_rows_avx2(a + 6 * lda, lda, depth, dst + 6, kRows);
}

#ifndef BITLM_GEMM_AVX512_EMULATED
// Called before anything else of this file runs: a plain call into baseline code (select_kernels.cpp,
// which is linked whenever this file has its ISA flags), no AVX-512 instruction on the way. It asks for
// more than AVX-512F (BW, VL, VNNI too: the inference kernels' test), which only leaves AVX-512 CPUs
// without VNNI (Skylake-SP) on the AVX2 kernel.
bool avx512_supported() { return x86::cpu_has_avx512(); }
#else
bool avx512_supported() { return true; }  // emulated: runs anywhere
#endif

// kc: a B micro-panel is 192 x 32 floats = 24 KB, an A micro-panel 9 KB (L1 is 32-48 KB);
// mc: 144 rows x 192 = 108 KB of packed A per task, in a 1-2 MB L2. Not tuned: no AVX-512 machine was
// at hand (the AVX2 kernel's blocking was measured on Zen 3).
const GemmMicroKernel kAvx512 = {"avx512", kRows, kCols, 192, 144, avx512_supported, tile_avx512,
                                 pack_a_rows_avx512};

}  // namespace

const GemmMicroKernel *gemm_kernel_avx512() { return &kAvx512; }

}  // namespace host
}  // namespace bitlm

#else  // not x86-64, or built without -mavx512f -mfma (NO_SIMD=1): no such kernel in this build

const bitlm::host::GemmMicroKernel *bitlm::host::gemm_kernel_avx512() { return nullptr; }

#endif
