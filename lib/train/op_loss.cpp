// op_loss.cpp — mean cross-entropy of logits rows against target tokens on the tape (math in
// op_kernels.h); the mean is summed in row order so it does not depend on the thread count.
#include "train/op_kernels.h"
#include "train/ops.h"
#include "train/parallel.h"

namespace bitlm {
namespace {

// saved: [0] row losses, [1] row maxima, [2] row sums of exp.
void xent_backward_op(Tape &t, const OpRecord &op) {
    const Tensor &logits = *op.in[0], &loss = *op.out;
    if (!loss.grad || !logits.grad) return;
    const float d = loss.grad[0] / (float)logits.rows;
    const int32_t *targets = (const int32_t *)op.ptr;
    for_ranges(t.backend, logits.rows, [&](uint64_t r0, uint64_t r1) {
        opk::xent_backward<FloatMath>(logits.data, targets, logits.cols, op.saved[1], op.saved[2], d, (uint32_t)r0,
                                      (uint32_t)r1, logits.grad);
    });
}

}  // namespace

Tensor *op_cross_entropy(Tape &t, Tensor *logits, const int32_t *targets, float *row_loss) {
    if (!logits || !targets) return nullptr;
    const uint32_t n = logits->rows;
    Tensor *loss = t.tensor(1, 1, logits->grad != nullptr);
    float *losses = t.alloc_floats(n), *maxes = t.alloc_floats(n), *sums = t.alloc_floats(n);
    if (!loss || !losses || !maxes || !sums) return nullptr;
    if (OpRecord *op = t.record(xent_backward_op)) {
        op->in[0] = logits;
        op->out = loss;
        op->ptr = targets;
        op->saved[0] = losses;
        op->saved[1] = maxes;
        op->saved[2] = sums;
    }
    if (!t.computing()) return loss;
    for (uint32_t r = 0; r < n; r++)
        if (targets[r] < 0 || (uint32_t)targets[r] >= logits->cols) {
            t.fail(BITLM_ERR_TOKEN_OUT_OF_RANGE);
            return nullptr;
        }
    for_ranges(t.backend, n, [&](uint64_t r0, uint64_t r1) {
        opk::xent_forward<FloatMath>(logits->data, targets, logits->cols, (uint32_t)r0, (uint32_t)r1, losses, maxes,
                                     sums);
    });
    float total = 0.0f;
    for (uint32_t r = 0; r < n; r++) total += losses[r];
    loss->data[0] = n ? total / (float)n : 0.0f;
    if (row_loss)
        for (uint32_t r = 0; r < n; r++) row_loss[r] = losses[r];
    return loss;
}

}  // namespace bitlm
