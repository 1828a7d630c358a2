// detmath.cpp — deterministic exp, log, sqrt, sin/cos and rounding from IEEE + - * / and integer bit
// tricks only, evaluated in a fixed order (the build uses -ffp-contract=off), so every target agrees.
//
// Subnormal inputs and results are handled in integer code (exp results, log and sqrt inputs), so
// the answers do not depend on a target's flush-to-zero / denormals-are-zero setting either.
#include "core/detmath.h"
#include "core/bytes.h"
#include "core/detmath_lanes.h"

namespace bitlm {

namespace {


constexpr uint32_t kSignMask = 0x80000000u;
constexpr uint32_t kAbsMask = 0x7fffffffu;
constexpr uint32_t kInfBits = 0x7f800000u;
constexpr uint32_t kQuietNaNBits = 0x7fc00000u;
constexpr uint32_t kQuietBit = 0x00400000u;

inline float quiet(float x) { return bits_float(float_bits(x) | kQuietBit); }  // NaN in, quiet NaN out

// m24 * 2^-shift rounded to nearest even (shift >= 1): the integer core of building subnormals.
inline uint32_t shift_right_rne(uint32_t m, uint32_t shift) {
    if (shift > 25) return 0;  // m < 2^24, so m / 2^shift < 1/2
    const uint32_t q = m >> shift;
    const uint32_t rest = m & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1);
    return q + ((rest > half || (rest == half && (q & 1u))) ? 1u : 0u);
}

// y * 2^k for a positive normal y, correctly rounded (one rounding, only when the result is
// subnormal). Integer exponent arithmetic: exact, and independent of flush-to-zero modes.
inline float scale_pow2(float y, int32_t k) {
    const uint32_t yb = float_bits(y);
    const int32_t e = (int32_t)(yb >> 23) + k;  // biased exponent of the result
    if (e >= 255) return bits_float(kInfBits);
    if (e >= 1) return bits_float(yb + ((uint32_t)k << 23));  // k < 0 wraps mod 2^32: still right
    const uint32_t m24 = (yb & 0x7fffffu) | 0x800000u;
    return bits_float(shift_right_rne(m24, (uint32_t)(1 - e)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Bit tests and rounding

float det_fabsf(float x) { return bits_float(float_bits(x) & kAbsMask); }
bool det_isfinite(float x) { return (float_bits(x) & kInfBits) != kInfBits; }
bool det_isnan(float x) { return (float_bits(x) & kAbsMask) > kInfBits; }

// Round half to even. |x| + 2^23 - 2^23 rounds |x| < 2^23 to an integer in the FPU's default
// round-to-nearest-even mode (the sum lies in [2^23, 2^24), where the float spacing is exactly 1);
// working on |x| and restoring the sign keeps -0 for small negatives and makes it valid for every
// float, not only |x| < 2^22 as the usual 1.5*2^23 variant. As integers the results are the same as
// that variant's wherever it is valid, so SIMD kernels may use either (or cvtps2dq / vcvtn).
float det_rne(float x) {
    const uint32_t bits = float_bits(x);
    const uint32_t mag = bits & kAbsMask;
    if (mag >= 0x4b000000u) return x;  // |x| >= 2^23 (and inf, NaN): already an integer
    const float two23 = 8388608.0f;
    const float r = (bits_float(mag) + two23) - two23;
    return bits_float(float_bits(r) | (bits & kSignMask));
}

namespace {
// det_rne(v) as an int32, for |v| < 2^23. With a VFP (Cortex-M4F/M7/M33/M55, ARMv7-A) one VCVTR,
// which rounds in FPSCR's mode: round to nearest even, the mode every float operation of the library
// already assumes. det_rne's adds, masks and moves between register files were ~11 of det_expf's
// ~57 instructions on the Cortex-M4 (bench_mcu.sh). Elsewhere det_rne itself.
inline int32_t rne_to_int(float v) {
#if defined(__arm__) && defined(__ARM_FP) && !defined(__SOFTFP__)
    float r;
    __asm__("vcvtr.s32.f32 %0, %1" : "=t"(r) : "t"(v));
    return (int32_t)float_bits(r);
#else
    return (int32_t)det_rne(v);
#endif
}
}  // namespace

// ---------------------------------------------------------------------------------------------------
// sqrt: correctly rounded, in integer arithmetic (a float Newton step would need an exact remainder
// that only FMA gives; the integer square root is exact by construction and needs no FPU at all).

float det_sqrtf(float x) {
    const uint32_t bits = float_bits(x);
    const uint32_t mag = bits & kAbsMask;
    if (mag == 0) return x;                              // +-0 -> +-0 (IEEE)
    if (mag > kInfBits) return quiet(x);                 // NaN stays NaN
    if (bits & kSignMask) return bits_float(kQuietNaNBits);  // negative -> NaN
    if (mag == kInfBits) return x;                       // +inf

    // x = m * 2^(E-23) with m a 24-bit integer whose top bit is set.
    int32_t E;
    uint32_t m;
    if ((bits >> 23) == 0) {  // subnormal: normalise
        const uint32_t lz = (uint32_t)__builtin_clz(bits) - 8u;
        m = bits << lz;
        E = -126 - (int32_t)lz;
    } else {
        m = (bits & 0x7fffffu) | 0x800000u;
        E = (int32_t)(bits >> 23) - 127;
    }
    // Write x = M * 2^(E-23-s) with an even exponent, M = m << s in [2^46, 2^48): its integer square
    // root then has exactly 24 bits.
    const uint32_t s = (E & 1) ? 24u : 23u;  // E-23-s even  <=>  E-s odd
    const uint64_t M = (uint64_t)m << s;

    // Bit-by-bit integer square root: r = floor(sqrt(M)), rem = M - r^2.
    uint64_t rem = M, r = 0, bit = (uint64_t)1 << 46;  // highest power of 4 <= 2^48
    while (bit != 0) {
        if (rem >= r + bit) {
            rem -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    // Round to nearest: sqrt(M) > r + 1/2  <=>  M > r^2 + r + 1/4  <=>  rem > r (integers). An exact
    // tie is impossible for a square root, so no tie rule is needed.
    if (rem > r) r += 1;

    // sqrt(x) = r * 2^((E-23-s)/2), r in [2^23, 2^24]; the exponent of its leading bit is
    // 23 + (E-23-s)/2. Adding r (with its leading bit) to (biased exponent - 1) << 23 lets a rounding
    // carry to 2^24 bump the exponent by itself.
    const int32_t half_exp = (E - 23 - (int32_t)s) / 2;  // exact: even
    const uint32_t biased = (uint32_t)(23 + half_exp + 127);
    return bits_float(((biased - 1u) << 23) + (uint32_t)r);
}

float det_rsqrtf(float x) { return 1.0f / det_sqrtf(x); }

// ---------------------------------------------------------------------------------------------------
// exp (after the fdlibm/musl expf): x = k*ln2 + r with |r| <= ln2/2 (Cody–Waite: ln2 in a hi part whose
// product with k is exact and a lo part), e^r from a rational form with a degree-2 minimax polynomial
// in r^2 (max error < 1 ulp), then e^x = e^r * 2^k with subnormal results rounded in integer code.

// The constants: expc in core/detmath_lanes.h, shared with the lane versions there.

float det_expf(float x) {
    using namespace expc;
    const uint32_t bits = float_bits(x);
    const uint32_t mag = bits & kAbsMask;
    const bool negative = (bits & kSignMask) != 0;
    if (mag > kInfBits) return quiet(x);
    if (!negative && mag >= kOverflowMag) return bits_float(kInfBits);
    if (negative && mag >= kUnderflowMag) return 0.0f;  // (and -inf)
    if (mag <= kTinyMag) return 1.0f + x;

    const int32_t k = rne_to_int(x * invln2);
    const float kf = (float)k;
    const float hi = x - kf * ln2hi;  // exact (Cody–Waite)
    const float lo = kf * ln2lo;
    const float r = hi - lo;
    const float rr = r * r;
    const float c = r - rr * (P1 + rr * P2);
    const float y = 1.0f + ((r * c / (2.0f - c) - lo) + hi);
    return k == 0 ? y : scale_pow2(y, k);
}

// The lane forms (core/detmath_lanes.h) on four lanes where GCC's vector extensions map to IEEE float
// SIMD: SSE2 on x86-64, NEON on AArch64; one value at a time elsewhere. tests/unit/test_detmath.cpp
// compares them with det_expf and det_silu.
#if defined(__GNUC__) && (defined(__SSE2__) || defined(__aarch64__))
void det_expf_shifted(float *x, uint32_t n, float shift) { expf_shifted_lanes<4>(x, n, shift); }
void det_silu_mul(const float *gate, float *x, uint32_t n) { silu_mul_lanes<4>(gate, x, n); }
#else
void det_expf_shifted(float *x, uint32_t n, float shift) {
    for (uint32_t i = 0; i < n; i++) x[i] = det_expf(x[i] - shift);
}
void det_silu_mul(const float *gate, float *x, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) x[i] = det_silu(gate[i]) * x[i];
}
#endif

// ---------------------------------------------------------------------------------------------------
// log (after the fdlibm/musl logf): x = 2^k * m with m in [sqrt(2)/2, sqrt(2)), f = m - 1,
// s = f/(2+f), log(m) = f - f^2/2 + s*(f^2/2 + R(s^2)); k*ln2 added as hi + lo parts. < 1 ulp.

float det_logf(float x) {
    const float ln2hi = 6.9313812256e-01f;  // 0x3f317180
    const float ln2lo = 9.0580006145e-06f;  // 0x3717f7d1
    // |(log(1+s)-log(1-s))/s - Lg(s)| < 2^-34.24 on [0, 0.1716]
    const float Lg1 = 6.6666662693e-01f;  // 0xaaaaaa.0p-24
    const float Lg2 = 4.0000972152e-01f;  // 0xccce13.0p-25
    const float Lg3 = 2.8498786688e-01f;  // 0x91e9ee.0p-25
    const float Lg4 = 2.4279078841e-01f;  // 0xf89e26.0p-26

    uint32_t ix = float_bits(x);
    int32_t k = 0;
    if ((ix & kAbsMask) > kInfBits) return quiet(x);              // NaN
    if ((ix & kAbsMask) == 0) return bits_float(kSignMask | kInfBits);  // log(+-0) = -inf
    if (ix & kSignMask) return bits_float(kQuietNaNBits);           // negative (incl. -inf)
    if (ix == kInfBits) return x;                                    // +inf
    if (ix == 0x3f800000u) return 0.0f;                              // exactly 1 -> +0
    if (ix < 0x00800000u) {
        // Subnormal: normalise in integer code (no FPU scaling, so denormals-are-zero cannot bite).
        const uint32_t lz = (uint32_t)__builtin_clz(ix) - 8u;  // shifts to bring the lead bit to 23
        ix = 0x00800000u | ((ix << lz) & 0x7fffffu);           // same mantissa, value 2^-126 * 1.f
        k -= (int32_t)lz;
    }

    // Reduce to m in [sqrt(2)/2, sqrt(2)): add the offset so the exponent field ticks over at sqrt(2).
    ix += 0x3f800000u - 0x3f3504f3u;
    k += (int32_t)(ix >> 23) - 0x7f;
    ix = (ix & 0x007fffffu) + 0x3f3504f3u;
    const float m = bits_float(ix);

    const float f = m - 1.0f;
    const float s = f / (2.0f + f);
    const float z = s * s;
    const float w = z * z;
    const float t1 = w * (Lg2 + w * Lg4);
    const float t2 = z * (Lg1 + w * Lg3);
    const float R = t2 + t1;
    const float hfsq = 0.5f * f * f;
    const float dk = (float)k;
    return (((s * (hfsq + R) + dk * ln2lo) - hfsq) + f) + dk * ln2hi;
}

// ---------------------------------------------------------------------------------------------------
// sin / cos: reduce x = k*pi/2 + r with |r| <~ pi/4, then two short polynomials (Cephes sinf/cosf
// coefficients) and the quadrant k mod 4 picks signs and which is which.
//
// |x| < 2^16: Cody–Waite with pi/2 in three floats. P1 and P2 have 8 significant bits each, so
// k*P1 and k*P2 are exact for k < 2^16 and both subtractions are exact; the error is only that of
// k*P3 and the pi/2 truncation (~5e-14 * k) — abs error ~1e-7 at the top of the range.
// |x| >= 2^16: exact integer reduction against 224 bits of 2/pi (Payne–Hanek), so sin and cos stay
// accurate for every finite float instead of degrading.

namespace {

// 2/pi in binary, 224 bits, after one zero word that lets small exponents index below bit 1.
constexpr uint32_t kTwoOverPi[8] = {0x00000000u, 0xa2f9836eu, 0x4e441529u, 0xfc2757d1u,
                                    0xf534ddc0u, 0xdb629599u, 0x3c439041u, 0xfe5163abu};

// 32 bits of kTwoOverPi starting at bit position pos (bit 0 = MSB of word 0).
inline uint32_t two_over_pi_bits(uint32_t pos) {
    const uint32_t w = pos >> 5, o = pos & 31u;
    if (o == 0) return kTwoOverPi[w];
    return (kTwoOverPi[w] << o) | (kTwoOverPi[w + 1] >> (32u - o));
}

// For |x| = m * 2^e (m 24-bit, e >= -7): returns r with x = n*pi/2 + r, |r| <= pi/4, and n mod 4.
// X = x * 2/pi as a 2.62 fixed-point number modulo 4 is (m * W) >> 32 (mod 2^64), where W is the
// 96-bit window of 2/pi whose lowest-weight contributions that reach the 2^-62 position are kept;
// higher bits only add multiples of 4, lower bits add < 2^-8 units of 2^-62.
inline float reduce_large(uint32_t mag, uint32_t *quadrant) {
    const uint32_t m = (mag & 0x7fffffu) | 0x800000u;
    const int32_t e = (int32_t)(mag >> 23) - 150;
    const uint32_t pos = (uint32_t)(e + 30);  // window starts at 2/pi bit e-1 (table bit e+30)
    const uint64_t w0 = two_over_pi_bits(pos), w1 = two_over_pi_bits(pos + 32), w2 = two_over_pi_bits(pos + 64);
    const uint64_t res = ((uint64_t)m * w0 << 32) + (uint64_t)m * w1 + (((uint64_t)m * w2) >> 32);
    const uint64_t n = (res + ((uint64_t)1 << 61)) >> 62;                // nearest quadrant, mod 4
    const int64_t frac = (int64_t)(res - (n << 62));                      // in [-2^61, 2^61)
    *quadrant = (uint32_t)n & 3u;
    const float pio2_2m62 = 0x1.921fb6p-62f;  // pi/2 * 2^-62 (rounded to float)
    return (float)frac * pio2_2m62;
}

// sin and cos of r, |r| <= ~pi/4 + a little.
inline void sincos_poly(float r, float *s, float *c) {
    if ((float_bits(r) & kAbsMask) < 0x39800000u) {  // |r| < 2^-12: sin r = r, cos r = 1 to 1/2 ulp
        *s = r;
        *c = 1.0f;
        return;
    }
    const float z = r * r;
    *s = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
    const float cp = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z;
    *c = (cp - 0.5f * z) + 1.0f;
}

}  // namespace

void det_sincosf(float x, float *s, float *c) {
    const uint32_t bits = float_bits(x);
    const uint32_t mag = bits & kAbsMask;
    if (mag >= kInfBits) {  // inf or NaN
        const float nan = mag > kInfBits ? quiet(x) : bits_float(kQuietNaNBits);
        *s = nan;
        *c = nan;
        return;
    }
    // Work on |x|: sin(-x) = -sin(x), cos(-x) = cos(x).
    const float ax = bits_float(mag);
    float r;
    uint32_t quadrant;
    if (mag < 0x3f490fdbu) {  // |x| < pi/4 (rounded down): no reduction
        r = ax;
        quadrant = 0;
    } else if (mag < 0x47800000u) {  // |x| < 2^16
        const float twoopi = 0x1.45f306p-1f;   // 2/pi
        const float P1 = 0x1.92p+0f;           // 1.5703125
        const float P2 = 0x1.fap-12f;          // 4.825592041015625e-4
        const float P3 = 0x1.54442ep-20f;      // 1.2675908e-6; P1+P2+P3 = pi/2 - 5.1e-14
        const float kf = det_rne(ax * twoopi);
        r = ((ax - kf * P1) - kf * P2) - kf * P3;
        quadrant = (uint32_t)(int32_t)kf & 3u;
    } else {
        r = reduce_large(mag, &quadrant);
    }
    float sr, cr;
    sincos_poly(r, &sr, &cr);
    float so, co;
    switch (quadrant) {
        case 0: so = sr; co = cr; break;
        case 1: so = cr; co = -sr; break;
        case 2: so = -sr; co = -cr; break;
        default: so = -cr; co = sr; break;
    }
    *s = bits_float(float_bits(so) ^ (bits & kSignMask));  // sign by bit flip: never flushed, even if subnormal
    *c = co;
}

// ---------------------------------------------------------------------------------------------------

float det_silu(float x) {
    if (float_bits(x) == (kSignMask | kInfBits)) return -0.0f;  // limit, instead of -inf/inf = NaN
    return x / (1.0f + det_expf(-x));
}

}  // namespace bitlm
