// forward.cpp — the transformer forward pass, top to bottom: embedding, blocks (RMSNorm, BitLinear
// q/k/v, RoPE, grouped-query causal softmax attention with the KV cache, SubLN, output projection,
// ReLU^2 or SwiGLU FFN), final norm and head. The heavy math goes through the kernel table; the small
// float parts are here, in one fixed order, with the library's own exp/rsqrt (bit-exact everywhere).
#include "core/detmath.h"
#include "core/fp16.h"
#include "core/lane_sum.h"
#include "model/model_state.h"

namespace bitlm {
namespace {

// ---- parallel helpers -------------------------------------------------------------------------
constexpr uint32_t kRowsPerTask = 64;

void run_tasks(bitlm_model *m, bitlm_task_fn fn, void *arg, uint32_t n_tasks) {
    if (m->parallel_for && n_tasks > 1) {
        m->parallel_for(m->runner, fn, arg, n_tasks);
    } else {
        for (uint32_t i = 0; i < n_tasks; i++) fn(arg, i);
    }
}

// What a projection task does with its rows once they are computed (attention's q/k/v): in the task,
// so on both threads, not serially on the caller's between jobs — the key-cache stores alone (a row of
// a key tile apart, to lines last touched a token ago) were ~2% of a decode step there.
enum class After : uint8_t {
    Nothing,
    RopeQuery,   // rotate the query rows in place
    KeyToCache,  // rotate the key rows, then store them in the key cache
    ValueToCache,
};

// One matrix of a projection job: y[t*y_stride + r] = row r of w . input of token t.
struct Projection {
    const WeightView *w;
    float *y;
    uint32_t y_stride;
    After after;
};

// Up to three matrices of the same input in one fork-join (q/k/v, up/gate): every job costs a
// hand-off and a wait for the slowest thread, ~1-2 us each at decode, where a matrix takes ~20-60.
constexpr uint32_t kMaxFused = 3;

// The activations are the model's: m->xq / m->x_scale (q8 weights), xf (F16 weights).
struct MatmulJob {
    bitlm_model *m;
    float *keys, *values;  // this layer's cache (After::KeyToCache, ValueToCache)
    uint32_t rows_per_task;
    const Projection *part;
    uint32_t first_task[kMaxFused + 1];  // part i has tasks [first_task[i], first_task[i+1])
    const float *xf;
    uint32_t n_tok;
};

void finish_rows(const MatmulJob &j, const Projection &p, uint32_t r0, uint32_t r1);

void matmul_task(void *arg, uint32_t task) {
    const MatmulJob &j = *(const MatmulJob *)arg;
    uint32_t i = 0;
    while (task >= j.first_task[i + 1]) i++;
    const Projection &p = j.part[i];
    const uint32_t r0 = (task - j.first_task[i]) * j.rows_per_task;
    const uint32_t r1 = p.w->rows - r0 > j.rows_per_task ? r0 + j.rows_per_task : p.w->rows;
    if (p.w->dtype == DType::F16) {
        j.m->kernels->matmul_f16(p.w, j.xf, j.n_tok, r0, r1, p.y, p.y_stride);
    } else {
        j.m->kernels->matmul_q8(p.w, j.m->xq, j.m->x_scale, j.n_tok, r0, r1, p.y, p.y_stride);
    }
    if (p.after != After::Nothing) finish_rows(j, p, r0, r1);
}

// ---- float parts ------------------------------------------------------------------------------
// out = (x * r) * gain with r = 1/sqrt(ss/n + eps), ss the sum of the squares of x (lane_sum).
void rmsnorm(const float *x, const float *gain, uint32_t n, float eps, float *out) {
    const float r = det_rsqrtf(lane_sum<float, true>(x, n) / (float)n + eps);
    for (uint32_t i = 0; i < n; i++) out[i] = (x[i] * r) * gain[i];
}

void rmsnorm_tokens(const bitlm_model *m, const float *x, const float *gain, uint32_t n, uint32_t n_tok, float *out) {
    for (uint32_t t = 0; t < n_tok; t++) rmsnorm(x + t * n, gain, n, m->config.norm_eps, out + t * n);
}

// Rotate the pairs (r, r+1) of rows [r0, r1) of heads of head_dim rows (r0, r1 even: a pair never
// straddles a task) by the angles of the token's position: pair i of a head uses cs[2i], cs[2i+1].
void rope_rows(const float *cs, float *v, uint32_t r0, uint32_t r1, uint32_t head_dim) {
    for (uint32_t r = r0; r < r1;) {
        const uint32_t head_end = (r / head_dim + 1) * head_dim, end = head_end < r1 ? head_end : r1;
        for (uint32_t i = r % head_dim; r < end; r += 2, i += 2) {  // i: 2 * the pair's index in its head
            const float c = cs[i], s = cs[i + 1];
            const float a = v[r], b = v[r + 1];
            v[r] = a * c - b * s;
            v[r + 1] = a * s + b * c;
        }
    }
}

void add_into(float *x, const float *y, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) x[i] = x[i] + y[i];
}

// ---- linear layers ----------------------------------------------------------------------------
// Quantize n_tok rows of `width` floats into m->xq / m->x_scale (int8 per-token absmax).
void quantize_input(bitlm_model *m, const float *in, uint32_t n_tok, uint32_t width) {
    for (uint32_t t = 0; t < n_tok; t++) m->x_scale[t] = m->kernels->quantize_act_int8(in + t * width, width, m->xq + t * width);
}

// The projections `parts` of one input: q8 weights read m->xq, F16 weights read `in`. Without a thread
// pool each matrix is one kernel call (kernels prepare activations once per call).
// n_parts <= kMaxFused; `parts` must outlive the call (the tasks read it).
void project_all(bitlm_model *m, const Projection *parts, uint32_t n_parts, const float *in, uint32_t n_tok,
                 float *keys = nullptr, float *values = nullptr) {
    MatmulJob job;
    job.m = m;
    job.keys = keys;
    job.values = values;
    // Several tokens: twice the rows a task, so the per-call work of the GEMM kernels (every token's
    // activation sums, the tile set-up) is spread over twice the rows (prefill 1,301 -> 1,322 tok/s at
    // 2 threads, medians of 10 alternating runs, higher in 9 of 10). One token: 64 (128 measured no
    // better: the decode kernels' per-call work is small and the ends of jobs balance worse).
    job.rows_per_task = n_tok > 1 ? 2 * kRowsPerTask : kRowsPerTask;
    job.part = parts;
    job.xf = in;
    job.n_tok = n_tok;
    job.first_task[0] = 0;
    for (uint32_t i = 0; i < n_parts; i++)
        if (!m->parallel_for) job.rows_per_task = parts[i].w->rows > job.rows_per_task ? parts[i].w->rows : job.rows_per_task;
    for (uint32_t i = 0; i < n_parts; i++)
        job.first_task[i + 1] = job.first_task[i] + (parts[i].w->rows + job.rows_per_task - 1) / job.rows_per_task;
    run_tasks(m, matmul_task, &job, job.first_task[n_parts]);
}

void project(bitlm_model *m, const WeightView &w, const float *in, uint32_t n_tok, float *y, uint32_t y_stride) {
    const Projection p = {&w, y, y_stride, After::Nothing};
    project_all(m, &p, 1, in, n_tok);
}

// ---- attention --------------------------------------------------------------------------------
// Cache layouts, per layer: values [kv_head][position][d], so a head's values are one contiguous run
// (position-major rows kv_dim apart put every row of a head 4 KB apart at bench-180m: the same L1 set
// for all of them, and the value loop missed L1 on every row); keys transposed, so the scores of many
// positions build up together over d in contiguous memory (vectorizable lanes) while each score is
// still the sum q[0]k[0] + q[1]k[1] + ... in d order: the same bits as a per-position dot product.
// The transposed keys of a head are tiles of kKeyTile positions, each [d][position] (key_offset):
// one [d][position] matrix per head put the hd rows a score block reads context_len floats apart —
// 2 KB at bench-180m, so all 64 rows fell into two L1 sets and every load missed (half a decode step
// at a few hundred tokens of context) — where a tile's rows are one contiguous 16 KB run. 64 wide:
// the SIMD weighted_rows kernels keep 64 outputs in flight (four AVX-512 add chains). The last
// tile is narrower when context_len is not a multiple of kKeyTile: no padding, the arena is unchanged.
constexpr uint32_t kKeyTile = 64;

// Positions in the key tile that starts at position tile0 (a multiple of kKeyTile): its row stride.
inline uint32_t key_tile_width(uint32_t context_len, uint32_t tile0) {
    return context_len - tile0 < kKeyTile ? context_len - tile0 : kKeyTile;
}

// Offset of key (d = 0, position p) within its head's hd * context_len floats; key d of that position
// is d * key_tile_width(its tile) further on.
inline uint64_t key_offset(uint32_t hd, uint32_t p) {
    const uint32_t tile0 = p / kKeyTile * kKeyTile;
    return (uint64_t)tile0 * hd + (p - tile0);
}

void finish_rows(const MatmulJob &j, const Projection &p, uint32_t r0, uint32_t r1) {
    const bitlm_model *m = j.m;
    const uint32_t hd = m->config.head_dim;
    for (uint32_t t = 0; t < j.n_tok; t++) {
        float *y = p.y + (uint64_t)t * p.y_stride;
        const uint32_t pos = m->position + t;
        if (p.after == After::RopeQuery || p.after == After::KeyToCache) rope_rows(m->rope_cs + t * hd, y, r0, r1, hd);
        if (p.after == After::RopeQuery) continue;
        for (uint32_t r = r0; r < r1;) {  // row r is element d of kv head h
            const uint32_t h = r / hd, head_end = (h + 1) * hd, end = head_end < r1 ? head_end : r1;
            if (p.after == After::KeyToCache) {
                const uint32_t stride = key_tile_width(m->context_len, pos / kKeyTile * kKeyTile);
                float *dst = j.keys + (uint64_t)h * hd * m->context_len + key_offset(hd, pos);
                for (uint32_t d = r - h * hd; r < end; r++, d++) dst[(uint64_t)d * stride] = y[r];
            } else {
                float *dst = j.values + ((uint64_t)h * m->context_len + pos) * hd;
                for (uint32_t d = r - h * hd; r < end; r++, d++) dst[d] = y[r];
            }
        }
    }
}

struct AttentionJob {
    bitlm_model *m;
    const float *keys, *values;  // this layer's cache
    uint32_t n_tok;
};

// out[off + i] = a[0] r_0[off + i] + a[1] r_1[off + i] + ... (n rows r_j, `stride` floats apart), added
// in j order from 0.0f, for i < B. The B sums stay in registers across all rows — one load per
// multiply-add instead of loading, adding and storing every partial sum again — and each lane adds in
// the same order as a loop over j per output: the same bits. Attention uses it twice: scores (a = q,
// rows = the head's transposed keys, outputs = positions) and values (a = probabilities, rows = the
// head's values, outputs = columns).
template <uint32_t B>
inline void weighted_rows_block(const float *a, const float *rows, uint64_t stride, uint32_t n, uint32_t off,
                                float *out) {
    float acc[B];
    for (uint32_t i = 0; i < B; i++) acc[i] = 0.0f;
    for (uint32_t j = 0; j < n; j++) {
        const float aj = a[j];
        const float *__restrict r = rows + j * stride + off;
#pragma GCC unroll 32
        for (uint32_t i = 0; i < B; i++) acc[i] += aj * r[i];
    }
    for (uint32_t i = 0; i < B; i++) out[off + i] = acc[i];
}

// The weighted sum of n rows for outputs [0, width): blocks of 32 (eight 4-lane SSE/NEON
// accumulators: what GCC keeps in registers), then 8, then one.
void weighted_rows(const float *a, const float *rows, uint64_t stride, uint32_t n, uint32_t width, float *out) {
    uint32_t i = 0;
    for (; i + 32 <= width; i += 32) weighted_rows_block<32>(a, rows, stride, n, i, out);
    for (; i + 8 <= width; i += 8) weighted_rows_block<8>(a, rows, stride, n, i, out);
    for (; i < width; i++) weighted_rows_block<1>(a, rows, stride, n, i, out);
}

// The kernel table's optional float kernels (kernels.h) where it has them, else the portable ones:
// the same bits either way. Branches, not function pointers to the portable ones: the MCU builds'
// static stack bound counts every address-taken function as a possible target of every indirect call.
inline void table_weighted_rows(const bitlm_kernels *k, const float *a, const float *rows, uint64_t stride, uint32_t n,
                                uint32_t width, float *out) {
    if (k->weighted_rows) {
        k->weighted_rows(a, rows, stride, n, width, out);
    } else {
        weighted_rows(a, rows, stride, n, width, out);
    }
}
inline void table_expf_shifted(const bitlm_kernels *k, float *x, uint32_t n, float shift) {
    if (k->expf_shifted) {
        k->expf_shifted(x, n, shift);
    } else {
        det_expf_shifted(x, n, shift);
    }
}
inline void table_silu_mul(const bitlm_kernels *k, const float *gate, float *x, uint32_t n) {
    if (k->silu_mul) {
        k->silu_mul(gate, x, n);
    } else {
        det_silu_mul(gate, x, n);
    }
}

// One head for every token of the batch: causal softmax over positions 0..pos.
void attention_task(void *arg, uint32_t h) {
    const AttentionJob &j = *(const AttentionJob *)arg;
    bitlm_model *m = j.m;
    const uint32_t hd = m->config.head_dim, kv_head = h / (m->config.n_heads / m->config.n_kv_heads);
    const float scale = det_rsqrtf((float)hd);
    float *scores = m->scores + h * m->context_len;
    for (uint32_t t = 0; t < j.n_tok; t++) {
        const uint32_t pos = m->position + t;
        const float *q = m->q + t * m->q_dim + h * hd;
        const float *head_keys = j.keys + (uint64_t)kv_head * hd * m->context_len;
        for (uint32_t p0 = 0; p0 <= pos; p0 += kKeyTile) {  // one key tile at a time (see key_offset)
            const uint32_t width = key_tile_width(m->context_len, p0);
            const uint32_t n_pos = pos + 1 - p0 < width ? pos + 1 - p0 : width;
            table_weighted_rows(m->kernels, q, head_keys + (uint64_t)p0 * hd, width, hd, n_pos, scores + p0);
        }
        float max = -3.4028235e38f;
        for (uint32_t s = 0; s <= pos; s++) {
            scores[s] = scores[s] * scale;
            if (scores[s] > max) max = scores[s];
        }
        table_expf_shifted(m->kernels, scores, pos + 1, max);  // det_expf(score - max)
        const float sum = lane_sum<float, false>(scores, pos + 1);
        for (uint32_t s = 0; s <= pos; s++) scores[s] = scores[s] / sum;
        table_weighted_rows(m->kernels, scores, j.values + (uint64_t)kv_head * m->context_len * hd, hd, pos + 1, hd,
                            m->attn_out + t * m->q_dim + h * hd);
    }
}

// ---- blocks -----------------------------------------------------------------------------------
void attention_block(bitlm_model *m, const LayerWeights &L, uint32_t layer, uint32_t n) {
    const bitlm_config &c = m->config;
    const uint64_t layer_offset = (uint64_t)layer * m->context_len * m->kv_dim;
    float *keys = m->key_cache + layer_offset, *values = m->value_cache + layer_offset;

    rmsnorm_tokens(m, m->x, L.attn_norm, c.dim, n, m->xn);
    quantize_input(m, m->xn, n, c.dim);
    // Values pass through attn_out on their way to the cache (attention writes attn_out only after that).
    const Projection qkv[3] = {{&L.wq, m->q, m->q_dim, After::RopeQuery},
                               {&L.wk, m->k_new, m->kv_dim, After::KeyToCache},
                               {&L.wv, m->attn_out, m->kv_dim, After::ValueToCache}};
    project_all(m, qkv, 3, m->xn, n, keys, values);
    AttentionJob job = {m, keys, values, n};
    run_tasks(m, attention_task, &job, c.n_heads);

    const float *o_in = m->attn_out;
    if (L.attn_subnorm) {
        rmsnorm_tokens(m, m->attn_out, L.attn_subnorm, m->q_dim, n, m->xn);
        o_in = m->xn;
    }
    quantize_input(m, o_in, n, m->q_dim);
    project(m, L.wo, o_in, n, m->xn, c.dim);  // xn is free once its contents are quantized
    for (uint32_t t = 0; t < n; t++) add_into(m->x + t * c.dim, m->xn + t * c.dim, c.dim);
}

void ffn_block(bitlm_model *m, const LayerWeights &L, uint32_t n) {
    const bitlm_config &c = m->config;
    const uint32_t f = c.ffn_dim;
    rmsnorm_tokens(m, m->x, L.ffn_norm, c.dim, n, m->xn);
    quantize_input(m, m->xn, n, c.dim);
    const Projection up_gate[2] = {{&L.w_up, m->hidden, f, After::Nothing}, {&L.w_gate, m->gate, f, After::Nothing}};
    project_all(m, up_gate, c.ffn_kind == BITLM_FFN_SWIGLU ? 2 : 1, m->xn, n);
    if (c.ffn_kind == BITLM_FFN_SWIGLU) {
        table_silu_mul(m->kernels, m->gate, m->hidden, n * f);  // silu(gate) * up
    } else {  // ReLU^2
        for (uint32_t i = 0; i < n * f; i++) {
            const float u = m->hidden[i] > 0.0f ? m->hidden[i] : 0.0f;
            m->hidden[i] = u * u;
        }
    }
    const float *down_in = m->hidden;
    if (L.ffn_subnorm) {
        rmsnorm_tokens(m, m->hidden, L.ffn_subnorm, f, n, m->xn);
        down_in = m->xn;
    }
    quantize_input(m, down_in, n, f);
    project(m, L.w_down, down_in, n, m->xn, c.dim);
    for (uint32_t t = 0; t < n; t++) add_into(m->x + t * c.dim, m->xn + t * c.dim, c.dim);
}

void embed(bitlm_model *m, const int32_t *tokens, uint32_t n) {
    const WeightView &e = m->embedding;
    for (uint32_t t = 0; t < n; t++) {
        const uint8_t *row = e.data + (uint64_t)tokens[t] * e.row_bytes;
        float *x = m->x + t * m->config.dim;
        if (e.dtype == DType::Int8) {
            const float s = f16_to_f32(e.scales[tokens[t]]);
            for (uint32_t i = 0; i < e.cols; i++) x[i] = (float)((const int8_t *)row)[i] * s;
        } else {
            for (uint32_t i = 0; i < e.cols; i++) x[i] = f16_to_f32(((const uint16_t *)row)[i]);
        }
    }
}

void logits_for(bitlm_model *m, uint32_t t) {
    const bitlm_config &c = m->config;
    const WeightView &w = m->head.rows ? m->head : m->embedding;
    rmsnorm(m->x + t * c.dim, m->final_norm, c.dim, c.norm_eps, m->xn);
    if (w.dtype != DType::F16) quantize_input(m, m->xn, 1, c.dim);
    project(m, w, m->xn, 1, m->logits, c.vocab_size);
}

}  // namespace

void forward_batch(bitlm_model *m, const int32_t *tokens, uint32_t n, bitlm_logits_fn each_logits, void *user,
                   uint32_t index_base) {
    const bitlm_config &c = m->config;
    for (uint32_t t = 0; t < n; t++) {  // RoPE angles of this batch's positions, shared by all layers
        const float pos = (float)(m->position + t);
        for (uint32_t i = 0; i < c.head_dim / 2; i++)
            det_sincosf(pos * m->rope_freq[i], &m->rope_cs[t * c.head_dim + 2 * i + 1],
                        &m->rope_cs[t * c.head_dim + 2 * i]);
    }
    embed(m, tokens, n);
    for (uint32_t l = 0; l < c.n_layers; l++) {
        attention_block(m, m->layers[l], l, n);
        ffn_block(m, m->layers[l], n);
    }
    m->position += n;
    for (uint32_t t = each_logits ? 0 : n - 1; t < n; t++) {
        logits_for(m, t);
        if (each_logits) each_logits(user, index_base + t, m->logits);
    }
    m->has_logits = true;
}

}  // namespace bitlm
