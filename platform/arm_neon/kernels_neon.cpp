// kernels_neon.cpp — the baseline NEON kernel table: ARMv8.0 AArch64 ("neon") and ARMv7 A32
// ("neon-armv7"). Ternary/binary/int8 weights x int8 activations, the activation quantizer, and (A64)
// the f16 matmul; bodies in neon_kernels_impl.h, the sdot variant in kernels_neon_dot.cpp.
//
// How these kernels were chosen (QEMU has no timing model, so the measure is the exact count of
// executed instructions from the TCG plugin ../shared/tools/qemu-insncount; platform/arm_neon/
// bench_insns.sh reproduces the per-token figures, a throwaway driver calling matmul_q8 in a loop
// the per-call ones).
//
// Decode. A packed byte q holds digit k as ((uint8)(q*3^k)*3)>>8. Instead of forming the digit, two
// unsigned compares of t = q*3^k (one 8-bit MUL per plane, t *= 3) give masks m1 = [t>=86] (digit >= 1)
// and m2 = [t>=171] (digit 2). Per 16 weights and row:
//   baseline  trit*x = m1 ? (x & m2) : -x   CMHS, CMHS, AND, BSL, SADALP (int8 pairs into int16,
//             widened to int32 once per 160-weight block; -x is computed once per pass of rows);
//   sdot      acc += (m1 + m2) . x  = -digit . x   CMHS, CMHS, ADD, SDOT, then sum trit*x = -acc - sum x,
//             with sum x one more SDOT per activation vector shared by the pass's rows. This "digit form"
//             is one instruction less than forming the trit (~(m1+m2), then SDOT): 61 instead of 67.5
//             instructions per 160 weights and row (4-row passes, long rows).
// GCC turns the multiply by 3 into SHL+ADD; the constant is hidden from it to keep one MUL.
//
// Rows per pass. AArch64 runs 4 rows at a time (activation loads, negation or sum x shared; 4 int32
// results combined with one vector SCVTF/FCVTL/FMUL). ARMv7 has 16 q registers: 2 rows; 3 and 4 rows
// spill (64x64 GEMV: 6.2k, 6.8k, 7.2k instructions). Unrolling is forced (#pragma GCC unroll) and the
// per-pass work is one non-inlined function per (scale kind, tail width): the first version, all
// inlined into one function with runtime checks, spilled the row arrays and cost 3.8x more.
//
// Tail block. The last r = cols % 160 weights of a row (B = ceil(r/5) bytes, plane k = weights
// Bk..Bk+B-1) are the whole row in the small shapes (dim 64: B = 13). Per call the tail's activations
// are re-laid out plane by plane (stride 16 or 32, zero where no weight), so a row needs no masking:
// garbage lanes of its byte vector meet x = 0. 64x64 ternary GEMV: 3.6k (neon) / 3.2k (neon-dot)
// instructions vs 100.8k for the reference. Group scales whose boundary cuts the tail take one pass
// per group.
//
// Prefill (n_tok >= 3). Each row is decoded once to int8 trits on the stack (rows up to 4096 weights;
// longer rows use the per-token path), then 4 rows x 2 tokens register tiles (each weight vector load
// serves two tokens): baseline MUL+SADALP (|trit*x| <= 127 fits int8), sdot SDOT. 64x1024, 16 tokens:
// 269k / 186k instructions vs 16 GEMVs 474k / 414k. The crossover measured 3 tokens on 64-wide rows
// (2 tokens: 7.4k vs 2 x 3.2k) and 2 on 1024-wide ones; 3 is used.
//
// Int8 (the tied embedding head): 4 rows x 2 tokens, SMULL+SMLAL2 (two products of |w|<=128, |x|<=127
// fit int16) + SADALP, or SDOT. Binary: a TBL spreads 2 bit bytes over 16 lanes, CMTST makes the +1
// mask, then BSL(x, -x) / SDOT(1|~mask). F16 (AArch64): lanes are 4 rows, so each row's sum keeps
// column order with one FMUL and one FADD per column (no FMA); ARMv7 keeps the reference (NEON FTZ).
//
// instructions per call          reference   neon   neon-dot | armv7 ref   neon-armv7
//   ternary 64x64, 1 token         100,785   3,570     3,246  |  102,187       6,226
//   ternary 64x1024, 1 token     1,167,089  29,602    25,870  | 1,119,467     37,682
//   ternary 64x1024, 16 tokens  18,662,129 269,464   186,185  | 17,897,387   448,007
//   int8 256x64 (head), 1 token    202,036  11,421     9,501  |  201,260      27,380
//   binary 256x64, 1 token         267,572  13,404    13,532  |  284,461      31,708
//   f16 256x64, 1 token            383,027  32,200    32,200  |  334,642   (reference)
//   quantize 1024 floats            46,129   4,533     4,533  |   50,218       5,631
//
// mcu-260k, per generated token (bench_insns.sh: (insns(32 tokens) - insns(1)) / 31, 1 thread):
//   aarch64 generic 5,979,675 (kernels 5,540,535); neon 650,626 (209,817); neon-dot 630,866 (190,057)
//   armv7   generic 5,982,396 (kernels 5,576,461); neon-armv7 766,634 (349,890)
// The kernel table went from 93% of a token to 30-32%; the rest is attention, exp, norms (lib/model).
//
// Exactness. Integer sums are exact (int16 pair sums are widened before they can overflow); the float
// combination is tensor/dequant.h's, vectorised on AArch64 (IEEE, FPCR.FZ clear) and scalar VFP on
// ARMv7. No load leaves the tensor or the activations: tail bytes come through whole-vector loads only
// when the rest of the tensor is long enough (tail_safe_end), else through a zeroed copy; an
// activation vector that would run past the activations (the last token's partial one, or the last
// few tokens' when cols < 16) is a zero-padded copy. Checked, beyond tests/unit (no ASan on the cross
// builds), with weights, scales and activations placed flush against a PROT_NONE page.
#include "arm_neon/neon_kernels_impl.h"

namespace bitlm {
namespace {

// Products are accumulated in int16 pairs (SADALP) and widened to int32 at least every 127 pair-adds.
struct NeonBase {
#if defined(__aarch64__)
    static constexpr int kRows = 4;
#else
    static constexpr int kRows = 2;  // 16 q registers on A32 (measured: 3 and 4 rows spill)
#endif
    static constexpr uint32_t kPrefillMinTokens = 3;  // measured crossover: 3 tokens on 64-wide rows, 2 on 1024
    static constexpr int kTokens = 2;  // dense tile: tokens sharing each weight vector load
    static constexpr uint32_t kSettleEvery = 63;  // dense trit vectors between widenings (2*63*127 < 2^15)
    struct Acc {
        int32x4_t s32;
        int16x8_t s16;
    };
    static inline Acc zero() { return Acc{vdupq_n_s32(0), vdupq_n_s16(0)}; }
    static inline void settle(Acc &a) {
        a.s32 = vpadalq_s16(a.s32, a.s16);
        a.s16 = vdupq_n_s16(0);
    }
    static inline int32x4_t lanes(Acc &a) {
        settle(a);
        return a.s32;
    }
    // trit(t)*x = d==2 ? x : d==1 ? 0 : -x, with d>=1 <=> t>=86 and d==2 <=> t>=171.
    static inline void ternary(Acc &a, uint8x16_t t, int8x16_t x, int8x16_t nx) {
        const uint8x16_t ge1 = vcgeq_u8(t, vdupq_n_u8(86)), ge2 = vcgeq_u8(t, vdupq_n_u8(171));
        a.s16 = vpadalq_s8(a.s16, vbslq_s8(ge1, vandq_s8(x, vreinterpretq_s8_u8(ge2)), nx));
    }
    struct XSum {};  // the select form needs no sum of x
    static inline XSum xsum_zero() { return XSum{}; }
    static inline void xsum_add(XSum &, int8x16_t) {}
    static inline int32x4_t ternary_lanes(Acc &a, const XSum &) { return lanes(a); }
    static inline void binary(Acc &a, uint8x16_t plus, int8x16_t x, int8x16_t nx) {
        a.s16 = vpadalq_s8(a.s16, vbslq_s8(plus, x, nx));
    }
    static inline int8x16_t trits(uint8x16_t t) {  // ~(m1 + m2) = -1 - (-[t>=86]) - (-[t>=171]) = d - 1
        const uint8x16_t ge1 = vcgeq_u8(t, vdupq_n_u8(86)), ge2 = vcgeq_u8(t, vdupq_n_u8(171));
        return vreinterpretq_s8_u8(vmvnq_u8(vaddq_u8(ge1, ge2)));
    }
    static inline void dense_trits(Acc &a, int8x16_t w, int8x16_t x) { a.s16 = vpadalq_s8(a.s16, vmulq_s8(w, x)); }
    static inline void dense_int8(Acc &a, int8x16_t w, int8x16_t x) {
        // |w*x| <= 128*127, so two products fit an int16 lane.
#if defined(__aarch64__)
        const int16x8_t p = vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(x)), w, x);
#else
        const int16x8_t p = vmlal_s8(vmull_s8(vget_low_s8(w), vget_low_s8(x)), vget_high_s8(w), vget_high_s8(x));
#endif
        a.s32 = vpadalq_s16(a.s32, p);
    }
};

#if defined(__aarch64__)
// AArch64 NEON arithmetic is IEEE with denormals (FPCR.FZ clear): always the vector path.
bool quant_vector_ok(uint32_t) { return true; }
const bitlm_kernels kNeon = {"neon", quantize_act_neon<quant_vector_ok>, matmul_q8_neon<NeonBase>, matmul_f16_a64,
                             nullptr, nullptr, nullptr, 0};
#else
// ARMv7 NEON flushes subnormal inputs and results to zero. With amax >= 2^-100 that cannot change a
// result: mult = 127/amax is computed in VFP (IEEE) and is a normal number <= 127*2^100; a subnormal
// x (< 2^-126) gives |x*mult| < 2^-19, which rounds to 0 either way; a product that is subnormal also
// rounds to 0; |x*mult| <= 127.0001 keeps the 1.5*2^23 rounding trick exact. Below 2^-100 (never seen
// in a real network): the scalar reference.
bool quant_vector_ok(uint32_t amax_bits) { return amax_bits >= 0x0d800000u; }  // 2^-100
void matmul_f16_ref(const WeightView *w, const float *x, uint32_t n_tok, uint32_t row_begin, uint32_t row_end,
                    float *y, uint32_t y_stride) {
    bitlm_reference_kernels()->matmul_f16(w, x, n_tok, row_begin, row_end, y, y_stride);
}
const bitlm_kernels kNeon = {"neon-armv7", quantize_act_neon<quant_vector_ok>, matmul_q8_neon<NeonBase>,
                             matmul_f16_ref, nullptr, nullptr, nullptr, 0};
#endif

}  // namespace

const bitlm_kernels *neon_kernels_baseline() { return &kNeon; }

}  // namespace bitlm
