// detmath_lanes.h — det_expf (softmax) and det_silu (SwiGLU) on N lanes with GCC vector extensions:
// every branch of det_expf computed on every lane and picked by masks, so each lane has det_expf's
// bits. Used with 4 lanes by detmath.cpp (SSE2 on x86-64, NEON on AArch64) and with 8 and 16 by the
// x86 kernel tables (AVX2, AVX-512). A subnormal result comes from (y * 2^(k+64)) * 2^-64: the first
// product is exact, the second rounds once, to nearest even, as det_expf's integer code does; so the
// lanes assume no flush-to-zero, as the forward pass's other float math does.
//
// Everything here has internal linkage (an unnamed namespace): each file that includes it gets its own
// copy compiled with its own ISA flags. A shared (inline, external) copy built with AVX-512 flags could
// be the one the linker keeps for every caller, and run on a CPU without AVX-512.
#pragma once
#include <stdint.h>

#include "core/detmath.h"

namespace bitlm {

// The constants of det_expf (detmath.cpp), shared with the lanes below.
namespace expc {
constexpr float ln2hi = 6.9314575195e-01f;   // 0x3f317200: 15 significant bits, so k*ln2hi is exact
constexpr float ln2lo = 1.4286067653e-06f;   // 0x35bfbe8e: ln2 - ln2hi
constexpr float invln2 = 1.4426950216e+00f;  // 0x3fb8aa3b
// |r*(e^r+1)/(e^r-1) - (2 + P1 r^2 + P2 r^4)| < 2^-27.74 on [-0.34568, 0.34568]
constexpr float P1 = 1.6666625440e-01f;   //  0xaaaa8f.0p-26
constexpr float P2 = -2.7667332906e-03f;  // -0xb55215.0p-32
constexpr uint32_t kOverflowMag = 0x42b17218u;   // x >= 88.722839f: +inf
constexpr uint32_t kUnderflowMag = 0x42cff1b5u;  // x <= -103.972084f: 0 (below 2^-150)
constexpr uint32_t kTinyMag = 0x39000000u;       // |x| <= 2^-14: e^x = 1 + x to within 1 ulp
}  // namespace expc

namespace {

// Lanes<N>: float, uint32 and int32 vectors of N lanes.
template <int N>
struct Lanes {
    typedef float F __attribute__((vector_size(4 * N)));
    typedef uint32_t U __attribute__((vector_size(4 * N)));
    typedef int32_t I __attribute__((vector_size(4 * N)));
    static F as_f32(U v) {
        F r;
        __builtin_memcpy(&r, &v, sizeof r);
        return r;
    }
    static U as_u32(F v) {
        U r;
        __builtin_memcpy(&r, &v, sizeof r);
        return r;
    }
    static F load(const float *p) {
        F v;
        __builtin_memcpy(&v, p, sizeof v);
        return v;
    }
    static void store(float *p, F v) { __builtin_memcpy(p, &v, sizeof v); }
};

// det_expf on every lane of x.
template <int N>
typename Lanes<N>::F expf_lanes(typename Lanes<N>::F x) {
    using namespace expc;
    typedef Lanes<N> L;
    typedef typename L::F F;
    typedef typename L::U U;
    typedef typename L::I I;
    const U bits = L::as_u32(x), mag = bits & 0x7fffffffu;
    const I nan = mag > 0x7f800000u;
    const I negative = (bits >> 31) != 0u;
    const I overflow = ~negative & (mag >= kOverflowMag);
    const I underflow = negative & (mag >= kUnderflowMag);
    const I tiny = mag <= kTinyMag;
    const I main = ~(nan | overflow | underflow | tiny);
    const F one = F{} + 1.0f;
    const F xm = main ? x : one;  // other lanes: a harmless value for the conversions below

    const F v = xm * invln2;
    const U vb = L::as_u32(v);
    const F r_abs = (L::as_f32(vb & 0x7fffffffu) + 8388608.0f) - 8388608.0f;  // det_rne, |v| < 2^23
    const I k = __builtin_convertvector(L::as_f32(L::as_u32(r_abs) | (vb & 0x80000000u)), I);
    const F kf = __builtin_convertvector(k, F);
    const F hi = xm - kf * ln2hi;
    const F lo = kf * ln2lo;
    const F r = hi - lo;
    const F rr = r * r;
    const F c = r - rr * (P1 + rr * P2);
    const F y = 1.0f + ((r * c / (2.0f - c) - lo) + hi);

    const U yb = L::as_u32(y);
    const I e = (I)(yb >> 23) + k;
    const F normal = L::as_f32(yb + ((U)k << 23));
    const F subnormal = (y * L::as_f32((U)(k + 64 + 127) << 23)) * 5.42101086e-20f;  // 2^-64
    const F inf = L::as_f32(bits - bits + 0x7f800000u);
    F out = e >= 1 ? normal : subnormal;
    out = e >= 255 ? inf : out;
    out = k == 0 ? y : out;
    out = tiny ? 1.0f + x : out;
    out = underflow ? one - one : out;
    out = overflow ? inf : out;
    return nan ? L::as_f32(bits | 0x00400000u) : out;
}

// x[i] = det_expf(x[i] - shift), N lanes at a time, the rest one at a time.
template <int N>
void expf_shifted_lanes(float *x, uint32_t n, float shift) {
    typedef Lanes<N> L;
    uint32_t i = 0;
    for (; i + N <= n; i += N) L::store(x + i, expf_lanes<N>(L::load(x + i) - shift));
    for (; i < n; i++) x[i] = det_expf(x[i] - shift);
}

// x[i] = det_silu(gate[i]) * x[i], N lanes at a time, the rest one at a time.
template <int N>
void silu_mul_lanes(const float *gate, float *x, uint32_t n) {
    typedef Lanes<N> L;
    typedef typename L::F F;
    uint32_t i = 0;
    for (; i + N <= n; i += N) {
        const F g = L::load(gate + i);
        const F silu = g / (1.0f + expf_lanes<N>(-g));
        const typename L::I minus_inf = L::as_u32(g) == 0xff800000u;
        const F minus_zero = -F{};
        L::store(x + i, (minus_inf ? minus_zero : silu) * L::load(x + i));  // det_silu(-inf) = -0, not -inf/inf
    }
    for (; i < n; i++) x[i] = det_silu(gate[i]) * x[i];
}

}  // namespace
}  // namespace bitlm
