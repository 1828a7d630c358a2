// reader.h — validate a .blm artifact in place and bind its tensors; never reads out of bounds.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "artifact/format.h"
#include "bitlm.h"

namespace bitlm {

struct TokenizerInfo {
    uint32_t kind;        // bitlm_tokenizer_kind
    uint32_t vocab_size;
    uint32_t bos_id;      // kNoToken if none
    uint32_t eos_id;
    const uint8_t *data;  // tokenizer payload (empty for bytes)
    uint32_t data_bytes;
};

struct LayerWeights {
    const float *attn_norm;      // dim
    WeightView wq, wk, wv, wo;
    const float *attn_subnorm;   // n_heads*head_dim, or nullptr without SUBLN
    const float *ffn_norm;       // dim
    WeightView w_gate;           // rows == 0 without SwiGLU
    WeightView w_up, w_down;
    const float *ffn_subnorm;    // ffn_dim, or nullptr without SUBLN
};

struct ArtifactInfo {
    const uint8_t *bytes;
    uint64_t size;
    uint32_t version;
    uint32_t checksum;
    bitlm_config config;
    TokenizerInfo tokenizer;
    uint32_t tensor_count;
    const uint8_t *table;  // tensor_count entries of kTensorEntryBytes
};

// Validate everything: header, checksum (unless skip_checksum), configuration, tokenizer, every
// tensor entry (kind, layout, bounds, alignment, overlap) and that the tensor set matches the
// configuration exactly. Returns the first problem found.
bitlm_status read_artifact(const void *bytes, size_t size, bool skip_checksum, ArtifactInfo *info);

// Decode entry i of a validated artifact's table.
TensorEntry tensor_entry(const ArtifactInfo &info, uint32_t i);

// Views of the whole-model tensors and of layer `layer` (artifact must have passed read_artifact).
WeightView tensor_view(const ArtifactInfo &info, const TensorEntry &e);
bitlm_status bind_layer(const ArtifactInfo &info, uint32_t layer, LayerWeights *out);
bitlm_status bind_globals(const ArtifactInfo &info, WeightView *embedding, const float **final_norm,
                          WeightView *head /* rows == 0 when tied */);

// Check a configuration on its own (ranges, divisibility, supported modes).
bitlm_status validate_config(const bitlm_config &config);

// Whether `role` must be present in a model with this configuration (for layer-wise roles: in every layer).
bool config_needs_role(const bitlm_config &config, TensorRole role);
// The shape the configuration requires for `role`.
void expected_shape(const bitlm_config &config, TensorRole role, uint32_t *rows, uint32_t *cols);

}  // namespace bitlm
