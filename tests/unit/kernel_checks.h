// kernel_checks.h — checks that a kernel table equals the reference bit for bit (or, for the reference
// itself, a naive computation from unpacked weights): q8 matmuls at awkward sizes (rows and columns
// off every vector width, group scales 32..192, token counts off every register tile), extreme
// activations (int16 accumulator limits), non-finite and zero activation scales, the activation
// quantizer's edge cases (NaN, inf, zero, subnormal amax, ties), and the f16 matmul.
// Shared by test_kernels.cpp (every table of this build) and test_kernels_avx512_emulated.cpp.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "check.h"
#include "core/detmath.h"
#include "core/fp16.h"
#include "kernels.h"
#include "quant/quantize.h"
#include "tensor/binary_pack.h"
#include "tensor/dequant.h"
#include "tensor/ternary2_pack.h"
#include "tensor/ternary_pack.h"

namespace kernel_checks {

using namespace bitlm;

enum class Fill { Random, AllMax, AllMin };  // activations: random, all +127, all -127

struct Matrix {
    WeightView view;
    std::vector<uint8_t> data;
    std::vector<uint16_t> scales;
    std::vector<int8_t> values;  // unpacked, rows*cols
};

// weights: random, or (fill != Random) every weight +1 (all-max) / -1 (all-min): the largest sums.
inline Matrix make_matrix(DType dtype, ScaleKind kind, uint32_t rows, uint32_t cols, uint32_t group, std::mt19937 &rng,
                          Fill fill = Fill::Random) {
    Matrix m;
    m.values.resize((size_t)rows * cols);
    std::uniform_int_distribution<int> tern(-1, 1), coin(0, 1), i8(-127, 127);
    for (auto &v : m.values) {
        if (fill != Fill::Random) v = (int8_t)(fill == Fill::AllMax ? (dtype == DType::Int8 ? 127 : 1) : (dtype == DType::Int8 ? -127 : -1));
        else v = (int8_t)(dtype == DType::Ternary || dtype == DType::Ternary2 ? tern(rng) : dtype == DType::Binary ? (coin(rng) ? 1 : -1) : i8(rng));
    }
    const uint64_t row_bytes = dtype_row_bytes(dtype, cols);
    m.data.assign(rows * row_bytes + 1, 0xAA);  // +1: a kernel must not read past the last row
    // Ternary2 rows through base 3 and ternary2_repack_row, so the repack is checked with the kernels.
    std::vector<uint8_t> base3(dtype == DType::Ternary2 ? ternary_packed_bytes(cols) : 0);
    const WeightView base3_row = {DType::Ternary, kind, 1, cols, group, (uint32_t)base3.size(), base3.data(), nullptr};
    for (uint32_t r = 0; r < rows; r++) {
        const int8_t *src = &m.values[(size_t)r * cols];
        uint8_t *dst = &m.data[r * row_bytes];
        if (dtype == DType::Ternary2) {
            ternary_pack_row(src, cols, base3.data());
            ternary2_repack_row(base3_row, 0, dst);
        } else if (dtype == DType::Ternary) ternary_pack_row(src, cols, dst);
        else if (dtype == DType::Binary) binary_pack_row(src, cols, dst);
        else std::memcpy(dst, src, cols);
    }
    std::uniform_real_distribution<float> sd(0.001f, 2.0f);
    m.scales.resize(scale_count_for(kind, rows, cols, group));
    for (auto &s : m.scales) s = f32_to_f16(sd(rng));
    m.view = {dtype, kind, rows, cols, group, (uint32_t)row_bytes, m.data.data(), m.scales.data()};
    return m;
}

// Naive: exact integer sums per group from unpacked values, combined as tensor/dequant.h says.
inline float naive_dot(const Matrix &m, uint32_t r, const int8_t *x, float x_scale) {
    const WeightView &w = m.view;
    const uint32_t g_size = w.scale_kind == ScaleKind::Group ? w.group_size : w.cols;
    const uint32_t groups = w.cols ? (w.cols + g_size - 1) / g_size : 1;
    float sum = 0.0f;
    for (uint32_t g = 0; g < groups; g++) {
        int64_t acc = 0;
        for (uint32_t i = g * g_size; i < w.cols && i < (g + 1) * g_size; i++) acc += (int64_t)m.values[(size_t)r * w.cols + i] * x[i];
        const float s = f16_to_f32(m.scales[scale_index(w, r, g)]);
        if (w.scale_kind != ScaleKind::Group) return dequant_dot((int32_t)acc, s, x_scale);
        sum = dequant_group_add(sum, (int32_t)acc, s);
    }
    return dequant_group_end(sum, x_scale);
}

inline bool same_bits(float a, float b) { return float_bits(a) == float_bits(b); }

inline void check_q8(const bitlm_kernels *k, bool against_naive, DType dtype, ScaleKind kind, uint32_t rows, uint32_t cols,
                     uint32_t group, uint32_t n_tok, std::mt19937 &rng, Fill fill = Fill::Random,
                     const float *scales_override = nullptr, const std::vector<uint16_t> *weight_scales = nullptr) {
    Matrix m = make_matrix(dtype, kind, rows, cols, group, rng, fill);
    if (weight_scales)  // fp16 weight scales taken in turn from the list (inf, NaN, subnormal, ...)
        for (size_t i = 0; i < m.scales.size(); i++) m.scales[i] = (*weight_scales)[i % weight_scales->size()];
    // Exactly n_tok*cols activations: a kernel reading past the last token fails under ASan.
    std::vector<int8_t> x((size_t)n_tok * cols);
    std::uniform_int_distribution<int> xi(-127, 127);
    for (auto &v : x) v = (int8_t)(fill == Fill::Random ? xi(rng) : 127);
    std::vector<float> xs(n_tok);
    for (uint32_t t = 0; t < n_tok; t++) xs[t] = scales_override ? scales_override[t] : 0.01f * (float)(t + 1);
    const uint32_t stride = rows + 3;
    std::vector<float> y((size_t)n_tok * stride, -7.0f), y_ref((size_t)n_tok * stride, -7.0f);
    // Split the rows in two ranges to test row_begin/row_end handling (odd starts included).
    const uint32_t mid = rows / 3;
    k->matmul_q8(&m.view, x.data(), xs.data(), n_tok, 0, mid, y.data(), stride);
    k->matmul_q8(&m.view, x.data(), xs.data(), n_tok, mid, rows, y.data(), stride);
    if (against_naive) {
        for (uint32_t t = 0; t < n_tok; t++)
            for (uint32_t r = 0; r < rows; r++) y_ref[(size_t)t * stride + r] = naive_dot(m, r, &x[(size_t)t * cols], xs[t]);
    } else {
        bitlm_reference_kernels()->matmul_q8(&m.view, x.data(), xs.data(), n_tok, 0, rows, y_ref.data(), stride);
    }
    bool ok = true;
    for (size_t i = 0; i < y.size(); i++) ok = ok && same_bits(y[i], y_ref[i]);
    CHECK_MSG(ok, "%s %s/%s rows=%u cols=%u group=%u n_tok=%u fill=%d", k->name, dtype_name(dtype), scale_kind_name(kind),
              rows, cols, group, n_tok, (int)fill);
}

inline void check_quantize(const bitlm_kernels *k, const std::vector<float> &x, const char *what) {
    std::vector<int8_t> q(x.size() + 1, 0x55), q_ref(x.size() + 1, 0x55);  // +1: must not be written
    const float s = k->quantize_act_int8(x.data(), (uint32_t)x.size(), q.data());
    const float s_ref = quantize_act_int8_ref(x.data(), (uint32_t)x.size(), q_ref.data());
    CHECK_MSG(same_bits(s, s_ref) && q == q_ref, "%s quantize_act %s n=%zu", k->name, what, x.size());
}

inline void check_quantizer(const bitlm_kernels *k, std::mt19937 &rng) {
    const uint32_t sizes[] = {0, 1, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 159, 160, 161, 255, 1000, 2304};
    std::uniform_real_distribution<float> u(-3.0f, 3.0f);
    std::uniform_int_distribution<int> tie(-127, 126);
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    for (uint32_t n : sizes) {
        std::vector<float> x(n);
        for (auto &v : x) v = u(rng);
        check_quantize(k, x, "random");
        if (n == 0) continue;
        std::vector<float> z(n, 0.0f);
        check_quantize(k, z, "zeros");
        for (auto &v : z) v = -0.0f;
        check_quantize(k, z, "negative zeros");
        // amax 127: mult = 1, so k + 0.5 values are exact ties (round half to even), -0.3 -> -0.
        std::vector<float> t(n);
        for (auto &v : t) v = (float)tie(rng) + 0.5f;
        t[n / 2] = 127.0f;
        if (n > 2) t[n - 1] = -0.3f;
        check_quantize(k, t, "ties");
        // Non-finite anywhere (first, middle, last) makes q zero and the scale NaN or inf.
        for (float bad : {nan, -nan, inf, -inf}) {
            for (uint32_t at : {0u, n / 2, n - 1}) {
                std::vector<float> b = x;
                b[at] = bad;
                check_quantize(k, b, "non-finite");
            }
        }
        // Tiny amax: subnormals (127/amax overflows to inf: zeros give NaN -> 0, others +-127).
        std::vector<float> s(n, 0.0f);
        for (uint32_t i = 0; i < n; i += 3) s[i] = (i & 1 ? -1.0f : 1.0f) * 1e-40f * (float)(i % 7 + 1);
        check_quantize(k, s, "subnormal");
        for (auto &v : s) v = v * 1e30f;  // ~1e-10: finite mult, normal path with small values
        check_quantize(k, s, "small");
        std::vector<float> big(n);
        for (auto &v : big) v = u(rng) * 1e37f;
        big[0] = 3.4028235e38f;
        check_quantize(k, big, "huge");
    }
}

// weighted_rows (optional) against the scalar loop of its contract in kernels.h: every output width
// off the 8- and 16-lane blocks, strides wider than the width (a key tile inside a row), no rows,
// and values that are subnormal, infinite (inf - inf: the default NaN) or signed zeros.
inline void check_weighted_rows(const bitlm_kernels *k, std::mt19937 &rng) {
    if (!k->weighted_rows) return;
    std::uniform_real_distribution<float> u(-3.0f, 3.0f);
    const float inf = std::numeric_limits<float>::infinity();
    for (uint32_t n : {0u, 1u, 3u, 64u, 65u, 300u})
        for (uint32_t width : {1u, 2u, 7u, 8u, 9u, 15u, 16u, 17u, 31u, 32u, 33u, 47u, 63u, 64u, 65u, 100u, 128u, 129u, 200u})
            for (uint32_t pad : {0u, 5u}) {
                const uint64_t stride = width + pad;
                // Exactly as many floats as the contract reads: a read past them fails under ASan.
                std::vector<float> a(n), rows(n ? (n - 1) * stride + width : 0);
                for (auto &v : a) v = u(rng);
                for (auto &v : rows) v = u(rng);
                if (n > 2 && width > 3) {
                    rows[1] = 1e-39f, rows[stride + 2] = -0.0f, a[2] = 1e-30f;  // subnormal products
                    rows[3] = inf, rows[2 * stride + 3] = -inf;                  // inf - inf
                }
                std::vector<float> out(width + 1, -7.0f), ref(width + 1, -7.0f);  // +1: never written
                k->weighted_rows(a.data(), rows.data(), stride, n, width, out.data());
                for (uint32_t i = 0; i < width; i++) {
                    float s = 0.0f;
                    for (uint32_t j = 0; j < n; j++) s += a[j] * rows[j * stride + i];
                    ref[i] = s;
                }
                bool ok = true;
                for (uint32_t i = 0; i <= width; i++) ok = ok && same_bits(out[i], ref[i]);
                CHECK_MSG(ok, "%s weighted_rows n=%u width=%u stride=%llu", k->name, n, width, (unsigned long long)stride);
            }
}

// expf_shifted and silu_mul (optional) against det_expf(x - shift) and det_silu(g) * x, bit for bit:
// every 4093rd float bit pattern (~1M, NaNs and infinities included), every 7th float whose exp is
// subnormal, det_expf's branch edges, two shifts, and lengths off every lane count (the scalar tail).
inline void check_float_lanes(const bitlm_kernels *k) {
    if (!k->expf_shifted && !k->silu_mul) return;
    auto of = [](uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; };
    std::vector<float> xs;
    for (uint64_t b = 0; b <= 0xffffffffull; b += 4093) xs.push_back(of((uint32_t)b));
    for (uint32_t b = 0xc2aeac4fu; b <= 0xc2cff1b6u; b += 7) xs.push_back(of(b));
    for (uint32_t b : {0u, 0x80000000u, 0x39000000u, 0x39000001u, 0xb9000000u, 0xb9000001u, 0x42b17217u, 0x42b17218u,
                       0xc2cff1b4u, 0xc2cff1b5u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00001u, 0x7f800001u, 1u,
                       0x80000001u})
        xs.push_back(of(b));
    if (k->expf_shifted) {
        uint64_t differ = 0;
        for (float shift : {0.0f, 3.5f})
            for (uint32_t n : {(uint32_t)xs.size(), 1u, 7u, 15u, 17u, 33u}) {
                std::vector<float> got(xs.begin(), xs.begin() + n);
                k->expf_shifted(got.data(), n, shift);
                for (uint32_t i = 0; i < n; i++) differ += !same_bits(got[i], det_expf(xs[i] - shift));
            }
        CHECK_MSG(differ == 0, "%s expf_shifted: %llu of %zu differ from det_expf", k->name, (unsigned long long)differ, xs.size());
    }
    if (k->silu_mul) {
        uint64_t differ = 0;
        for (float up : {1.0f, 0.75f, -3.0f})
            for (uint32_t n : {(uint32_t)xs.size(), 1u, 7u, 15u, 17u, 33u}) {
                std::vector<float> x(n, up);
                k->silu_mul(xs.data(), x.data(), n);
                for (uint32_t i = 0; i < n; i++) differ += !same_bits(x[i], det_silu(xs[i]) * up);
            }
        CHECK_MSG(differ == 0, "%s silu_mul: %llu of %zu differ from det_silu", k->name, (unsigned long long)differ, xs.size());
    }
}

inline void check_kernel_table(const bitlm_kernels *k, bool against_naive) {
    std::mt19937 rng(1234);
    const uint32_t sizes[] = {1, 5, 8, 31, 32, 33, 63, 64, 65, 159, 160, 161, 255, 320, 1000, 2304};
    uint32_t i = 0;
    for (uint32_t cols : sizes)
        for (uint32_t rows : {1u, 3u, 17u}) {
            const uint32_t n_tok = 1 + (i++ % 9);  // 1..9: every remainder of the 2- and 4-token tiles
            const uint32_t n1 = 1;                 // and the one-token (decode) path for each shape
            for (uint32_t nt : {n1, n_tok}) {
                check_q8(k, against_naive, DType::Ternary, ScaleKind::Tensor, rows, cols, 0, nt, rng);
                check_q8(k, against_naive, DType::Ternary, ScaleKind::Row, rows, cols, 0, nt, rng);
                for (uint32_t g : {32u, 64u, 96u, 128u, 160u})
                    check_q8(k, against_naive, DType::Ternary, ScaleKind::Group, rows, cols, g, nt, rng);
                check_q8(k, against_naive, DType::Binary, ScaleKind::Row, rows, cols, 0, nt, rng);
                check_q8(k, against_naive, DType::Binary, ScaleKind::Tensor, rows, cols, 0, nt, rng);
                check_q8(k, against_naive, DType::Int8, ScaleKind::Row, rows, cols, 0, nt, rng);
                if (k->prefers_ternary2 || against_naive) {  // only such tables are handed the 2-bit copy
                    check_q8(k, against_naive, DType::Ternary2, ScaleKind::Tensor, rows, cols, 0, nt, rng);
                    check_q8(k, against_naive, DType::Ternary2, ScaleKind::Row, rows, cols, 0, nt, rng);
                }
            }
        }
    // Many rows: several row pairs and register tiles in one call.
    for (uint32_t nt : {1u, 4u, 5u}) {
        check_q8(k, against_naive, DType::Ternary, ScaleKind::Row, 70, 1024, 0, nt, rng);
        check_q8(k, against_naive, DType::Ternary, ScaleKind::Group, 70, 1024, 64, nt, rng);
        check_q8(k, against_naive, DType::Binary, ScaleKind::Row, 70, 1000, 0, nt, rng);
        check_q8(k, against_naive, DType::Int8, ScaleKind::Row, 70, 1000, 0, nt, rng);
        if (k->prefers_ternary2 || against_naive)
            check_q8(k, against_naive, DType::Ternary2, ScaleKind::Row, 70, 1024, 0, nt, rng);
    }
    // Largest sums: every weight and activation at its extreme, long rows (int16 accumulator limits).
    for (Fill fill : {Fill::AllMax, Fill::AllMin})
        for (uint32_t cols : {2304u, 8000u, 20001u})
            for (uint32_t nt : {1u, 3u}) {
                check_q8(k, against_naive, DType::Ternary, ScaleKind::Row, 3, cols, 0, nt, rng, fill);
                check_q8(k, against_naive, DType::Ternary, ScaleKind::Group, 3, cols, 4096, nt, rng, fill);
                check_q8(k, against_naive, DType::Binary, ScaleKind::Row, 3, cols, 0, nt, rng, fill);
                check_q8(k, against_naive, DType::Int8, ScaleKind::Row, 3, cols, 0, nt, rng, fill);
                if (k->prefers_ternary2 || against_naive)
                    check_q8(k, against_naive, DType::Ternary2, ScaleKind::Row, 3, cols, 0, nt, rng, fill);
            }
    // Activation scales that are zero, NaN or inf (what the quantizer returns for such input).
    const float odd_scales[4] = {0.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                                 -std::numeric_limits<float>::infinity()};
    check_q8(k, against_naive, DType::Ternary, ScaleKind::Row, 5, 333, 0, 4, rng, Fill::Random, odd_scales);
    check_q8(k, against_naive, DType::Ternary, ScaleKind::Group, 5, 333, 32, 4, rng, Fill::Random, odd_scales);
    check_q8(k, against_naive, DType::Binary, ScaleKind::Row, 5, 333, 0, 4, rng, Fill::Random, odd_scales);
    check_q8(k, against_naive, DType::Int8, ScaleKind::Row, 5, 333, 0, 4, rng, Fill::Random, odd_scales);
    for (uint32_t t = 0; t < 4; t++)
        check_q8(k, against_naive, DType::Ternary, ScaleKind::Row, 5, 333, 0, 1, rng, Fill::Random, odd_scales + t);
    // fp16 weight scales that are infinite, NaN (quiet, signalling, with payloads), subnormal, signed
    // zeros, the largest: a vector fp16 conversion must give f16_to_f32's bits for every one.
    const std::vector<uint16_t> odd_w = {0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfd55, 0x0001, 0x83ff, 0x8000, 0x0000,
                                         0x3c00, 0x7bff, 0x3555};
    for (ScaleKind kind : {ScaleKind::Row, ScaleKind::Tensor})
        for (uint32_t nt : {1u, 4u, 5u})
            for (uint32_t rows : {1u, 13u, 70u}) {
                check_q8(k, against_naive, DType::Ternary, kind, rows, 333, 0, nt, rng, Fill::Random, nullptr, &odd_w);
                check_q8(k, against_naive, DType::Binary, kind, rows, 333, 0, nt, rng, Fill::Random, nullptr, &odd_w);
            }

    check_quantizer(k, rng);
    check_weighted_rows(k, rng);
    check_float_lanes(k);

    // F16 matmul against a plain fp32 loop in column order.
    std::uniform_real_distribution<float> u(-3.0f, 3.0f);
    for (uint32_t cols : {1u, 7u, 64u, 161u}) {
        const uint32_t rows = 5, n_tok = 2;
        std::vector<uint16_t> w((size_t)rows * cols);
        std::vector<float> x((size_t)n_tok * cols), y((size_t)n_tok * rows), y_ref((size_t)n_tok * rows);
        for (auto &v : w) v = f32_to_f16(u(rng));
        for (auto &v : x) v = u(rng);
        WeightView view = {DType::F16, ScaleKind::None, rows, cols, 0, cols * 2, (const uint8_t *)w.data(), nullptr};
        k->matmul_f16(&view, x.data(), n_tok, 0, rows, y.data(), rows);
        for (uint32_t t = 0; t < n_tok; t++)
            for (uint32_t r = 0; r < rows; r++) {
                float s = 0.0f;
                for (uint32_t c = 0; c < cols; c++) s += f16_to_f32(w[(size_t)r * cols + c]) * x[(size_t)t * cols + c];
                y_ref[(size_t)t * rows + r] = s;
            }
        bool ok = true;
        for (size_t j = 0; j < y.size(); j++) ok = ok && same_bits(y[j], y_ref[j]);
        CHECK_MSG(ok, "%s matmul_f16 cols=%u", k->name, cols);
    }
}

}  // namespace kernel_checks
