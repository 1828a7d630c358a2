// op_embedding.cpp — token embedding lookup on the tape. Int8 storage is simulated exactly as packed
// (rows quantized by quantize_int8_rows, value = (float)q * fp16 scale, as inference computes it);
// the gradient goes straight through to the latent fp32 table (scatter-add by column ranges, so
// repeated tokens accumulate in row order whatever the thread count).
#include "core/fp16.h"
#include "quant/quantize.h"
#include "train/ops.h"
#include "train/parallel.h"

namespace bitlm {
namespace {

void embedding_backward(Tape &t, const OpRecord &op) {
    const Tensor &table = *op.in[0], &y = *op.out;
    if (!y.grad || !table.grad) return;
    const int32_t *tokens = (const int32_t *)op.ptr;
    const uint32_t dim = table.cols;
    for_ranges(t.backend, dim, [&](uint64_t c0, uint64_t c1) {
        for (uint32_t r = 0; r < y.rows; r++) {
            float *dst = table.grad + (uint64_t)tokens[r] * dim;
            const float *src = y.grad + (uint64_t)r * dim;
            for (uint64_t c = c0; c < c1; c++) dst[c] += src[c];
        }
    }, 64, kColumnChunk);
}

}  // namespace

Tensor *op_embedding(Tape &t, Tensor *table, const int32_t *tokens, uint32_t n, DType storage) {
    if (!table || !tokens) return nullptr;
    if (storage != DType::Int8 && storage != DType::F16 && storage != DType::F32) {
        t.fail(BITLM_ERR_BAD_ARGUMENT);
        return nullptr;
    }
    const uint32_t dim = table->cols;
    Tensor *y = t.tensor(n, dim, table->grad != nullptr);
    int8_t *codes = storage == DType::Int8 ? (int8_t *)t.alloc_floats((table->count() + 3) / 4) : nullptr;
    uint16_t *scales = storage == DType::Int8 ? (uint16_t *)t.alloc_floats((table->rows + 1) / 2) : nullptr;
    if (!y || (storage == DType::Int8 && (!codes || !scales))) return nullptr;
    if (OpRecord *op = t.record(embedding_backward)) {
        op->in[0] = table;
        op->out = y;
        op->ptr = tokens;
    }
    if (!t.computing()) return y;
    if (storage == DType::Int8) {
        const bitlm_status st = quantize_int8_rows(table->data, table->rows, dim, codes, scales);
        if (st != BITLM_OK) {
            t.fail(st);
            return nullptr;
        }
    }
    for_ranges(t.backend, n, [&](uint64_t r0, uint64_t r1) {
        for (uint64_t r = r0; r < r1; r++) {
            const uint64_t row = (uint64_t)tokens[r] * dim;
            float *dst = y->data + r * dim;
            if (storage == DType::Int8) {
                const float s = f16_to_f32(scales[tokens[r]]);
                for (uint32_t c = 0; c < dim; c++) dst[c] = (float)codes[row + c] * s;
            } else if (storage == DType::F16) {
                for (uint32_t c = 0; c < dim; c++) dst[c] = round_to_f16(table->data[row + c]);
            } else {
                for (uint32_t c = 0; c < dim; c++) dst[c] = table->data[row + c];
            }
        }
    });
    return y;
}

}  // namespace bitlm
