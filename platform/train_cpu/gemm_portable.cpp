// gemm_portable.cpp — the training GEMM micro-kernel in plain C++, for every target (aarch64, armv7,
// x86-64 without AVX2): fixed-size loops over independent lanes that GCC vectorizes at -O2 on its own.
#include <stddef.h>
#include <stdint.h>

#include "train_cpu/gemm_kernels.h"

namespace bitlm {
namespace host {
namespace {

// 4 x 8 accumulators: eight 128-bit registers on SSE2 and NEON, leaving room for the B row and the
// broadcast A value. The lanes (columns j) are independent, so vectorizing them keeps every element's
// sum in order p = 0, 1, ... with a separate multiply and add (-ffp-contract=off), as the contract of
// GemmMicroKernel::tile asks, on every target alike.
constexpr uint32_t kRows = 4;
constexpr uint32_t kCols = 8;

void tile_portable(uint32_t kc, const float *a_panel, const float *b_panel, float beta, float *c, uint32_t ldc) {
    float acc[kRows][kCols] = {};
    for (uint32_t p = 0; p < kc; p++) {
        const float *a = a_panel + (size_t)p * kRows;
        const float *b = b_panel + (size_t)p * kCols;
        // Unrolled, so the accumulators can live in registers rather than in the array.
#pragma GCC unroll 4
        for (uint32_t r = 0; r < kRows; r++) {
            const float av = a[r];
            for (uint32_t j = 0; j < kCols; j++) acc[r][j] += av * b[j];
        }
    }
    for (uint32_t r = 0; r < kRows; r++) {
        float *crow = c + (size_t)r * ldc;
        if (beta == 0.0f) {
            for (uint32_t j = 0; j < kCols; j++) crow[j] = acc[r][j];
        } else {
            for (uint32_t j = 0; j < kCols; j++) crow[j] = beta * crow[j] + acc[r][j];
        }
    }
}

bool always_supported() { return true; }

// kc: a B micro-panel is 256 x 8 floats = 8 KB, well inside L1; mc: 128 rows x kc = 128 KB of A in L2.
const GemmMicroKernel kPortable = {"portable", kRows, kCols, 256, 128, always_supported, tile_portable,
                                   nullptr};

}  // namespace

const GemmMicroKernel *gemm_kernel_portable() { return &kPortable; }

}  // namespace host
}  // namespace bitlm
