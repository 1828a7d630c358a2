// kernels_neon_dot.cpp — the AArch64 dot-product kernel table ("neon-dot", ARMv8.2 SDOT), built with
// -march=armv8.2-a+dotprod (flags.mk) and chosen only when the CPU reports it (select_kernels.cpp).
// Same bodies as the baseline (neon_kernels_impl.h); only the 16-lane accumulation differs: SDOT sums
// four int8 products straight into each int32 lane, so there is no int16 stage and no widening.
// Measurements and reasoning: kernels_neon.cpp.
#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#include "arm_neon/neon_kernels_impl.h"

namespace bitlm {
namespace {

struct NeonDot {
    static constexpr int kRows = 4;
    static constexpr uint32_t kPrefillMinTokens = 3;  // measured crossover: 3 tokens on 64-wide rows, 2 on 1024
    static constexpr int kTokens = 2;  // dense tile: tokens sharing each weight vector load
    static constexpr uint32_t kSettleEvery = 1u << 20;  // int32 lanes: nothing to widen
    struct Acc {
        int32x4_t s32;
    };
    static inline Acc zero() { return Acc{vdupq_n_s32(0)}; }
    static inline void settle(Acc &) {}
    static inline int32x4_t lanes(Acc &a) { return a.s32; }
    // trit = ~(m1 + m2) with m1 = -[t>=86], m2 = -[t>=171] (so -1, 0, +1 for digits 0, 1, 2).
    static inline int8x16_t trits(uint8x16_t t) {
        const uint8x16_t ge1 = vcgeq_u8(t, vdupq_n_u8(86)), ge2 = vcgeq_u8(t, vdupq_n_u8(171));
        return vreinterpretq_s8_u8(vmvnq_u8(vaddq_u8(ge1, ge2)));
    }
    // Fused decode+dot in digit form, one instruction less than the trit: with m1 + m2 = -d,
    // acc = sum -d*x, and sum trit*x = sum (d-1)*x = -acc - sum x, where sum x is one more SDOT per x
    // vector, shared by the kRows rows of a pass (XSum).
    static inline void ternary(Acc &a, uint8x16_t t, int8x16_t x, int8x16_t) {
        const uint8x16_t ge1 = vcgeq_u8(t, vdupq_n_u8(86)), ge2 = vcgeq_u8(t, vdupq_n_u8(171));
        a.s32 = vdotq_s32(a.s32, vreinterpretq_s8_u8(vaddq_u8(ge1, ge2)), x);
    }
    struct XSum {
        int32x4_t s;
    };
    static inline XSum xsum_zero() { return XSum{vdupq_n_s32(0)}; }
    static inline void xsum_add(XSum &xs, int8x16_t x) { xs.s = vdotq_s32(xs.s, vdupq_n_s8(1), x); }
    static inline int32x4_t ternary_lanes(Acc &a, const XSum &xs) { return vnegq_s32(vaddq_s32(a.s32, xs.s)); }
    // +1 where the bit is set: 1 | ~mask.
    static inline void binary(Acc &a, uint8x16_t plus, int8x16_t x, int8x16_t) {
        a.s32 = vdotq_s32(a.s32, vornq_s8(vdupq_n_s8(1), vreinterpretq_s8_u8(plus)), x);
    }
    static inline void dense_trits(Acc &a, int8x16_t w, int8x16_t x) { a.s32 = vdotq_s32(a.s32, w, x); }
    static inline void dense_int8(Acc &a, int8x16_t w, int8x16_t x) { a.s32 = vdotq_s32(a.s32, w, x); }
};

bool quant_vector_ok(uint32_t) { return true; }
const bitlm_kernels kNeonDot = {"neon-dot", quantize_act_neon<quant_vector_ok>, matmul_q8_neon<NeonDot>,
                                matmul_f16_a64, nullptr, nullptr, nullptr, 0};

}  // namespace

const bitlm_kernels *neon_kernels_dot() { return &kNeonDot; }

}  // namespace bitlm
#endif
