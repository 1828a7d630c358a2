// test_detmath.cpp — the library's own float functions against libm in double: exp/log ulp error over
// their whole range, sqrt bit-exact against the hardware, sin/cos absolute error, rne ties, the bit
// tests, and (on x86) that flush-to-zero / denormals-are-zero modes do not change any result.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "check.h"
#include "core/detmath.h"
#include "core/lane_sum.h"

using namespace bitlm;

static uint32_t bits_of(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
static float float_of(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// Error of y in units of the last place of the float nearest ref (2^-149 in the subnormal range).
static double ulp_error(float y, double ref) {
    if (std::isinf(ref) || std::fabs(ref) > FLT_MAX) return std::isinf(y) && (y > 0) == (ref > 0) ? 0.0 : 1e30;
    if (std::isinf(y) || std::isnan(y)) return 1e30;
    const double a = std::fabs(ref);
    double ulp = std::ldexp(1.0, -149);
    if (a >= std::ldexp(1.0, -126)) {
        int e;
        std::frexp(a, &e);
        ulp = std::ldexp(1.0, e - 24);
    }
    return std::fabs((double)y - ref) / ulp;
}

static void test_exp() {
    double max_ulp = 0, at = 0;
    int special = 0;
    // Every 1021st float bit pattern: all signs and magnitudes (~4.2M values), including the subnormal
    // results below -87.3 and the overflow edge at 88.72.
    for (uint64_t b = 0; b <= 0xffffffffull; b += 1021) {
        const float x = float_of((uint32_t)b);
        const float y = det_expf(x);
        if (std::isnan(x)) { special += !std::isnan(y); continue; }
        const double e = ulp_error(y, std::exp((double)x));
        if (e > max_ulp) { max_ulp = e; at = x; }
    }
    // Dense in the range that matters for softmax and SiLU.
    for (float x = -20.0f; x <= 20.0f; x = std::nextafter(x + 1e-5f, INFINITY)) {
        const double e = ulp_error(det_expf(x), std::exp((double)x));
        if (e > max_ulp) { max_ulp = e; at = x; }
    }
    std::printf("det_expf: max error %.3f ulp (at %a)\n", max_ulp, at);
    CHECK_MSG(max_ulp <= 2.0, "exp max ulp %.3f at %a", max_ulp, at);
    CHECK(special == 0);
    CHECK(det_expf(0.0f) == 1.0f && det_expf(-0.0f) == 1.0f);
    CHECK(det_expf(INFINITY) == INFINITY && det_expf(-INFINITY) == 0.0f);
    CHECK(det_expf(88.72283f) < INFINITY && det_expf(88.722839f) == INFINITY);  // 0x42b17217 / 0x42b17218
    CHECK(det_expf(-103.9720840f) == 0.0f);
    CHECK(det_expf(-103.9f) > 0.0f && det_expf(-103.9f) < FLT_MIN);              // subnormal result
    CHECK(det_expf(-87.0f) > 0.0f && std::isnormal(det_expf(-87.0f)));
    CHECK(std::isnan(det_expf(NAN)));
    CHECK(det_expf(1.0f) == (float)M_E);
}

static void test_log() {
    double max_ulp = 0, at = 0;
    int special = 0;
    for (uint64_t b = 1; b < 0x7f800000u; b += 509) {  // every 509th positive float, subnormals included
        const float x = float_of((uint32_t)b);
        const double e = ulp_error(det_logf(x), std::log((double)x));
        if (e > max_ulp) { max_ulp = e; at = x; }
    }
    for (float x = 0.5f; x <= 2.0f; x = std::nextafter(x, INFINITY) + 3e-7f) {  // around 1, where it is hardest
        const double e = ulp_error(det_logf(x), std::log((double)x));
        if (e > max_ulp) { max_ulp = e; at = x; }
    }
    std::printf("det_logf: max error %.3f ulp (at %a)\n", max_ulp, at);
    CHECK_MSG(max_ulp <= 2.0, "log max ulp %.3f at %a", max_ulp, at);
    for (uint32_t b = 0x80000001u; b < 0xff800000u; b += 1000003) special += !std::isnan(det_logf(float_of(b)));
    CHECK(special == 0);
    CHECK(det_logf(1.0f) == 0.0f && !std::signbit(det_logf(1.0f)));
    CHECK(det_logf(0.0f) == -INFINITY && det_logf(-0.0f) == -INFINITY);
    CHECK(det_logf(INFINITY) == INFINITY);
    CHECK(std::isnan(det_logf(-1.0f)) && std::isnan(det_logf(-INFINITY)) && std::isnan(det_logf(NAN)));
    CHECK(std::fabs(det_logf(float_of(1)) - (float)std::log(std::ldexp(1.0, -149))) == 0.0f);
}

static void test_sqrt() {
    long mismatches = 0, checked = 0;
    auto one = [&](float x) {
        const float y = det_sqrtf(x), want = std::sqrt(x);
        const bool same = std::isnan(want) ? std::isnan(y) : bits_of(y) == bits_of(want);
        checked++;
        if (!same && mismatches++ < 10)
            CHECK_MSG(same, "det_sqrtf(%a) = %a, want %a", (double)x, (double)y, (double)want);
    };
    for (uint32_t b = 0; b < 0x7f800000u; b += 173) one(float_of(b));  // ~12.3M, all binades
    for (uint32_t b = 1; b < 0x00800000u; b += 7) one(float_of(b));    // 1.2M subnormals
    for (uint32_t b = 0x3f800000u; b < 0x40800000u; b += 3) one(float_of(b));  // [1,4) dense-ish
    for (uint32_t b : {0x00000000u, 0x80000000u, 0x00000001u, 0x007fffffu, 0x00800000u, 0x7f7fffffu,
                       0x7f800000u, 0xff800000u, 0xbf800000u, 0x80000001u, 0x7fc00000u, 0x7f800001u})
        one(float_of(b));
    std::printf("det_sqrtf: %ld values, %ld differ from the hardware sqrtf\n", checked, mismatches);
    CHECK(mismatches == 0);
    CHECK(det_rsqrtf(4.0f) == 0.5f && det_rsqrtf(0.0f) == INFINITY);
    CHECK(det_rsqrtf(2.0f) == 1.0f / std::sqrt(2.0f));
}

static void test_sincos() {
    double max_small = 0, max_mid = 0, max_big = 0;
    float at_small = 0;
    int sym_bad = 0;
    auto one = [&](float x, double *mx, float *at) {
        float s, c;
        det_sincosf(x, &s, &c);
        const double e = std::fmax(std::fabs(s - std::sin((double)x)), std::fabs(c - std::cos((double)x)));
        if (e > *mx) { *mx = e; if (at) *at = x; }
        float s2, c2;
        det_sincosf(-x, &s2, &c2);
        sym_bad += bits_of(s2) != bits_of(-s) || bits_of(c2) != bits_of(c);
    };
    std::mt19937 rng(99);
    std::uniform_real_distribution<float> small(-1e4f, 1e4f);
    for (int i = 0; i < 2000000; i++) one(small(rng), &max_small, &at_small);
    for (uint32_t b = 0; b < 0x461c4000u; b += 397) one(float_of(b), &max_small, &at_small);  // all of |x| <= 1e4 by bits
    for (float p = 0; p < 8192; p += 1.0f)  // RoPE-like angles: position * frequency
        for (float f : {1.0f, 0.1f, 0.01f, 0.001f, 1e-4f}) one(p * f, &max_small, &at_small);
    std::uniform_real_distribution<float> mid(1e4f, 1e5f);
    for (int i = 0; i < 500000; i++) one(mid(rng), &max_mid, nullptr);
    for (uint32_t b = 0x47c35000u; b < 0x7f800000u; b += 4099) one(float_of(b), &max_big, nullptr);  // 1e5 .. FLT_MAX
    std::printf("det_sincosf: max abs error %.3g for |x| <= 1e4 (at %a), %.3g for 1e4..1e5, %.3g above\n",
                max_small, (double)at_small, max_mid, max_big);
    CHECK(max_small < 1e-6);
    CHECK(max_mid < 1e-6);
    CHECK(max_big < 1e-6);
    CHECK(sym_bad == 0);
    float s, c;
    det_sincosf(0.0f, &s, &c);
    CHECK(s == 0.0f && c == 1.0f);
    det_sincosf(-0.0f, &s, &c);
    CHECK(bits_of(s) == 0x80000000u && c == 1.0f);
    det_sincosf(float_of(1), &s, &c);  // subnormal: sin x = x
    CHECK(bits_of(s) == 1 && c == 1.0f);
    det_sincosf(INFINITY, &s, &c);
    CHECK(std::isnan(s) && std::isnan(c));
    det_sincosf(NAN, &s, &c);
    CHECK(std::isnan(s) && std::isnan(c));
}

static void test_rne_and_bits() {
    CHECK(det_rne(0.5f) == 0.0f && det_rne(1.5f) == 2.0f && det_rne(2.5f) == 2.0f && det_rne(3.5f) == 4.0f);
    CHECK(det_rne(-0.5f) == 0.0f && std::signbit(det_rne(-0.5f)));
    CHECK(det_rne(-1.5f) == -2.0f && det_rne(-2.5f) == -2.0f && det_rne(126.5f) == 126.0f && det_rne(127.5f) == 128.0f);
    CHECK(det_rne(0.49999997f) == 0.0f && det_rne(std::nextafter(0.5f, 1.0f)) == 1.0f);
    CHECK(det_rne(4194303.5f) == 4194304.0f && det_rne(8388607.5f) == 8388608.0f);  // around 2^22, 2^23
    CHECK(det_rne(-8388607.5f) == -8388608.0f && det_rne(1e30f) == 1e30f);
    CHECK(det_rne(INFINITY) == INFINITY && std::isnan(det_rne(NAN)));
    // Bit-identical to nearbyint (round-to-nearest-even mode) on every kind of float.
    std::mt19937 rng(5);
    long diff = 0;
    for (int i = 0; i < 2000000; i++) {
        const float x = i & 1 ? float_of((uint32_t)rng()) : std::ldexp((float)(int32_t)rng(), -(int)(rng() % 40));
        const float a = det_rne(x), b = std::nearbyint(x);
        diff += std::isnan(b) ? !std::isnan(a) : bits_of(a) != bits_of(b);
    }
    CHECK_MSG(diff == 0, "det_rne differs from nearbyint on %ld values", diff);

    long bad = 0;
    for (uint64_t b = 0; b <= 0xffffffffull; b += 65521) {
        const float x = float_of((uint32_t)b);
        bad += det_isnan(x) != std::isnan(x);
        bad += det_isfinite(x) != std::isfinite(x);
        bad += bits_of(det_fabsf(x)) != (bits_of(x) & 0x7fffffffu);
    }
    for (uint32_t b : {0x7f800000u, 0xff800000u, 0x7f800001u, 0x7fffffffu, 0xffc00000u, 0x7f7fffffu, 0x00000001u})
        bad += det_isnan(float_of(b)) != std::isnan(float_of(b)) || det_isfinite(float_of(b)) != std::isfinite(float_of(b));
    CHECK(bad == 0);
}

static void test_silu() {
    double max_rel = 0;
    for (float x = -80.0f; x <= 80.0f; x += 0.0013f) {
        const double ref = (double)x / (1.0 + std::exp(-(double)x));
        if (ref == 0.0) continue;
        max_rel = std::fmax(max_rel, std::fabs(det_silu(x) - ref) / std::fabs(ref));
    }
    std::printf("det_silu: max relative error %.3g\n", max_rel);
    CHECK(max_rel < 4e-7);
    CHECK(det_silu(0.0f) == 0.0f && det_silu(200.0f) == 200.0f && det_silu(-200.0f) == 0.0f);
    CHECK(det_silu(-INFINITY) == 0.0f && det_silu(INFINITY) == INFINITY && std::isnan(det_silu(NAN)));
}

// Same bits with flush-to-zero and denormals-are-zero on: subnormal inputs and results are handled in
// integer code, so targets that flush (or run with FTZ set) still agree. Only bit patterns of results
// are compared (no arithmetic on them after the mode switch).
static void test_denormal_modes() {
#if defined(__SSE__)
    const int n = 200000;
    static float in[n];
    static uint32_t out[2][n];
    std::mt19937 rng(11);
    for (int i = 0; i < n; i++) {
        const uint32_t r = (uint32_t)rng();
        in[i] = i % 4 == 0 ? float_of(r)                                             // anything
              : i % 4 == 1 ? float_of(r & 0x807fffffu)                               // subnormals
              : i % 4 == 2 ? -87.0f - (float)(r % 17000) / 1000.0f                   // subnormal exp results
                           : std::ldexp((float)(int32_t)r, -31) * 50.0f;             // ordinary range
    }
    const unsigned csr = _mm_getcsr();
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) _mm_setcsr(csr | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
        for (int i = 0; i < n; i++) {
            float s, c;
            det_sincosf(in[i], &s, &c);
            // Fold the six results into one word with integer ops (a mismatch in any one shows).
            out[pass][i] = bits_of(det_expf(in[i])) ^ (bits_of(det_logf(in[i])) * 3u) ^
                           (bits_of(det_sqrtf(in[i])) * 5u) ^ (bits_of(s) * 7u) ^ (bits_of(c) * 11u) ^
                           (bits_of(det_rne(in[i])) * 13u);
        }
    }
    _mm_setcsr(csr);
    long diff = 0;
    for (int i = 0; i < n; i++) diff += out[0][i] != out[1][i];
    CHECK_MSG(diff == 0, "%ld results change under FTZ/DAZ", diff);
#endif
}

// det_expf_shifted (the softmax's exp, four lanes at a time on x86-64 and AArch64) returns
// det_expf(x - shift)'s bits: every 251st bit pattern of all 2^32 (~17M, NaNs included), every float
// whose exp is subnormal (x in [-103.98, -87.33], ~2.2M values), the edges, and a nonzero shift.
// (All 2^32 inputs with shift 0 were compared once when it was written: no difference.)
static void test_exp_shifted() {
    std::vector<float> xs;
    for (uint64_t b = 0; b <= 0xffffffffull; b += 251) xs.push_back(float_of((uint32_t)b));
    for (uint32_t b = 0xc2aeac4fu; b <= 0xc2cff1b6u; b++) xs.push_back(float_of(b));
    for (uint32_t b : {0u, 0x80000000u, 0x39000000u, 0x39000001u, 0xb9000000u, 0xb9000001u, 0x42b17217u, 0x42b17218u,
                       0xc2cff1b4u, 0xc2cff1b5u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00001u, 0x7f800001u, 1u,
                       0x80000001u})
        xs.push_back(float_of(b));
    uint64_t differ = 0;
    for (float shift : {0.0f, 3.5f}) {
        std::vector<float> got = xs;
        det_expf_shifted(got.data(), (uint32_t)got.size(), shift);
        for (size_t i = 0; i < xs.size(); i++)
            if (bits_of(got[i]) != bits_of(det_expf(xs[i] - shift)) && differ++ < 5)
                std::printf("  det_expf_shifted(%a - %g) = %a, det_expf %a\n", xs[i], shift, got[i],
                            det_expf(xs[i] - shift));
    }
    std::printf("det_expf_shifted: %zu inputs x 2 shifts, %llu differ from det_expf\n", xs.size(),
                (unsigned long long)differ);
    CHECK(differ == 0);
    // det_silu_mul (SwiGLU, the same lanes): gate from the same inputs, x = 1, 0.75 and -3 (so the
    // product rounds), against det_silu(gate) * x.
    uint64_t silu_differ = 0;
    for (float up : {1.0f, 0.75f, -3.0f}) {
        std::vector<float> x(xs.size(), up);
        det_silu_mul(xs.data(), x.data(), (uint32_t)xs.size());
        for (size_t i = 0; i < xs.size(); i++)
            if (bits_of(x[i]) != bits_of(det_silu(xs[i]) * up) && silu_differ++ < 5)
                std::printf("  det_silu_mul(%a) * %g = %a, det_silu %a\n", xs[i], up, x[i], det_silu(xs[i]) * up);
    }
    std::printf("det_silu_mul: %zu inputs x 3, %llu differ from det_silu\n", xs.size(), (unsigned long long)silu_differ);
    CHECK(silu_differ == 0);
}

// lane_sum against its contract written out another way: element i goes to partial sum i % 16 (in
// index order), then partial l + 8 into l, l + 4, l + 2, l + 1. Awkward lengths (0, 1, 15, 16, 17,
// 255, 1000, 2304...) and values of very different magnitudes, so any other order shows in the bits.
static void test_lane_sum() {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
    std::uniform_int_distribution<int> expo(-20, 20);
    uint32_t differ = 0, checked = 0;
    for (uint32_t n : {0u, 1u, 2u, 5u, 8u, 15u, 16u, 17u, 31u, 33u, 64u, 172u, 255u, 1000u, 1024u, 2304u}) {
        for (int round = 0; round < 20; round++) {
            std::vector<float> v(n);
            for (float &x : v) x = std::ldexp(mant(rng), expo(rng));
            for (int square = 0; square < 2; square++) {
                float part[16] = {};
                for (uint32_t i = 0; i < n; i++) part[i % 16] = part[i % 16] + (square ? v[i] * v[i] : v[i]);
                for (uint32_t w = 8; w >= 1; w /= 2)
                    for (uint32_t l = 0; l < w; l++) part[l] = part[l] + part[l + w];
                const float got = square ? lane_sum<float, true>(v.data(), n) : lane_sum<float, false>(v.data(), n);
                checked++;
                if (bits_of(got) != bits_of(part[0]) && differ++ < 5)
                    std::printf("  lane_sum n=%u square=%d: %a, the written-out order %a\n", n, square, got, part[0]);
            }
        }
    }
    std::printf("lane_sum: %u sums, %u differ from the written-out order\n", checked, differ);
    CHECK(differ == 0);
}

int main() {
    test_lane_sum();
    test_exp();
    test_exp_shifted();
    test_log();
    test_sqrt();
    test_sincos();
    test_rne_and_bits();
    test_silu();
    test_denormal_modes();
    return check::finish("test_detmath");
}
