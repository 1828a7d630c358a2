// kernels_mve.cpp — Cortex-M55 Helium (MVE) kernels: ternary and int8 weights read in place from
// flash times int8 activations, 16 int8 lanes per vector, and the activation quantizer; the float
// combination and group scales from the DSP table. Table "cm-mve", the M55 default.
//
// ---- measured (QEMU instruction-count plugin, exact; `bash tools/bench_mcu.sh`, mcu-260k, M55) ----
// Instructions per generated token: reference kernels 6,090,612; the DSP table on the M55 779,208;
// this table 530,260 (ternary 97k, float combination 19k, int8 head 5k, quantizer 5k; lib/ ~400k).
// A row of 64 weights (one tail vector, its five activation planes kept in registers) is 21
// instructions; a 160-weight block 41 plus the tail. From intrinsics GCC hoisted the ten activation
// loads of a block and spilled Q registers (~200 instructions a row of 172): the block and tail
// bodies are hand-scheduled inline assembly; the quantizer's loops are DLSTP/LETP (GCC rebuilt the
// tail predicate every iteration: 6.7 instructions per activation instead of 2.3).
//
// ---- the ternary matmul ---------------------------------------------------------------------------
// Plane by plane, in the at-rest layout, with no activation permutation: digit plane k of a block (or
// of the tail, at its stride B) is 32 (or B) consecutive weights that meet 32 (or B) consecutive
// activations. A vector of 16 weight bytes gives the 16 digits of plane k with two byte multiplies,
//     d = vmulh.u8(vmul.i8(w, 3^k), 3)              (ternary_pack.h: d_k = ((uint8)(q*3^k) * 3) >> 8)
// and one VMLADAVA.S8 adds sum(d * x) into a scalar. The trits are d - 1, so the row's sum is
// sum(d * x) - sum(x): sum(x) over the row is taken once per token (VADDVA) and subtracted. Tail planes
// and the tail's weight bytes are loaded with tail predication (VCTP): inactive lanes load as zero,
// so nothing past the row is read and padding digits meet zero activations.
// Group scales go to the DSP kernel (planes 0+1 and 2+3 are summed apart there); binary weights to
// the reference. The float combination is the DSP folder's scalar FPU code (tensor/dequant.h order):
// these kernels never rely on MVE float lanes treating subnormals and NaN payloads like the scalar
// FPU (FPSCR.FZ/DN); the quantizer uses one vector multiply only where that cannot change q (there).
//
// ---- the int8 matmul (the tied embedding head) ---------------------------------------------------
// 16 weights per VLDRB.S8, one VMLADAVA.S8 per 16 products.
#include <arm_mve.h>
#include <stdint.h>

#include "core/bytes.h"
#include "quant/quantize.h"
#include "cortex_m_dsp/kernels_dsp.h"
#include "tensor/ternary_pack.h"
#include "tensor/weights.h"

#if !defined(__ARM_FEATURE_MVE)
#error "platform/cortex_m_mve needs Helium (MVE): build for cortex-m55"
#endif

namespace bitlm {
namespace cm {
namespace {

inline void store_sum(float *slot, int32_t v) { *slot = bits_float((uint32_t)v); }

// sum of x[0..n) as int32.
inline int32_t sum_int8(const int8_t *x, uint32_t n) {
    int32_t s = 0;
    for (uint32_t i = 0; i < n; i += 16) s = vaddvaq_p_s8(s, vldrbq_z_s8(x + i, vctp8q(n - i)), vctp8q(n - i));
    return s;
}

inline uint32_t clamp_lanes(int32_t n) { return n <= 0 ? 0u : (uint32_t)n; }

// sum over the five planes of up to 16 bytes: d_k(w lanes) * x_k lanes. xk[k] hold the activations
// (zero where there is no weight).
#define BITLM_MVE_PLANES(acc, w, x0, x1, x2, x3, x4)                                                 \
    do {                                                                                           \
        const uint8x16_t three_ = vdupq_n_u8(3);                                                   \
        acc = vmladavaq_s8(acc, vreinterpretq_s8_u8(vmulhq_u8(w, three_)), x0);                   \
        acc = vmladavaq_s8(acc, vreinterpretq_s8_u8(vmulhq_u8(vmulq_n_u8(w, 3), three_)), x1);    \
        acc = vmladavaq_s8(acc, vreinterpretq_s8_u8(vmulhq_u8(vmulq_n_u8(w, 9), three_)), x2);    \
        acc = vmladavaq_s8(acc, vreinterpretq_s8_u8(vmulhq_u8(vmulq_n_u8(w, 27), three_)), x3);   \
        acc = vmladavaq_s8(acc, vreinterpretq_s8_u8(vmulhq_u8(vmulq_n_u8(w, 81), three_)), x4);   \
    } while (0)

// One whole block: 32 weight bytes (two vectors, q0 and q1), the five planes of 32 activations at x.
// Hand-scheduled: from intrinsics GCC hoists all ten activation loads and spills. q0/q1 become
// w * 3^k in turn (byte multiplies wrap mod 256, as the decode wants); q2 holds 3.
inline int32_t dot_block(const uint8_t *w, const int8_t *x, int32_t acc) {
    const uint32_t three = 3;
    __asm__ volatile(
        "vdup.8     q2, %[three]\n\t"
        "vldrb.u8   q0, [%[w]]\n\t"
        "vldrb.u8   q1, [%[w], #16]\n\t"
        "vmulh.u8   q3, q0, q2\n\t"
        "vldrb.s8   q4, [%[x]], #16\n\t"
        "vmlava.s8  %[acc], q3, q4\n\t"
        "vmulh.u8   q3, q1, q2\n\t"
        "vldrb.s8   q4, [%[x]], #16\n\t"
        "vmlava.s8  %[acc], q3, q4\n\t"
        ".rept 4\n\t"
        "vmul.i8    q0, q0, %[three]\n\t"
        "vmulh.u8   q3, q0, q2\n\t"
        "vldrb.s8   q4, [%[x]], #16\n\t"
        "vmlava.s8  %[acc], q3, q4\n\t"
        "vmul.i8    q1, q1, %[three]\n\t"
        "vmulh.u8   q3, q1, q2\n\t"
        "vldrb.s8   q4, [%[x]], #16\n\t"
        "vmlava.s8  %[acc], q3, q4\n\t"
        ".endr"
        : [acc] "+r"(acc), [x] "+r"(x)
        : [w] "r"(w), [three] "r"(three)
        : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "memory");
    return acc;
}

// Up to 16 bytes of a tail (the lanes `pred` allows; the rest load as 0) against its five planes,
// zero-padded in xb (plane k at xb + 16 k).
inline int32_t dot_tail_chunk(const uint8_t *w, const int8_t *xb, mve_pred16_t pred, int32_t acc) {
    const uint32_t three = 3;
    __asm__ volatile(
        "vdup.8     q2, %[three]\n\t"
        "vmsr       p0, %[pred]\n\t"
        "vpst\n\t"
        "vldrbt.u8  q0, [%[w]]\n\t"
        "vmulh.u8   q3, q0, q2\n\t"
        "vldrb.s8   q4, [%[x]]\n\t"
        "vmlava.s8  %[acc], q3, q4\n\t"
        "vmul.i8    q0, q0, %[three]\n\t"
        "vmulh.u8   q3, q0, q2\n\t"
        "vldrb.s8   q4, [%[x], #16]\n\t"
        "vmlava.s8  %[acc], q3, q4\n\t"
        "vmul.i8    q0, q0, %[three]\n\t"
        "vmulh.u8   q3, q0, q2\n\t"
        "vldrb.s8   q4, [%[x], #32]\n\t"
        "vmlava.s8  %[acc], q3, q4\n\t"
        "vmul.i8    q0, q0, %[three]\n\t"
        "vmulh.u8   q3, q0, q2\n\t"
        "vldrb.s8   q4, [%[x], #48]\n\t"
        "vmlava.s8  %[acc], q3, q4\n\t"
        "vmul.i8    q0, q0, %[three]\n\t"
        "vmulh.u8   q3, q0, q2\n\t"
        "vldrb.s8   q4, [%[x], #64]\n\t"
        "vmlava.s8  %[acc], q3, q4\n\t"
        : [acc] "+r"(acc)
        : [w] "r"(w), [x] "r"(xb), [pred] "r"((uint32_t)pred), [three] "r"(three)
        : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "memory");
    return acc;
}

// Rows [r0, r1) of one token: int32 sums into the y slots, then the float combination.
__attribute__((noinline)) void ternary_token(const WeightView *w, const int8_t *x, float xs, uint32_t r0, uint32_t r1,
                                             float *y) {
    const uint32_t cols = w->cols, rb = w->row_bytes;
    const uint32_t blocks = cols / kTernaryBlockWeights, tail = cols % kTernaryBlockWeights;
    const uint32_t B = (tail + 4) / 5;
    const int32_t sx = sum_int8(x, cols);
    const int8_t *xt = x + blocks * kTernaryBlockWeights;
    if (blocks == 0 && B <= 16) {
        // The tail is the whole row and one vector: its five activation planes stay in registers.
        const int32_t t = (int32_t)tail;
        const int8x16_t x0 = vldrbq_z_s8(xt, vctp8q(clamp_lanes(t)));
        const int8x16_t x1 = vldrbq_z_s8(xt + B, vctp8q(clamp_lanes(t - (int32_t)B)));
        const int8x16_t x2 = vldrbq_z_s8(xt + 2 * B, vctp8q(clamp_lanes(t - 2 * (int32_t)B)));
        const int8x16_t x3 = vldrbq_z_s8(xt + 3 * B, vctp8q(clamp_lanes(t - 3 * (int32_t)B)));
        const int8x16_t x4 = vldrbq_z_s8(xt + 4 * B, vctp8q(clamp_lanes(t - 4 * (int32_t)B)));
        const mve_pred16_t pw = vctp8q(B);
        const uint8_t *row = w->data + (uint64_t)r0 * rb;
        for (uint32_t r = r0; r < r1; r++, row += rb) {
            const uint8x16_t wv = vldrbq_z_u8(row, pw);
            int32_t acc = -sx;
            BITLM_MVE_PLANES(acc, wv, x0, x1, x2, x3, x4);
            store_sum(&y[r], acc);
        }
    } else {
        // The tail's planes, zero-padded, in two chunks of five 16-byte planes (B <= 32).
        alignas(16) int8_t xb[2][5][16];
        for (uint32_t c = 0; c * 16 < B; c++)
            for (uint32_t k = 0; k < 5; k++) {
                const int32_t n = (int32_t)tail - (int32_t)(B * k) - (int32_t)(16 * c);
                const uint32_t lanes = n <= 0 ? 0u : (uint32_t)n > 16 ? 16u : (uint32_t)n;
                const uint32_t in_plane = B - 16 * c < lanes ? B - 16 * c : lanes;
                vstrbq_s8(xb[c][k], vldrbq_z_s8(xt + B * k + 16 * c, vctp8q(in_plane)));
            }
        const mve_pred16_t p0 = vctp8q(B), p1 = vctp8q(B > 16 ? B - 16 : 0);
        const uint8_t *row = w->data + (uint64_t)r0 * rb;
        for (uint32_t r = r0; r < r1; r++, row += rb) {
            int32_t acc = -sx;
            for (uint32_t b = 0; b < blocks; b++)
                acc = dot_block(row + b * kTernaryBlockBytes, x + b * kTernaryBlockWeights, acc);
            const uint8_t *wt = row + blocks * kTernaryBlockBytes;
            if (B) acc = dot_tail_chunk(wt, xb[0][0], p0, acc);
            if (B > 16) acc = dot_tail_chunk(wt + 16, xb[1][0], p1, acc);
            store_sum(&y[r], acc);
        }
    }
    combine_rows(w, r0, r1, xs, y);
}

__attribute__((noinline)) void int8_token(const WeightView *w, const int8_t *x, float xs, uint32_t r0, uint32_t r1,
                                          float *y) {
    const uint32_t cols = w->cols, rb = w->row_bytes;
    const uint8_t *row = w->data + (uint64_t)r0 * rb;
    if (cols <= 64) {  // the activations stay in registers
        const int8x16_t x0 = vldrbq_z_s8(x, vctp8q(cols));
        const int8x16_t x1 = vldrbq_z_s8(x + 16, vctp8q(cols > 16 ? cols - 16 : 0));
        const int8x16_t x2 = vldrbq_z_s8(x + 32, vctp8q(cols > 32 ? cols - 32 : 0));
        const int8x16_t x3 = vldrbq_z_s8(x + 48, vctp8q(cols > 48 ? cols - 48 : 0));
        const mve_pred16_t p0 = vctp8q(cols), p1 = vctp8q(cols > 16 ? cols - 16 : 0);
        const mve_pred16_t p2 = vctp8q(cols > 32 ? cols - 32 : 0), p3 = vctp8q(cols > 48 ? cols - 48 : 0);
        for (uint32_t r = r0; r < r1; r++, row += rb) {
            const int8_t *q = (const int8_t *)row;
            int32_t acc = vmladavq_s8(vldrbq_z_s8(q, p0), x0);
            acc = vmladavaq_s8(acc, vldrbq_z_s8(q + 16, p1), x1);
            acc = vmladavaq_s8(acc, vldrbq_z_s8(q + 32, p2), x2);
            acc = vmladavaq_s8(acc, vldrbq_z_s8(q + 48, p3), x3);
            store_sum(&y[r], acc);
        }
    } else {
        for (uint32_t r = r0; r < r1; r++, row += rb) {
            const int8_t *q = (const int8_t *)row;
            int32_t acc = 0;
            for (uint32_t i = 0; i < cols; i += 16) {
                const mve_pred16_t p = vctp8q(cols - i);
                acc = vmladavaq_s8(acc, vldrbq_z_s8(q + i, p), vldrbq_z_s8(x + i, p));
            }
            store_sum(&y[r], acc);
        }
    }
    combine_rows(w, r0, r1, xs, y);
}

// ---- the activation quantizer ----------------------------------------------------------------------
// amax over the |x| bit patterns (the reference's order) with integer lanes: max of bits << 1. Then
// q = vcvtn(x * mult) (round to nearest, ties to even), stored narrowed to bytes. Exact for the inputs
// taken here (amax >= 2^-100, finite): |x * mult| < 127.5 needs no clamp, and a subnormal x or product
// rounds to 0 whether or not a vector unit flushes it (|x * mult| < 2^-19 then); everything else goes
// to the reference, like the FPU version's special cases.
// (Tail-predicated DLSTP/LETP loops written out: GCC re-derives the predicate every iteration.)
float quantize_act_int8_mve(const float *x, uint32_t n, int8_t *q) {
    if (!x || !q) return 0.0f;
    uint32_t m2 = 0;
    if (n) {
        const float *p = x;
        uint32_t count = n;
        __asm__ volatile(
            "vmov.i32   q2, #0\n\t"
            "dlstp.32   lr, %[n]\n"
            "1:\n\t"
            "vldrw.u32  q3, [%[p]], #16\n\t"
            "vshl.i32   q3, q3, #1\n\t"
            "vmax.u32   q2, q2, q3\n\t"
            "letp       lr, 1b\n\t"
            "vmaxv.u32  %[m], q2"
            : [m] "+r"(m2), [p] "+r"(p), [n] "+r"(count)
            :
            : "lr", "d4", "d5", "d6", "d7", "memory");
    }
    const uint32_t amax_bits = m2 >> 1;
    if (amax_bits < 0x0d800000u || amax_bits >= 0x7f800000u) return quantize_act_int8_ref(x, n, q);  // 2^-100
    const float amax = bits_float(amax_bits);
    const float mult = 127.0f / amax;
    const float *p = x;
    int8_t *o = q;
    uint32_t count = n;
    __asm__ volatile(
        "dlstp.32   lr, %[n]\n"
        "1:\n\t"
        "vldrw.u32  q3, [%[p]], #16\n\t"
        "vmul.f32   q3, q3, %[mult]\n\t"
        "vcvtn.s32.f32 q3, q3\n\t"
        "vstrb.32   q3, [%[o]], #4\n\t"
        "letp       lr, 1b"
        : [p] "+r"(p), [o] "+r"(o), [n] "+r"(count)
        : [mult] "r"(float_bits(mult))
        : "lr", "d6", "d7", "memory");
    return amax / 127.0f;
}

void matmul_q8_mve(const WeightView *w, const int8_t *x, const float *x_scale, uint32_t n_tok, uint32_t row_begin,
                   uint32_t row_end, float *y, uint32_t y_stride) {
    const bool ternary = w->dtype == DType::Ternary && w->scale_kind != ScaleKind::Group;
    const bool int8 = w->dtype == DType::Int8 && w->scale_kind != ScaleKind::Group;
    if ((!ternary && !int8) || row_begin >= row_end) {  // group scales, binary weights
        dsp_kernels()->matmul_q8(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
        return;
    }
    for (uint32_t t = 0; t < n_tok; t++) {
        const int8_t *xt = x + (uint64_t)t * w->cols;
        float *yt = y + (uint64_t)t * y_stride;
        if (ternary) ternary_token(w, xt, x_scale[t], row_begin, row_end, yt);
        else int8_token(w, xt, x_scale[t], row_begin, row_end, yt);
    }
}

void matmul_f16_reference(const WeightView *w, const float *x, uint32_t n_tok, uint32_t row_begin, uint32_t row_end,
                          float *y, uint32_t y_stride) {
    bitlm_reference_kernels()->matmul_f16(w, x, n_tok, row_begin, row_end, y, y_stride);
}

const bitlm_kernels kMve = {"cm-mve", quantize_act_int8_mve, matmul_q8_mve, matmul_f16_reference,
                            nullptr, nullptr, nullptr, 0};  // the optional float kernels: the portable ones

}  // namespace

const bitlm_kernels *mve_kernels() { return &kMve; }

}  // namespace cm
}  // namespace bitlm
