// generate.cpp — the generation loop (prompt, then sample/feed) and the logits checksum that lets
// every target prove it computed the same numbers.
#include "core/fp16.h"
#include "model/model_state.h"

extern "C" uint64_t bitlm_checksum_floats(uint64_t hash, const float *values, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t bits = bitlm::float_bits(values[i]);
        for (uint32_t b = 0; b < 4; b++) {
            hash ^= (bits >> (8 * b)) & 0xffu;
            hash *= 0x100000001b3ull;  // FNV-1a 64 prime
        }
    }
    return hash;
}

extern "C" bitlm_status bitlm_generate(bitlm_model *m, const int32_t *prompt, uint32_t n_prompt, uint32_t n_new,
                                      const bitlm_sampling *sampling, bitlm_token_fn on_token, void *user,
                                      uint64_t *logits_checksum) {
    if (!m || !sampling || (!prompt && n_prompt)) return BITLM_ERR_NULL_ARGUMENT;
    bitlm_status s = bitlm_feed(m, prompt, n_prompt, nullptr, nullptr);
    if (s != BITLM_OK) return s;
    if (!m->has_logits) return n_new ? BITLM_ERR_BAD_ARGUMENT : BITLM_OK;  // nothing to continue from
    bitlm_rng rng;
    bitlm_rng_seed(&rng, sampling->seed);
    for (uint32_t i = 0; i < n_new; i++) {
        if (logits_checksum) *logits_checksum = bitlm_checksum_floats(*logits_checksum, m->logits, m->config.vocab_size);
        int32_t token;
        if ((s = bitlm_sample(m, sampling, &rng, &token)) != BITLM_OK) return s;
        if (on_token && on_token(user, token)) return BITLM_OK;
        // The last token is not fed (no one would read its logits); stop when the context is full.
        if (i + 1 == n_new || m->position == m->context_len) break;
        if ((s = bitlm_feed(m, &token, 1, nullptr, nullptr)) != BITLM_OK) return s;
    }
    return BITLM_OK;
}
