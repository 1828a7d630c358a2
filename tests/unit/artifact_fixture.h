// artifact_fixture.h — shared by the artifact unit test and the reader's fuzz seeds/target: a model's
// tensor set with recognizable payload bytes (valid shapes from the reader's expected_shape), a small
// base configuration, and helpers that read every byte a binding exposes (so ASan sees any bad view).
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "artifact/reader.h"
#include "artifact/writer.h"

namespace fixture {

using namespace bitlm;

struct Model {
    bitlm_config cfg{};
    TokenizerSpec tok{BITLM_TOKENIZER_BYTES, kNoToken, kNoToken, nullptr, 0};
    std::vector<TensorSpec> specs;
    std::vector<std::vector<uint8_t>> data;
    std::vector<std::vector<uint16_t>> scales;

    // A tensor of the shape the configuration expects for `role`, filled with a per-tensor pattern.
    void add(TensorRole role, uint16_t layer, DType dt, ScaleKind sk, uint32_t gs = 0) {
        uint32_t rows = 0, cols = 0;
        expected_shape(cfg, role, &rows, &cols);
        TensorSpec s{role, layer, dt, sk, rows, cols, gs, nullptr, nullptr};
        const size_t idx = specs.size();
        std::vector<uint8_t> d(rows * dtype_row_bytes(dt, cols));
        for (size_t i = 0; i < d.size(); i++) d[i] = (uint8_t)(i * 131 + idx * 17 + 7);
        std::vector<uint16_t> sc(scale_count_for(sk, rows, cols, gs));
        for (size_t i = 0; i < sc.size(); i++) sc[i] = (uint16_t)(0x3c00 + i + idx * 3);
        specs.push_back(s);
        data.push_back(d);
        scales.push_back(sc);
    }
    // Pointers into data/scales, refreshed after every add (vectors may move).
    std::vector<TensorSpec> list() const {
        std::vector<TensorSpec> out = specs;
        for (size_t i = 0; i < out.size(); i++) {
            out[i].data = data[i].data();
            out[i].scales = scales[i].empty() ? nullptr : scales[i].data();
        }
        return out;
    }
};

// vocab 256, d=32, 2 layers, 4/2 heads of 8, FFN 48, SwiGLU, SubLN, tied head.
inline bitlm_config base_config() {
    bitlm_config c{};
    c.vocab_size = 256;
    c.dim = 32;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 8;
    c.ffn_dim = 48;
    c.max_seq_len = 64;
    c.ffn_kind = BITLM_FFN_SWIGLU;
    c.norm_kind = BITLM_NORM_RMSNORM;
    c.norm_placement = BITLM_NORM_PLACE_SUBLN;
    c.attn_kind = BITLM_ATTN_SOFTMAX;
    c.pos_kind = BITLM_POS_ROPE;
    c.act_kind = BITLM_ACT_INT8;
    c.head_kind = BITLM_HEAD_TIED;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    return c;
}

// Read every byte of a view / float vector.
inline uint32_t touch(const WeightView &v) {
    uint32_t s = 0;
    if (!v.data) return s;
    for (uint64_t i = 0; i < (uint64_t)v.rows * v.row_bytes; i++) s += v.data[i];
    const uint64_t ns = scale_count_for(v.scale_kind, v.rows, v.cols, v.group_size);
    for (uint64_t i = 0; v.scales && i < ns; i++) s += v.scales[i];
    return s;
}
inline uint32_t touch_floats(const float *p, uint32_t n) {
    uint32_t s = 0;
    for (uint32_t i = 0; p && i < n; i++) {
        uint32_t u;
        std::memcpy(&u, &p[i], 4);
        s += u;
    }
    return s;
}

// Bind everything a runtime binds and read every byte of it; *all_bound says whether every bind
// call succeeded (it must, for an artifact read_artifact accepted).
inline uint32_t touch_all(const ArtifactInfo &info, bool *all_bound = nullptr) {
    const bitlm_config &c = info.config;
    uint32_t s = 0;
    bool bound = true;
    WeightView emb, head;
    const float *fn = nullptr;
    if (bind_globals(info, &emb, &fn, &head) == BITLM_OK) s += touch(emb) + touch(head) + touch_floats(fn, c.dim);
    else bound = false;
    for (uint32_t l = 0; l < c.n_layers; l++) {
        LayerWeights w;
        if (bind_layer(info, l, &w) != BITLM_OK) {
            bound = false;
            continue;
        }
        s += touch(w.wq) + touch(w.wk) + touch(w.wv) + touch(w.wo) + touch(w.w_gate) + touch(w.w_up) + touch(w.w_down);
        s += touch_floats(w.attn_norm, c.dim) + touch_floats(w.ffn_norm, c.dim);
        s += touch_floats(w.attn_subnorm, w.attn_subnorm ? c.n_heads * c.head_dim : 0);
        s += touch_floats(w.ffn_subnorm, w.ffn_subnorm ? c.ffn_dim : 0);
    }
    for (uint32_t i = 0; i < info.tensor_count; i++) s += touch(tensor_view(info, tensor_entry(info, i)));
    if (all_bound) *all_bound = bound;
    return s;
}

}  // namespace fixture
