// gemm_pack_x86.h — the AVX2 transpose that packs six rows of a row-major A into a GEMM micro-panel,
// shared by the AVX2 and AVX-512 kernel files (include it after the intrinsics, in a file with -mavx2).
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace bitlm {
namespace host {
namespace {  // internal linkage: each kernel file keeps its own copy, compiled with its own ISA flags

// dst[p * dst_stride + r] = a[r * lda + p] for rows r < 6 and p < depth; writes exactly those floats.
// 8 values of p at a time: a 6 x 8 transpose in registers, then per p one 4-float store (rows 0-3) and
// one 2-float store (rows 4-5). About 4x faster than scattering the values one by one.
inline void pack_six_rows_avx2(const float *a, size_t lda, uint32_t depth, float *dst, size_t dst_stride) {
    const float *r0 = a, *r1 = a + lda, *r2 = a + 2 * lda, *r3 = a + 3 * lda, *r4 = a + 4 * lda, *r5 = a + 5 * lda;
    uint32_t p = 0;
    for (; p + 8 <= depth; p += 8, dst += 8 * dst_stride) {
        const __m256 x0 = _mm256_loadu_ps(r0 + p), x1 = _mm256_loadu_ps(r1 + p), x2 = _mm256_loadu_ps(r2 + p);
        const __m256 x3 = _mm256_loadu_ps(r3 + p), x4 = _mm256_loadu_ps(r4 + p), x5 = _mm256_loadu_ps(r5 + p);
        // Pairs of rows interleaved: per 128-bit lane, values p, p+1 (unpacklo) or p+2, p+3 (unpackhi);
        // the upper lane the same for p+4...p+7.
        const __m256 t01lo = _mm256_unpacklo_ps(x0, x1), t01hi = _mm256_unpackhi_ps(x0, x1);
        const __m256 t23lo = _mm256_unpacklo_ps(x2, x3), t23hi = _mm256_unpackhi_ps(x2, x3);
        const __m256 t45lo = _mm256_unpacklo_ps(x4, x5), t45hi = _mm256_unpackhi_ps(x4, x5);
        // Rows 0-3 of one p per lane: q0 = (p | p+4), q1 = (p+1 | p+5), q2 = (p+2 | p+6), q3 = (p+3 | p+7).
        const __m256 q0 = _mm256_shuffle_ps(t01lo, t23lo, 0x44), q1 = _mm256_shuffle_ps(t01lo, t23lo, 0xee);
        const __m256 q2 = _mm256_shuffle_ps(t01hi, t23hi, 0x44), q3 = _mm256_shuffle_ps(t01hi, t23hi, 0xee);
        const __m128 rows0123[8] = {_mm256_castps256_ps128(q0),   _mm256_castps256_ps128(q1),
                                    _mm256_castps256_ps128(q2),   _mm256_castps256_ps128(q3),
                                    _mm256_extractf128_ps(q0, 1), _mm256_extractf128_ps(q1, 1),
                                    _mm256_extractf128_ps(q2, 1), _mm256_extractf128_ps(q3, 1)};
        // Rows 4-5 stay paired: (p, p+1), (p+2, p+3), (p+4, p+5), (p+6, p+7), two floats per p.
        const __m128d rows45[4] = {
            _mm_castps_pd(_mm256_castps256_ps128(t45lo)), _mm_castps_pd(_mm256_castps256_ps128(t45hi)),
            _mm_castps_pd(_mm256_extractf128_ps(t45lo, 1)), _mm_castps_pd(_mm256_extractf128_ps(t45hi, 1))};
#pragma GCC unroll 8
        for (uint32_t i = 0; i < 8; i++) {
            float *out = dst + i * dst_stride;
            _mm_storeu_ps(out, rows0123[i]);
            if (i & 1) {
                _mm_storeh_pd((double *)(out + 4), rows45[i / 2]);
            } else {
                _mm_storel_pd((double *)(out + 4), rows45[i / 2]);
            }
        }
    }
    for (; p < depth; p++, dst += dst_stride) {
        dst[0] = r0[p], dst[1] = r1[p], dst[2] = r2[p];
        dst[3] = r3[p], dst[4] = r4[p], dst[5] = r5[p];
    }
}

}  // namespace
}  // namespace host
}  // namespace bitlm
