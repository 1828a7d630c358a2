// kernels_avx512.cpp — AVX-512 (F, BW, VL, VNNI) kernels: ternary/binary/int8 weights x int8
// activations read straight from the at-rest artifact layout, and the activation quantizer. Equal to
// platform/generic bit for bit (tests/unit/test_kernels.cpp natively on AVX-512 CPUs; on others
// tests/unit/test_kernels_avx512_emulated.cpp runs this same source through SIMDe).
//
// Design
// - Weights are read in place (base 3, 1.6 bits/weight), like the AVX2 path (see kernels_avx2.cpp).
// - Decode (one token, GEMV, tensor/row scale), fused, with no per-weight digit extraction at all:
//   with t_k = (uint8)(q*3^k) and t_{k+1} = 3*t_k mod 256, the digit is d_k = (3*t_k - t_{k+1}) / 256
//   exactly, so for each block
//       256 * sum_k d_k*x_k = 3 * sum_k t_k*x_k - sum_k t_{k+1}*x_k
//   and both sums are u8 x s8 dot products: vpdpbusd, which (unlike maddubs) does not saturate. Per
//   32-byte block: 5 t updates (2 byte adds each) and 10 vpdpbusd; a zmm holds two consecutive blocks
//   of one row, a pass takes 8 rows, prefetching a later pass into L2 (see gemv_ternary_pass).
//   Per-lane sums stay multiples of 256, so the final >> 8 is exact; sum(w*x) = sum(d*x) - sum(x).
//   The tail block's bytes are a masked load (no over-read); its activations are gathered once per
//   call into zero-padded planes (ternary_tail_planes).
// - Prefill (several tokens), group scales, binary and int8: each row is decoded once into bytes d in
//   natural order (ternary d = w+1, binary d = 2*bit, int8 d = w+128) in an L1 buffer, then a 4-row x
//   4-token register tile of vpdpbusd(d, x) with masked activation loads at group/row ends, and the
//   exact correction sum(w*x) = sum(d*x) - c * sum(x) (c = 1 or 128) from per-token group sums.
// - Binary weights: the 64 sign bits of 8 bytes ARE an AVX-512 mask (bit i of byte j = weight 8j+i),
//   so d = maskz_mov(bits, 2) is one instruction per 64 weights. VPOPCNTDQ would help binary x binary
//   (XNOR-popcount, the planned binary-activation mode); with int8 activations a bit-serial popcount
//   needs ~16 ops per 64 weights against 2 here, so this table does not require it.
// - Activation quantizer: as kernels_avx2.cpp, 16 lanes, masked tails.
// - Attention's weighted rows (float): 16 lanes, up to four add chains, masked tails; mul then add.
// Measured (`test_kernels --bench`, AMD EPYC (Zen 4) with AVX-512 VNNI, one thread, noisy; README
// "Measurements" has the model figures): GEMV 80-95 G weights/s in cache (a zmm vpdpbusd issues once a
// cycle here, so 10 per 320 weights bound it at ~115 G at 3.6 GHz), 67-72 G streamed from DRAM; GEMM
// at 128 tokens 170-197 G weight-tokens/s.
#ifndef BITLM_X86_INTRINSICS_INCLUDED  // defined by the SIMDe emulation test, which brings its own
#include <immintrin.h>
#endif
#include <stdint.h>
#include <string.h>

#include "core/detmath_lanes.h"
#include "core/fp16.h"
#include "quant/quantize.h"
#include "tensor/dequant.h"
#include "tensor/ternary_pack.h"
#include "x86/kernels_x86.h"

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
// GCC 12 warns about its own _mm512_undefined_* idiom (`__m512i __Y = __Y;`) wherever intrinsics such
// as _mm512_inserti64x4 or _mm512_max_epu32 inline (GCC PR 105593, fixed in 13). Nothing below reads
// uninitialized data of its own (the sanitizer and emulation tests cover this file).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace bitlm {
namespace x86 {
namespace {

// ---- helpers ------------------------------------------------------------------------------------

inline __m512i times3(__m512i t) { return _mm512_add_epi8(_mm512_add_epi8(t, t), t); }
inline __m256i times3(__m256i t) { return _mm256_add_epi8(_mm256_add_epi8(t, t), t); }

// Digit d = floor(3t/256) in {0,1,2}.
inline __m256i trit_digit(__m256i t) {
    const __m256i one = _mm256_set1_epi8(1);
    const __m256i a = _mm256_min_epu8(_mm256_subs_epu8(t, _mm256_set1_epi8(85)), one);
    const __m256i b = _mm256_min_epu8(_mm256_subs_epu8(t, _mm256_set1_epi8((char)170)), one);
    return _mm256_add_epi8(a, b);
}

inline int32_t hsum256(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

inline int32_t hsum512(__m512i v) {
    return hsum256(_mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)));
}

inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
inline __m512i loadu512(const void *p) { return _mm512_loadu_si512(p); }
inline __mmask32 mask32(uint32_t n) { return n >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << n) - 1); }
inline __mmask64 mask64(uint32_t n) { return n >= 64 ? (__mmask64)~0ull : (__mmask64)((1ull << n) - 1); }

inline float scale_of(const WeightView *w, uint32_t r, uint32_t g) { return f16_to_f32(w->scales[scale_index(*w, r, g)]); }

// Sum of n int8 values (sad of x+128 against zero, minus 128 per byte; masked bytes read as 0).
int32_t sum_i8(const int8_t *x, uint32_t n) {
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512i acc = _mm512_setzero_si512();
    uint32_t i = 0;
    for (; i < n; i += 64) {
        const __m512i v = _mm512_maskz_loadu_epi8(mask64(n - i), x + i);
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_xor_si512(v, bias), _mm512_setzero_si512()));
    }
    alignas(64) int64_t lanes[8];
    _mm512_store_si512(lanes, acc);
    int64_t total = 0;
    for (int k = 0; k < 8; k++) total += lanes[k];
    return (int32_t)(total - 128 * (int64_t)i);
}

// ---- activation quantizer -----------------------------------------------------------------------

float quantize_act_avx512(const float *x, uint32_t n, int8_t *q) {
    if (!x || !q) return 0.0f;
    const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
    __m512i m = _mm512_setzero_si512();
    for (uint32_t i = 0; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        m = _mm512_max_epu32(m, _mm512_and_si512(_mm512_maskz_loadu_epi32(k, x + i), abs_mask));
    }
    alignas(64) uint32_t lanes[16];
    _mm512_store_si512(lanes, m);
    uint32_t amax_bits = 0;
    for (int k = 0; k < 16; k++)
        if (lanes[k] > amax_bits) amax_bits = lanes[k];
    float amax;
    memcpy(&amax, &amax_bits, sizeof amax);
    if (amax_bits == 0 || amax_bits >= 0x7f800000u) {
        memset(q, 0, n);
        return amax_bits == 0 ? 0.0f : amax / 127.0f;
    }
    const __m512 mult = _mm512_set1_ps(127.0f / amax);
    const __m512 hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
    for (uint32_t i = 0; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        const __m512 v = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), mult),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        // min/max return their second operand when either is NaN: a NaN passes through, then is zeroed.
        const __m512 c = _mm512_max_ps(lo, _mm512_min_ps(hi, v));
        const __mmask16 number = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
        const __m512i iv = _mm512_maskz_mov_epi32(number, _mm512_cvttps_epi32(c));
        _mm_mask_storeu_epi8(q + i, k, _mm512_cvtepi32_epi8(iv));
    }
    return amax / 127.0f;
}

// ---- ternary GEMV, fused (one token, tensor/row scale) ------------------------------------------

constexpr int kGemvRows = 8;  // rows a pass: 16 vpdpbusd chains (A and B per row)
// Weights are prefetched this many passes ahead, into L2 (T1). A pass's rows are short (7 block pairs
// at bench-180m) and read side by side, eight streams a row apart that the hardware prefetchers do
// not follow, so decode streams the model from DRAM at the rate software prefetch sustains. Measured
// over a 120 MB stack of 1024x2304 / 2304x1024 matrices (test_kernels --bench, one thread): into L1
// (T0) two passes ahead 40-58 G weights/s; into L2 two passes ahead 61 / 70, three 66 / 73, four
// 67 / 70, six 65 / 66 (likely because L2 keeps more misses in flight than L1 does).
constexpr uint32_t kPrefetchPasses = 3;

// The activation planes k of whole blocks b and b+1 side by side: the partner of a zmm that holds 64
// consecutive bytes of one row (block b in the low 256 bits, b+1 in the high).
inline __m512i block_pair_plane(const int8_t *x, uint32_t b, int k) {
    const int8_t *p = x + (uint64_t)b * kTernaryBlockWeights + 32 * k;
    return _mm512_inserti64x4(_mm512_castsi256_si512(loadu256(p)), loadu256(p + kTernaryBlockWeights), 1);
}

// Eight 16-lane int32 sums reduced to one lane each, in order: 24 shuffles and adds where eight
// separate horizontal sums take ~70 (the tree halves the lanes of all eight at every step).
inline __m256i hsum8x16(const __m512i v[kGemvRows]) {
    __m512i s[4];
    #pragma GCC unroll 4
    for (int i = 0; i < 4; i++)  // per 128 bits: [v2i, v2i+1, v2i, v2i+1] partials
        s[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
    // per 128 bits: [v0, v1, v2, v3] and [v4, v5, v6, v7]
    const __m512i lo = _mm512_add_epi32(_mm512_unpacklo_epi64(s[0], s[1]), _mm512_unpackhi_epi64(s[0], s[1]));
    const __m512i hi = _mm512_add_epi32(_mm512_unpacklo_epi64(s[2], s[3]), _mm512_unpackhi_epi64(s[2], s[3]));
    // 128-bit chunks [lo0+lo1, lo2+lo3, hi0+hi1, hi2+hi3]
    const __m512i u = _mm512_add_epi32(_mm512_shuffle_i32x4(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)),
                                       _mm512_shuffle_i32x4(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i w = _mm512_shuffle_i32x4(u, u, _MM_SHUFFLE(3, 1, 2, 0));  // [lo0+lo1, hi0+hi1, lo2+lo3, hi2+hi3]
    return _mm256_add_epi32(_mm512_castsi512_si256(w), _mm512_extracti64x4_epi64(w, 1));
}

// 256 * sum d*x per lane from A = sum t_k*x_k and B = sum t_{k+1}*x_k (see the file comment).
inline __m512i digit_sums(__m512i A, __m512i B) { return _mm512_sub_epi32(_mm512_add_epi32(_mm512_add_epi32(A, A), A), B); }

// Per-call constants of the GEMV.
struct GemvCall {
    const WeightView *w;
    const int8_t *x;
    TernaryShape s;
    alignas(32) int8_t tail[5][32];  // the tail block's activation planes (ternary_tail_planes)
    int32_t xsum;                    // sum(x): sum(w*x) = sum(d*x) - xsum
    float x_scale;
    float tensor_scale;  // the weight scale where there is one for the whole tensor
    uint32_t pf_step;  // bytes of a later pass's rows prefetched per block pair
};

// Rows r0 .. r0+n-1 (n <= 8; a short pass repeats its last row) into y[r0 ..]. Each row is read 64
// bytes at a time: blocks b and b+1 in one zmm against block_pair_plane, so the activations cost one
// insert per plane per pair for all eight rows, and the weights none (a zmm holding two rows' blocks
// needs an insert per row per block, and those shuffles competed with the byte adds for the two
// vector pipes vpdpbusd leaves free: ~48 instead of 40 cycles per 8 x 160 weights). The odd last
// whole block and the tail block use the two-rows-per-zmm form instead (their 256-bit halves would
// be half empty here), accumulated separately and folded in before the reduction.
void gemv_ternary_pass(const GemvCall &c, uint32_t r0, uint32_t n, float *y) {
    const WeightView *w = c.w;
    const TernaryShape &s = c.s;
    const uint8_t *row[kGemvRows];
    __m512i A[kGemvRows], B[kGemvRows];
    #pragma GCC unroll 8
    for (int r = 0; r < kGemvRows; r++) {
        row[r] = w->data + (uint64_t)(r0 + ((uint32_t)r < n ? (uint32_t)r : n - 1)) * w->row_bytes;
        A[r] = B[r] = _mm512_setzero_si512();
    }
    // The rows kPrefetchPasses passes on, a few lines per block pair (pf_step: the whole region by
    // the last pair).
    const char *pf = (const char *)(w->data + (uint64_t)(r0 + kPrefetchPasses * kGemvRows) * w->row_bytes);
    const char *const pf_end = pf + (uint64_t)kGemvRows * w->row_bytes;
    const uint32_t pairs_end = s.nfull & ~1u;
    for (uint32_t b = 0; b < pairs_end; b += 2) {
        const uint64_t off = (uint64_t)b * kTernaryBlockBytes;
        __m512i t[kGemvRows];
        #pragma GCC unroll 8
        for (int r = 0; r < kGemvRows; r++) t[r] = loadu512(row[r] + off);
        for (const char *e = pf + c.pf_step; pf < e && pf < pf_end; pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
#pragma GCC unroll 5
        for (int k = 0; k < 5; k++) {
            const __m512i xk = block_pair_plane(c.x, b, k);
            #pragma GCC unroll 8
            for (int r = 0; r < kGemvRows; r++) {
                A[r] = _mm512_dpbusd_epi32(A[r], t[r], xk);
                t[r] = times3(t[r]);
                B[r] = _mm512_dpbusd_epi32(B[r], t[r], xk);
            }
        }
    }
    __m512i v[kGemvRows];
    #pragma GCC unroll 8
    for (int r = 0; r < kGemvRows; r++) v[r] = digit_sums(A[r], B[r]);

    // The odd whole block, then the tail: rows 2p and 2p+1 in the low and high halves of pair p.
    constexpr int P = kGemvRows / 2;
    const bool odd = s.nfull & 1;
    if (odd || s.rest) {
        __m512i TA[P], TB[P];
        #pragma GCC unroll 4
        for (int p = 0; p < P; p++) TA[p] = TB[p] = _mm512_setzero_si512();
        for (int part = odd ? 0 : 1; part < (s.rest ? 2 : 1); part++) {
            const uint32_t off = (part == 0 ? pairs_end : s.nfull) * kTernaryBlockBytes;
            const __mmask32 mq = part == 0 ? (__mmask32)0xffffffffu : mask32(s.bytes);  // no read past the tensor
            const int8_t *planes = part == 0 ? c.x + (uint64_t)pairs_end * kTernaryBlockWeights : c.tail[0];
            __m512i t[P];
            #pragma GCC unroll 4
            for (int p = 0; p < P; p++)
                t[p] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_maskz_loadu_epi8(mq, row[2 * p] + off)),
                                          _mm256_maskz_loadu_epi8(mq, row[2 * p + 1] + off), 1);
#pragma GCC unroll 5
            for (int k = 0; k < 5; k++) {
                const __m512i xk = _mm512_broadcast_i64x4(loadu256(planes + 32 * k));
                #pragma GCC unroll 4
                for (int p = 0; p < P; p++) {
                    TA[p] = _mm512_dpbusd_epi32(TA[p], t[p], xk);
                    t[p] = times3(t[p]);
                    TB[p] = _mm512_dpbusd_epi32(TB[p], t[p], xk);
                }
            }
        }
        #pragma GCC unroll 4
        for (int p = 0; p < P; p++) {
            const __m512i tv = digit_sums(TA[p], TB[p]);
            v[2 * p] = _mm512_mask_add_epi32(v[2 * p], 0x00ff, v[2 * p], tv);  // row 2p: the low half
            v[2 * p + 1] = _mm512_mask_add_epi32(v[2 * p + 1], 0xff00, v[2 * p + 1], tv);
        }
    }

    // Every lane sum is a multiple of 256, so the shift divides exactly; then dequant_dot's
    // ((float)acc * w_scale) * x_scale on eight lanes (cvtdq2ps and mulps round as the scalar forms).
    const __m256i acc = _mm256_sub_epi32(_mm256_srai_epi32(hsum8x16(v), 8), _mm256_set1_epi32(c.xsum));
    __m256 scale;
    if (w->scale_kind == ScaleKind::Tensor) {
        scale = _mm256_set1_ps(c.tensor_scale);
    } else if (n == kGemvRows) {  // vcvtph2ps converts as f16_to_f32 does (fp16.h), NaNs included
        const __m256i h = _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(w->scales + r0)));
        scale = _mm512_castps512_ps256(_mm512_cvtph_ps(h));  // the upper eight lanes are not used
    } else {
        alignas(32) float part[kGemvRows] = {};
        for (uint32_t r = 0; r < n; r++) part[r] = scale_of(w, r0 + r, 0);
        scale = _mm256_load_ps(part);
    }
    const __m256 out = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale), _mm256_set1_ps(c.x_scale));
    if (n == kGemvRows) {
        _mm256_storeu_ps(y + r0, out);
    } else {
        alignas(32) float part[kGemvRows];
        _mm256_store_ps(part, out);
        for (uint32_t r = 0; r < n; r++) y[r0 + r] = part[r];
    }
}

void matmul_ternary_gemv(const WeightView *w, const int8_t *x, float x_scale, uint32_t row_begin, uint32_t row_end,
                         float *y) {
    GemvCall c;
    c.w = w;
    c.x = x;
    c.s = ternary_shape(w->cols);
    if (c.s.rest) ternary_tail_planes(c.s, x, c.tail);
    c.xsum = sum_i8(x, w->cols);
    c.x_scale = x_scale;
    c.tensor_scale = scale_of(w, 0, 0);
    // Whole lines, and one more: the region is not line-aligned, so it touches up to one line more than
    // its bytes fill. (Rounding down here once left a sixth of every region unfetched: 30 instead of
    // 60 G weights/s from DRAM.) Without a block pair (under 320 columns) only the start-of-call
    // prefetch below runs.
    const uint32_t pairs = c.s.nfull / 2 > 0 ? c.s.nfull / 2 : 1;
    c.pf_step = (uint32_t)(((uint64_t)kGemvRows * w->row_bytes + pairs - 1) / pairs + 63) / 64 * 64 + 64;
    // The passes before the first that the stream below prefetches: a thread claims a few 64-row tasks
    // at a time, and nothing fetched the start of its claim ahead.
    const uint32_t warm_end = row_end - row_begin < kPrefetchPasses * kGemvRows ? row_end : row_begin + kPrefetchPasses * kGemvRows;
    const char *const warm = (const char *)(w->data + (uint64_t)row_begin * w->row_bytes);
    for (uint64_t i = 0; i < (uint64_t)(warm_end - row_begin) * w->row_bytes; i += 64) _mm_prefetch(warm + i, _MM_HINT_T1);
    for (uint32_t r0 = row_begin; r0 < row_end; r0 += kGemvRows)
        gemv_ternary_pass(c, r0, row_end - r0 < (uint32_t)kGemvRows ? row_end - r0 : (uint32_t)kGemvRows, y);
}

// ---- decode rows to bytes d in natural order ----------------------------------------------------

// Row r as bytes d (weight = d - offset_of(dtype)) into out[0, cols); out needs round_up(cols, 64) + 64
// bytes. Bytes past cols are never multiplied by anything but masked-off (zero) activations.
void decode_row(const WeightView *w, uint32_t r, uint8_t *out) {
    const uint8_t *row = w->data + (uint64_t)r * w->row_bytes;
    const uint32_t n = w->cols;
    if (w->dtype == DType::Ternary) {
        const TernaryShape s = ternary_shape(n);
        for (uint32_t b = 0; b < s.nfull; b++) {
            __m256i t = loadu256(row + (uint64_t)b * kTernaryBlockBytes);
            uint8_t *o = out + (uint64_t)b * kTernaryBlockWeights;
            #pragma GCC unroll 8
            for (int k = 0; k < 5; k++) {
                _mm256_storeu_si256((__m256i *)(o + 32 * k), trit_digit(t));
                t = times3(t);
            }
        }
        if (s.rest) {
            __m256i t = _mm256_maskz_loadu_epi8(mask32(s.bytes), row + s.nfull * kTernaryBlockBytes);
            for (uint32_t k = 0; k < 5; k++) {  // plane k at base + B*k; the next plane overwrites lanes >= B
                _mm256_storeu_si256((__m256i *)(out + s.base + s.bytes * k), trit_digit(t));
                t = times3(t);
            }
        }
    } else if (w->dtype == DType::Binary) {
        const __m512i two = _mm512_set1_epi8(2);
        for (uint32_t c = 0; c < n; c += 64) {
            uint64_t bits = 0;
            memcpy(&bits, row + c / 8, n - c >= 64 ? 8 : (n - c + 7) / 8);
            _mm512_storeu_si512(out + c, _mm512_maskz_mov_epi8((__mmask64)bits, two));
        }
    } else {  // Int8: d = w + 128
        const __m512i bias = _mm512_set1_epi8((char)0x80);
        for (uint32_t c = 0; c < n; c += 64)
            _mm512_storeu_si512(out + c, _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask64(n - c), row + c), bias));
    }
    _mm512_storeu_si512(out + n, _mm512_setzero_si512());
}

// ---- GEMM micro-kernel: R rows of d x T tokens --------------------------------------------------

constexpr int kTileRows = 4;
constexpr int kTileTokens = 4;

// acc[r][t] += sum over columns [c0, c1) of d[r] * x[t] (activations past c1 masked to zero).
template <int R, int T>
void dot_tile(const uint8_t *const *d, const int8_t *const *x, uint32_t c0, uint32_t c1, int32_t acc[][kTileTokens]) {
    __m512i a[R][T];
    #pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        #pragma GCC unroll 8
        for (int t = 0; t < T; t++) a[r][t] = _mm512_setzero_si512();
    uint32_t c = c0;
    for (; c + 64 <= c1; c += 64) {
        __m512i wv[R];
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) wv[r] = loadu512(d[r] + c);
        #pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const __m512i xv = loadu512(x[t] + c);
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++) a[r][t] = _mm512_dpbusd_epi32(a[r][t], wv[r], xv);
        }
    }
    if (c < c1) {
        const __mmask64 m = mask64(c1 - c);
        __m512i wv[R];
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) wv[r] = loadu512(d[r] + c);
        #pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const __m512i xv = _mm512_maskz_loadu_epi8(m, x[t] + c);
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++) a[r][t] = _mm512_dpbusd_epi32(a[r][t], wv[r], xv);
        }
    }
    #pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        #pragma GCC unroll 8
        for (int t = 0; t < T; t++) acc[r][t] += hsum512(a[r][t]);
}

using DotTileFn = void (*)(const uint8_t *const *, const int8_t *const *, uint32_t, uint32_t, int32_t[][kTileTokens]);
const DotTileFn kDotTile[kTileRows][kTileTokens] = {
    {dot_tile<1, 1>, dot_tile<1, 2>, dot_tile<1, 3>, dot_tile<1, 4>},
    {dot_tile<2, 1>, dot_tile<2, 2>, dot_tile<2, 3>, dot_tile<2, 4>},
    {dot_tile<3, 1>, dot_tile<3, 2>, dot_tile<3, 3>, dot_tile<3, 4>},
    {dot_tile<4, 1>, dot_tile<4, 2>, dot_tile<4, 3>, dot_tile<4, 4>},
};

// The outputs of a full tile with tensor/row scales: y[t*y_stride + r] = dequant_dot(acc[r][t] - xsum[t],
// row_scale[r], x_scale[t]), all 16 at once (the scalar epilogue was ~20% of a 128-token GEMM).
// cvtdq2ps and mulps round exactly as the scalar conversion and products: the same bits.
inline void store_tile(const int32_t acc[][kTileTokens], const int32_t *xsum, const float *row_scale, const float *x_scale,
                       float *y, uint32_t y_stride) {
    const __m512i by_token = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);  // lane 4t+r <- acc[r][t]
    const __m512i token_of = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);        // lane 4t+r <- [t]
    const __m512i a = _mm512_permutexvar_epi32(by_token, _mm512_loadu_si512(acc));
    const __m512i xs = _mm512_permutexvar_epi32(token_of, _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)xsum)));
    const __m512 rs = _mm512_broadcast_f32x4(_mm_loadu_ps(row_scale));
    const __m512 ts = _mm512_permutexvar_ps(token_of, _mm512_castps128_ps512(_mm_loadu_ps(x_scale)));
    const __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a, xs)), rs), ts);
    _mm_storeu_ps(y, _mm512_castps512_ps128(v));
    _mm_storeu_ps(y + y_stride, _mm512_extractf32x4_ps(v, 1));
    _mm_storeu_ps(y + 2 * (uint64_t)y_stride, _mm512_extractf32x4_ps(v, 2));
    _mm_storeu_ps(y + 3 * (uint64_t)y_stride, _mm512_extractf32x4_ps(v, 3));
}

constexpr uint32_t kDigitBufBytes = 64 * 1024;
constexpr uint32_t kXSumCap = 2048;

const bitlm_kernels *reference() { return bitlm_reference_kernels(); }

// Digits are weight + 1 (ternary, binary) or weight + 128 (int8 rows, stored as unsigned).
constexpr uint32_t kDigitRowAlign = 64;
inline int32_t digit_offset(const WeightView *w) { return w->dtype == DType::Int8 ? 128 : 1; }
#include "x86/matmul_buffered.inc"

// ---- attention's weighted rows (float) -----------------------------------------------------------

// V zmm accumulators (16V outputs from `off`), the last one masked to `last` lanes (an all-ones mask
// costs what a plain load does); every lane adds its products in j order from 0.0f, like the scalar
// loop (mul then add, never fused). Up to four independent add chains: attention's blocks are 64
// wide (a key tile, a head's 64 values).
template <int V>
void weighted_rows_zmm(const float *a, const float *rows, uint64_t stride, uint32_t n, uint32_t off, __mmask16 last,
                       float *out) {
    __m512 acc[V];
    #pragma GCC unroll 4
    for (int v = 0; v < V; v++) acc[v] = _mm512_setzero_ps();
    for (uint32_t j = 0; j < n; j++) {
        const __m512 aj = _mm512_set1_ps(a[j]);
        const float *r = rows + j * stride + off;
        #pragma GCC unroll 4
        for (int v = 0; v < V - 1; v++) acc[v] = _mm512_add_ps(acc[v], _mm512_mul_ps(aj, _mm512_loadu_ps(r + 16 * v)));
        acc[V - 1] = _mm512_add_ps(acc[V - 1], _mm512_mul_ps(aj, _mm512_maskz_loadu_ps(last, r + 16 * (V - 1))));
    }
    #pragma GCC unroll 4
    for (int v = 0; v < V - 1; v++) _mm512_storeu_ps(out + off + 16 * v, acc[v]);
    _mm512_mask_storeu_ps(out + off + 16 * (V - 1), last, acc[V - 1]);
}

void weighted_rows_avx512(const float *a, const float *rows, uint64_t stride, uint32_t n, uint32_t width, float *out) {
    uint32_t i = 0;
    for (; i + 64 <= width; i += 64) weighted_rows_zmm<4>(a, rows, stride, n, i, (__mmask16)0xffff, out);
    if (i == width) return;
    const uint32_t rest = width - i, v = (rest + 15) / 16, in_last = rest - 16 * (v - 1);
    const __mmask16 last = (__mmask16)(in_last == 16 ? 0xffffu : (1u << in_last) - 1);
    using Fn = void (*)(const float *, const float *, uint64_t, uint32_t, uint32_t, __mmask16, float *);
    static const Fn kBlock[4] = {weighted_rows_zmm<1>, weighted_rows_zmm<2>, weighted_rows_zmm<3>, weighted_rows_zmm<4>};
    kBlock[v - 1](a, rows, stride, n, i, last, out);
}

// ---- table --------------------------------------------------------------------------------------

void matmul_q8_avx512(const WeightView *w, const int8_t *x, const float *x_scale, uint32_t n_tok, uint32_t row_begin,
                      uint32_t row_end, float *y, uint32_t y_stride) {
    if (row_begin >= row_end || n_tok == 0) return;
    const bool supported = (w->dtype == DType::Ternary) ||
                           (w->dtype == DType::Binary && w->scale_kind != ScaleKind::Group) ||
                           (w->dtype == DType::Int8 && w->scale_kind == ScaleKind::Row);
    if (!supported) {  // layouts the reader rejects
        reference()->matmul_q8(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
        return;
    }
    if (w->dtype == DType::Ternary && n_tok == 1 && w->scale_kind != ScaleKind::Group && w->cols <= 65536) {
        matmul_ternary_gemv(w, x, x_scale[0], row_begin, row_end, y);  // int32 lanes cannot overflow here
        return;
    }
    matmul_buffered(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
}

void matmul_f16_avx512(const WeightView *w, const float *x, uint32_t n_tok, uint32_t row_begin, uint32_t row_end,
                       float *y, uint32_t y_stride) {
    reference()->matmul_f16(w, x, n_tok, row_begin, row_end, y, y_stride);
}

// Softmax and SwiGLU: detmath_lanes.h's forms on 16 lanes (this file's own copy, AVX-512 code).
void expf_shifted_avx512(float *x, uint32_t n, float shift) { expf_shifted_lanes<16>(x, n, shift); }
void silu_mul_avx512(const float *gate, float *x, uint32_t n) { silu_mul_lanes<16>(gate, x, n); }

const bitlm_kernels kAvx512 = {"avx512", quantize_act_avx512, matmul_q8_avx512, matmul_f16_avx512,
                               weighted_rows_avx512, expf_shifted_avx512, silu_mul_avx512, 0};

}  // namespace

const bitlm_kernels *avx512_kernels() { return &kAvx512; }

}  // namespace x86
}  // namespace bitlm
