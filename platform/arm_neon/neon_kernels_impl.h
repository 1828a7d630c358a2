// neon_kernels_impl.h — the NEON kernel bodies, shared by the baseline table (ARMv8.0 AArch64 and
// ARMv7 A32, kernels_neon.cpp) and the dot-product table (ARMv8.2 sdot, kernels_neon_dot.cpp).
// Each of those files defines a small "policy" (how 16 int8 products are accumulated) and
// instantiates these templates with it; the measurements and the reasoning are in kernels_neon.cpp.
//
// Everything here lives in an anonymous namespace: the two files are compiled with different -march
// flags, and a shared inline function must never be merged across them (the sdot copy would end up
// in the baseline path). Precondition of every q8 kernel (as of the reference's users): activations
// are in [-127, 127], which quantize_act_int8 guarantees (so -x and the int16 pair sums never wrap).
#pragma once
#include <arm_neon.h>
#include <stdint.h>

#include "core/fp16.h"
#include "kernels.h"
#include "quant/quantize.h"
#include "tensor/dequant.h"
#include "tensor/ternary_pack.h"
#include "tensor/weights.h"

namespace bitlm {
namespace {

// ---- small helpers -------------------------------------------------------------------------------

// Prefill decodes whole rows to int8 trits on the stack; longer rows take the per-token path.
constexpr uint32_t kMaxDecodeCols = 4096;
constexpr uint32_t kDecodePad = 80;  // tail stores may run 4B+32-rest bytes past cols; +16 zeroed

alignas(16) const uint8_t kIota[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                       16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
alignas(16) const uint8_t kBitSel[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};

// Small fixed loops (rows of a pass, the 5 digit planes) must unroll or the per-row arrays live on
// the stack; a row pass is inlined into one non-inlined driver per (scale kind, tail width).
#define NEON_UNROLL _Pragma("GCC unroll 8")
#define NEON_INLINE inline __attribute__((always_inline))
#define NEON_NOINLINE __attribute__((noinline))
#define NEON_LAMBDA_INLINE __attribute__((always_inline))

inline uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

// The vector of 3s, hidden from the optimiser: GCC would turn the digit multiply into shift + add
// (two instructions for one MUL).
inline uint8x16_t vec_three() {
    uint8x16_t v = vdupq_n_u8(3);
    __asm__("" : "+w"(v));
    return v;
}

// Lanes j with j + offset < n set (0xff), others clear.
inline uint8x16_t lanes_below(uint32_t n, uint32_t offset) {
    const uint32_t lim = n > offset ? min_u32(n - offset, 255u) : 0u;
    return vcltq_u8(vld1q_u8(kIota), vdupq_n_u8((uint8_t)lim));
}

inline int32_t hsum_s32(int32x4_t v) {
#if defined(__aarch64__)
    return vaddvq_s32(v);
#else
    int32x2_t s = vadd_s32(vget_low_s32(v), vget_high_s32(v));
    s = vpadd_s32(s, s);
    return vget_lane_s32(s, 0);
#endif
}

// `len` bytes (<= 32) at p into 32 bytes: straight loads when `avail` bytes are readable from p
// (the rest of the tensor), else through a zeroed copy, so no load leaves the tensor's payload.
inline void load_upto32(const uint8_t *p, uint32_t len, uint64_t avail, uint8x16_t *a, uint8x16_t *b) {
    const uint32_t need = len > 16 ? 32u : 16u;
    if (avail >= need) {
        *a = vld1q_u8(p);
        *b = need == 32 ? vld1q_u8(p + 16) : vdupq_n_u8(0);
        return;
    }
    alignas(16) uint8_t tmp[32] = {0};
    __builtin_memcpy(tmp, p, len);
    *a = vld1q_u8(tmp);
    *b = vld1q_u8(tmp + 16);
}

inline uint64_t tensor_bytes_from(const WeightView &w, const uint8_t *p) {
    return (uint64_t)w.rows * w.row_bytes - (uint64_t)(p - w.data);
}

// Rows r < tail_safe_end(w, len) may load `len` bytes at their tail block (byte 32*(cols/160)) with
// whole vectors without leaving the tensor's payload.
inline uint64_t tail_safe_end(const WeightView &w, uint32_t len) {
    const uint64_t total = (uint64_t)w.rows * w.row_bytes;
    const uint64_t need = (uint64_t)(w.cols / kTernaryBlockWeights) * kTernaryBlockBytes + len;
    return total >= need ? (total - need) / w.row_bytes + 1 : 0;
}

// f16_to_f32 with the common case (a normal half) inline: exact rebias of exponent and mantissa.
inline float half_to_float(uint16_t h) {
    const uint32_t e = h & 0x7c00u;
    if (e == 0 || e == 0x7c00u) return f16_to_f32(h);  // zero, subnormal, inf, NaN
    const uint32_t b = ((uint32_t)(h & 0x8000u) << 16) | (((uint32_t)(h & 0x7fffu) << 13) + 0x38000000u);
    float f;
    __builtin_memcpy(&f, &b, sizeof f);
    return f;
}

inline float row_scale(const WeightView &w, uint32_t r) { return half_to_float(w.scales[scale_index(w, r, 0)]); }

// y[i] = dequant_dot(s[i], scale of row r0+i, xs) for R rows (tensor/row scales).
template <int R>
inline void store_rows(const WeightView &w, uint32_t r0, const int32x4_t *acc, float xs, float *y) {
#if defined(__aarch64__)
    // AArch64 NEON float is IEEE (denormals kept unless FPCR.FZ, which Linux leaves clear), FCVTL is
    // the exact fp16 widening (sNaN quietened as f16_to_f32 does), and SCVTF rounds like (float)int:
    // the vector form gives the scalar bits.
    if (R == 4) {
        const int32x4_t s = vpaddq_s32(vpaddq_s32(acc[0], acc[1]), vpaddq_s32(acc[2], acc[3]));
        const float32x4_t sc = w.scale_kind == ScaleKind::Row
                                   ? vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(w.scales + r0)))
                                   : vdupq_n_f32(half_to_float(w.scales[0]));
        float32x4_t f = vmulq_f32(vcvtq_f32_s32(s), sc);
        vst1q_f32(y, vmulq_n_f32(f, xs));
        return;
    }
#endif
    // ARMv7 NEON flushes denormals: the float part stays scalar (VFP, IEEE) there.
    NEON_UNROLL
    for (int i = 0; i < R; i++) y[i] = dequant_dot(hsum_s32(acc[i]), row_scale(w, r0 + i), xs);
}

// ---- ternary: fused decode + dot, one token (decode / GEMV) ----------------------------------------
//
// A whole 32-byte block holds 5 digit planes of 32 weights; plane k of byte vector q is
// t = q * 3^k (mod 256) and digit (t*3)>>8, i.e. trit = -1 + [t >= 86] + [t >= 171]. The policy turns
// (t, x) into trit*x sums. The tail block (r = cols % 160 weights, B = ceil(r/5) bytes, plane k lane j =
// weight Bk+j) is handled the same way against a per-token copy of x laid out plane by plane (stride
// 16 or 32, zero where a lane is no weight), so garbage lanes of the byte vector meet x = 0.

struct TernaryTailX {
    uint32_t n_seg;     // 0: no tail. Several only with group scales whose boundary cuts the tail
    uint32_t stride;    // 16 (B <= 16) or 32
    uint32_t bytes;     // B
    uint32_t group[5];  // scale group of each segment
    alignas(16) int8_t x[5][5 * 32];
};

inline void build_ternary_tail(const WeightView &w, const int8_t *x, TernaryTailX *tx) {
    const uint32_t cols = w.cols, base = cols / kTernaryBlockWeights * kTernaryBlockWeights, rest = cols - base;
    tx->n_seg = 0;
    if (rest == 0) return;
    const uint32_t B = (rest + 4) / 5, S = B <= 16 ? 16u : 32u;
    tx->stride = S;
    tx->bytes = B;
    // The tail's activations, zero from `rest` on (planes read up to 4*32 + 32 = 160 bytes).
    alignas(16) int8_t lin[160];
    for (uint32_t v = 0; v < 160; v += 16) vst1q_s8(lin + v, vdupq_n_s8(0));
    __builtin_memcpy(lin, x + base, rest);
    const uint8x16_t keep0 = lanes_below(B, 0), keep1 = lanes_below(B, 16);
    auto planes = [&](const int8_t *src, int8_t *dst) {
        NEON_UNROLL
        for (uint32_t k = 0; k < 5; k++) {
            vst1q_s8(dst + k * S, vandq_s8(vld1q_s8(src + B * k), vreinterpretq_s8_u8(keep0)));
            if (S == 32) vst1q_s8(dst + k * S + 16, vandq_s8(vld1q_s8(src + B * k + 16), vreinterpretq_s8_u8(keep1)));
        }
    };
    if (w.scale_kind != ScaleKind::Group) {
        planes(lin, tx->x[0]);
        tx->group[0] = 0;
        tx->n_seg = 1;
        return;
    }
    // Group scales: one copy per group the tail touches, zero outside that group's columns.
    const uint32_t gs = w.group_size, g0 = base / gs, g1 = (cols - 1) / gs;
    for (uint32_t g = g0; g <= g1; g++) {
        const uint32_t lo = g * gs > base ? g * gs - base : 0, hi = min_u32(cols, (g + 1) * gs) - base;
        alignas(16) int8_t seg[160];
        for (uint32_t v = 0; v < 160; v += 16) {
            const uint8x16_t keep = vandq_u8(vmvnq_u8(lanes_below(lo, v)), lanes_below(hi, v));
            vst1q_s8(seg + v, vandq_s8(vld1q_s8(lin + v), vreinterpretq_s8_u8(keep)));
        }
        planes(seg, tx->x[g - g0]);
        tx->group[g - g0] = g;
    }
    tx->n_seg = g1 - g0 + 1;
}


// Tensor/row scales: one int32 per row. Group scales: the running float sum of tensor/dequant.h.
template <class P, int R, bool kGrouped>
struct RowSums {
    typename P::Acc acc[R];
    float gsum[R];
    uint32_t group;
    NEON_INLINE void init() {
        NEON_UNROLL
        for (int i = 0; i < R; i++) acc[i] = P::zero(), gsum[i] = 0.0f;
        group = 0;
    }
    // Close scale group `group` (lanes: the rows' int32 partial sums) and start the next one.
    NEON_INLINE void flush_group(const WeightView &w, uint32_t r0, const int32x4_t *lanes) {
        NEON_UNROLL
        for (int i = 0; i < R; i++) {
            const float s = half_to_float(w.scales[scale_index(w, r0 + i, group)]);
            gsum[i] = dequant_group_add(gsum[i], hsum_s32(lanes[i]), s);
            acc[i] = P::zero();
        }
        group++;
    }
    NEON_INLINE void finish(const WeightView &w, uint32_t r0, const int32x4_t *lanes, float xs, float *y) {
        if (kGrouped) {
            flush_group(w, r0, lanes);
            NEON_UNROLL
            for (int i = 0; i < R; i++) y[i] = dequant_group_end(gsum[i], xs);
        } else {
            store_rows<R>(w, r0, lanes, xs, y);
        }
    }
};

// R rows r0.. of one token: y[i] for row r0+i. kTail: 0 (cols % 160 == 0) or the tail plane width
// tx.stride (16 or 32). safe_tail: every row's tail may be loaded with whole vectors (see load_upto32).
template <class P, int R, bool kGrouped, uint32_t kTail>
NEON_INLINE void ternary_gemv_block(const WeightView &w, uint32_t r0, const int8_t *x, const TernaryTailX &tx,
                                     bool safe_tail, float xs, float *y) {
    const uint32_t nb = w.cols / kTernaryBlockWeights;
    const uint8_t *row[R];
    NEON_UNROLL
    for (int i = 0; i < R; i++) row[i] = w.data + (uint64_t)(r0 + i) * w.row_bytes;
    RowSums<P, R, kGrouped> rs;
    rs.init();
    typename P::XSum xsum = P::xsum_zero();  // sum of x where the policy needs it (sdot digit form)
    int32x4_t lanes[R];
    auto close_group = [&]() {
        NEON_UNROLL
        for (int i = 0; i < R; i++) lanes[i] = P::ternary_lanes(rs.acc[i], xsum);
        rs.flush_group(w, r0, lanes);
        xsum = P::xsum_zero();
    };
    uint64_t next = kGrouped ? w.group_size : 0;
    const uint8x16_t three = vec_three();

    for (uint32_t b = 0; b < nb; b++) {
        uint8x16_t qa[R], qb[R];
        NEON_UNROLL
        for (int i = 0; i < R; i++) {
            qa[i] = vld1q_u8(row[i] + b * kTernaryBlockBytes);
            qb[i] = vld1q_u8(row[i] + b * kTernaryBlockBytes + 16);
        }
        const int8_t *xb = x + b * kTernaryBlockWeights;
        NEON_UNROLL
        for (uint32_t k = 0; k < 5; k++) {
            if (kGrouped && b * kTernaryBlockWeights + 32 * k >= next) {
                close_group();
                next += w.group_size;
            }
            // Keeps the scheduler from hoisting all ten activation loads of the block (it then runs out
            // of the 32 vector registers and spills); costs no instruction.
            __asm__ volatile("" ::: "memory");
            const int8x16_t x0 = vld1q_s8(xb + 32 * k), x1 = vld1q_s8(xb + 32 * k + 16);
            const int8x16_t n0 = vnegq_s8(x0), n1 = vnegq_s8(x1);  // dead (removed) for sdot
            P::xsum_add(xsum, x0);
            P::xsum_add(xsum, x1);
            NEON_UNROLL
            for (int i = 0; i < R; i++) {
                P::ternary(rs.acc[i], qa[i], x0, n0);
                P::ternary(rs.acc[i], qb[i], x1, n1);
                if (k < 4) {
                    qa[i] = vmulq_u8(qa[i], three);
                    qb[i] = vmulq_u8(qb[i], three);
                }
            }
        }
        NEON_UNROLL
        for (int i = 0; i < R; i++) P::settle(rs.acc[i]);
    }

    if (kTail) {
        constexpr uint32_t S = kTail;
        uint8x16_t qa[R], qb[R];
        NEON_UNROLL
        for (int i = 0; i < R; i++) {
            const uint8_t *p = row[i] + nb * kTernaryBlockBytes;
            if (safe_tail) {
                qa[i] = vld1q_u8(p);
                qb[i] = S == 32 ? vld1q_u8(p + 16) : vdupq_n_u8(0);
            } else {
                load_upto32(p, tx.bytes, tensor_bytes_from(w, p), &qa[i], &qb[i]);
            }
        }
        // One pass over the tail's planes against segment s of the plane-major activations.
        auto segment = [&](uint32_t s, uint8x16_t *ta, uint8x16_t *tb) NEON_LAMBDA_INLINE {
            NEON_UNROLL
            for (uint32_t k = 0; k < 5; k++) {
                const int8x16_t x0 = vld1q_s8(tx.x[s] + k * S);
                const int8x16_t n0 = vnegq_s8(x0);
                P::xsum_add(xsum, x0);
                NEON_UNROLL
                for (int i = 0; i < R; i++) P::ternary(rs.acc[i], ta[i], x0, n0);
                if (S == 32) {
                    const int8x16_t x1 = vld1q_s8(tx.x[s] + k * S + 16);
                    const int8x16_t n1 = vnegq_s8(x1);
                    P::xsum_add(xsum, x1);
                    NEON_UNROLL
                    for (int i = 0; i < R; i++) P::ternary(rs.acc[i], tb[i], x1, n1);
                }
                if (k < 4) {
                    NEON_UNROLL
                    for (int i = 0; i < R; i++) {
                        ta[i] = vmulq_u8(ta[i], three);
                        if (S == 32) tb[i] = vmulq_u8(tb[i], three);
                    }
                }
            }
            NEON_UNROLL
            for (int i = 0; i < R; i++) P::settle(rs.acc[i]);
        };
        if (!kGrouped) {
            segment(0, qa, qb);
        } else {
            // Group scales: the tail may span several groups, one pass each (rare: the group size
            // would have to cut the last 160 weights).
            for (uint32_t s = 0; s < tx.n_seg; s++) {
                if (tx.group[s] != rs.group) close_group();
                uint8x16_t ta[R], tb[R];
                NEON_UNROLL
                for (int i = 0; i < R; i++) {
                    // Opaque copies: else GCC hoists every plane's digit masks out of the loop and spills.
                    ta[i] = qa[i], tb[i] = qb[i];
                    __asm__("" : "+w"(ta[i]), "+w"(tb[i]));
                }
                segment(s, ta, tb);
            }
        }
    }
    NEON_UNROLL
    for (int i = 0; i < R; i++) lanes[i] = P::ternary_lanes(rs.acc[i], xsum);
    rs.finish(w, r0, lanes, xs, y);
}

// Rows [row_begin, row_end) of one token, kRows at a time.
template <class P, bool kGrouped, uint32_t kTail>
NEON_NOINLINE void ternary_gemv(const WeightView &w, uint32_t row_begin, uint32_t row_end, const int8_t *x,
                                 const TernaryTailX &tx, float xs, float *y) {
    constexpr int R = P::kRows;
    const uint64_t safe_end = kTail ? tail_safe_end(w, kTail) : 0;
    uint32_t r = row_begin;
    for (; r + R <= row_end; r += R)
        ternary_gemv_block<P, R, kGrouped, kTail>(w, r, x, tx, r + R <= safe_end, xs, y + r);
    for (; r < row_end; r++) ternary_gemv_block<P, 1, kGrouped, kTail>(w, r, x, tx, r + 1 <= safe_end, xs, y + r);
}

template <class P, bool kGrouped>
void ternary_gemv_dispatch(const WeightView &w, uint32_t row_begin, uint32_t row_end, const int8_t *x,
                           const TernaryTailX &tx, float xs, float *y) {
    if (!tx.n_seg) ternary_gemv<P, kGrouped, 0>(w, row_begin, row_end, x, tx, xs, y);
    else if (tx.stride == 16) ternary_gemv<P, kGrouped, 16>(w, row_begin, row_end, x, tx, xs, y);
    else ternary_gemv<P, kGrouped, 32>(w, row_begin, row_end, x, tx, xs, y);
}

// ---- ternary: decode rows to int8 trits once (prefill) --------------------------------------------

// Row r as int8 trits in weight order into out[0 .. round_up(cols,16)), zero past cols.
template <class P>
NEON_INLINE void decode_ternary_row(const WeightView &w, uint32_t r, bool safe_tail, int8_t *out) {
    const uint8_t *row = w.data + (uint64_t)r * w.row_bytes;
    const uint32_t nb = w.cols / kTernaryBlockWeights, rest = w.cols - nb * kTernaryBlockWeights;
    const uint8x16_t three = vec_three();
    for (uint32_t b = 0; b < nb; b++) {
        uint8x16_t qa = vld1q_u8(row + b * kTernaryBlockBytes), qb = vld1q_u8(row + b * kTernaryBlockBytes + 16);
        int8_t *o = out + b * kTernaryBlockWeights;
        NEON_UNROLL
        for (uint32_t k = 0; k < 5; k++) {
            vst1q_s8(o + 32 * k, P::trits(qa));
            vst1q_s8(o + 32 * k + 16, P::trits(qb));
            if (k < 4) {
                qa = vmulq_u8(qa, three);
                qb = vmulq_u8(qb, three);
            }
        }
    }
    if (rest) {
        const uint32_t B = (rest + 4) / 5;
        const uint8_t *p = row + nb * kTernaryBlockBytes;
        int8_t *o = out + nb * kTernaryBlockWeights;
        uint8x16_t qa, qb;
        // Plane k goes to o + Bk; each store's excess lanes are overwritten by the next plane.
        if (B <= 16) {
            if (safe_tail) qa = vld1q_u8(p);
            else load_upto32(p, B, tensor_bytes_from(w, p), &qa, &qb);
            NEON_UNROLL
            for (uint32_t k = 0; k < 5; k++) {
                vst1q_s8(o + B * k, P::trits(qa));
                if (k < 4) qa = vmulq_u8(qa, three);
            }
        } else {
            if (safe_tail) qa = vld1q_u8(p), qb = vld1q_u8(p + 16);
            else load_upto32(p, B, tensor_bytes_from(w, p), &qa, &qb);
            NEON_UNROLL
            for (uint32_t k = 0; k < 5; k++) {
                vst1q_s8(o + B * k, P::trits(qa));
                vst1q_s8(o + B * k + 16, P::trits(qb));
                if (k < 4) {
                    qa = vmulq_u8(qa, three);
                    qb = vmulq_u8(qb, three);
                }
            }
        }
    }
    vst1q_s8(out + w.cols, vdupq_n_s8(0));  // unused tail digits and store overrun -> 0
}

// ---- dense int8 rows x int8 tokens (int8 weights; decoded trits) ----------------------------------

// Where the whole 16-byte vectors of a row end (cols rounded down to 16).
struct DenseX {
    uint32_t full_end;
};

inline void build_dense_x(uint32_t cols, const int8_t *, uint32_t, DenseX *dx) { dx->full_end = cols & ~15u; }

// Token t's final partial activation vector (columns full_end..cols), zero padded when a whole-vector
// load would leave the activations (the last token, or the last few when cols < 16); otherwise the
// extra lanes are the next token's, met by zero (decoded) or masked (int8) weights.
__attribute__((noinline, cold)) int8x16_t load_padded16(const int8_t *p, uint32_t n) {
    alignas(16) int8_t tmp[16] = {0};
    __builtin_memcpy(tmp, p, n);
    return vld1q_s8(tmp);
}

NEON_INLINE int8x16_t load_x_partial(const int8_t *x, uint32_t cols, uint32_t full_end, uint32_t t, uint32_t n_tok) {
    const int8_t *p = x + (uint64_t)t * cols + full_end;
    if ((uint64_t)(n_tok - t) * cols - full_end >= 16) return vld1q_s8(p);
    return load_padded16(p, cols - full_end);
}

// R rows (int8 pointers wr; final partial vectors wlast, zero past cols) times T tokens t0.. (a
// register tile: each weight vector loaded once serves T tokens). kTrits: |w| <= 1, so the policy
// may multiply in 8 bits.
template <class P, int R, int T, bool kTrits, bool kGrouped>
NEON_INLINE void dense_tile(const WeightView &w, uint32_t r0, const int8_t *const *wr, const int8x16_t *wlast,
                             const int8_t *x, const DenseX &dx, uint32_t t0, uint32_t n_tok, const float *x_scale,
                             float *y, uint32_t y_stride) {
    const uint32_t cols = w.cols, full_end = dx.full_end;
    const uint32_t seg = kGrouped ? w.group_size : 0xffffffffu;
    auto dot = [](typename P::Acc &a, int8x16_t wv, int8x16_t xv) NEON_LAMBDA_INLINE {
        if (kTrits) P::dense_trits(a, wv, xv);
        else P::dense_int8(a, wv, xv);
    };
    const int8_t *xt[T];
    RowSums<P, R, kGrouped> rs[T];
    NEON_UNROLL
    for (int j = 0; j < T; j++) xt[j] = x + (uint64_t)(t0 + j) * cols, rs[j].init();
    int32x4_t lanes[R];
    uint32_t lo = 0;
    for (;;) {
        const uint32_t hi = kGrouped ? min_u32(cols, lo + seg) : cols, vend = min_u32(hi, full_end);
        uint32_t c = lo;
        while (c < vend) {
            const uint32_t stop = min_u32(vend, c + 16 * P::kSettleEvery);
            for (; c < stop; c += 16) {
                int8x16_t xv[T];
                NEON_UNROLL
                for (int j = 0; j < T; j++) xv[j] = vld1q_s8(xt[j] + c);
                NEON_UNROLL
                for (int i = 0; i < R; i++) {
                    const int8x16_t wv = vld1q_s8(wr[i] + c);
                    NEON_UNROLL
                    for (int j = 0; j < T; j++) dot(rs[j].acc[i], wv, xv[j]);
                }
            }
            NEON_UNROLL
            for (int j = 0; j < T; j++) {
                NEON_UNROLL
                for (int i = 0; i < R; i++) P::settle(rs[j].acc[i]);
            }
        }
        if (hi == cols && cols != full_end) {  // the partial vector ends the last segment
            NEON_UNROLL
            for (int j = 0; j < T; j++) {
                const int8x16_t xv = load_x_partial(x, cols, full_end, t0 + j, n_tok);
                NEON_UNROLL
                for (int i = 0; i < R; i++) {
                    dot(rs[j].acc[i], wlast[i], xv);
                    P::settle(rs[j].acc[i]);
                }
            }
        }
        if (!kGrouped || hi >= cols) break;
        NEON_UNROLL
        for (int j = 0; j < T; j++) {
            NEON_UNROLL
            for (int i = 0; i < R; i++) lanes[i] = P::lanes(rs[j].acc[i]);
            rs[j].flush_group(w, r0, lanes);
        }
        lo = hi;
    }
    NEON_UNROLL
    for (int j = 0; j < T; j++) {
        NEON_UNROLL
        for (int i = 0; i < R; i++) lanes[i] = P::lanes(rs[j].acc[i]);
        rs[j].finish(w, r0, lanes, x_scale[t0 + j], y + (uint64_t)(t0 + j) * y_stride + r0);
    }
}

template <class P, int R, bool kTrits, bool kGrouped>
NEON_INLINE void dense_block(const WeightView &w, uint32_t r0, const int8_t *const *wr, const int8x16_t *wlast,
                              const int8_t *x, const DenseX &dx, const float *x_scale, uint32_t n_tok, float *y,
                              uint32_t y_stride) {
    constexpr int T = P::kTokens;
    uint32_t t = 0;
    for (; t + T <= n_tok; t += T)
        dense_tile<P, R, T, kTrits, kGrouped>(w, r0, wr, wlast, x, dx, t, n_tok, x_scale, y, y_stride);
    for (; t < n_tok; t++)
        dense_tile<P, R, 1, kTrits, kGrouped>(w, r0, wr, wlast, x, dx, t, n_tok, x_scale, y, y_stride);
}

// Int8 weights read in place: rows [row_begin, row_end), every token.
template <class P, int R, bool kGrouped>
NEON_INLINE void int8_rows(const WeightView &w, uint32_t r0, const int8_t *x, const DenseX &dx,
                            const float *x_scale, uint32_t n_tok, float *y, uint32_t y_stride) {
    const int8_t *wr[R];
    int8x16_t wlast[R];
    const int8x16_t keep = vreinterpretq_s8_u8(lanes_below(w.cols, dx.full_end));
    NEON_UNROLL
    for (int i = 0; i < R; i++) {
        wr[i] = (const int8_t *)(w.data + (uint64_t)(r0 + i) * w.row_bytes);
        wlast[i] = vdupq_n_s8(0);
        if (w.cols != dx.full_end) {
            uint8x16_t a, b;
            const uint8_t *p = (const uint8_t *)wr[i] + dx.full_end;
            load_upto32(p, w.cols - dx.full_end, tensor_bytes_from(w, p), &a, &b);
            wlast[i] = vandq_s8(vreinterpretq_s8_u8(a), keep);
        }
    }
    dense_block<P, R, false, kGrouped>(w, r0, wr, wlast, x, dx, x_scale, n_tok, y, y_stride);
}

template <class P, bool kGrouped>
NEON_NOINLINE void int8_matmul(const WeightView &w, const int8_t *x, const float *x_scale, uint32_t n_tok,
                                uint32_t row_begin, uint32_t row_end, float *y, uint32_t y_stride) {
    constexpr int R = P::kRows;
    DenseX dx;
    build_dense_x(w.cols, x, n_tok, &dx);
    uint32_t r = row_begin;
    for (; r + R <= row_end; r += R) int8_rows<P, R, kGrouped>(w, r, x, dx, x_scale, n_tok, y, y_stride);
    for (; r < row_end; r++) int8_rows<P, 1, kGrouped>(w, r, x, dx, x_scale, n_tok, y, y_stride);
}

// Ternary prefill: R rows decoded to int8 trits once, then every token against them.
template <class P, int R, bool kGrouped>
NEON_INLINE void ternary_prefill_rows(const WeightView &w, uint32_t r0, bool safe_tail, const int8_t *x,
                                       const DenseX &dx, const float *x_scale, uint32_t n_tok, float *y,
                                       uint32_t y_stride) {
    alignas(16) int8_t buf[R][kMaxDecodeCols + kDecodePad];
    const int8_t *wr[R];
    int8x16_t wlast[R];
    NEON_UNROLL
    for (int i = 0; i < R; i++) {
        decode_ternary_row<P>(w, r0 + i, safe_tail, buf[i]);
        wr[i] = buf[i];
        wlast[i] = vld1q_s8(buf[i] + dx.full_end);
    }
    dense_block<P, R, true, kGrouped>(w, r0, wr, wlast, x, dx, x_scale, n_tok, y, y_stride);
}

template <class P, bool kGrouped>
NEON_NOINLINE void ternary_prefill(const WeightView &w, const int8_t *x, const float *x_scale, uint32_t n_tok,
                                    uint32_t row_begin, uint32_t row_end, float *y, uint32_t y_stride) {
    constexpr int R = P::kRows;
    DenseX dx;
    build_dense_x(w.cols, x, n_tok, &dx);
    const uint64_t safe_end = tail_safe_end(w, 32);
    uint32_t r = row_begin;
    for (; r + R <= row_end; r += R)
        ternary_prefill_rows<P, R, kGrouped>(w, r, r + R <= safe_end, x, dx, x_scale, n_tok, y, y_stride);
    for (; r < row_end; r++)
        ternary_prefill_rows<P, 1, kGrouped>(w, r, r + 1 <= safe_end, x, dx, x_scale, n_tok, y, y_stride);
}

// ---- binary: fused unpack + dot, one token ----------------------------------------------------------
// 16 bytes of bits = 128 weights; sub-vector s takes bytes 2s (lanes 0-7) and 2s+1 (lanes 8-15) by a
// table lookup, and a bit test gives the lane mask of +1 weights.

inline uint8x16_t bits_to_mask(uint8x16_t bits, uint32_t s) {
    const uint8_t lo = (uint8_t)(2 * s), hi = (uint8_t)(2 * s + 1);
#if defined(__aarch64__)
    const uint8x16_t idx = vcombine_u8(vdup_n_u8(lo), vdup_n_u8(hi));
    const uint8x16_t bytes = vqtbl1q_u8(bits, idx);
#else
    uint8x8x2_t tbl;
    tbl.val[0] = vget_low_u8(bits);
    tbl.val[1] = vget_high_u8(bits);
    const uint8x16_t bytes = vcombine_u8(vtbl2_u8(tbl, vdup_n_u8(lo)), vtbl2_u8(tbl, vdup_n_u8(hi)));
#endif
    return vtstq_u8(bytes, vld1q_u8(kBitSel));
}

template <class P, int R>
NEON_INLINE void binary_gemv_rows(const WeightView &w, uint32_t r0, const int8_t *x, const int8_t *xpad, float xs,
                                   float *y) {
    const uint32_t cols = w.cols, nfull = cols / 128, rem = cols - nfull * 128;
    const uint8_t *row[R];
    typename P::Acc acc[R];
    NEON_UNROLL
    for (int i = 0; i < R; i++) row[i] = w.data + (uint64_t)(r0 + i) * w.row_bytes, acc[i] = P::zero();
    for (uint32_t c = 0; c <= nfull; c++) {
        const uint32_t n_vec = c < nfull ? 8u : (rem + 15) / 16;
        if (n_vec == 0) break;
        const int8_t *xc = c < nfull ? x + c * 128 : xpad;
        uint8x16_t bits[R];
        NEON_UNROLL
        for (int i = 0; i < R; i++) {
            const uint8_t *p = row[i] + c * 16;
            if (c < nfull) {
                bits[i] = vld1q_u8(p);
            } else {
                uint8x16_t unused;
                load_upto32(p, (rem + 7) / 8, tensor_bytes_from(w, p), &bits[i], &unused);
            }
        }
        for (uint32_t s = 0; s < n_vec; s++) {
            const int8x16_t xv = vld1q_s8(xc + 16 * s), nx = vnegq_s8(xv);
            NEON_UNROLL
            for (int i = 0; i < R; i++) P::binary(acc[i], bits_to_mask(bits[i], s), xv, nx);
        }
        NEON_UNROLL
        for (int i = 0; i < R; i++) P::settle(acc[i]);
    }
    int32x4_t lanes[R];
    NEON_UNROLL
    for (int i = 0; i < R; i++) lanes[i] = P::lanes(acc[i]);
    store_rows<R>(w, r0, lanes, xs, y);
}

// One token, rows [row_begin, row_end); xpad: the token's last partial 128 columns, zero padded.
template <class P>
NEON_NOINLINE void binary_gemv(const WeightView &w, uint32_t row_begin, uint32_t row_end, const int8_t *x,
                                const int8_t *xpad, float xs, float *y) {
    constexpr int R = P::kRows;
    uint32_t r = row_begin;
    for (; r + R <= row_end; r += R) binary_gemv_rows<P, R>(w, r, x, xpad, xs, y + r);
    for (; r < row_end; r++) binary_gemv_rows<P, 1>(w, r, x, xpad, xs, y + r);
}

// ---- matmul_q8 entry --------------------------------------------------------------------------------

template <class P>
void matmul_q8_neon(const WeightView *wp, const int8_t *x, const float *x_scale, uint32_t n_tok, uint32_t row_begin,
                    uint32_t row_end, float *y, uint32_t y_stride) {
    const WeightView &w = *wp;
    const bool grouped = w.scale_kind == ScaleKind::Group;
    const bool group_ok = !grouped || (w.group_size != 0 && w.group_size % kGroupMultiple == 0);
    const bool simple_scale = w.scale_kind == ScaleKind::Tensor || w.scale_kind == ScaleKind::Row;
    const uint32_t cols = w.cols;
    if (n_tok == 0 || row_begin >= row_end) return;

    if (w.dtype == DType::Ternary && group_ok && n_tok >= P::kPrefillMinTokens && cols <= kMaxDecodeCols) {
        if (grouped) ternary_prefill<P, true>(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
        else ternary_prefill<P, false>(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
    } else if (w.dtype == DType::Ternary && group_ok) {
        TernaryTailX tx;
        for (uint32_t t = 0; t < n_tok; t++) {
            const int8_t *xt = x + (uint64_t)t * cols;
            float *yt = y + (uint64_t)t * y_stride;
            build_ternary_tail(w, xt, &tx);
            if (grouped) ternary_gemv_dispatch<P, true>(w, row_begin, row_end, xt, tx, x_scale[t], yt);
            else ternary_gemv_dispatch<P, false>(w, row_begin, row_end, xt, tx, x_scale[t], yt);
        }
    } else if (w.dtype == DType::Int8 && group_ok) {
        if (grouped) int8_matmul<P, true>(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
        else int8_matmul<P, false>(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
    } else if (w.dtype == DType::Binary && simple_scale) {
        alignas(16) int8_t xpad[128];
        const uint32_t done = cols / 128 * 128;
        for (uint32_t t = 0; t < n_tok; t++) {
            const int8_t *xt = x + (uint64_t)t * cols;
            for (uint32_t v = 0; v < 128; v += 16) vst1q_s8(xpad + v, vdupq_n_s8(0));
            __builtin_memcpy(xpad, xt + done, cols - done);
            binary_gemv<P>(w, row_begin, row_end, xt, xpad, x_scale[t], y + (uint64_t)t * y_stride);
        }
    } else {
        // Layouts the format does not produce (binary groups, odd group sizes): the reference.
        bitlm_reference_kernels()->matmul_q8(wp, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
    }
}

// ---- activation quantizer ---------------------------------------------------------------------------
// Same function as quantize_act_int8_ref (lib/quant/quantize.cpp), including its edge cases: amax over
// the |x| bit patterns as integers (NaN > inf > finite), all-zero or non-finite input -> q = 0.

// n floats of x with absolute bit patterns maxed (integer compares: exact on every target).
inline uint32_t amax_bits_neon(const float *x, uint32_t n) {
    const uint32x4_t abs_mask = vdupq_n_u32(0x7fffffffu);
    uint32x4_t m0 = vdupq_n_u32(0), m1 = m0, m2 = m0, m3 = m0;
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const uint32_t *p = (const uint32_t *)(const void *)(x + i);
        m0 = vmaxq_u32(m0, vandq_u32(vld1q_u32(p), abs_mask));
        m1 = vmaxq_u32(m1, vandq_u32(vld1q_u32(p + 4), abs_mask));
        m2 = vmaxq_u32(m2, vandq_u32(vld1q_u32(p + 8), abs_mask));
        m3 = vmaxq_u32(m3, vandq_u32(vld1q_u32(p + 12), abs_mask));
    }
    m0 = vmaxq_u32(vmaxq_u32(m0, m1), vmaxq_u32(m2, m3));
#if defined(__aarch64__)
    uint32_t m = vmaxvq_u32(m0);
#else
    uint32x2_t h = vmax_u32(vget_low_u32(m0), vget_high_u32(m0));
    h = vpmax_u32(h, h);
    uint32_t m = vget_lane_u32(h, 0);
#endif
    for (; i < n; i++) {
        uint32_t b;
        __builtin_memcpy(&b, x + i, 4);
        b &= 0x7fffffffu;
        if (b > m) m = b;
    }
    return m;
}

// 16 floats -> 16 int8: clamp(rne(v * mult), -127, 127).
inline int8x16_t quantize16(const float *x, float mult) {
    int32x4_t q[4];
    for (int j = 0; j < 4; j++) {
        const float32x4_t v = vmulq_n_f32(vld1q_f32(x + 4 * j), mult);
#if defined(__aarch64__)
        q[j] = vcvtnq_s32_f32(v);  // FCVTNS: round half to even, saturating, NaN -> 0
#else
        // ARMv7 has no rounding convert: (v + 1.5*2^23) - 1.5*2^23 is round-half-even for |v| < 2^22
        // (the caller guarantees |v| <= 127.0001), then the truncating convert is exact.
        const float32x4_t magic = vdupq_n_f32(12582912.0f);
        q[j] = vcvtq_s32_f32(vsubq_f32(vaddq_f32(v, magic), magic));
#endif
    }
    const int16x8_t a = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
    const int16x8_t b = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
    return vmaxq_s8(vcombine_s8(vqmovn_s16(a), vqmovn_s16(b)), vdupq_n_s8(-127));
}

// `vector_ok(amax_bits)` says when the NEON float path gives the reference's bits (see the callers).
template <bool (*vector_ok)(uint32_t)>
float quantize_act_neon(const float *x, uint32_t n, int8_t *q) {
    if (!x || !q) return 0.0f;
    const uint32_t amax_bits = amax_bits_neon(x, n);
    float amax;
    __builtin_memcpy(&amax, &amax_bits, sizeof amax);
    if (amax_bits == 0 || amax_bits >= 0x7f800000u) {
        for (uint32_t i = 0; i < n; i++) q[i] = 0;
        return amax_bits == 0 ? 0.0f : amax / 127.0f;
    }
    if (!vector_ok(amax_bits)) return quantize_act_int8_ref(x, n, q);
    const float mult = 127.0f / amax;
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) vst1q_s8(q + i, quantize16(x + i, mult));
    if (i < n) {
        alignas(16) float tmp[16] = {0};
        alignas(16) int8_t out[16];
        __builtin_memcpy(tmp, x + i, (n - i) * sizeof(float));
        vst1q_s8(out, quantize16(tmp, mult));
        __builtin_memcpy(q + i, out, n - i);
    }
    return amax / 127.0f;
}

// ---- F16 weights x float activations ------------------------------------------------------------
#if defined(__aarch64__)
// Four rows per vector (lane = row), so each row's sum still runs in column order with one IEEE
// multiply and one add per column (no FMA: -ffp-contract=off and separate vmulq/vaddq), as the
// reference does. FCVTL widens fp16 exactly like f16_to_f32. ARMv7 NEON flushes denormals, so the
// ARMv7 table keeps the reference for this one.
void matmul_f16_a64(const WeightView *wp, const float *x, uint32_t n_tok, uint32_t row_begin, uint32_t row_end,
                    float *y, uint32_t y_stride) {
    const WeightView &w = *wp;
    const uint32_t cols = w.cols, c4 = cols & ~3u;
    for (uint32_t t = 0; t < n_tok; t++) {
        const float *xt = x + (uint64_t)t * cols;
        float *yt = y + (uint64_t)t * y_stride;
        uint32_t r = row_begin;
        for (; r + 4 <= row_end; r += 4) {
            const uint16_t *p0 = (const uint16_t *)(const void *)(w.data + (uint64_t)r * w.row_bytes);
            const uint16_t *p1 = (const uint16_t *)(const void *)((const uint8_t *)p0 + w.row_bytes);
            const uint16_t *p2 = (const uint16_t *)(const void *)((const uint8_t *)p1 + w.row_bytes);
            const uint16_t *p3 = (const uint16_t *)(const void *)((const uint8_t *)p2 + w.row_bytes);
            float32x4_t sum = vdupq_n_f32(0.0f);
            for (uint32_t c = 0; c < c4; c += 4) {
                // 4x4 transpose of fp16 bit patterns: column j of the block becomes vector j.
                const uint16x4x2_t a = vtrn_u16(vld1_u16(p0 + c), vld1_u16(p1 + c));
                const uint16x4x2_t b = vtrn_u16(vld1_u16(p2 + c), vld1_u16(p3 + c));
                const uint32x2x2_t e = vtrn_u32(vreinterpret_u32_u16(a.val[0]), vreinterpret_u32_u16(b.val[0]));
                const uint32x2x2_t o = vtrn_u32(vreinterpret_u32_u16(a.val[1]), vreinterpret_u32_u16(b.val[1]));
                const float32x4_t xv = vld1q_f32(xt + c);
                const float32x4_t w0 = vcvt_f32_f16(vreinterpret_f16_u32(e.val[0]));
                const float32x4_t w1 = vcvt_f32_f16(vreinterpret_f16_u32(o.val[0]));
                const float32x4_t w2 = vcvt_f32_f16(vreinterpret_f16_u32(e.val[1]));
                const float32x4_t w3 = vcvt_f32_f16(vreinterpret_f16_u32(o.val[1]));
                sum = vaddq_f32(sum, vmulq_laneq_f32(w0, xv, 0));
                sum = vaddq_f32(sum, vmulq_laneq_f32(w1, xv, 1));
                sum = vaddq_f32(sum, vmulq_laneq_f32(w2, xv, 2));
                sum = vaddq_f32(sum, vmulq_laneq_f32(w3, xv, 3));
            }
            for (uint32_t c = c4; c < cols; c++) {
                const uint16_t h[4] = {p0[c], p1[c], p2[c], p3[c]};
                sum = vaddq_f32(sum, vmulq_n_f32(vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h))), xt[c]));
            }
            vst1q_f32(yt + r, sum);
        }
        for (; r < row_end; r++) {
            const uint16_t *p = (const uint16_t *)(const void *)(w.data + (uint64_t)r * w.row_bytes);
            float sum = 0.0f;
            for (uint32_t c = 0; c < cols; c++) sum += f16_to_f32(p[c]) * xt[c];
            yt[r] = sum;
        }
    }
}
#endif

}  // namespace
}  // namespace bitlm
