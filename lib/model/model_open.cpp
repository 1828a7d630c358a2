// model_open.cpp — arena sizing, opening a model in the caller's arena, and feeding tokens.
#include "core/bytes.h"
#include "core/detmath.h"
#include "model/model_state.h"

namespace bitlm {
namespace {

constexpr uint64_t kAlign = 64;

// Appends `count` elements of `elem` bytes to the plan; false on overflow.
bool reserve(uint64_t *cursor, uint64_t count, uint64_t elem, uint64_t *offset) {
    uint64_t bytes, end;
    if (mul_overflows(count, elem, &bytes)) return false;
    *offset = align_up(*cursor, kAlign);
    if (add_overflows(*offset, bytes, &end)) return false;
    *cursor = end;
    return true;
}

// The model struct and the per-layer views are reserved at these fixed sizes (those of a 64-bit
// build, rounded up) so that the arena figure is the same on every target: a host tool can size a
// firmware's static arena.
constexpr uint64_t kModelReserve = 512, kLayerReserve = 320;
static_assert(sizeof(bitlm_model) <= kModelReserve, "grow kModelReserve");
static_assert(sizeof(LayerWeights) <= kLayerReserve, "grow kLayerReserve");

uint32_t max3(uint32_t a, uint32_t b, uint32_t c) {
    const uint32_t ab = a > b ? a : b;
    return ab > c ? ab : c;
}

}  // namespace

bitlm_status plan_arena(const bitlm_config &c, const bitlm_open_options *options, ArenaPlan *p) {
    const bitlm_status s = validate_config(c);
    if (s != BITLM_OK) return s;
    p->context_len = options && options->context_len ? options->context_len : c.max_seq_len;
    p->max_batch = options && options->max_batch ? options->max_batch : 1;
    if (p->context_len > c.max_seq_len || p->max_batch > p->context_len) return BITLM_ERR_BAD_ARGUMENT;

    const uint64_t B = p->max_batch, L = p->context_len;
    const uint64_t q_dim = (uint64_t)c.n_heads * c.head_dim, kv_dim = (uint64_t)c.n_kv_heads * c.head_dim;
    const uint64_t wide = max3(c.dim, (uint32_t)q_dim, c.ffn_dim);
    uint64_t cache_elems;
    if (mul_overflows((uint64_t)c.n_layers * L, kv_dim, &cache_elems)) return BITLM_ERR_SIZE_OVERFLOW;

    uint64_t cur = 0;
    const bool greedy_only = options && (options->flags & BITLM_OPEN_GREEDY_ONLY);
    const bool ok = reserve(&cur, 1, kModelReserve, &p->model) &&
                    reserve(&cur, c.n_layers, kLayerReserve, &p->layers) &&
                    reserve(&cur, cache_elems, 4, &p->key_cache) && reserve(&cur, cache_elems, 4, &p->value_cache) &&
                    reserve(&cur, B * kv_dim, 4, &p->k_new) &&
                    reserve(&cur, c.head_dim / 2, 4, &p->rope_freq) &&
                    reserve(&cur, B * c.head_dim, 4, &p->rope_cs) && reserve(&cur, B * c.dim, 4, &p->x) &&
                    reserve(&cur, B * wide, 4, &p->xn) && reserve(&cur, B * wide, 1, &p->xq) &&
                    reserve(&cur, B, 4, &p->x_scale) && reserve(&cur, B * q_dim, 4, &p->q) &&
                    reserve(&cur, B * q_dim, 4, &p->attn_out) && reserve(&cur, B * c.ffn_dim, 4, &p->hidden) &&
                    reserve(&cur, B * c.ffn_dim, 4, &p->gate) &&
                    reserve(&cur, (uint64_t)c.n_heads * L, 4, &p->scores) &&
                    reserve(&cur, c.vocab_size, 4, &p->logits) &&
                    reserve(&cur, greedy_only ? 0 : c.vocab_size, 8, &p->sample_scratch);
    if (!ok || add_overflows(cur, kAlign, &p->total)) return BITLM_ERR_SIZE_OVERFLOW;  // + slack to align the base
    if ((size_t)p->total != p->total) return BITLM_ERR_SIZE_OVERFLOW;
    return BITLM_OK;
}

}  // namespace bitlm

using namespace bitlm;

extern "C" bitlm_status bitlm_arena_bytes_for_config(const bitlm_config *config, const bitlm_open_options *options,
                                                     size_t *out_bytes) {
    if (!config || !out_bytes) return BITLM_ERR_NULL_ARGUMENT;
    ArenaPlan plan;
    const bitlm_status s = plan_arena(*config, options, &plan);
    if (s == BITLM_OK) *out_bytes = (size_t)plan.total;
    return s;
}

extern "C" bitlm_status bitlm_arena_bytes(const void *artifact, size_t artifact_bytes, const bitlm_open_options *options,
                                         size_t *out_bytes) {
    if (!artifact || !out_bytes) return BITLM_ERR_NULL_ARGUMENT;
    ArtifactInfo info;
    const bool skip = options && (options->flags & BITLM_OPEN_SKIP_CHECKSUM);
    const bitlm_status s = read_artifact(artifact, artifact_bytes, skip, &info);
    if (s != BITLM_OK) return s;
    return bitlm_arena_bytes_for_config(&info.config, options, out_bytes);
}

extern "C" bitlm_status bitlm_open(const void *artifact, size_t artifact_bytes, void *arena, size_t arena_bytes,
                                  const bitlm_open_options *options, bitlm_model **out_model) {
    if (!artifact || !arena || !out_model) return BITLM_ERR_NULL_ARGUMENT;
    *out_model = nullptr;
    ArtifactInfo info;
    const bool skip = options && (options->flags & BITLM_OPEN_SKIP_CHECKSUM);
    bitlm_status s = read_artifact(artifact, artifact_bytes, skip, &info);
    if (s != BITLM_OK) return s;
    ArenaPlan plan;
    if ((s = plan_arena(info.config, options, &plan)) != BITLM_OK) return s;
    if (arena_bytes < plan.total) return BITLM_ERR_ARENA_TOO_SMALL;

    uint8_t *base = (uint8_t *)(((uintptr_t)arena + 63) & ~(uintptr_t)63);
    bitlm_model *m = (bitlm_model *)(base + plan.model);
    zero_bytes(m, sizeof(*m));
    m->artifact = info;
    m->config = info.config;
    const bitlm_config &c = m->config;
    m->kernels = options && options->kernels ? options->kernels : bitlm_default_kernels();
    m->parallel_for = options ? options->parallel_for : nullptr;
    m->runner = options ? options->runner : nullptr;
    m->context_len = plan.context_len;
    m->max_batch = plan.max_batch;
    m->q_dim = c.n_heads * c.head_dim;
    m->kv_dim = c.n_kv_heads * c.head_dim;
    m->wide_dim = c.dim > m->q_dim ? c.dim : m->q_dim;
    if (c.ffn_dim > m->wide_dim) m->wide_dim = c.ffn_dim;

    m->layers = (LayerWeights *)(base + plan.layers);
    for (uint32_t l = 0; l < c.n_layers; l++)
        if ((s = bind_layer(info, l, &m->layers[l])) != BITLM_OK) return s;
    if ((s = bind_globals(info, &m->embedding, &m->final_norm, &m->head)) != BITLM_OK) return s;

    m->key_cache = (float *)(base + plan.key_cache);
    m->value_cache = (float *)(base + plan.value_cache);
    m->k_new = (float *)(base + plan.k_new);
    m->rope_freq = (float *)(base + plan.rope_freq);
    m->rope_cs = (float *)(base + plan.rope_cs);
    m->x = (float *)(base + plan.x);
    m->xn = (float *)(base + plan.xn);
    m->xq = (int8_t *)(base + plan.xq);
    m->x_scale = (float *)(base + plan.x_scale);
    m->q = (float *)(base + plan.q);
    m->attn_out = (float *)(base + plan.attn_out);
    m->hidden = (float *)(base + plan.hidden);
    m->gate = (float *)(base + plan.gate);
    m->scores = (float *)(base + plan.scores);
    m->logits = (float *)(base + plan.logits);
    m->sample_scratch = options && (options->flags & BITLM_OPEN_GREEDY_ONLY) ? nullptr : base + plan.sample_scratch;

    // RoPE frequencies theta^(-2i/head_dim), computed once with the library's own exp/log.
    const float log_theta = det_logf(c.rope_theta);
    for (uint32_t i = 0; i < c.head_dim / 2; i++)
        m->rope_freq[i] = det_expf(-((float)(2 * i) / (float)c.head_dim) * log_theta);

    bitlm_reset(m);
    *out_model = m;
    return BITLM_OK;
}

extern "C" const bitlm_config *bitlm_model_config(const bitlm_model *m) { return m ? &m->config : nullptr; }
extern "C" uint32_t bitlm_context_len(const bitlm_model *m) { return m ? m->context_len : 0; }
extern "C" uint32_t bitlm_position(const bitlm_model *m) { return m ? m->position : 0; }

extern "C" void bitlm_reset(bitlm_model *m) {
    if (!m) return;
    m->position = 0;
    m->has_logits = false;
}

extern "C" const float *bitlm_logits(const bitlm_model *m) { return m && m->has_logits ? m->logits : nullptr; }

extern "C" bitlm_status bitlm_feed(bitlm_model *m, const int32_t *tokens, uint32_t n, bitlm_logits_fn each_logits,
                                  void *user) {
    if (!m || (!tokens && n)) return BITLM_ERR_NULL_ARGUMENT;
    // Validate everything first so an error leaves the cache untouched.
    for (uint32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= m->config.vocab_size) return BITLM_ERR_TOKEN_OUT_OF_RANGE;
    if (n > m->context_len - m->position) return BITLM_ERR_CONTEXT_FULL;
    for (uint32_t done = 0; done < n;) {
        const uint32_t chunk = n - done < m->max_batch ? n - done : m->max_batch;
        forward_batch(m, tokens + done, chunk, each_logits, user, done);
        done += chunk;
    }
    return BITLM_OK;
}
