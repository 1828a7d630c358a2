// ops.h — the tape's ops: each computes its forward now and records what its backward needs.
// Together they build every model of the family (tied or separate head, ReLU^2 or SwiGLU, PRE or
// SubLN norms, grouped-query attention), quantized like inference or in plain fp32 for comparison.
// Every op returns nullptr if an input is nullptr or the arena is full (see Tape::status()).
// Activations are row-major [tokens x features]; sequences of seq_len tokens are stacked in rows.
#pragma once
#include <stdint.h>
#include "tensor/weights.h"
#include "train/tape.h"

namespace bitlm {

// How a linear layer's weight and input are quantized in the forward pass (straight-through in the
// backward: gradients reach the latent fp32 weights and the unquantized input as if the quantizers
// were the identity — the surrogate gradient of BitNet b1.58).
struct LinearQuant {
    DType weight;         // Ternary (absmean), Binary (sign, alpha), Int8 (rows, absmax), F16, or F32 (none)
    ScaleKind scale_kind; // Ternary/Binary: Tensor, Row or Group (Ternary); Int8: Row
    uint32_t group_size;  // ScaleKind::Group
    bool int8_input;      // per-token int8 absmax fake quantization of the input
};

// y[n x out] = x[n x in] . w[out x in]^T with the quantizers above. Ternary/Binary/Int8 with Tensor or
// Row scales compute exactly what the inference kernels do (integer sums, then (acc * w_scale) * x_scale).
Tensor *op_linear(Tape &t, Tensor *x, Tensor *w, const LinearQuant &q);

// Rows of table[vocab x dim] for each token; storage Int8 (rows quantized as in the artifact), F16 or
// F32 (as is). Token ids must be in range (the caller validates data).
Tensor *op_embedding(Tape &t, Tensor *table, const int32_t *tokens, uint32_t n, DType storage);

Tensor *op_rmsnorm(Tape &t, Tensor *x, Tensor *gain, float eps);

// cs: seq_len x head_dim table of (cos, sin) pairs (rope_table below); row r has position r % seq_len.
Tensor *op_rope(Tape &t, Tensor *x, const float *cs, uint32_t head_dim, uint32_t seq_len);
// Fills cs[pos*head_dim + 2i, +1] = cos, sin of pos * theta^(-2i/head_dim), computed like inference.
void rope_table(float theta, uint32_t head_dim, uint32_t seq_len, float *cs);

// Causal softmax attention within each sequence of seq_len rows; q has n_heads*head_dim columns,
// k and v n_kv_heads*head_dim (query head h reads kv head h / (n_heads / n_kv_heads)).
Tensor *op_attention(Tape &t, Tensor *q, Tensor *k, Tensor *v, uint32_t n_heads, uint32_t n_kv_heads,
                     uint32_t head_dim, uint32_t seq_len);

Tensor *op_relu2(Tape &t, Tensor *x);                 // max(x, 0)^2
Tensor *op_swiglu(Tape &t, Tensor *gate, Tensor *up);  // silu(gate) * up
Tensor *op_add(Tape &t, Tensor *a, Tensor *b);         // residual

// Mean cross-entropy (nats) of logits rows against targets: a 1x1 tensor. row_loss (may be null)
// receives each row's loss (for evaluation).
Tensor *op_cross_entropy(Tape &t, Tensor *logits, const int32_t *targets, float *row_loss = nullptr);

}  // namespace bitlm
