// test_kernels.cpp — the reference kernels against a naive computation from unpacked weights, and
// every other kernel table of this build against the reference, bit for bit, at awkward sizes.
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "core/fp16.h"
#include "kernels.h"
#include "quant/quantize.h"
#include "tensor/binary_pack.h"
#include "tensor/dequant.h"
#include "tensor/ternary_pack.h"

using namespace bitlm;

namespace {

struct Matrix {
    WeightView view;
    std::vector<uint8_t> data;
    std::vector<uint16_t> scales;
    std::vector<int8_t> values;  // unpacked, rows*cols
};

Matrix make_matrix(DType dtype, ScaleKind kind, uint32_t rows, uint32_t cols, uint32_t group, std::mt19937 &rng) {
    Matrix m;
    m.values.resize((size_t)rows * cols);
    std::uniform_int_distribution<int> tern(-1, 1), coin(0, 1), i8(-127, 127);
    for (auto &v : m.values)
        v = (int8_t)(dtype == DType::Ternary ? tern(rng) : dtype == DType::Binary ? (coin(rng) ? 1 : -1) : i8(rng));
    const uint64_t row_bytes = dtype_row_bytes(dtype, cols);
    m.data.assign(rows * row_bytes + 1, 0xAA);  // +1: a kernel must not read past the last row
    for (uint32_t r = 0; r < rows; r++) {
        const int8_t *src = &m.values[(size_t)r * cols];
        uint8_t *dst = &m.data[r * row_bytes];
        if (dtype == DType::Ternary) ternary_pack_row(src, cols, dst);
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
float naive_dot(const Matrix &m, uint32_t r, const int8_t *x, float x_scale) {
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

bool same_bits(float a, float b) { return float_bits(a) == float_bits(b); }

void check_q8(const bitlm_kernels *k, bool against_naive, DType dtype, ScaleKind kind, uint32_t rows, uint32_t cols,
              uint32_t group, uint32_t n_tok, std::mt19937 &rng) {
    Matrix m = make_matrix(dtype, kind, rows, cols, group, rng);
    std::vector<int8_t> x((size_t)n_tok * cols);
    std::uniform_int_distribution<int> xi(-127, 127);
    for (auto &v : x) v = (int8_t)xi(rng);
    std::vector<float> xs(n_tok);
    for (uint32_t t = 0; t < n_tok; t++) xs[t] = 0.01f * (float)(t + 1);
    const uint32_t stride = rows + 3;
    std::vector<float> y((size_t)n_tok * stride, -7.0f), y_ref((size_t)n_tok * stride, -7.0f);
    // Split the rows in two ranges to test row_begin/row_end handling.
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
    CHECK_MSG(ok, "%s %s/%s rows=%u cols=%u group=%u n_tok=%u", k->name, dtype_name(dtype), scale_kind_name(kind), rows,
              cols, group, n_tok);
}

void check_kernel_table(const bitlm_kernels *k, bool against_naive) {
    std::mt19937 rng(1234);
    const uint32_t sizes[] = {1, 5, 8, 31, 32, 33, 159, 160, 161, 255, 320, 1000};
    for (uint32_t cols : sizes)
        for (uint32_t rows : {1u, 3u, 17u}) {
            const uint32_t n_tok = cols % 3 + 1;
            check_q8(k, against_naive, DType::Ternary, ScaleKind::Tensor, rows, cols, 0, n_tok, rng);
            check_q8(k, against_naive, DType::Ternary, ScaleKind::Row, rows, cols, 0, n_tok, rng);
            check_q8(k, against_naive, DType::Ternary, ScaleKind::Group, rows, cols, 32, n_tok, rng);
            check_q8(k, against_naive, DType::Ternary, ScaleKind::Group, rows, cols, 128, n_tok, rng);
            check_q8(k, against_naive, DType::Binary, ScaleKind::Row, rows, cols, 0, n_tok, rng);
            check_q8(k, against_naive, DType::Binary, ScaleKind::Tensor, rows, cols, 0, n_tok, rng);
            check_q8(k, against_naive, DType::Int8, ScaleKind::Row, rows, cols, 0, n_tok, rng);
        }
    // Activation quantizer against the lib reference.
    std::uniform_real_distribution<float> u(-3.0f, 3.0f);
    for (uint32_t n : sizes) {
        std::vector<float> x(n);
        for (auto &v : x) v = u(rng);
        std::vector<int8_t> q(n), q_ref(n);
        const float s = k->quantize_act_int8(x.data(), n, q.data());
        const float s_ref = quantize_act_int8_ref(x.data(), n, q_ref.data());
        CHECK_MSG(same_bits(s, s_ref) && q == q_ref, "%s quantize_act n=%u", k->name, n);
    }
    // F16 matmul against a plain fp32 loop in column order.
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
                for (uint32_t i = 0; i < cols; i++) s += f16_to_f32(w[(size_t)r * cols + i]) * x[(size_t)t * cols + i];
                y_ref[(size_t)t * rows + r] = s;
            }
        bool ok = true;
        for (size_t i = 0; i < y.size(); i++) ok = ok && same_bits(y[i], y_ref[i]);
        CHECK_MSG(ok, "%s matmul_f16 cols=%u", k->name, cols);
    }
}

}  // namespace

int main() {
    check_kernel_table(bitlm_reference_kernels(), /*against_naive=*/true);
    std::printf("kernels tested: %s", bitlm_reference_kernels()->name);
    bool default_listed = false;
    for (uint32_t i = 0; i < bitlm_kernel_table_count(); i++) {
        const bitlm_kernels *k = bitlm_kernel_table(i);
        default_listed = default_listed || k == bitlm_default_kernels();
        if (k == bitlm_reference_kernels()) continue;
        check_kernel_table(k, /*against_naive=*/false);
        std::printf(", %s", k->name);
    }
    std::printf(" (default: %s)\n", bitlm_default_kernels()->name);
    CHECK(bitlm_kernel_table(0) == bitlm_reference_kernels() && default_listed);
    CHECK(bitlm_kernel_table(bitlm_kernel_table_count()) == nullptr);
    return check::finish("kernels");
}
