// sampler.cpp — choosing the next token from logits: greedy, temperature, top-k, top-p, with a
// seeded PRNG. Fixed candidate order (probability descending, id ascending) keeps it identical on
// every target.
#include "core/detmath.h"
#include "model/model_state.h"

namespace bitlm {
namespace {

struct Candidate {
    float p;
    int32_t id;
};

// Total order: higher probability first, lower id first among equals.
bool before(const Candidate &a, const Candidate &b) { return a.p > b.p || (a.p == b.p && a.id < b.id); }

// Heap sort (no recursion, no heap memory): the first `n` candidates end up in `before` order.
// The heap keeps the candidate that comes last in order at the root, so each pop fills the tail.
void sift_down(Candidate *c, uint32_t root, uint32_t n) {
    for (;;) {
        uint32_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && before(c[child], c[child + 1])) child++;  // the later of the two children
        if (!before(c[root], c[child])) return;
        const Candidate tmp = c[root];
        c[root] = c[child];
        c[child] = tmp;
        root = child;
    }
}

void sort_candidates(Candidate *c, uint32_t n) {
    if (n < 2) return;
    for (uint32_t i = n / 2; i-- > 0;) sift_down(c, i, n);
    for (uint32_t end = n - 1; end > 0; end--) {
        const Candidate tmp = c[0];
        c[0] = c[end];
        c[end] = tmp;
        sift_down(c, 0, end);
    }
}

int32_t argmax(const float *logits, uint32_t n) {
    int32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = (int32_t)i;
    return best;
}

}  // namespace
}  // namespace bitlm

using namespace bitlm;

extern "C" void bitlm_rng_seed(bitlm_rng *rng, uint64_t seed) {
    if (rng) rng->state = seed;
}

// splitmix64: a full-period 64-bit generator; the top 32 bits of each output.
extern "C" uint32_t bitlm_rng_next_u32(bitlm_rng *rng) {
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

extern "C" bitlm_status bitlm_sample(bitlm_model *m, const bitlm_sampling *s, bitlm_rng *rng, int32_t *out_token) {
    if (!m || !s || !rng || !out_token) return BITLM_ERR_NULL_ARGUMENT;
    if (!m->has_logits) return BITLM_ERR_BAD_ARGUMENT;
    if (!(s->temperature >= 0.0f) || !det_isfinite(s->temperature) || !(s->top_p >= 0.0f && s->top_p <= 1.0f))
        return BITLM_ERR_BAD_ARGUMENT;
    const uint32_t V = m->config.vocab_size;
    const float *logits = m->logits;
    if (s->temperature == 0.0f) {
        *out_token = argmax(logits, V);
        return BITLM_OK;
    }
    if (!m->sample_scratch) return BITLM_ERR_BAD_ARGUMENT;  // opened with BITLM_OPEN_GREEDY_ONLY
    // Unnormalized probabilities exp((l - max) / T); the largest is exactly 1.
    const float max = logits[argmax(logits, V)];
    Candidate *c = (Candidate *)m->sample_scratch;
    for (uint32_t i = 0; i < V; i++) c[i] = {det_expf((logits[i] - max) / s->temperature), (int32_t)i};
    uint32_t n = V;
    const bool nucleus = s->top_p > 0.0f && s->top_p < 1.0f;
    if (s->top_k > 0 || nucleus) {
        sort_candidates(c, V);
        if (s->top_k > 0 && s->top_k < n) n = s->top_k;
        if (nucleus) {
            float total = 0.0f;
            for (uint32_t i = 0; i < n; i++) total += c[i].p;
            float mass = 0.0f;
            for (uint32_t i = 0; i < n; i++) {
                mass += c[i].p;
                if (mass >= s->top_p * total) {
                    n = i + 1;
                    break;
                }
            }
        }
    }
    float total = 0.0f;
    for (uint32_t i = 0; i < n; i++) total += c[i].p;
    const float r = (float)(bitlm_rng_next_u32(rng) >> 8) * (1.0f / 16777216.0f) * total;
    float mass = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        mass += c[i].p;
        if (r < mass) {
            *out_token = c[i].id;
            return BITLM_OK;
        }
    }
    *out_token = c[n - 1].id;  // r rounded up to the total: the last candidate
    return BITLM_OK;
}
