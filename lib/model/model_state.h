// model_state.h — what an open model holds (inside the caller's arena) and how the arena is laid out.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "artifact/reader.h"
#include "bitlm.h"
#include "kernels.h"

namespace bitlm {

// Byte offsets of every buffer from the 64-aligned arena base; `total` includes alignment slack.
struct ArenaPlan {
    uint32_t context_len, max_batch;
    uint64_t model, layers;
    uint64_t key_cache, value_cache;  // n_layers * context_len * kv_dim floats each (layouts: forward.cpp)
    uint64_t k_new;                   // max_batch * kv_dim floats: the fed tokens' keys before they enter the cache
    uint64_t rope_freq;               // head_dim/2 floats
    uint64_t rope_cs;                 // max_batch * head_dim floats (cos, sin pairs)
    uint64_t x, xn, xq, x_scale;      // residual, normalized / projected, int8 input, per-token factor
    uint64_t q, attn_out, hidden, gate;
    uint64_t scores;                  // n_heads * context_len floats
    uint64_t logits;                  // vocab floats
    uint64_t sample_scratch;          // vocab (prob, id) pairs
    uint64_t total;
};

bitlm_status plan_arena(const bitlm_config &config, const bitlm_open_options *options, ArenaPlan *plan);

}  // namespace bitlm

struct bitlm_model {
    bitlm::ArtifactInfo artifact;
    bitlm_config config;  // copy of artifact.config
    const bitlm_kernels *kernels;
    bitlm_parallel_for_fn parallel_for;
    void *runner;
    uint32_t context_len, max_batch, position;
    uint32_t q_dim, kv_dim, wide_dim;  // n_heads*head_dim, n_kv_heads*head_dim, widest linear input
    bool has_logits;

    bitlm::WeightView embedding, head;  // head.rows == 0 when tied to the embedding
    const float *final_norm;
    bitlm::LayerWeights *layers;

    float *key_cache, *value_cache, *k_new, *rope_freq, *rope_cs;
    float *x, *xn, *x_scale, *q, *attn_out, *hidden, *gate, *scores, *logits;
    int8_t *xq;
    void *sample_scratch;
};

namespace bitlm {
// Run the transformer over n (<= max_batch) validated tokens at positions position..position+n-1.
// Logits: for every position if each_logits is set, else only for the last.
void forward_batch(bitlm_model *m, const int32_t *tokens, uint32_t n, bitlm_logits_fn each_logits, void *user,
                   uint32_t index_base);
}  // namespace bitlm
