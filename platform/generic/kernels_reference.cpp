// kernels_reference.cpp — the portable reference kernels: plain loops, exact int32 sums, then the
// float combination of tensor/dequant.h. Every SIMD or MCU kernel is tested against these.
#include "core/fp16.h"
#include "kernels.h"
#include "quant/quantize.h"
#include "tensor/dequant.h"
#include "tensor/ternary2_pack.h"
#include "tensor/ternary_pack.h"

namespace bitlm {
namespace {

// Walks a row's weights in ascending index order, summing w*x per scale group and combining the
// group sums with their scales (one group spanning the row for tensor/row scales).
struct RowAccumulator {
    const WeightView *w;
    uint32_t row;
    uint32_t group_size;  // == cols when the scale is per tensor or per row
    uint32_t group = 0;
    uint32_t next_boundary;
    int32_t acc = 0;
    float sum = 0.0f;

    RowAccumulator(const WeightView *w_, uint32_t r)
        : w(w_), row(r), group_size(w_->scale_kind == ScaleKind::Group ? w_->group_size : w_->cols),
          next_boundary(group_size) {}

    void flush() {
        sum = dequant_group_add(sum, acc, f16_to_f32(w->scales[scale_index(*w, row, group)]));
        acc = 0;
        group++;
        next_boundary += group_size;
    }
    void add(uint32_t index, int32_t product) {
        if (index >= next_boundary) flush();
        acc += product;
    }
    // Tensor/row scales: ((float)acc * w) * x. Group scales: sum of groups, then * x.
    float finish(float x_scale) {
        if (w->scale_kind != ScaleKind::Group) {
            return dequant_dot(acc, f16_to_f32(w->scales[scale_index(*w, row, 0)]), x_scale);
        }
        flush();
        return dequant_group_end(sum, x_scale);
    }
};

float dot_ternary(const WeightView *w, uint32_t r, const int8_t *x, float x_scale) {
    const uint8_t *bytes = w->data + (uint64_t)r * w->row_bytes;
    const uint32_t n = w->cols;
    RowAccumulator acc(w, r);
    uint32_t base = 0;
    // Whole 160-weight blocks: digit plane k of the 32 bytes is weights base+32k .. base+32k+31.
    for (; base + kTernaryBlockWeights <= n; base += kTernaryBlockWeights, bytes += kTernaryBlockBytes)
        for (uint32_t k = 0; k < 5; k++)
            for (uint32_t j = 0; j < kTernaryBlockBytes; j++) {
                const uint32_t i = base + kTernaryBlockBytes * k + j;
                acc.add(i, ternary_trit(bytes[j], k) * x[i]);
            }
    // Tail block of r weights at stride B = ceil(r/5).
    const uint32_t rest = n - base, stride = (rest + 4) / 5;
    for (uint32_t k = 0; k < 5; k++)
        for (uint32_t j = 0; j < stride; j++) {
            const uint32_t e = stride * k + j;
            if (e < rest) acc.add(base + e, ternary_trit(bytes[j], k) * x[base + e]);
        }
    return acc.finish(x_scale);
}

float dot_ternary2(const WeightView *w, uint32_t r, const int8_t *x, float x_scale) {
    const uint8_t *row = w->data + (uint64_t)r * w->row_bytes;
    RowAccumulator acc(w, r);
    for (uint32_t i = 0; i < w->cols; i++) acc.add(i, ((int32_t)ternary2_code(row, i) - 1) * x[i]);
    return acc.finish(x_scale);
}

float dot_binary(const WeightView *w, uint32_t r, const int8_t *x, float x_scale) {
    const uint8_t *bytes = w->data + (uint64_t)r * w->row_bytes;
    RowAccumulator acc(w, r);
    for (uint32_t i = 0; i < w->cols; i++) acc.add(i, ((bytes[i >> 3] >> (i & 7)) & 1) ? x[i] : -x[i]);
    return acc.finish(x_scale);
}

float dot_int8(const WeightView *w, uint32_t r, const int8_t *x, float x_scale) {
    const int8_t *row = (const int8_t *)(w->data + (uint64_t)r * w->row_bytes);
    RowAccumulator acc(w, r);
    for (uint32_t i = 0; i < w->cols; i++) acc.add(i, row[i] * x[i]);
    return acc.finish(x_scale);
}

void matmul_q8_reference(const WeightView *w, const int8_t *x, const float *x_scale, uint32_t n_tok,
                         uint32_t row_begin, uint32_t row_end, float *y, uint32_t y_stride) {
    float (*dot)(const WeightView *, uint32_t, const int8_t *, float) =
        w->dtype == DType::Ternary    ? dot_ternary
        : w->dtype == DType::Ternary2 ? dot_ternary2
        : w->dtype == DType::Binary   ? dot_binary
                                      : dot_int8;
    // Rows outer: a row stays in cache while every token of a prefill batch uses it.
    for (uint32_t r = row_begin; r < row_end; r++)
        for (uint32_t t = 0; t < n_tok; t++)
            y[(uint64_t)t * y_stride + r] = dot(w, r, x + (uint64_t)t * w->cols, x_scale[t]);
}

void matmul_f16_reference(const WeightView *w, const float *x, uint32_t n_tok, uint32_t row_begin,
                          uint32_t row_end, float *y, uint32_t y_stride) {
    for (uint32_t t = 0; t < n_tok; t++) {
        const float *xt = x + (uint64_t)t * w->cols;
        for (uint32_t r = row_begin; r < row_end; r++) {
            const uint16_t *row = (const uint16_t *)(w->data + (uint64_t)r * w->row_bytes);
            float sum = 0.0f;
            for (uint32_t i = 0; i < w->cols; i++) sum += f16_to_f32(row[i]) * xt[i];
            y[(uint64_t)t * y_stride + r] = sum;
        }
    }
}

const bitlm_kernels kReference = {"generic", quantize_act_int8_ref, matmul_q8_reference, matmul_f16_reference,
                                  nullptr, nullptr, nullptr, 0};  // the optional float kernels: the portable ones

}  // namespace
}  // namespace bitlm

extern "C" const bitlm_kernels *bitlm_reference_kernels(void) { return &bitlm::kReference; }
