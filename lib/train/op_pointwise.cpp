// op_pointwise.cpp — element-wise ops on the tape: residual add, ReLU^2, SwiGLU.
#include "train/op_kernels.h"
#include "train/ops.h"
#include "train/parallel.h"

namespace bitlm {
namespace {

bool same_shape(const Tensor *a, const Tensor *b) { return a->rows == b->rows && a->cols == b->cols; }

void add_backward(Tape &t, const OpRecord &op) {
    const Tensor &y = *op.out;
    if (!y.grad) return;
    for (int i = 0; i < 2; i++) {
        float *dx = op.in[i]->grad;
        if (dx)
            for_ranges(t.backend, y.count(), [&](uint64_t i0, uint64_t i1) {
                for (uint64_t j = i0; j < i1; j++) dx[j] += y.grad[j];
            }, 64, kElementChunk);
    }
}

void relu2_backward(Tape &t, const OpRecord &op) {
    const Tensor &x = *op.in[0], &y = *op.out;
    if (!y.grad || !x.grad) return;
    for_ranges(t.backend, y.count(), [&](uint64_t i0, uint64_t i1) {
        opk::relu2_backward<FloatMath>(x.data, y.grad, i0, i1, x.grad);
    }, 64, kElementChunk);
}

void swiglu_backward(Tape &t, const OpRecord &op) {
    const Tensor &g = *op.in[0], &u = *op.in[1], &y = *op.out;
    if (!y.grad) return;
    for_ranges(t.backend, y.count(), [&](uint64_t i0, uint64_t i1) {
        opk::swiglu_backward<FloatMath>(g.data, u.data, y.grad, i0, i1, g.grad, u.grad);
    }, 64, kElementChunk);
}

}  // namespace

Tensor *op_add(Tape &t, Tensor *a, Tensor *b) {
    if (!a || !b) return nullptr;
    if (!same_shape(a, b)) {
        t.fail(BITLM_ERR_SHAPE_MISMATCH);
        return nullptr;
    }
    Tensor *y = t.tensor(a->rows, a->cols, a->grad || b->grad);
    if (!y) return nullptr;
    if (OpRecord *op = t.record(add_backward)) {
        op->in[0] = a;
        op->in[1] = b;
        op->out = y;
    }
    if (!t.computing()) return y;
    for_ranges(t.backend, y->count(), [&](uint64_t i0, uint64_t i1) {
        for (uint64_t i = i0; i < i1; i++) y->data[i] = a->data[i] + b->data[i];
    }, 64, kElementChunk);
    return y;
}

Tensor *op_relu2(Tape &t, Tensor *x) {
    if (!x) return nullptr;
    Tensor *y = t.tensor(x->rows, x->cols, x->grad != nullptr);
    if (!y) return nullptr;
    if (OpRecord *op = t.record(relu2_backward)) {
        op->in[0] = x;
        op->out = y;
    }
    if (!t.computing()) return y;
    for_ranges(t.backend, y->count(), [&](uint64_t i0, uint64_t i1) {
        opk::relu2_forward<FloatMath>(x->data, i0, i1, y->data);
    }, 64, kElementChunk);
    return y;
}

Tensor *op_swiglu(Tape &t, Tensor *gate, Tensor *up) {
    if (!gate || !up) return nullptr;
    if (!same_shape(gate, up)) {
        t.fail(BITLM_ERR_SHAPE_MISMATCH);
        return nullptr;
    }
    Tensor *y = t.tensor(gate->rows, gate->cols, gate->grad || up->grad);
    if (!y) return nullptr;
    if (OpRecord *op = t.record(swiglu_backward)) {
        op->in[0] = gate;
        op->in[1] = up;
        op->out = y;
    }
    if (!t.computing()) return y;
    for_ranges(t.backend, y->count(), [&](uint64_t i0, uint64_t i1) {
        opk::swiglu_forward<FloatMath>(gate->data, up->data, i0, i1, y->data);
    }, 64, kElementChunk);
    return y;
}

}  // namespace bitlm
