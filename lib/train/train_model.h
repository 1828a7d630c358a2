// train_model.h — the model family as a graph of tape ops: its trainable parameters (one per
// artifact tensor, same roles), their initialization, and the forward pass to logits and loss.
// The quantized forward computes what inference computes from the packed artifact; fp32 = true
// trains the same shape with no quantizer at all (for comparison).
#pragma once
#include <stdint.h>
#include "artifact/format.h"
#include "model/presets.h"
#include "train/ops.h"
#include "train/param.h"

namespace bitlm {

struct TrainModelSpec {
    bitlm_config config;
    StorageRecipe storage;
    bool fp32;  // no weight or activation quantization
};

struct ParamInfo {
    TensorRole role;
    uint16_t layer;
    ParamKind kind;
    uint32_t rows, cols;
};

// BITLM_OK if the trainer supports this configuration (the same modes inference supports).
bitlm_status check_train_spec(const TrainModelSpec &spec);
// Parameters in a fixed order: embedding, per layer (attn_norm wq wk wv [attn_subnorm] wo ffn_norm
// [w_gate] w_up [ffn_subnorm] w_down), final_norm, [head].
uint32_t train_param_count(const TrainModelSpec &spec);
ParamInfo train_param_info(const TrainModelSpec &spec, uint32_t index);
// How the forward pass quantizes the tensor of `role` (as bitlm_pack will store it).
LinearQuant train_linear_quant(const TrainModelSpec &spec, TensorRole role);

// Deterministic initialization from `seed`: norm gains 1; BitLinear weights N(0, init_std^2) with the
// output projections (wo, w_down) scaled by 1/sqrt(2 n_layers); embedding N(0, init_std^2).
void init_params(const TrainModelSpec &spec, Param *params, uint64_t seed, float init_std);

struct TrainModel {
    TrainModelSpec spec;
    Param *params;   // train_param_count(spec) entries, in train_param_info order
    const float *rope_cs;  // rope_table(config.rope_theta, head_dim, seq_len)
    uint32_t seq_len;      // rows per sequence (<= config.max_seq_len)
};

// Logits [n_seq*seq_len x vocab] for n_seq sequences of seq_len tokens stacked in `tokens`.
Tensor *model_logits(Tape &t, const TrainModel &m, const int32_t *tokens, uint32_t n_seq);
// Mean cross-entropy against `targets` (same layout); row_loss (may be null) gets each position's loss.
Tensor *model_loss(Tape &t, const TrainModel &m, const int32_t *tokens, const int32_t *targets, uint32_t n_seq,
                   float *row_loss = nullptr);

}  // namespace bitlm
