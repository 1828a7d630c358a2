// op_norm.cpp — RMSNorm with a learned gain on the tape (math in op_kernels.h).
#include "train/op_kernels.h"
#include "train/ops.h"
#include "train/parallel.h"

namespace bitlm {
namespace {

void rmsnorm_backward(Tape &t, const OpRecord &op) {
    const Tensor &x = *op.in[0], &g = *op.in[1], &y = *op.out;
    if (!y.grad) return;
    const float *rinv = op.saved[0];
    if (x.grad)
        for_ranges(t.backend, x.rows, [&](uint64_t r0, uint64_t r1) {
            opk::rmsnorm_backward_x<FloatMath>(x.data, g.data, rinv, y.grad, x.cols, (uint32_t)r0, (uint32_t)r1, x.grad);
        });
    if (g.grad)
        for_ranges(t.backend, x.cols, [&](uint64_t c0, uint64_t c1) {
            opk::rmsnorm_backward_g<FloatMath>(x.data, rinv, y.grad, x.cols, x.rows, (uint32_t)c0, (uint32_t)c1, g.grad);
        }, 64, kColumnChunk);
}

}  // namespace

Tensor *op_rmsnorm(Tape &t, Tensor *x, Tensor *gain, float eps) {
    if (!x || !gain) return nullptr;
    if (gain->count() != x->cols) {
        t.fail(BITLM_ERR_SHAPE_MISMATCH);
        return nullptr;
    }
    Tensor *y = t.tensor(x->rows, x->cols, x->grad || gain->grad);
    float *rinv = t.alloc_floats(x->rows);
    if (!y || !rinv) return nullptr;
    if (OpRecord *op = t.record(rmsnorm_backward)) {
        op->in[0] = x;
        op->in[1] = gain;
        op->out = y;
        op->saved[0] = rinv;
    }
    if (!t.computing()) return y;
    for_ranges(t.backend, x->rows, [&](uint64_t r0, uint64_t r1) {
        opk::rmsnorm_forward<FloatMath>(x->data, gain->data, x->cols, eps, (uint32_t)r0, (uint32_t)r1, y->data, rinv);
    });
    return y;
}

}  // namespace bitlm
