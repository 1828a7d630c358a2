// test_fp16.cpp — binary16 <-> binary32: every half roundtrips, and float -> half equals a plain
// double-arithmetic reference (round to nearest even) on boundaries, every tie, and millions of
// random floats. (Offline, the conversion was also checked against F16C on all 2^32 floats.)
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "check.h"
#include "core/fp16.h"

using namespace bitlm;

static uint32_t bits_of(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
static float float_of(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// Obviously-correct reference: the nearest half in double arithmetic, ties to even via nearbyint
// (the default rounding mode is round-to-nearest-even).
static uint16_t ref_f32_to_f16(float x) {
    const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    if (std::isnan(x)) return sign | 0x7e00 | (uint16_t)((bits_of(x) & 0x7fffff) >> 13);
    const double a = std::fabs((double)x);
    if (a >= 65520.0) return sign | 0x7c00;  // 65504 + half its ulp ties to the even candidate 2^16: inf
    if (a < std::ldexp(1.0, -14)) {          // subnormal half: units of 2^-24
        const double q = std::nearbyint(a * std::ldexp(1.0, 24));
        return sign | (uint16_t)q;           // q == 1024 is the smallest normal, which the bits say too
    }
    int e;
    std::frexp(a, &e);                       // a in [2^(e-1), 2^e)
    const int exp = e - 1;
    double m = std::nearbyint(a * std::ldexp(1.0, 10 - exp));  // [1024, 2048]
    int ex = exp;
    if (m == 2048.0) { m = 1024.0; ex++; }
    if (ex > 15) return sign | 0x7c00;
    return sign | (uint16_t)((ex + 15) << 10) | (uint16_t)(m - 1024.0);
}

static double ref_f16_value(uint16_t h) {
    const int exp = (h >> 10) & 31, mant = h & 1023;
    const double s = (h & 0x8000) ? -1.0 : 1.0;
    if (exp == 0) return s * std::ldexp((double)mant, -24);
    return s * std::ldexp((double)(1024 + mant), exp - 25);
}

static int mismatches = 0;
static void check_one(float x) {
    const uint16_t got = f32_to_f16(x), want = ref_f32_to_f16(x);
    if (got != want) {
        mismatches++;
        CHECK_MSG(got == want, "f32_to_f16(%a) = 0x%04x, want 0x%04x", (double)x, got, want);
    }
}

int main() {
    // Every half: exact value, roundtrip, NaN stays NaN (and comes back quiet).
    int exact = 0, roundtrip = 0, nan_ok = 0, nans = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = f16_to_f32((uint16_t)h);
        const bool is_nan = ((h >> 10) & 31) == 31 && (h & 1023) != 0;
        if (is_nan) {
            nans++;
            const uint16_t back = f32_to_f16(f);
            nan_ok += std::isnan(f) && (bits_of(f) & 0x400000) && ((back >> 10) & 31) == 31 && (back & 0x200) &&
                      (back & 0x8000) == (h & 0x8000) && (back & 0x1ff) == (h & 0x1ff);
            continue;
        }
        const double v = ref_f16_value((uint16_t)h);
        exact += ((h >> 10) & 31) == 31 ? (std::isinf(f) && std::signbit(f) == (bool)(h & 0x8000))
                                        : ((double)f == v && std::signbit(f) == (bool)(h & 0x8000));
        roundtrip += f32_to_f16(f) == h;
    }
    CHECK_MSG(exact == 65536 - nans, "f16_to_f32 exact for %d of %d", exact, 65536 - nans);
    CHECK_MSG(roundtrip == 65536 - nans, "roundtrip for %d of %d", roundtrip, 65536 - nans);
    CHECK_MSG(nan_ok == nans, "NaN kept (quiet, sign and payload) for %d of %d", nan_ok, nans);

    // Named boundaries.
    CHECK(f32_to_f16(65504.0f) == 0x7bff);                       // max half
    CHECK(f32_to_f16(65519.996f) == 0x7bff);                     // just below the overflow tie
    CHECK(f32_to_f16(65520.0f) == 0x7c00);                       // tie to even -> inf
    CHECK(f32_to_f16(-1e9f) == 0xfc00);
    CHECK(f32_to_f16(INFINITY) == 0x7c00 && f32_to_f16(-INFINITY) == 0xfc00);
    CHECK(f32_to_f16(std::ldexp(1.0f, -24)) == 0x0001);           // smallest subnormal
    CHECK(f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);           // half of it: tie to even 0
    CHECK(f32_to_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
    CHECK(f32_to_f16(std::ldexp(3.0f, -25)) == 0x0002);           // 1.5 units: tie to even 2
    CHECK(f32_to_f16(std::ldexp(1.0f, -14)) == 0x0400);           // smallest normal
    CHECK(f32_to_f16(std::ldexp(1023.5f, -24)) == 0x0400);        // rounds up into the normals
    CHECK(f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);    // tie, even stays 1.0
    CHECK(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);// tie, odd rounds up
    CHECK(f32_to_f16(-0.0f) == 0x8000 && f32_to_f16(0.0f) == 0x0000);
    CHECK(f32_to_f16(std::ldexp(1.0f, -149)) == 0x0000);          // float subnormals -> 0
    CHECK(f32_to_f16(-std::ldexp(1.0f, -130)) == 0x8000);
    CHECK(std::isnan(f16_to_f32(f32_to_f16(NAN))));
    CHECK(round_to_f16(0.1f) == (float)ref_f16_value(ref_f32_to_f16(0.1f)));
    CHECK(bits_float(float_bits(-1.5f)) == -1.5f && float_bits(1.0f) == 0x3f800000u);

    // Every tie between two adjacent finite halves, and the floats just either side of it.
    for (uint32_t h = 0; h < 0x7c00; h++) {
        const double lo = ref_f16_value((uint16_t)h);
        const double hi = h + 1 < 0x7c00 ? ref_f16_value((uint16_t)(h + 1)) : 65536.0;
        const float mid = (float)((lo + hi) / 2);  // exact: 12 significant bits
        for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
            check_one(x);
            check_one(-x);
        }
    }

    // Millions of random floats: uniform bit patterns, and floats concentrated in the half range.
    std::mt19937 rng(2024);
    for (int i = 0; i < 3000000; i++) check_one(float_of((uint32_t)rng()));
    for (int i = 0; i < 3000000; i++) {
        const uint32_t r = (uint32_t)rng();
        const uint32_t exp = 127 - 27 + (r >> 8) % 45;  // 2^-27 .. 2^17
        check_one(float_of((r & 0x80000000u) | (exp << 23) | ((uint32_t)rng() & 0x7fffffu)));
    }
    CHECK_MSG(mismatches == 0, "%d mismatches", mismatches);
    return check::finish("test_fp16");
}
