// kernels_v6m.cpp — ARMv6-M kernels (Cortex-M0/M0+, RP2040-class: Thumb-1, MULS, no DSP, no FPU):
// ternary and int8 weights read in place from flash times int8 activations, in plain C++ shaped for
// Thumb-1 (immediate-offset byte loads, few live values). Table "cm-v6m"; everything it does not
// take (group scales, binary weights, the quantizer, f16 matmuls) is the reference's.
//
// ---- the ternary matmul -------------------------------------------------------------------------
// Thumb-1 has LDRSB only with a register offset, and the at-rest layout pairs digit k of byte j with
// activation 32k+j (stride B in the tail), so the activations of each column window are first copied
// into byte order as unsigned x + 128: xp[5j+k] (one LDRB #k each). A 256-entry flash table gives
// the base-3 digits d_k = t_k + 1 of a byte and their sum. Then, exactly,
//     sum t_k x_k = sum d_k (x_k + 128) - 128 sum d_k - sum x_k
// (padding positions hold x = 0, so any padding digit contributes d*128 - 128*d = 0), and one weight
// costs LDRB d, LDRB x', MULS, ADDS. The window is 160 weights (one block, 160 bytes of stack):
// rows are summed window by window into the output slots, then combined (tensor/dequant.h order).
//
// ---- the int8 matmul ----------------------------------------------------------------------------
// LDRSB weight and activation with one shared index register, MULS, ADDS, four per step.
#include <stdint.h>

#include "core/bytes.h"
#include "core/fp16.h"
#include "kernels.h"
#include "tensor/dequant.h"
#include "tensor/ternary_pack.h"
#include "tensor/weights.h"

namespace bitlm {
namespace v6m {
namespace {

struct DigitTable {
    uint8_t e[256][8];  // d0..d4 (0..2), d0+..+d4, padding
};
constexpr DigitTable make_digit_table() {
    DigitTable t{};
    for (uint32_t q = 0; q < 256; q++) {
        uint32_t p = 1, s = 0;
        for (uint32_t k = 0; k < 5; k++, p *= 3) {
            const uint8_t d = (uint8_t)((((q * p) & 0xffu) * 3u) >> 8);  // ternary_trit() + 1
            t.e[q][k] = d;
            s += d;
        }
        t.e[q][5] = (uint8_t)s;
    }
    return t;
}
alignas(8) constexpr DigitTable kDigits = make_digit_table();

constexpr uint32_t kWindow = kTernaryBlockWeights;  // columns per window
constexpr uint32_t kWindowBytes = kWindow;            // xp bytes (5 per weight byte)

// xp[5j+k] = x[weight of digit k of byte j] + 128 (128 where there is no weight); returns bytes.
uint32_t permute_window(const int8_t *x, uint32_t n, uint8_t *xp) {
    if (n == kTernaryBlockWeights) {
        for (uint32_t j = 0; j < kTernaryBlockBytes; j++, xp += 5)
            for (uint32_t k = 0; k < 5; k++) xp[k] = (uint8_t)(x[32 * k + j] + 128);
        return kTernaryBlockBytes;
    }
    const uint32_t stride = (n + 4) / 5;
    for (uint32_t j = 0; j < stride; j++, xp += 5)
        for (uint32_t k = 0; k < 5; k++) {
            const uint32_t e = stride * k + j;
            xp[k] = (uint8_t)(e < n ? x[e] + 128 : 128);
        }
    return stride;
}

// sum d_k x'_k - 128 sum d_k over nb weight bytes of one row.
inline int32_t row_window(const uint8_t *w, const uint8_t *xp, uint32_t nb) {
    int32_t acc = 0, ds = 0;
    for (uint32_t j = 0; j < nb; j++, xp += 5) {
        const uint8_t *d = kDigits.e[w[j]];
        acc += d[0] * xp[0];
        acc += d[1] * xp[1];
        acc += d[2] * xp[2];
        acc += d[3] * xp[3];
        acc += d[4] * xp[4];
        ds += d[5];
    }
    return acc - 128 * ds;
}

inline int32_t load_sum(const float *slot) { return (int32_t)float_bits(*slot); }
inline void store_sum(float *slot, int32_t v) { *slot = bits_float((uint32_t)v); }

void combine(const WeightView *w, uint32_t r0, uint32_t r1, float xs, float *y) {
    for (uint32_t r = r0; r < r1; r++)
        y[r] = dequant_dot(load_sum(&y[r]), f16_to_f32(w->scales[scale_index(*w, r, 0)]), xs);
}

void ternary_token(const WeightView *w, const int8_t *x, float xs, uint32_t r0, uint32_t r1, float *y) {
    uint8_t xp[kWindowBytes];
    const uint32_t cols = w->cols, rb = w->row_bytes;
    int32_t sx = 0;
    for (uint32_t i = 0; i < cols; i++) sx += x[i];
    for (uint32_t c0 = 0; c0 < cols; c0 += kWindow) {
        const uint32_t n = cols - c0 < kWindow ? cols - c0 : kWindow;
        const uint32_t nb = permute_window(x + c0, n, xp);
        const uint8_t *row = w->data + r0 * rb + c0 / 5;
        for (uint32_t r = r0; r < r1; r++, row += rb) {
            const int32_t s = row_window(row, xp, nb);
            store_sum(&y[r], c0 == 0 ? s - sx : load_sum(&y[r]) + s);
        }
    }
    combine(w, r0, r1, xs, y);
}

void int8_token(const WeightView *w, const int8_t *x, float xs, uint32_t r0, uint32_t r1, float *y) {
    const uint32_t cols = w->cols, rb = w->row_bytes;
    const int8_t *row = (const int8_t *)(w->data + r0 * rb);
    for (uint32_t r = r0; r < r1; r++, row += rb) {
        int32_t acc = 0;
        uint32_t i = 0;
        for (; i + 4 <= cols; i += 4)
            acc += row[i] * x[i] + row[i + 1] * x[i + 1] + row[i + 2] * x[i + 2] + row[i + 3] * x[i + 3];
        for (; i < cols; i++) acc += row[i] * x[i];
        store_sum(&y[r], acc);
    }
    combine(w, r0, r1, xs, y);
}

void matmul_q8_v6m(const WeightView *w, const int8_t *x, const float *x_scale, uint32_t n_tok, uint32_t row_begin,
                   uint32_t row_end, float *y, uint32_t y_stride) {
    const bool ternary = w->dtype == DType::Ternary && w->scale_kind != ScaleKind::Group;
    const bool int8 = w->dtype == DType::Int8 && w->scale_kind != ScaleKind::Group;
    if ((!ternary && !int8) || row_begin >= row_end) {
        bitlm_reference_kernels()->matmul_q8(w, x, x_scale, n_tok, row_begin, row_end, y, y_stride);
        return;
    }
    for (uint32_t t = 0; t < n_tok; t++) {
        const int8_t *xt = x + (uint64_t)t * w->cols;
        float *yt = y + (uint64_t)t * y_stride;
        if (ternary) ternary_token(w, xt, x_scale[t], row_begin, row_end, yt);
        else int8_token(w, xt, x_scale[t], row_begin, row_end, yt);
    }
}

float quantize_reference(const float *x, uint32_t n, int8_t *q) {
    return bitlm_reference_kernels()->quantize_act_int8(x, n, q);
}
void matmul_f16_reference(const WeightView *w, const float *x, uint32_t n_tok, uint32_t row_begin, uint32_t row_end,
                          float *y, uint32_t y_stride) {
    bitlm_reference_kernels()->matmul_f16(w, x, n_tok, row_begin, row_end, y, y_stride);
}

const bitlm_kernels kV6m = {"cm-v6m", quantize_reference, matmul_q8_v6m, matmul_f16_reference,
                            nullptr, nullptr, nullptr, 0};  // the optional float kernels: the portable ones

}  // namespace

const bitlm_kernels *v6m_kernels() { return &kV6m; }

}  // namespace v6m
}  // namespace bitlm
