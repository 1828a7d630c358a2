// test_quantize.cpp — the weight and activation quantizers against plain references written here
// (same float order, libm rounding instead of det_rne): ternary absmean per tensor/row/group at awkward
// sizes, binary sign, int8 rows, the per-token activation quantizer, and the error cases.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "core/fp16.h"
#include "quant/quantize.h"

using namespace bitlm;

// ---- references ----------------------------------------------------------------------------------

static float ref_mean_abs(const float *w, size_t n) {
    if (n == 0) return 0.0f;
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) sum += std::fabs(w[i]);
    return sum / (float)n;
}

static int ref_round_clamp(float v, int limit) {
    const float r = std::nearbyint(v);  // default mode: round half to even
    return r > (float)limit ? limit : r < (float)-limit ? -limit : (int)r;
}

// Ternary absmean: spans are [start, start+len) of the row-major tensor.
static void ref_ternary(const std::vector<float> &w, uint32_t rows, uint32_t cols, ScaleKind kind,
                        uint32_t group, std::vector<int8_t> &trits, std::vector<uint16_t> &scales) {
    trits.assign((size_t)rows * cols, 0);
    scales.clear();
    auto span = [&](size_t start, size_t len) {
        const uint16_t h = f32_to_f16(ref_mean_abs(&w[start], len));
        scales.push_back(h);
        const float s = f16_to_f32(h);
        for (size_t i = start; i < start + len; i++) trits[i] = s == 0.0f ? 0 : (int8_t)ref_round_clamp(w[i] / s, 1);
    };
    if (kind == ScaleKind::Tensor) {
        span(0, w.size());
    } else {
        for (uint32_t r = 0; r < rows; r++) {
            if (kind == ScaleKind::Row) span((size_t)r * cols, cols);
            else for (uint32_t c = 0; c < cols; c += group) span((size_t)r * cols + c, std::min(group, cols - c));
        }
    }
}

static std::vector<float> random_weights(std::mt19937 &rng, size_t n, float scale) {
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> w(n);
    for (auto &x : w) x = nd(rng);
    return w;
}

// ---- ternary ----------------------------------------------------------------------------------------

static void test_ternary() {
    std::mt19937 rng(1);
    const uint32_t shapes[][2] = {{1, 1}, {1, 7}, {3, 31}, {2, 32}, {5, 33}, {4, 100}, {3, 161}, {7, 517}, {2, 1000}, {1, 4096}};
    for (auto &sh : shapes) {
        const uint32_t rows = sh[0], cols = sh[1];
        const std::vector<float> w = random_weights(rng, (size_t)rows * cols, 0.02f);
        struct { ScaleKind kind; uint32_t group; } layouts[] = {
            {ScaleKind::Tensor, 0}, {ScaleKind::Row, 0}, {ScaleKind::Group, 32}, {ScaleKind::Group, 64}, {ScaleKind::Group, 96}, {ScaleKind::Group, 2048}};
        for (auto &lay : layouts) {
            std::vector<int8_t> want_t, got_t((size_t)rows * cols, 99);
            std::vector<uint16_t> want_s;
            ref_ternary(w, rows, cols, lay.kind, lay.group, want_t, want_s);
            const uint64_t ns = scale_count_for(lay.kind, rows, cols, lay.group);
            CHECK(ns == want_s.size());
            std::vector<uint16_t> got_s(ns + 1, 0xBEEF);
            const bitlm_status st = quantize_ternary_absmean(w.data(), rows, cols, lay.kind, lay.group, got_t.data(), got_s.data());
            CHECK_MSG(st == BITLM_OK, "%ux%u kind %d group %u: status %d", rows, cols, (int)lay.kind, lay.group, (int)st);
            CHECK_MSG(got_t == want_t, "%ux%u kind %d group %u: trits differ", rows, cols, (int)lay.kind, lay.group);
            CHECK_MSG(std::equal(want_s.begin(), want_s.end(), got_s.begin()), "%ux%u kind %d group %u: scales differ",
                      rows, cols, (int)lay.kind, lay.group);
            CHECK(got_s[ns] == 0xBEEF);  // exactly scale_count_for scales written
            int nonzero = 0;
            for (int8_t t : got_t) { CHECK(t >= -1 && t <= 1); nonzero += t != 0; }
            if (rows * cols >= 100) CHECK(nonzero > (int)(rows * cols) / 3);  // Gaussian weights: ~60% nonzero
        }
    }
    // The rounding rule at the edges: s = fp16(mean|w|); w/s = 0.5 -> 0 (tie to even), 1.5 -> 2 -> 1.
    {
        const float w[4] = {0.5f, 1.5f, -0.5f, 2.0f};  // mean 1.125 (exact in fp16)
        int8_t t[4];
        uint16_t s;
        CHECK(quantize_ternary_absmean(w, 1, 4, ScaleKind::Tensor, 0, t, &s) == BITLM_OK);
        CHECK(f16_to_f32(s) == 1.125f);
        CHECK(t[0] == 0 && t[1] == 1 && t[2] == 0 && t[3] == 1);  // 0.44, 1.33, -0.44, 1.78
        const float v[4] = {0.5f, -0.5f, 1.5f, -1.5f};  // mean 1: ties at +-0.5, +-1.5
        CHECK(quantize_ternary_absmean(v, 1, 4, ScaleKind::Tensor, 0, t, &s) == BITLM_OK);
        CHECK(f16_to_f32(s) == 1.0f && t[0] == 0 && t[1] == 0 && t[2] == 1 && t[3] == -1);
    }
    // The scale is the fp16-rounded mean and the division uses that rounded value.
    {
        const float w[3] = {0.1f, 0.2f, 0.3001f};
        int8_t t[3];
        uint16_t s;
        CHECK(quantize_ternary_absmean(w, 1, 3, ScaleKind::Row, 0, t, &s) == BITLM_OK);
        CHECK(s == f32_to_f16((0.1f + 0.2f + 0.3001f) / 3.0f));
    }
    // The mean is sum / count (a division, not * (1/count)): exact means at fp16 ties round to even.
    for (uint32_t n : {3u, 5u, 6u, 7u, 9u, 10u, 11u, 12u, 13u, 25u, 49u}) {
        for (float m : {1.0f + std::ldexp(1.0f, -11), 1.0f + 3 * std::ldexp(1.0f, -11), 0.75f + std::ldexp(1.0f, -12)}) {
            std::vector<float> w(n, m);
            std::vector<int8_t> t(n);
            uint16_t s;
            CHECK(quantize_ternary_absmean(w.data(), 1, n, ScaleKind::Tensor, 0, t.data(), &s) == BITLM_OK);
            CHECK_MSG(s == f32_to_f16(m), "n=%u mean %a: scale 0x%04x", n, (double)m, s);
        }
    }
    // The sum runs in ascending index order, one float add at a time: 1 followed by 16383 values too
    // small to move it gives exactly 2^-14; any other order (reverse, pairwise) gives more.
    {
        std::vector<float> w(16384, 0.9f * std::ldexp(1.0f, -24));
        w[0] = 1.0f;
        std::vector<int8_t> t(w.size());
        uint16_t s;
        CHECK(quantize_ternary_absmean(w.data(), 1, 16384, ScaleKind::Tensor, 0, t.data(), &s) == BITLM_OK);
        CHECK_MSG(s == 0x0400, "sequential-order mean: scale 0x%04x, want 0x0400", s);
    }
    // Zero rows: zero trits and scale 0 (other rows unaffected).
    {
        std::vector<float> w(3 * 40, 0.0f);
        for (int c = 0; c < 40; c++) w[40 + c] = (c % 2 ? 1.0f : -1.0f);
        std::vector<int8_t> t(w.size(), 5);
        std::vector<uint16_t> s(6, 0xBEEF);
        CHECK(quantize_ternary_absmean(w.data(), 3, 40, ScaleKind::Row, 0, t.data(), s.data()) == BITLM_OK);
        CHECK(s[0] == 0 && s[2] == 0 && f16_to_f32(s[1]) == 1.0f);
        bool ok = true;
        for (int c = 0; c < 40; c++) ok = ok && t[c] == 0 && t[80 + c] == 0 && t[40 + c] == (c % 2 ? 1 : -1);
        CHECK(ok);
        CHECK(quantize_ternary_absmean(w.data(), 3, 40, ScaleKind::Group, 32, t.data(), s.data()) == BITLM_OK);
        CHECK(s[0] == 0 && s[1] == 0 && s[4] == 0 && s[5] == 0 && s[2] == 0x3c00 && s[3] == 0x3c00);
        std::vector<float> z(64, 0.0f);
        CHECK(quantize_ternary_absmean(z.data(), 2, 32, ScaleKind::Tensor, 0, t.data(), s.data()) == BITLM_OK);
        CHECK(s[0] == 0 && t[0] == 0 && t[63] == 0);
    }
    // Error cases.
    {
        std::vector<float> w(2 * 64, 0.5f);
        std::vector<int8_t> t(w.size(), 5);
        std::vector<uint16_t> s(8);
        for (uint32_t g : {0u, 16u, 33u, 48u, 100u})
            CHECK_MSG(quantize_ternary_absmean(w.data(), 2, 64, ScaleKind::Group, g, t.data(), s.data()) == BITLM_ERR_BAD_ARGUMENT,
                      "group %u must be rejected", g);
        CHECK(quantize_ternary_absmean(w.data(), 2, 64, ScaleKind::None, 0, t.data(), s.data()) == BITLM_ERR_BAD_ARGUMENT);
        CHECK(quantize_ternary_absmean(w.data(), 2, 64, (ScaleKind)9, 0, t.data(), s.data()) == BITLM_ERR_BAD_ARGUMENT);
        CHECK(quantize_ternary_absmean(nullptr, 2, 64, ScaleKind::Row, 0, t.data(), s.data()) == BITLM_ERR_NULL_ARGUMENT);
        CHECK(quantize_ternary_absmean(w.data(), 2, 64, ScaleKind::Row, 0, nullptr, s.data()) == BITLM_ERR_NULL_ARGUMENT);
        CHECK(quantize_ternary_absmean(w.data(), 2, 64, ScaleKind::Row, 0, t.data(), nullptr) == BITLM_ERR_NULL_ARGUMENT);
        // Non-finite weights are refused before any trit is written.
        for (float bad : {NAN, INFINITY, -INFINITY}) {
            w[77] = bad;
            CHECK(quantize_ternary_absmean(w.data(), 2, 64, ScaleKind::Row, 0, t.data(), s.data()) == BITLM_ERR_BAD_ARGUMENT);
            CHECK(t[0] == 5 && t[127] == 5);
        }
        // Finite weights whose mean does not fit an fp16 scale.
        w.assign(w.size(), 1e5f);
        CHECK(quantize_ternary_absmean(w.data(), 2, 64, ScaleKind::Tensor, 0, t.data(), s.data()) == BITLM_ERR_BAD_ARGUMENT);
        CHECK(t[0] == 5);
        w.assign(w.size(), 6e4f);  // fits (65504 is the largest half)
        CHECK(quantize_ternary_absmean(w.data(), 2, 64, ScaleKind::Tensor, 0, t.data(), s.data()) == BITLM_OK);
        CHECK(t[0] == 1);
        // Tiny weights: the scale rounds to a subnormal half or to 0 — no crash, trits consistent.
        w.assign(w.size(), 1e-8f);
        w[3] = -1e-8f;
        CHECK(quantize_ternary_absmean(w.data(), 2, 64, ScaleKind::Tensor, 0, t.data(), s.data()) == BITLM_OK);
        CHECK(s[0] == 0 && t[0] == 0 && t[3] == 0);
        w.assign(w.size(), 1e-6f);
        w[3] = -1e-6f;
        CHECK(quantize_ternary_absmean(w.data(), 2, 64, ScaleKind::Tensor, 0, t.data(), s.data()) == BITLM_OK);
        CHECK(s[0] != 0 && (s[0] & 0x7c00) == 0 && t[0] == 1 && t[3] == -1);
        // Empty tensors.
        CHECK(quantize_ternary_absmean(w.data(), 0, 64, ScaleKind::Tensor, 0, t.data(), s.data()) == BITLM_OK);
        CHECK(s[0] == 0);
        CHECK(quantize_ternary_absmean(w.data(), 3, 0, ScaleKind::Row, 0, t.data(), s.data()) == BITLM_OK);
    }
}

// ---- binary ------------------------------------------------------------------------------------------

static void test_binary() {
    std::mt19937 rng(2);
    for (uint32_t cols : {1u, 9u, 64u, 333u}) {
        const uint32_t rows = 5;
        std::vector<float> w = random_weights(rng, (size_t)rows * cols, 0.05f);
        w[0] = 0.0f;
        if (w.size() > 1) w[1] = -0.0f;
        std::vector<int8_t> sg(w.size());
        std::vector<uint16_t> s(rows + 1, 0xBEEF);
        CHECK(quantize_binary_sign(w.data(), rows, cols, ScaleKind::Row, sg.data(), s.data()) == BITLM_OK);
        bool ok = true;
        for (size_t i = 0; i < w.size(); i++) ok = ok && sg[i] == (w[i] >= 0.0f ? 1 : -1);
        CHECK(ok);
        CHECK(sg[0] == 1 && (w.size() < 2 || sg[1] == 1));  // zero (either sign) is +1
        for (uint32_t r = 0; r < rows; r++) CHECK(s[r] == f32_to_f16(ref_mean_abs(&w[(size_t)r * cols], cols)));
        CHECK(s[rows] == 0xBEEF);
        CHECK(quantize_binary_sign(w.data(), rows, cols, ScaleKind::Tensor, sg.data(), s.data()) == BITLM_OK);
        CHECK(s[0] == f32_to_f16(ref_mean_abs(w.data(), w.size())));
        CHECK(quantize_binary_sign(w.data(), rows, cols, ScaleKind::Group, sg.data(), s.data()) == BITLM_ERR_BAD_ARGUMENT);
        CHECK(quantize_binary_sign(w.data(), rows, cols, ScaleKind::None, sg.data(), s.data()) == BITLM_ERR_BAD_ARGUMENT);
        w[cols / 2] = NAN;
        CHECK(quantize_binary_sign(w.data(), rows, cols, ScaleKind::Row, sg.data(), s.data()) == BITLM_ERR_BAD_ARGUMENT);
    }
}

// ---- int8 rows ----------------------------------------------------------------------------------------

static void test_int8_rows() {
    std::mt19937 rng(3);
    for (uint32_t cols : {1u, 17u, 256u, 1001u}) {
        const uint32_t rows = 6;
        std::vector<float> w = random_weights(rng, (size_t)rows * cols, 1.0f);
        for (uint32_t c = 0; c < cols; c++) w[2 * (size_t)cols + c] = 0.0f;  // a zero row
        std::vector<int8_t> q(w.size());
        std::vector<uint16_t> s(rows);
        CHECK(quantize_int8_rows(w.data(), rows, cols, q.data(), s.data()) == BITLM_OK);
        for (uint32_t r = 0; r < rows; r++) {
            float amax = 0;
            size_t arg = 0;
            for (uint32_t c = 0; c < cols; c++)
                if (std::fabs(w[(size_t)r * cols + c]) > amax) { amax = std::fabs(w[(size_t)r * cols + c]); arg = (size_t)r * cols + c; }
            const uint16_t h = f32_to_f16(amax / 127.0f);
            CHECK(s[r] == h);
            const float sc = f16_to_f32(h);
            bool ok = true;
            for (uint32_t c = 0; c < cols; c++) {
                const size_t i = (size_t)r * cols + c;
                ok = ok && q[i] == (sc == 0.0f ? 0 : ref_round_clamp(w[i] / sc, 127)) && q[i] >= -127;
            }
            CHECK_MSG(ok, "cols %u row %u", cols, r);
            if (amax > 0) CHECK(q[arg] == (w[arg] > 0 ? 127 : -127));  // the absmax weight hits the end
            else CHECK(s[r] == 0 && q[(size_t)r * cols] == 0);
        }
    }
    std::vector<float> w(8, 1.0f);
    std::vector<int8_t> q(8);
    std::vector<uint16_t> s(2);
    w[5] = INFINITY;
    CHECK(quantize_int8_rows(w.data(), 2, 4, q.data(), s.data()) == BITLM_ERR_BAD_ARGUMENT);
    w[5] = 1e7f;  // absmax / 127 > 65504
    CHECK(quantize_int8_rows(w.data(), 2, 4, q.data(), s.data()) == BITLM_ERR_BAD_ARGUMENT);
    CHECK(quantize_int8_rows(nullptr, 2, 4, q.data(), s.data()) == BITLM_ERR_NULL_ARGUMENT);
}

// ---- activations --------------------------------------------------------------------------------------

static void test_activations() {
    std::mt19937 rng(4);
    for (uint32_t n : {1u, 2u, 5u, 64u, 257u, 4096u}) {
        for (int trial = 0; trial < 20; trial++) {
            std::vector<float> x = random_weights(rng, n, trial % 2 ? 3.0f : 1e-3f);
            std::vector<int8_t> q(n);
            const float scale = quantize_act_int8_ref(x.data(), n, q.data());
            float amax = 0;
            size_t arg = 0;
            for (size_t i = 0; i < n; i++)
                if (std::fabs(x[i]) > amax) { amax = std::fabs(x[i]); arg = i; }
            CHECK(scale == amax / 127.0f);
            const float mult = 127.0f / amax;
            bool ok = true;
            for (size_t i = 0; i < n; i++) ok = ok && q[i] == ref_round_clamp(x[i] * mult, 127) && q[i] >= -127;
            CHECK(ok);
            CHECK(q[arg] == (x[arg] > 0 ? 127 : -127));
        }
    }
    // Ties to even: amax 127 gives multiplier exactly 1.
    const float x[8] = {127.0f, 0.5f, 1.5f, 2.5f, -2.5f, -0.5f, -127.0f, 126.5f};
    int8_t q[8];
    CHECK(quantize_act_int8_ref(x, 8, q) == 1.0f);
    CHECK(q[0] == 127 && q[1] == 0 && q[2] == 2 && q[3] == 2 && q[4] == -2 && q[5] == 0 && q[6] == -127 && q[7] == 126);
    // All zero (and n == 0): scale 0, q 0.
    const float z[4] = {0.0f, -0.0f, 0.0f, 0.0f};
    int8_t qz[4] = {9, 9, 9, 9};
    CHECK(quantize_act_int8_ref(z, 4, qz) == 0.0f && qz[0] == 0 && qz[1] == 0 && qz[3] == 0);
    CHECK(quantize_act_int8_ref(z, 0, qz) == 0.0f);
    // Non-finite input: q all 0 and a non-finite scale (the output turns NaN instead of hiding it).
    float bad[4] = {1.0f, NAN, -2.0f, 3.0f};
    int8_t qb[4] = {9, 9, 9, 9};
    CHECK(std::isnan(quantize_act_int8_ref(bad, 4, qb)) && qb[0] == 0 && qb[1] == 0 && qb[3] == 0);
    bad[1] = -INFINITY;
    CHECK(std::isinf(quantize_act_int8_ref(bad, 4, qb)) && qb[0] == 0 && qb[2] == 0);
    // Subnormal amax (multiplier overflows to inf): nonzero -> +-127, zero -> 0, never UB.
    const float tiny[3] = {std::ldexp(1.0f, -149), 0.0f, -std::ldexp(1.0f, -148)};
    int8_t qt[3];
    quantize_act_int8_ref(tiny, 3, qt);
    CHECK(qt[0] == 127 && qt[1] == 0 && qt[2] == -127);
}

int main() {
    test_ternary();
    test_binary();
    test_int8_rows();
    test_activations();
    return check::finish("test_quantize");
}
