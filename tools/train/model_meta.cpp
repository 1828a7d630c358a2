// model_meta.cpp — TrainModelSpec <-> checkpoint meta lines, and parameter names (model_meta.h).
#include "train/model_meta.h"
#include <stdio.h>
#include <string.h>
#include "common/args.h"
#include "train/checkpoint.h"

namespace bitlm {
namespace tools {
namespace {

// Every field as (key, pointer to a uint32) so writing, reading and comparing share one list.
struct U32Field {
    const char *key;
    uint32_t *value;
};

std::vector<U32Field> u32_fields(TrainModelSpec &s, uint32_t *linear, uint32_t *scale, uint32_t *emb, uint32_t *head,
                                 uint32_t *fp32) {
    bitlm_config &c = s.config;
    return {{"model.vocab_size", &c.vocab_size},   {"model.dim", &c.dim},
            {"model.n_layers", &c.n_layers},       {"model.n_heads", &c.n_heads},
            {"model.n_kv_heads", &c.n_kv_heads},   {"model.head_dim", &c.head_dim},
            {"model.ffn_dim", &c.ffn_dim},         {"model.max_seq_len", &c.max_seq_len},
            {"model.ffn_kind", &c.ffn_kind},       {"model.norm_kind", &c.norm_kind},
            {"model.norm_placement", &c.norm_placement}, {"model.attn_kind", &c.attn_kind},
            {"model.pos_kind", &c.pos_kind},       {"model.act_kind", &c.act_kind},
            {"model.head_kind", &c.head_kind},     {"storage.linear_dtype", linear},
            {"storage.linear_scale", scale},       {"storage.group_size", &s.storage.group_size},
            {"storage.embedding_dtype", emb},      {"storage.head_dtype", head},
            {"model.fp32", fp32}};
}

// Enums stored as their numbers; the float fields by their exact bit patterns' decimal value.
struct Flat {
    TrainModelSpec spec;
    uint32_t linear, scale, emb, head, fp32;
    explicit Flat(const TrainModelSpec &s)
        : spec(s), linear((uint32_t)s.storage.linear_dtype), scale((uint32_t)s.storage.linear_scale),
          emb((uint32_t)s.storage.embedding_dtype), head((uint32_t)s.storage.head_dtype), fp32(s.fp32) {}
    std::vector<U32Field> fields() { return u32_fields(spec, &linear, &scale, &emb, &head, &fp32); }
    TrainModelSpec unflatten() const {
        TrainModelSpec s = spec;
        s.storage.linear_dtype = (DType)linear;
        s.storage.linear_scale = (ScaleKind)scale;
        s.storage.embedding_dtype = (DType)emb;
        s.storage.head_dtype = (DType)head;
        s.fp32 = fp32 != 0;
        return s;
    }
};

std::string float_text(float v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", (double)v);
    return buf;
}

}  // namespace

void spec_to_meta(const TrainModelSpec &spec, MetaLines *out) {
    Flat f(spec);
    for (const U32Field &field : f.fields()) out->push_back({field.key, std::to_string(*field.value)});
    out->push_back({"model.rope_theta", float_text(spec.config.rope_theta)});
    out->push_back({"model.norm_eps", float_text(spec.config.norm_eps)});
}

std::string spec_from_meta(const Checkpoint &ckpt, TrainModelSpec *out) {
    Flat f(TrainModelSpec{});
    for (const U32Field &field : f.fields()) {
        const std::string *v = ckpt.find_meta(field.key);
        uint64_t x = 0;
        if (!v) return std::string("the checkpoint has no ") + field.key;
        if (!parse_u64(*v, &x) || x > UINT32_MAX) return std::string("the checkpoint's ") + field.key + " is not a number";
        *field.value = (uint32_t)x;
    }
    for (const char *key : {"model.rope_theta", "model.norm_eps"}) {
        const std::string *v = ckpt.find_meta(key);
        double x = 0;
        if (!v || !parse_f64(*v, &x)) return std::string("the checkpoint has no valid ") + key;
        (strcmp(key, "model.rope_theta") == 0 ? f.spec.config.rope_theta : f.spec.config.norm_eps) = (float)x;
    }
    *out = f.unflatten();
    return "";
}

std::string spec_difference(const TrainModelSpec &a, const TrainModelSpec &b) {
    Flat fa(a), fb(b);
    const std::vector<U32Field> x = fa.fields(), y = fb.fields();
    for (size_t i = 0; i < x.size(); i++)
        if (*x[i].value != *y[i].value)
            return std::string(x[i].key) + " " + std::to_string(*x[i].value) + " vs " + std::to_string(*y[i].value);
    if (float_text(a.config.rope_theta) != float_text(b.config.rope_theta)) return "model.rope_theta";
    if (float_text(a.config.norm_eps) != float_text(b.config.norm_eps)) return "model.norm_eps";
    return "";
}

std::string param_name(const ParamInfo &info) {
    const char *role = tensor_role_name(info.role);
    if (!tensor_role_is_per_layer(info.role)) return role;
    return "layers." + std::to_string(info.layer) + "." + role;
}

ModelSource params_source(const TrainModelSpec &spec, unsigned threads,
                          const std::function<const float *(uint32_t index)> &weights) {
    ModelSource source;
    source.config = spec.config;
    source.storage = spec.storage;
    source.threads = threads;
    source.weights = [spec, weights](const TensorSize &t, std::vector<float> *out) -> std::string {
        for (uint32_t i = 0; i < train_param_count(spec); i++) {
            const ParamInfo info = train_param_info(spec, i);
            if (info.role != t.role || info.layer != t.layer) continue;
            const float *w = weights(i);
            out->assign(w, w + (uint64_t)info.rows * info.cols);
            return "";
        }
        return std::string("the model has no parameter for ") + tensor_role_name(t.role);
    };
    return source;
}

}  // namespace tools
}  // namespace bitlm
