// kernels_avx2.cpp — AVX2 kernels: ternary/binary/int8 weights x int8 activations (GEMV for decode,
// GEMM for prefill) read straight from the at-rest artifact layout, and the activation quantizer.
// Equal to platform/generic bit for bit (tests/unit/test_kernels.cpp): exact int32 sums, then the
// float combination of tensor/dequant.h in the same order.
//
// Design (measurements at the end of this comment)
// - Weights are read in place, base 3, 1.6 bits/weight: 36 MB per bench-180m token — or, when the
//   runtime made one (bitlm_repack; this table sets prefers_ternary2), from a 2-bit in-RAM copy
//   (DType::Ternary2, tensor/ternary2_pack.h): 45 MB per token but ~4 ops per 32 weights instead of ~8
//   (shift, and, maddubs, add), which pays here because this GEMV is compute-bound ("Measured").
// - Base-3 decode of a 32-byte block (160 weights, digit plane k = weights 32k..32k+31): the digit
//   bytes t_k = (uint8)(q*3^k) come from t_{k+1} = t_k+t_k+t_k (byte adds wrap mod 256, no multiply),
//   and the trit is w = [t >= 171] - [t <= 85] (digit = floor(3t/256)).
// - Decode (one token, GEMV, fused): w*x per byte without materialising w:
//       s = subs_epu8(t, 170) - subs_epu8(86, t)     (sign of s is w; |s| <= 86, no wrap)
//       w*x = sign_epi8(x, s);  pairs summed by maddubs(1, w*x) into int16 (|pair| <= 254)
//   8 ops per 32 weights; int16 sums are widened (madd) every 25 blocks (125 planes * 254 < 32767).
//   Two rows per pass share the activation loads. The tail block (cols % 160 weights, B bytes, digit k
//   of byte j = weight B*k+j) is 5 more planes whose activations are gathered once per call into
//   zero-padded vectors (zero activation cancels garbage lanes).
// - Prefill (several tokens, GEMM) and group scales and binary weights: each row is decoded ONCE into
//   digits d in natural weight order in an L1 buffer (ternary d = w+1 in {0,1,2}, binary d = 2*bit,
//   weight = d - 1), then a register-blocked micro-kernel (4 rows x 2 tokens of int16 accumulators)
//   runs maddubs(d, x) (|pair| <= 508, widened every 64 planes) and the exact correction
//   sum(w*x) = sum(d*x) - sum(x) with per-token, per-group activation sums computed once per call.
// - Int8 weights (the tied head): maddubs(|w|, sign(x, w)) per row (|pair| <= 2*128*127 < 32767).
// - F16 weights: the reference loop (its fp32 column order is the contract; not on the benchmark path).
// - Activation quantizer: max over |x| bit patterns with max_epu32, then x*(127/amax) rounded with
//   round_ps (nearest even = det_rne), clamped with NaN-propagating min/max and NaN lanes zeroed:
//   the same q as quantize_act_int8_ref for every input, including NaN/inf/tiny amax.
// - Attention's weighted rows (float): 8 lanes, up to eight add chains, maskload tails; mul then add
//   in the scalar loop's order (no FMA), so the bits are the portable loop's.
// Nothing here reads outside a row range of the tensor or outside x: partial loads go through
// zero-padded copies (rows short of 32 bytes at the end of the tensor, the last activation chunk).
//
// Measured (AMD EPYC Zen 3 VM, 2 vCPUs shared with other work, gcc 12 -O2; a stack of ternary
// 2304x1024 row-scale matrices, 132M weights = 26 MB, one thread, best of 5; noisy to +-20%):
//   one token (GEMV):  generic 182 ms, avx2 4.3 ms per pass = 31 G weights/s. That is ~3 vector ops
//     per cycle at 7.6 ops per 32 weights: compute-bound, streaming only ~6 GB/s of the ~20 GB/s one
//     core reads (30 GB/s two cores; 36 MB buffer). Rows per pass 1/2/3/4: 5.3/4.4/4.3/4.4 ms.
//     The 2-bit in-RAM copy (2026-12-07, AVX-512 Zen 4 instance, gemv_ternary2, 24 rows of L2
//     prefetch): bench-180m tg64 at 2 threads ~288 -> ~480 tok/s, at 1 thread ~178 -> ~314 (DRAM-
//     bound there: ~57-79 G weights/s from DRAM on one core, 99-157 on two, in a 120 MB stack).
//   several tokens (GEMM, 16-64 tokens): ~360 token-passes/s per thread, ~55% of the maddubs port
//     limit (2 per cycle); the scalar per-(row, token) epilogue was 25% before the hadd-tree sums.
//   In the whole model (bitlm_run bench, perf) the float parts of forward.cpp (serial attention dot
//   products, det_expf, SiLU, RMSNorm) take ~40% of a 128-token prefill, and attention alone ~50% of
//   a decode step at 128-384 tokens of context (these kernels: ~35%).
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "core/detmath_lanes.h"
#include "core/fp16.h"
#include "quant/quantize.h"
#include "tensor/dequant.h"
#include "tensor/ternary2_pack.h"
#include "tensor/ternary_pack.h"
#include "x86/kernels_x86.h"

namespace bitlm {
namespace x86 {
namespace {

// ---- helpers ------------------------------------------------------------------------------------

inline __m256i times3(__m256i t) { return _mm256_add_epi8(_mm256_add_epi8(t, t), t); }

// w*x for the 32 trits whose digit bytes are t (w = -1 for t <= 85, 0 for 86..170, +1 for t >= 171).
inline __m256i trit_times(__m256i t, __m256i x) {
    const __m256i p = _mm256_subs_epu8(t, _mm256_set1_epi8((char)170));
    const __m256i n = _mm256_subs_epu8(_mm256_set1_epi8(86), t);
    return _mm256_sign_epi8(x, _mm256_sub_epi8(p, n));
}

// Digit d = floor(3t/256) in {0,1,2} = w + 1.
inline __m256i trit_digit(__m256i t) {
    const __m256i one = _mm256_set1_epi8(1);
    const __m256i a = _mm256_min_epu8(_mm256_subs_epu8(t, _mm256_set1_epi8(85)), one);
    const __m256i b = _mm256_min_epu8(_mm256_subs_epu8(t, _mm256_set1_epi8((char)170)), one);
    return _mm256_add_epi8(a, b);
}

inline int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

inline __m256i loadu(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
inline void storeu(void *p, __m256i v) { _mm256_storeu_si256((__m256i *)p, v); }

// n (< 32) bytes from p, zero above: never touches memory past p+n.
inline __m256i load_partial(const void *p, uint32_t n) {
    alignas(32) uint8_t buf[32];
    _mm256_store_si256((__m256i *)buf, _mm256_setzero_si256());
    memcpy(buf, p, n);
    return _mm256_load_si256((const __m256i *)buf);
}

inline float scale_of(const WeightView *w, uint32_t r, uint32_t g) { return f16_to_f32(w->scales[scale_index(*w, r, g)]); }

// Sum of n int8 values (sad of x+128 against zero, minus 128 per byte).
int32_t sum_i8(const int8_t *x, uint32_t n) {
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    __m256i acc = _mm256_setzero_si256();
    uint32_t i = 0;
    for (; i + 32 <= n; i += 32) acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_xor_si256(loadu(x + i), bias), _mm256_setzero_si256()));
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi64(s, _mm_unpackhi_epi64(s, s));
    int32_t total = (int32_t)_mm_cvtsi128_si64(s) - 128 * (int32_t)i;
    for (; i < n; i++) total += x[i];
    return total;
}

// ---- activation quantizer -----------------------------------------------------------------------

// q for 8 floats: clamp(rne(x*mult), -127, 127), NaN -> 0. min/max take the constant first so a NaN
// passes through (they return the second operand when either is NaN) and is then zeroed.
inline __m256i quantize8(__m256 x, __m256 mult) {
    const __m256 v = _mm256_round_ps(_mm256_mul_ps(x, mult), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 c = _mm256_max_ps(_mm256_set1_ps(-127.0f), _mm256_min_ps(_mm256_set1_ps(127.0f), v));
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_andnot_si256(nan, _mm256_cvttps_epi32(c));
}

float quantize_act_avx2(const float *x, uint32_t n, int8_t *q) {
    if (!x || !q) return 0.0f;
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
    __m256i m = _mm256_setzero_si256();
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) m = _mm256_max_epu32(m, _mm256_and_si256(loadu(x + i), abs_mask));
    __m128i m4 = _mm_max_epu32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    m4 = _mm_max_epu32(m4, _mm_shuffle_epi32(m4, 0x4e));
    m4 = _mm_max_epu32(m4, _mm_shuffle_epi32(m4, 0xb1));
    uint32_t amax_bits = (uint32_t)_mm_cvtsi128_si32(m4);
    for (; i < n; i++) {
        uint32_t b;
        memcpy(&b, x + i, 4);
        b &= 0x7fffffffu;
        if (b > amax_bits) amax_bits = b;
    }
    float amax;
    memcpy(&amax, &amax_bits, sizeof amax);
    if (amax_bits == 0 || amax_bits >= 0x7f800000u) {
        memset(q, 0, n);
        return amax_bits == 0 ? 0.0f : amax / 127.0f;
    }
    const __m256 mult = _mm256_set1_ps(127.0f / amax);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i a = quantize8(_mm256_loadu_ps(x + i), mult), b = quantize8(_mm256_loadu_ps(x + i + 8), mult);
        const __m256i c = quantize8(_mm256_loadu_ps(x + i + 16), mult), d = quantize8(_mm256_loadu_ps(x + i + 24), mult);
        const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
        storeu(q + i, _mm256_permutevar8x32_epi32(bytes, order));
    }
    for (; i < n; i += 8) {  // last 1..31 values, 8 at a time through a zero-padded copy
        const uint32_t k = n - i < 8 ? n - i : 8;
        alignas(32) float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(buf, x + i, k * sizeof(float));
        const __m256i v = quantize8(_mm256_load_ps(buf), mult);
        const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        alignas(16) int8_t out[16];
        _mm_store_si128((__m128i *)out, _mm_packs_epi16(w, w));
        memcpy(q + i, out, k);
    }
    return amax / 127.0f;
}

// ---- ternary GEMV, fused decode (one token, tensor/row scale) -----------------------------------


// Can a `width`-byte load at byte `offset` of row r stay inside the tensor (which ends with the last
// row's packed bytes, not a whole row_bytes stride)?
inline bool load_inside(const WeightView *w, uint32_t r, uint32_t offset, uint32_t width) {
    const uint64_t end = (uint64_t)(w->rows - 1) * w->row_bytes + ternary_packed_bytes(w->cols);
    return (uint64_t)r * w->row_bytes + offset + width <= end;
}

// The n (<= 16) tail bytes at `offset` of row r in the low 128 bits: a plain load where it stays inside
// the tensor (the bytes past n are the next row's, multiplied by zero activations), else a copy.
inline __m128i load_tail16(const WeightView *w, uint32_t r, uint32_t offset, uint32_t n) {
    const uint8_t *p = w->data + (uint64_t)r * w->row_bytes + offset;
    return load_inside(w, r, offset, 16) ? _mm_loadu_si128((const __m128i *)p) : _mm256_castsi256_si128(load_partial(p, n));
}

// Exact sum over the row of w*x for NR rows r0.. (int32 each).
template <int NR>
void gemv_ternary(const WeightView *w, uint32_t r0, const int8_t *x, const TernaryShape &s, const int8_t tail[5][32],
                  int32_t *out) {
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    const uint8_t *row[NR];
    __m256i acc[NR];
    #pragma GCC unroll 8
    for (int i = 0; i < NR; i++) {
        row[i] = w->data + (uint64_t)(r0 + i) * w->row_bytes;
        acc[i] = _mm256_setzero_si256();
    }
    uint32_t b = 0;
    while (b < s.nfull) {
        const uint32_t end = s.nfull - b > 25 ? b + 25 : s.nfull;  // 125 planes * 254 fit int16
        __m256i a16[NR];
        #pragma GCC unroll 8
        for (int i = 0; i < NR; i++) a16[i] = _mm256_setzero_si256();
        for (; b < end; b++) {
            const int8_t *xb = x + (uint64_t)b * kTernaryBlockWeights;
            __m256i t[NR];
            #pragma GCC unroll 8
            for (int i = 0; i < NR; i++) t[i] = loadu(row[i] + (uint64_t)b * kTernaryBlockBytes);
#pragma GCC unroll 5
            for (int k = 0; k < 5; k++) {
                const __m256i xk = loadu(xb + 32 * k);
                #pragma GCC unroll 8
                for (int i = 0; i < NR; i++) {
                    a16[i] = _mm256_add_epi16(a16[i], _mm256_maddubs_epi16(ones8, trit_times(t[i], xk)));
                    if (k < 4) t[i] = times3(t[i]);
                }
            }
        }
        #pragma GCC unroll 8
        for (int i = 0; i < NR; i++) acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(a16[i], ones16));
    }
    if (s.rest) {
        const uint32_t off = s.nfull * kTernaryBlockBytes;
        int i = 0;
        // Tails of up to 16 bytes (bench-180m: 13), two rows in one vector — row i in the low 128 bits,
        // row i+1 in the high, each against the first 16 lanes of the planes — instead of one row in a
        // vector that is mostly padding (test_kernels --bench, in cache: 2304x1024 38.9 -> 40.1 and
        // 1024x2304 45.0 -> 45.8 G weights/s).
        if (s.bytes <= 16) {
            for (; i + 2 <= NR; i += 2) {
                __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(load_tail16(w, r0 + i, off, s.bytes)),
                                                    load_tail16(w, r0 + i + 1, off, s.bytes), 1);
                __m256i a16 = _mm256_setzero_si256();
                #pragma GCC unroll 8
                for (int k = 0; k < 5; k++) {
                    const __m256i xk = _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)tail[k]));
                    a16 = _mm256_add_epi16(a16, _mm256_maddubs_epi16(ones8, trit_times(t, xk)));
                    t = times3(t);
                }
                const __m256i sums = _mm256_madd_epi16(a16, ones16);  // lanes 0-3: row i, 4-7: row i+1
                acc[i] = _mm256_add_epi32(acc[i], _mm256_blend_epi32(_mm256_setzero_si256(), sums, 0x0f));
                acc[i + 1] = _mm256_add_epi32(acc[i + 1], _mm256_blend_epi32(_mm256_setzero_si256(), sums, 0xf0));
            }
        }
        #pragma GCC unroll 8
        for (; i < NR; i++) {
            __m256i t = load_inside(w, r0 + i, off, 32) ? loadu(row[i] + off) : load_partial(row[i] + off, s.bytes);
            __m256i a16 = _mm256_setzero_si256();
            #pragma GCC unroll 8
            for (int k = 0; k < 5; k++) {
                a16 = _mm256_add_epi16(a16, _mm256_maddubs_epi16(ones8, trit_times(t, loadu(tail[k]))));
                t = times3(t);
            }
            acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(a16, ones16));
        }
    }
    #pragma GCC unroll 8
    for (int i = 0; i < NR; i++) out[i] = hsum_epi32(acc[i]);
}

constexpr int kGemvRows = 2;  // rows per pass (1 to 4 measured within noise of each other; 2 divides tasks)

template <int N>
struct PassRows {
    static constexpr int n = N;
};

// Rows [row_begin, row_end) kGemvRows at a time, then one at a time: pass(PassRows<NR>, r, acc) gives
// the exact int32 sums of rows r .. r+NR-1, dequantized here into y (tensor/row scales).
template <class Pass>
void gemv_passes(const WeightView *w, float x_scale, uint32_t row_begin, uint32_t row_end, float *y, Pass pass) {
    uint32_t r = row_begin;
    int32_t acc[kGemvRows];
    for (; r + kGemvRows <= row_end; r += kGemvRows) {
        pass(PassRows<kGemvRows>{}, r, acc);
#pragma GCC unroll 4
        for (int i = 0; i < kGemvRows; i++) y[r + i] = dequant_dot(acc[i], scale_of(w, r + i, 0), x_scale);
    }
    for (; r < row_end; r++) {
        pass(PassRows<1>{}, r, acc);
        y[r] = dequant_dot(acc[0], scale_of(w, r, 0), x_scale);
    }
}

void matmul_ternary_gemv(const WeightView *w, const int8_t *x, float x_scale, uint32_t row_begin, uint32_t row_end,
                         float *y) {
    const TernaryShape s = ternary_shape(w->cols);
    alignas(32) int8_t tail[5][32];
    if (s.rest) ternary_tail_planes(s, x, tail);
    gemv_passes(w, x_scale, row_begin, row_end, y, [&](auto rows, uint32_t r, int32_t *acc) {
        gemv_ternary<decltype(rows)::n>(w, r, x, s, tail, acc);
    });
}

// ---- Ternary2 GEMV (the 2-bit in-RAM copy: tensor/ternary2_pack.h) -------------------------------

// Rows ahead the Ternary2 GEMV prefetches (into L2), plus the first that many of each call at its
// start: a row is short (8 blocks at 1024 columns) and a pass reads two side by side, streams the
// hardware prefetchers do not follow. bench-180m tg64 at 2 threads (six runs each, medians): 8 rows
// without the start-of-call prefetch ~360 tok/s; with it 16 rows ~430, 24 ~435, 32 ~435, 48 ~410.
constexpr uint32_t kTernary2PrefetchRows = 24;

// sum over the row of (code - 1) * x for NR rows r0.. : maddubs(code, x) pairs (|pair| <= 2*2*127) in
// int16 for 16 blocks (64 planes * 508 < 32767), widened with madd, minus sum(x). The last block's
// activations come from a zero-padded copy (x has only `cols` bytes); codes past cols are 0.
template <int NR>
void gemv_ternary2(const WeightView *w, uint32_t r0, const int8_t *x, const int8_t *x_last, int32_t xsum,
                   int32_t *out) {
    const __m256i m3 = _mm256_set1_epi8(3), ones16 = _mm256_set1_epi16(1);
    const uint32_t nblk = (uint32_t)((w->cols + kTernary2BlockWeights - 1) / kTernary2BlockWeights);
    const uint8_t *row[NR];
    __m256i acc[NR];
    #pragma GCC unroll 4
    for (int i = 0; i < NR; i++) {
        row[i] = w->data + (uint64_t)(r0 + i) * w->row_bytes;
        acc[i] = _mm256_setzero_si256();
    }
    const uint8_t *pf = w->data + (uint64_t)(r0 + kTernary2PrefetchRows) * w->row_bytes;
    for (uint32_t b0 = 0; b0 < nblk; b0 += 16) {
        const uint32_t end = nblk - b0 > 16 ? b0 + 16 : nblk;
        __m256i a16[NR];
        #pragma GCC unroll 4
        for (int i = 0; i < NR; i++) a16[i] = _mm256_setzero_si256();
        for (uint32_t b = b0; b < end; b++) {
            const int8_t *xb = b + 1 < nblk ? x + (uint64_t)b * kTernary2BlockWeights : x_last;
            __m256i v[NR];
            #pragma GCC unroll 4
            for (int i = 0; i < NR; i++) {
                v[i] = loadu(row[i] + (uint64_t)b * kTernary2BlockBytes);
                _mm_prefetch((const char *)pf + (uint64_t)i * w->row_bytes + (uint64_t)b * kTernary2BlockBytes, _MM_HINT_T1);
            }
            #pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                const __m256i xk = loadu(xb + 32 * k);
                #pragma GCC unroll 4
                for (int i = 0; i < NR; i++) {
                    const __m256i c = _mm256_and_si256(k ? _mm256_srli_epi16(v[i], 2 * k) : v[i], m3);
                    a16[i] = _mm256_add_epi16(a16[i], _mm256_maddubs_epi16(c, xk));
                }
            }
        }
        #pragma GCC unroll 4
        for (int i = 0; i < NR; i++) acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(a16[i], ones16));
    }
    #pragma GCC unroll 4
    for (int i = 0; i < NR; i++) out[i] = hsum_epi32(acc[i]) - xsum;
}

void matmul_ternary2_gemv(const WeightView *w, const int8_t *x, float x_scale, uint32_t row_begin, uint32_t row_end,
                          float *y) {
    const uint32_t n = w->cols, last = (n - 1) / kTernary2BlockWeights * kTernary2BlockWeights;
    alignas(32) int8_t x_last[kTernary2BlockWeights] = {};
    memcpy(x_last, x + last, n - last);
    const int32_t xsum = sum_i8(x, n);
    // The rows before the first the passes prefetch (a thread claims a few tasks at a time).
    const uint32_t warm = row_end - row_begin < kTernary2PrefetchRows ? row_end - row_begin : kTernary2PrefetchRows;
    for (uint64_t i = 0; i < (uint64_t)warm * w->row_bytes; i += 64)
        _mm_prefetch((const char *)w->data + (uint64_t)row_begin * w->row_bytes + i, _MM_HINT_T1);
    gemv_passes(w, x_scale, row_begin, row_end, y, [&](auto rows, uint32_t r, int32_t *acc) {
        gemv_ternary2<decltype(rows)::n>(w, r, x, x_last, xsum, acc);
    });
}

// ---- decode rows to digits in natural order (GEMM, group scales, binary) ------------------------

// Digits d (weight = d - 1) of row r in natural order into out[0, round_up(cols, 32)), zero past cols.
// out needs round_up(cols, 32) + 64 bytes.
void decode_row(const WeightView *w, uint32_t r, uint8_t *out) {
    const uint8_t *row = w->data + (uint64_t)r * w->row_bytes;
    const uint32_t n = w->cols;
    if (w->dtype == DType::Ternary) {
        const TernaryShape s = ternary_shape(n);
        for (uint32_t b = 0; b < s.nfull; b++) {
            __m256i t = loadu(row + (uint64_t)b * kTernaryBlockBytes);
            uint8_t *o = out + (uint64_t)b * kTernaryBlockWeights;
            #pragma GCC unroll 8
            for (int k = 0; k < 5; k++) {
                storeu(o + 32 * k, trit_digit(t));
                t = times3(t);
            }
        }
        if (s.rest) {
            const uint32_t off = s.nfull * kTernaryBlockBytes;
            __m256i t = load_inside(w, r, off, 32) ? loadu(row + off) : load_partial(row + off, s.bytes);
            // Plane k lands at base + B*k; the next plane overwrites its lanes past B, the zeros below
            // the lanes past the tail (digit 0 times any activation in the padding is 0).
            for (uint32_t k = 0; k < 5; k++) {
                storeu(out + s.base + s.bytes * k, trit_digit(t));
                t = times3(t);
            }
            storeu(out + n, _mm256_setzero_si256());
        }
    } else if (w->dtype == DType::Ternary2) {  // d = the code; planes past round_up(cols, 32) not stored
        const __m256i m3 = _mm256_set1_epi8(3);
        for (uint32_t b = 0; (uint64_t)b * kTernary2BlockWeights < n; b++) {
            const __m256i v = loadu(row + (uint64_t)b * kTernary2BlockBytes);
            #pragma GCC unroll 4
            for (uint32_t k = 0; k < 4; k++) {
                const uint32_t at = b * kTernary2BlockWeights + 32 * k;
                if (at < n) storeu(out + at, _mm256_and_si256(_mm256_srli_epi16(v, (int)(2 * k)), m3));
            }
        }
    } else {  // Binary: bit i of byte j is weight 8j+i; d = 2 * bit
        const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2,
                                                3, 3, 3, 3, 3, 3, 3, 3);
        const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
        const __m256i two = _mm256_set1_epi8(2);
        for (uint32_t c = 0; c < n; c += 32) {
            uint32_t bits = 0;
            memcpy(&bits, row + c / 8, n - c >= 32 ? 4 : (n - c + 7) / 8);
            const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread), bit);
            storeu(out + c, _mm256_and_si256(_mm256_cmpeq_epi8(v, bit), two));
        }
        if (n % 32) storeu(out + n, _mm256_setzero_si256());
    }
}

// ---- GEMM micro-kernel: R rows of digits x T tokens ---------------------------------------------

constexpr int kTileRows = 4;
constexpr int kTileTokens = 2;

// Horizontal sums of n <= 8 vectors (hadd tree; missing vectors count as zero).
inline void hsum_many(const __m256i *v, int n, int32_t *out) {
    __m256i p[8];
    for (int i = 0; i < 8; i++) p[i] = i < n ? v[i] : _mm256_setzero_si256();
    const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
    alignas(32) int32_t s[8];
    _mm256_store_si256((__m256i *)s, _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31)));
    for (int i = 0; i < n; i++) out[i] = s[i];
}

// acc[r][t] = sum over columns [c0, c1) of d[r] * x[t]; c0 is a multiple of 32, c1 one too or cols.
template <int R, int T>
void dot_tile(const uint8_t *const *d, const int8_t *const *x, uint32_t c0, uint32_t c1, int32_t acc[][kTileTokens]) {
    const __m256i ones16 = _mm256_set1_epi16(1);
    const uint32_t full_end = c0 + (c1 - c0) / 32 * 32;
    __m256i s32[R * T];
#pragma GCC unroll 8
    for (int i = 0; i < R * T; i++) s32[i] = _mm256_setzero_si256();
    uint32_t c = c0;
    while (c < full_end) {
        const uint32_t end = full_end - c > 64 * 32 ? c + 64 * 32 : full_end;  // 64 planes * 508 fit int16
        __m256i a[R][T];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) a[r][t] = _mm256_setzero_si256();
        for (; c < end; c += 32) {
            __m256i wv[R];
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) wv[r] = loadu(d[r] + c);
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const __m256i xv = loadu(x[t] + c);
#pragma GCC unroll 8
                for (int r = 0; r < R; r++) a[r][t] = _mm256_add_epi16(a[r][t], _mm256_maddubs_epi16(wv[r], xv));
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) s32[r * T + t] = _mm256_add_epi32(s32[r * T + t], _mm256_madd_epi16(a[r][t], ones16));
    }
    if (c < c1) {  // the last, partial 32 columns of the row: no activation read past the token
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const __m256i xv = load_partial(x[t] + c, c1 - c);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++)
                s32[r * T + t] = _mm256_add_epi32(s32[r * T + t], _mm256_madd_epi16(_mm256_maddubs_epi16(loadu(d[r] + c), xv), ones16));
        }
    }
    int32_t sums[R * T];
    hsum_many(s32, R * T, sums);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) acc[r][t] = sums[r * T + t];
}

using DotTileFn = void (*)(const uint8_t *const *, const int8_t *const *, uint32_t, uint32_t, int32_t[][kTileTokens]);
const DotTileFn kDotTile[kTileRows][kTileTokens] = {
    {dot_tile<1, 1>, dot_tile<1, 2>},
    {dot_tile<2, 1>, dot_tile<2, 2>},
    {dot_tile<3, 1>, dot_tile<3, 2>},
    {dot_tile<4, 1>, dot_tile<4, 2>},
};

// The outputs of a full tile with tensor/row scales: y[t*y_stride + r] = dequant_dot(acc[r][t] - xsum[t],
// row_scale[r], x_scale[t]), all 8 at once. cvtdq2ps and mulps round exactly as the scalar conversion
// and products: the same bits.
inline void store_tile(const int32_t acc[][kTileTokens], const int32_t *xsum, const float *row_scale, const float *x_scale,
                       float *y, uint32_t y_stride) {
    const __m256i by_token = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);  // lane 4t+r <- acc[r][t]
    const __m256i a = _mm256_permutevar8x32_epi32(loadu(acc), by_token);
    const __m256i xs = _mm256_setr_epi32(xsum[0], xsum[0], xsum[0], xsum[0], xsum[1], xsum[1], xsum[1], xsum[1]);
    const __m256 rs = _mm256_broadcast_ps((const __m128 *)row_scale);
    const __m256 ts = _mm256_setr_ps(x_scale[0], x_scale[0], x_scale[0], x_scale[0], x_scale[1], x_scale[1], x_scale[1], x_scale[1]);
    const __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(a, xs)), rs), ts);
    _mm_storeu_ps(y, _mm256_castps256_ps128(v));
    _mm_storeu_ps(y + y_stride, _mm256_extractf128_ps(v, 1));
}

constexpr uint32_t kDigitBufBytes = 64 * 1024;
constexpr uint32_t kXSumCap = 2048;  // per-token, per-group activation sums kept at once

const bitlm_kernels *reference() { return bitlm_reference_kernels(); }

// Ternary or binary weights, any token count, any scale layout: decode each row once, reuse it for
// every token of the call.
// Digits of ternary (d in {0,1,2}) and binary (d in {0,2}) rows are the weight + 1.
constexpr uint32_t kDigitRowAlign = 32;
inline int32_t digit_offset(const WeightView *) { return 1; }
#include "x86/matmul_buffered.inc"

// ---- int8 weights (row scales) ------------------------------------------------------------------

void matmul_int8(const WeightView *w, const int8_t *x, const float *x_scale, uint32_t n_tok, uint32_t row_begin,
                 uint32_t row_end, float *y, uint32_t y_stride) {
    const uint32_t n = w->cols, full = n / 32 * 32;
    const __m256i ones16 = _mm256_set1_epi16(1);
    for (uint32_t r = row_begin; r < row_end; r++) {
        const int8_t *row = (const int8_t *)(w->data + (uint64_t)r * w->row_bytes);
        const __m256i wlast = full < n ? load_partial(row + full, n - full) : _mm256_setzero_si256();
        const float s = scale_of(w, r, 0);
        for (uint32_t t = 0; t < n_tok; t++) {
            const int8_t *xt = x + (uint64_t)t * n;
            __m256i acc = _mm256_setzero_si256();
            for (uint32_t c = 0; c < full; c += 32) {
                const __m256i wv = loadu(row + c);
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(loadu(xt + c), wv)), ones16));
            }
            if (full < n) {
                const __m256i xv = load_partial(xt + full, n - full);
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(wlast), _mm256_sign_epi8(xv, wlast)), ones16));
            }
            y[(uint64_t)t * y_stride + r] = dequant_dot(hsum_epi32(acc), s, x_scale[t]);
        }
    }
}

// ---- attention's weighted rows (float) -----------------------------------------------------------

// Lanes below n of an AVX mask (maskload/maskstore never touch the others).
inline __m256i lane_mask(uint32_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// V ymm accumulators (8V outputs from `off`); with Masked, the last one reads and writes only the
// lanes of `last` (a full block uses plain loads: vmaskmovps costs more on the hot path). Every lane
// adds its products in j order from 0.0f, like the scalar loop (mul then add, never fused). Up to
// eight independent add chains for attention's 64-wide blocks (a key tile, a head's 64 values).
template <int V, bool Masked>
void weighted_rows_ymm(const float *a, const float *rows, uint64_t stride, uint32_t n, uint32_t off, __m256i last,
                       float *out) {
    __m256 acc[V];
    #pragma GCC unroll 8
    for (int v = 0; v < V; v++) acc[v] = _mm256_setzero_ps();
    for (uint32_t j = 0; j < n; j++) {
        const __m256 aj = _mm256_set1_ps(a[j]);
        const float *r = rows + j * stride + off;
        #pragma GCC unroll 8
        for (int v = 0; v < V; v++) {
            const __m256 rv = Masked && v == V - 1 ? _mm256_maskload_ps(r + 8 * v, last) : _mm256_loadu_ps(r + 8 * v);
            acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(aj, rv));
        }
    }
    #pragma GCC unroll 8
    for (int v = 0; v < V; v++) {
        if (Masked && v == V - 1) {
            _mm256_maskstore_ps(out + off + 8 * v, last, acc[v]);
        } else {
            _mm256_storeu_ps(out + off + 8 * v, acc[v]);
        }
    }
}

void weighted_rows_avx2(const float *a, const float *rows, uint64_t stride, uint32_t n, uint32_t width, float *out) {
    uint32_t i = 0;
    for (; i + 64 <= width; i += 64) weighted_rows_ymm<8, false>(a, rows, stride, n, i, _mm256_setzero_si256(), out);
    if (i == width) return;
    const uint32_t rest = width - i, v = (rest + 7) / 8;
    const __m256i last = lane_mask(rest - 8 * (v - 1));
    using Fn = void (*)(const float *, const float *, uint64_t, uint32_t, uint32_t, __m256i, float *);
    static const Fn kBlock[8] = {weighted_rows_ymm<1, true>, weighted_rows_ymm<2, true>, weighted_rows_ymm<3, true>,
                                 weighted_rows_ymm<4, true>, weighted_rows_ymm<5, true>, weighted_rows_ymm<6, true>,
                                 weighted_rows_ymm<7, true>, weighted_rows_ymm<8, true>};
    kBlock[v - 1](a, rows, stride, n, i, last, out);
}

// Softmax and SwiGLU: detmath_lanes.h's forms on 8 lanes (this file's own copy, AVX2 code).
void expf_shifted_avx2(float *x, uint32_t n, float shift) { expf_shifted_lanes<8>(x, n, shift); }
void silu_mul_avx2(const float *gate, float *x, uint32_t n) { silu_mul_lanes<8>(gate, x, n); }

// ---- table --------------------------------------------------------------------------------------

void matmul_q8_avx2(const WeightView *w, const int8_t *x, const float *x_scale, uint32_t n_tok, uint32_t row_begin,
                    uint32_t row_end, float *y, uint32_t y_stride) {
    if (row_begin >= row_end || n_tok == 0) return;
    switch (w->dtype) {
        case DType::Ternary:
            if (n_tok == 1 && w->scale_kind != ScaleKind::Group && w->cols <= (1u << 20)) {
                matmul_ternary_gemv(w, x, x_scale[0], row_begin, row_end, y);
                return;
            }
            matmul_buffered(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
            return;
        case DType::Ternary2:  // tensor or row scales (bitlm_repack makes no other)
            if (n_tok == 1) {
                matmul_ternary2_gemv(w, x, x_scale[0], row_begin, row_end, y);
            } else {
                matmul_buffered(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
            }
            return;
        case DType::Binary:
            if (w->scale_kind != ScaleKind::Group) {
                matmul_buffered(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
                return;
            }
            break;
        case DType::Int8:
            if (w->scale_kind == ScaleKind::Row) {
                matmul_int8(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
                return;
            }
            break;
        default: break;
    }
    reference()->matmul_q8(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);  // layouts the reader rejects
}

void matmul_f16_avx2(const WeightView *w, const float *x, uint32_t n_tok, uint32_t row_begin, uint32_t row_end, float *y,
                     uint32_t y_stride) {
    reference()->matmul_f16(w, x, n_tok, row_begin, row_end, y, y_stride);
}

const bitlm_kernels kAvx2 = {"avx2", quantize_act_avx2, matmul_q8_avx2, matmul_f16_avx2, weighted_rows_avx2,
                             expf_shifted_avx2, silu_mul_avx2, 1};

}  // namespace

const bitlm_kernels *avx2_kernels() { return &kAvx2; }

}  // namespace x86
}  // namespace bitlm
