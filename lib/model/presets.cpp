// presets.cpp — the preset table (shapes of BENCHMARKS.md and the tool presets).
#include "model/presets.h"

namespace bitlm {

namespace {

constexpr bitlm_config make_config(uint32_t vocab, uint32_t dim, uint32_t layers, uint32_t heads, uint32_t kv,
                                   uint32_t ffn, uint32_t ctx, uint32_t ffn_kind) {
    return bitlm_config{vocab,
                        dim,
                        layers,
                        heads,
                        kv,
                        dim / heads,
                        ffn,
                        ctx,
                        ffn_kind,
                        BITLM_NORM_RMSNORM,
                        BITLM_NORM_PLACE_SUBLN,
                        BITLM_ATTN_SOFTMAX,
                        BITLM_POS_ROPE,
                        BITLM_ACT_INT8,
                        BITLM_HEAD_TIED,
                        10000.0f,
                        1e-5f};
}

constexpr StorageRecipe kTernaryRows = {DType::Ternary, ScaleKind::Row, 0, DType::Int8, DType::Int8};

const Preset kPresets[] = {
    {"tiny", "CI-sized: 2 layers, d=64, SwiGLU", make_config(256, 64, 2, 4, 2, 160, 128, BITLM_FFN_SWIGLU),
     kTernaryRows},
    // Context 128: on tinyshakespeare a 5-minute CPU run learns more per second from short windows
    // (measured: the same validation bpb in a third of the time of context 256).
    {"demo", "README demo on 2 CPU cores: 4 layers, d=192, ReLU^2, context 128",
     make_config(256, 192, 4, 6, 3, 512, 128, BITLM_FFN_RELU2), kTernaryRows},
    {"golf-16mb", "16 MB class: 12 layers, d=768, 12/6 heads, ReLU^2, vocab 1024",
     make_config(1024, 768, 12, 12, 6, 2304, 2048, BITLM_FFN_RELU2), kTernaryRows},
    {"bench-180m", "host inference benchmark: 16 layers, d=1024, SwiGLU 2304",
     make_config(256, 1024, 16, 16, 16, 2304, 512, BITLM_FFN_SWIGLU), kTernaryRows},
    {"mcu-260k", "MCU cost benchmark: 5 layers, d=64, 8/4 heads, SwiGLU 172",
     make_config(256, 64, 5, 8, 4, 172, 512, BITLM_FFN_SWIGLU), kTernaryRows},
    {"s1", "CPU training benchmark S1: 4 layers, d=256", make_config(256, 256, 4, 4, 4, 1024, 256, BITLM_FFN_RELU2),
     kTernaryRows},
    {"s2", "CPU training benchmark S2: 6 layers, d=384", make_config(256, 384, 6, 6, 6, 1536, 256, BITLM_FFN_RELU2),
     kTernaryRows},
};

bool same_name(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

}  // namespace

const Preset *find_preset(const char *name) {
    if (!name) return nullptr;
    for (const Preset &p : kPresets)
        if (same_name(p.name, name)) return &p;
    return nullptr;
}

uint32_t preset_count() { return sizeof(kPresets) / sizeof(kPresets[0]); }
const Preset *preset_at(uint32_t i) { return i < preset_count() ? &kPresets[i] : nullptr; }

uint64_t linear_param_count(const bitlm_config &c) {
    const uint64_t q = (uint64_t)c.n_heads * c.head_dim, kv = (uint64_t)c.n_kv_heads * c.head_dim;
    const uint64_t attn = (q + 2 * kv) * c.dim + c.dim * q;
    const uint64_t ffn = (uint64_t)c.ffn_dim * c.dim * (c.ffn_kind == BITLM_FFN_SWIGLU ? 3 : 2);
    return (attn + ffn) * c.n_layers;
}

uint64_t embedding_param_count(const bitlm_config &c) {
    return (uint64_t)c.vocab_size * c.dim * (c.head_kind == BITLM_HEAD_SEPARATE ? 2 : 1);
}

}  // namespace bitlm
