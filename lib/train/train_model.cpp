// train_model.cpp — parameters, initialization and forward graph of the model family (train_model.h).
#include "train/train_model.h"
#include "core/detmath.h"

namespace bitlm {
namespace {

bool subln(const bitlm_config &c) { return c.norm_placement == BITLM_NORM_PLACE_SUBLN; }
bool swiglu(const bitlm_config &c) { return c.ffn_kind == BITLM_FFN_SWIGLU; }
bool separate_head(const bitlm_config &c) { return c.head_kind == BITLM_HEAD_SEPARATE; }

// The per-layer roles present for this configuration, in parameter order.
uint32_t layer_roles(const bitlm_config &c, TensorRole *out) {
    uint32_t n = 0;
    out[n++] = TensorRole::AttnNorm;
    out[n++] = TensorRole::Wq;
    out[n++] = TensorRole::Wk;
    out[n++] = TensorRole::Wv;
    if (subln(c)) out[n++] = TensorRole::AttnSubNorm;
    out[n++] = TensorRole::Wo;
    out[n++] = TensorRole::FfnNorm;
    if (swiglu(c)) out[n++] = TensorRole::WGate;
    out[n++] = TensorRole::WUp;
    if (subln(c)) out[n++] = TensorRole::FfnSubNorm;
    out[n++] = TensorRole::WDown;
    return n;
}

ParamInfo info_for(const bitlm_config &c, TensorRole role, uint16_t layer) {
    const uint32_t q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
    ParamInfo p = {role, layer, ParamKind::Matrix, 1, 0};
    switch (role) {
        case TensorRole::TokEmbedding:
        case TensorRole::Head: p.kind = ParamKind::Embedding, p.rows = c.vocab_size, p.cols = c.dim; break;
        case TensorRole::FinalNorm:
        case TensorRole::AttnNorm:
        case TensorRole::FfnNorm: p.kind = ParamKind::Vector, p.cols = c.dim; break;
        case TensorRole::AttnSubNorm: p.kind = ParamKind::Vector, p.cols = q; break;
        case TensorRole::FfnSubNorm: p.kind = ParamKind::Vector, p.cols = c.ffn_dim; break;
        case TensorRole::Wq: p.rows = q, p.cols = c.dim; break;
        case TensorRole::Wk:
        case TensorRole::Wv: p.rows = kv, p.cols = c.dim; break;
        case TensorRole::Wo: p.rows = c.dim, p.cols = q; break;
        case TensorRole::WGate:
        case TensorRole::WUp: p.rows = c.ffn_dim, p.cols = c.dim; break;
        case TensorRole::WDown: p.rows = c.dim, p.cols = c.ffn_dim; break;
    }
    return p;
}

// splitmix64 stream -> standard normals (Box-Muller with the library's own math: same on every host).
struct NormalStream {
    uint64_t state;
    uint64_t next_u64() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    float uniform_open() { return ((float)(next_u64() >> 40) + 0.5f) * (1.0f / 16777216.0f); }  // (0, 1)
    bool has_spare = false;
    float spare = 0.0f;
    float next() {
        if (has_spare) {
            has_spare = false;
            return spare;
        }
        const float r = det_sqrtf(-2.0f * det_logf(uniform_open()));
        float s, c;
        det_sincosf(6.2831853f * uniform_open(), &s, &c);
        spare = r * s;
        has_spare = true;
        return r * c;
    }
};

}  // namespace

bitlm_status check_train_spec(const TrainModelSpec &s) {
    const bitlm_config &c = s.config;
    if (c.vocab_size == 0 || c.dim == 0 || c.n_layers == 0 || c.n_heads == 0 || c.n_kv_heads == 0 ||
        c.n_heads % c.n_kv_heads || c.head_dim == 0 || c.head_dim % 2 || c.ffn_dim == 0 || c.max_seq_len == 0)
        return BITLM_ERR_BAD_CONFIG;
    if (c.ffn_kind > BITLM_FFN_SWIGLU || c.norm_placement > BITLM_NORM_PLACE_SUBLN || c.head_kind > BITLM_HEAD_SEPARATE)
        return BITLM_ERR_BAD_CONFIG;
    if (c.norm_kind != BITLM_NORM_RMSNORM || c.attn_kind != BITLM_ATTN_SOFTMAX || c.pos_kind != BITLM_POS_ROPE ||
        c.act_kind != BITLM_ACT_INT8)
        return BITLM_ERR_UNSUPPORTED_MODE;
    const StorageRecipe &r = s.storage;
    if (r.linear_dtype != DType::Ternary && r.linear_dtype != DType::Binary) return BITLM_ERR_UNSUPPORTED_MODE;
    if (r.embedding_dtype != DType::Int8 && r.embedding_dtype != DType::F16) return BITLM_ERR_UNSUPPORTED_MODE;
    return BITLM_OK;
}

uint32_t train_param_count(const TrainModelSpec &s) {
    TensorRole roles[16];
    return 2 + layer_roles(s.config, roles) * s.config.n_layers + (separate_head(s.config) ? 1 : 0);
}

ParamInfo train_param_info(const TrainModelSpec &s, uint32_t i) {
    const bitlm_config &c = s.config;
    TensorRole roles[16];
    const uint32_t per_layer = layer_roles(c, roles);
    if (i == 0) return info_for(c, TensorRole::TokEmbedding, 0);
    i -= 1;
    if (i < per_layer * c.n_layers) return info_for(c, roles[i % per_layer], (uint16_t)(i / per_layer));
    i -= per_layer * c.n_layers;
    return info_for(c, i == 0 ? TensorRole::FinalNorm : TensorRole::Head, 0);
}

LinearQuant train_linear_quant(const TrainModelSpec &s, TensorRole role) {
    const StorageRecipe &r = s.storage;
    if (s.fp32) return LinearQuant{DType::F32, ScaleKind::None, 0, false};
    if (role == TensorRole::TokEmbedding || (role == TensorRole::Head && !separate_head(s.config))) {
        // The tied head reads the embedding as stored: int8 rows (int8 input) or fp16 (float input).
        return r.embedding_dtype == DType::Int8 ? LinearQuant{DType::Int8, ScaleKind::Row, 0, true}
                                                : LinearQuant{DType::F16, ScaleKind::None, 0, false};
    }
    const DType d = role == TensorRole::Head ? r.head_dtype : r.linear_dtype;
    switch (d) {
        case DType::Int8: return LinearQuant{DType::Int8, ScaleKind::Row, 0, true};
        case DType::F16: return LinearQuant{DType::F16, ScaleKind::None, 0, false};
        case DType::Binary:
            return LinearQuant{DType::Binary, r.linear_scale == ScaleKind::Tensor ? ScaleKind::Tensor : ScaleKind::Row,
                               0, true};
        default: return LinearQuant{DType::Ternary, r.linear_scale, r.group_size, true};
    }
}

void init_params(const TrainModelSpec &s, Param *params, uint64_t seed, float init_std) {
    const uint32_t n = train_param_count(s);
    const float out_scale = det_rsqrtf(2.0f * (float)s.config.n_layers);
    for (uint32_t i = 0; i < n; i++) {
        const ParamInfo info = train_param_info(s, i);
        Param &p = params[i];
        if (info.kind == ParamKind::Vector) {
            for (uint64_t j = 0; j < p.count(); j++) p.w[j] = 1.0f;
            continue;
        }
        NormalStream rng = {seed * 0x100000001b3ull + (uint64_t)info.role * 977 + info.layer * 65537ull + 1};
        float std = init_std;
        if (info.role == TensorRole::Wo || info.role == TensorRole::WDown) std = std * out_scale;
        for (uint64_t j = 0; j < p.count(); j++) p.w[j] = rng.next() * std;
    }
}

Tensor *model_logits(Tape &t, const TrainModel &m, const int32_t *tokens, uint32_t n_seq) {
    const bitlm_config &c = m.spec.config;
    const uint32_t n = n_seq * m.seq_len, per_layer = (train_param_count(m.spec) - 2 - separate_head(c)) / c.n_layers;
    const float eps = c.norm_eps;
    auto param = [&](uint32_t i) { return t.wrap(m.params[i].w, m.params[i].g, m.params[i].rows, m.params[i].cols); };
    auto linear = [&](Tensor *x, uint32_t i, TensorRole role) {
        return op_linear(t, x, param(i), train_linear_quant(m.spec, role));
    };

    Tensor *table = param(0);
    const DType emb = m.spec.fp32 ? DType::F32 : m.spec.storage.embedding_dtype;
    Tensor *x = op_embedding(t, table, tokens, n, emb);
    for (uint32_t l = 0; l < c.n_layers; l++) {
        uint32_t i = 1 + l * per_layer;
        Tensor *h = op_rmsnorm(t, x, param(i++), eps);
        Tensor *q = linear(h, i++, TensorRole::Wq);
        Tensor *k = linear(h, i++, TensorRole::Wk);
        Tensor *v = linear(h, i++, TensorRole::Wv);
        q = op_rope(t, q, m.rope_cs, c.head_dim, m.seq_len);
        k = op_rope(t, k, m.rope_cs, c.head_dim, m.seq_len);
        Tensor *a = op_attention(t, q, k, v, c.n_heads, c.n_kv_heads, c.head_dim, m.seq_len);
        if (subln(c)) a = op_rmsnorm(t, a, param(i++), eps);
        x = op_add(t, x, linear(a, i++, TensorRole::Wo));

        h = op_rmsnorm(t, x, param(i++), eps);
        Tensor *f;
        if (swiglu(c)) {
            Tensor *g = linear(h, i++, TensorRole::WGate);
            f = op_swiglu(t, g, linear(h, i++, TensorRole::WUp));
        } else {
            f = op_relu2(t, linear(h, i++, TensorRole::WUp));
        }
        if (subln(c)) f = op_rmsnorm(t, f, param(i++), eps);
        x = op_add(t, x, linear(f, i++, TensorRole::WDown));
    }
    const uint32_t final_norm = 1 + c.n_layers * per_layer;
    Tensor *h = op_rmsnorm(t, x, param(final_norm), eps);
    Tensor *head = separate_head(c) ? param(final_norm + 1) : table;
    return op_linear(t, h, head, train_linear_quant(m.spec, TensorRole::Head));
}

Tensor *model_loss(Tape &t, const TrainModel &m, const int32_t *tokens, const int32_t *targets, uint32_t n_seq,
                   float *row_loss) {
    return op_cross_entropy(t, model_logits(t, m, tokens, n_seq), targets, row_loss);
}

}  // namespace bitlm
