// fp16.cpp — IEEE binary16 <-> binary32 conversion in integer code only, so it is exact and identical
// on every target (no F16C / VCVT dependence, no FPU needed, unaffected by flush-to-zero modes).
#include "core/fp16.h"
#include "core/bytes.h"

namespace bitlm {

// Round to nearest, ties to even, of binary32 -> binary16.
// NaN stays NaN: the top 10 payload bits are kept and the quiet bit is set (as F16C/VCVT do).
uint16_t f32_to_f16(float value) {
    const uint32_t bits = float_bits(value);
    const uint32_t sign = (bits >> 16) & 0x8000u;
    const uint32_t exp = (bits >> 23) & 0xffu;
    const uint32_t mant = bits & 0x7fffffu;

    if (exp == 0xffu) {  // inf or NaN
        if (mant == 0) return (uint16_t)(sign | 0x7c00u);
        return (uint16_t)(sign | 0x7e00u | (mant >> 13));
    }
    const int32_t e = (int32_t)exp - 127;  // unbiased exponent (binary32 subnormals land far below)
    if (e > 15) return (uint16_t)(sign | 0x7c00u);  // >= 2^16: beyond max half 65504 even after rounding

    if (e >= -14) {
        // Normal half. Drop 13 mantissa bits with RNE; a carry out of the mantissa correctly bumps the
        // exponent, and from exponent 30 it lands exactly on infinity (0x7c00).
        uint32_t h = sign | ((uint32_t)(e + 15) << 10) | (mant >> 13);
        const uint32_t rest = mant & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h += 1;
        return (uint16_t)h;
    }

    // Subnormal (or zero) half: value = m24 * 2^(e-23), counted in units of 2^-24.
    const uint32_t shift = (uint32_t)(-e - 1);  // e = -15 -> 14
    if (exp == 0 || shift > 24) return (uint16_t)sign;  // below half the smallest subnormal 2^-24
    const uint32_t m24 = mant | 0x800000u;
    uint32_t q = m24 >> shift;
    const uint32_t rest = m24 & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (q & 1u))) q += 1;  // may carry into the smallest normal: correct
    return (uint16_t)(sign | q);
}

// Exact (every binary16 value is a binary32 value). Signalling NaNs come back quiet.
float f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t mant = h & 0x3ffu;

    if (exp == 0x1fu) {
        if (mant == 0) return bits_float(sign | 0x7f800000u);
        return bits_float(sign | 0x7fc00000u | (mant << 13));
    }
    if (exp == 0) {
        if (mant == 0) return bits_float(sign);
        // Subnormal half mant * 2^-24: normalise so the leading bit sits at bit 10.
        const uint32_t lead = 31u - (uint32_t)__builtin_clz(mant);  // 0..9
        const uint32_t frac = (mant << (10u - lead)) & 0x3ffu;
        return bits_float(sign | ((lead + 103u) << 23) | (frac << 13));  // 2^(lead-24), biased +127
    }
    return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));  // rebias 15 -> 127
}

}  // namespace bitlm
