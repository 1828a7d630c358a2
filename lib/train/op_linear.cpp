// op_linear.cpp — BitLinear on the tape: weight quantizer (ternary absmean, binary sign, int8 rows,
// fp16) and int8 activation fake-quantization in the forward, straight-through gradients backward.
// The forward sums integer products in fp32 through the backend GEMM (exact below 2^24, whatever the
// order) and then applies (acc * w_scale) * x_scale: the same bits as the inference kernels.
#include "core/fp16.h"
#include "kernels.h"
#include "quant/quantize.h"
#include "train/ops.h"
#include "train/parallel.h"

namespace bitlm {
namespace {

// saved[0] = weight values the GEMM used (integers, or dequantized floats), [1] = per-row weight
// scale (integer path only), [2] = input codes (int8 path: integer floats), [3] = per-token x scale.
// u[0] = 1 if the integer path (y = (acc * ws) * xs), u[1] = 1 if the input was int8-quantized.
enum { kWeights = 0, kWScale = 1, kXCodes = 2, kXScale = 3 };

bool integer_path(const LinearQuant &q) {
    return (q.weight == DType::Ternary || q.weight == DType::Binary || q.weight == DType::Int8) &&
           (q.scale_kind == ScaleKind::Tensor || q.scale_kind == ScaleKind::Row);
}

uint64_t weight_scale_count(const Tensor &w, const LinearQuant &q) {
    if (q.weight == DType::F32 || q.weight == DType::F16) return 0;
    return q.weight == DType::Int8 ? w.rows : scale_count_for(q.scale_kind, w.rows, w.cols, q.group_size);
}

// Quantizes w into `values` (rows x cols floats) and, on the integer path, per-row scales. codes
// (rows*cols) and scales (weight_scale_count) are scratch.
bitlm_status quantize_weights(const Tensor &w, const LinearQuant &q, int8_t *codes, uint16_t *scales, float *values,
                              float *row_scale) {
    const uint64_t n = w.count();
    if (q.weight == DType::F32) {
        for (uint64_t i = 0; i < n; i++) values[i] = w.data[i];
        return BITLM_OK;
    }
    if (q.weight == DType::F16) {
        for (uint64_t i = 0; i < n; i++) values[i] = round_to_f16(w.data[i]);
        return BITLM_OK;
    }
    bitlm_status st;
    if (q.weight == DType::Ternary) {
        st = quantize_ternary_absmean(w.data, w.rows, w.cols, q.scale_kind, q.group_size, codes, scales);
    } else if (q.weight == DType::Binary) {
        st = quantize_binary_sign(w.data, w.rows, w.cols, q.scale_kind, codes, scales);
    } else if (q.weight == DType::Int8) {
        st = quantize_int8_rows(w.data, w.rows, w.cols, codes, scales);
    } else {
        st = BITLM_ERR_BAD_ARGUMENT;
    }
    if (st != BITLM_OK) return st;
    if (integer_path(q)) {
        for (uint64_t i = 0; i < n; i++) values[i] = (float)codes[i];
        for (uint32_t r = 0; r < w.rows; r++) row_scale[r] = f16_to_f32(scales[q.scale_kind == ScaleKind::Tensor ? 0 : r]);
    } else {  // group scales: dequantize (code * scale is exact in fp32)
        const uint64_t per_row = (w.cols + q.group_size - 1) / q.group_size;
        for (uint32_t r = 0; r < w.rows; r++)
            for (uint32_t c = 0; c < w.cols; c++) {
                const uint64_t i = (uint64_t)r * w.cols + c;
                values[i] = (float)codes[i] * f16_to_f32(scales[r * per_row + c / q.group_size]);
            }
    }
    return BITLM_OK;
}

void linear_backward(Tape &t, const OpRecord &op) {
    const Tensor &x = *op.in[0], &w = *op.in[1], &y = *op.out;
    const TrainBackend *b = t.backend;
    if (!y.grad) return;
    const uint32_t n = x.rows, in = x.cols, out = w.rows;
    float *dy = y.grad;
    // dW += dY^T . x_hat, where x_hat = codes * x_scale (int8 input) or x itself.
    if (w.grad) {
        const float *x_hat = x.data;
        if (op.u[1]) {
            float *codes = op.saved[kXCodes];
            const float *xs = op.saved[kXScale];
            for_ranges(b, n, [&](uint64_t r0, uint64_t r1) {
                for (uint64_t r = r0; r < r1; r++)
                    for (uint32_t i = 0; i < in; i++) codes[r * in + i] *= xs[r];
            });
            x_hat = codes;  // the codes are not needed again: this record runs backward once
        }
        b->gemm(b->ctx, true, false, out, in, n, dy, out, x_hat, in, 1.0f, w.grad, in);
    }
    // dX += (dY * w_scale) . W_values: scale dY in place (nothing reads it after this op).
    if (x.grad) {
        if (op.u[0]) {
            const float *ws = op.saved[kWScale];
            for_ranges(b, n, [&](uint64_t r0, uint64_t r1) {
                for (uint64_t r = r0; r < r1; r++)
                    for (uint32_t o = 0; o < out; o++) dy[r * out + o] *= ws[o];
            });
        }
        b->gemm(b->ctx, false, false, n, in, out, dy, out, op.saved[kWeights], in, 1.0f, x.grad, in);
    }
}

}  // namespace

Tensor *op_linear(Tape &t, Tensor *x, Tensor *w, const LinearQuant &q) {
    if (!x || !w) return nullptr;
    if (x->cols != w->cols) {
        t.fail(BITLM_ERR_SHAPE_MISMATCH);
        return nullptr;
    }
    const uint32_t n = x->rows, in = x->cols, out = w->rows;
    const bool on_integers = integer_path(q);
    const bool int8_input = q.int8_input && q.weight != DType::F32 && q.weight != DType::F16;
    Tensor *y = t.tensor(n, out, x->grad || w->grad);
    float *values = q.weight == DType::F32 ? w->data : t.alloc_floats(w->count());
    float *ws = on_integers ? t.alloc_floats(out) : nullptr;
    float *codes = int8_input ? t.alloc_floats((uint64_t)n * in) : nullptr;
    float *xs = int8_input ? t.alloc_floats(n) : nullptr;
    int8_t *row_codes = int8_input ? (int8_t *)t.alloc_floats((uint64_t)n * ((in + 3) / 4)) : nullptr;
    const uint64_t n_scales = weight_scale_count(*w, q);
    int8_t *w_codes = n_scales ? (int8_t *)t.alloc_floats((w->count() + 3) / 4) : nullptr;
    uint16_t *w_scales = n_scales ? (uint16_t *)t.alloc_floats((n_scales + 1) / 2) : nullptr;
    if (!y || !values || (on_integers && !ws) || (int8_input && (!codes || !xs || !row_codes)) ||
        (n_scales && (!w_codes || !w_scales)))
        return nullptr;
    OpRecord *op = t.record(linear_backward);
    if (op) {
        op->in[0] = x;
        op->in[1] = w;
        op->out = y;
        op->saved[kWeights] = values;
        op->saved[kWScale] = ws;
        op->saved[kXCodes] = codes;
        op->saved[kXScale] = xs;
        op->u[0] = on_integers;
        op->u[1] = int8_input;
    }
    if (!t.computing()) return y;

    if (q.weight != DType::F32) {
        const bitlm_status st = quantize_weights(*w, q, w_codes, w_scales, values, ws);
        if (st != BITLM_OK) {
            t.fail(st);
            return nullptr;
        }
    }
    const TrainBackend *b = t.backend;
    const float *a = x->data;
    if (int8_input) {
        // The build's fastest activation quantizer: every table equals the reference bit for bit.
        const bitlm_kernels *kernels = bitlm_default_kernels();
        for_ranges(b, n, [&](uint64_t r0, uint64_t r1) {
            for (uint64_t r = r0; r < r1; r++) {
                int8_t *rc = row_codes + r * ((in + 3) / 4) * 4;
                xs[r] = kernels->quantize_act_int8(x->data + r * in, in, rc);
                for (uint32_t i = 0; i < in; i++) codes[r * in + i] = (float)rc[i];
            }
        });
        a = codes;
    }
    b->gemm(b->ctx, false, true, n, out, in, a, in, values, in, 0.0f, y->data, out);
    if (on_integers || int8_input) {
        for_ranges(b, n, [&](uint64_t r0, uint64_t r1) {
            for (uint64_t r = r0; r < r1; r++) {
                float *yr = y->data + r * out;
                const float xsr = int8_input ? xs[r] : 1.0f;
                if (on_integers) {
                    for (uint32_t o = 0; o < out; o++) yr[o] = (yr[o] * ws[o]) * xsr;
                } else {
                    for (uint32_t o = 0; o < out; o++) yr[o] = yr[o] * xsr;
                }
            }
        });
    }
    return y;
}

}  // namespace bitlm
