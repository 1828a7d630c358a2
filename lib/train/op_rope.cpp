// op_rope.cpp — rotary position embedding on the tape, and its (cos, sin) table computed exactly as
// inference computes it (lib/model/model_open.cpp and forward.cpp).
#include "train/op_kernels.h"
#include "train/ops.h"
#include "train/parallel.h"

namespace bitlm {
namespace {

void rope_backward(Tape &t, const OpRecord &op) {
    const Tensor &x = *op.in[0], &y = *op.out;
    if (!y.grad || !x.grad) return;
    const float *cs = (const float *)op.ptr;
    for_ranges(t.backend, x.rows, [&](uint64_t r0, uint64_t r1) {
        opk::rope_backward<FloatMath>(y.grad, cs, x.cols, op.u[0], op.u[1], (uint32_t)r0, (uint32_t)r1, x.grad);
    });
}

}  // namespace

void rope_table(float theta, uint32_t head_dim, uint32_t seq_len, float *cs) {
    const float log_theta = det_logf(theta);
    for (uint32_t i = 0; i < head_dim / 2; i++) {
        const float freq = det_expf(-((float)(2 * i) / (float)head_dim) * log_theta);
        for (uint32_t pos = 0; pos < seq_len; pos++)
            det_sincosf((float)pos * freq, &cs[pos * head_dim + 2 * i + 1], &cs[pos * head_dim + 2 * i]);
    }
}

Tensor *op_rope(Tape &t, Tensor *x, const float *cs, uint32_t head_dim, uint32_t seq_len) {
    if (!x) return nullptr;
    if (head_dim == 0 || head_dim % 2 || x->cols % head_dim || seq_len == 0 || x->rows % seq_len) {
        t.fail(BITLM_ERR_SHAPE_MISMATCH);
        return nullptr;
    }
    Tensor *y = t.tensor(x->rows, x->cols, x->grad != nullptr);
    if (!y) return nullptr;
    if (OpRecord *op = t.record(rope_backward)) {
        op->in[0] = x;
        op->out = y;
        op->ptr = cs;
        op->u[0] = head_dim;
        op->u[1] = seq_len;
    }
    if (!t.computing()) return y;
    for_ranges(t.backend, x->rows, [&](uint64_t r0, uint64_t r1) {
        opk::rope_forward<FloatMath>(x->data, cs, x->cols, head_dim, seq_len, (uint32_t)r0, (uint32_t)r1, y->data);
    });
    return y;
}

}  // namespace bitlm
