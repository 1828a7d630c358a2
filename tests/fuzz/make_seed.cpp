// make_seed.cpp — writes small valid .blm artifacts into a directory, as the fuzzer's seed corpus.
// Self-contained (only the library's writer): usage `make_seed DIR`.
#include <cstdio>
#include <string>
#include <vector>

#include "artifact/reader.h"
#include "artifact/writer.h"

using namespace bitlm;

namespace {

struct Seed {
    bitlm_config cfg{};
    std::vector<TensorSpec> specs;
    std::vector<std::vector<uint8_t>> data;
    std::vector<std::vector<uint16_t>> scales;

    void add(TensorRole role, uint16_t layer, DType dt, ScaleKind sk, uint32_t gs = 0) {
        uint32_t rows = 0, cols = 0;
        expected_shape(cfg, role, &rows, &cols);
        specs.push_back(TensorSpec{role, layer, dt, sk, rows, cols, gs, nullptr, nullptr});
        std::vector<uint8_t> d(rows * dtype_row_bytes(dt, cols));
        for (size_t i = 0; i < d.size(); i++) d[i] = (uint8_t)(i * 37 + specs.size());
        data.push_back(d);
        scales.push_back(std::vector<uint16_t>(scale_count_for(sk, rows, cols, gs), 0x3c00));
    }
};

bitlm_config tiny_config(uint32_t ffn_kind, uint32_t placement, uint32_t head_kind) {
    bitlm_config c{};
    c.vocab_size = 256;
    c.dim = 16;
    c.n_layers = 2;
    c.n_heads = 2;
    c.n_kv_heads = 1;
    c.head_dim = 8;
    c.ffn_dim = 40;
    c.max_seq_len = 32;
    c.ffn_kind = ffn_kind;
    c.norm_kind = BITLM_NORM_RMSNORM;
    c.norm_placement = placement;
    c.attn_kind = BITLM_ATTN_SOFTMAX;
    c.pos_kind = BITLM_POS_ROPE;
    c.act_kind = BITLM_ACT_INT8;
    c.head_kind = head_kind;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    return c;
}

bool emit(Seed &s, const std::string &path) {
    for (size_t i = 0; i < s.specs.size(); i++) {
        s.specs[i].data = s.data[i].data();
        s.specs[i].scales = s.scales[i].empty() ? nullptr : s.scales[i].data();
    }
    const TokenizerSpec tok{BITLM_TOKENIZER_BYTES, kNoToken, kNoToken, nullptr, 0};
    uint64_t need = 0;
    if (artifact_size(s.cfg, tok, s.specs.data(), (uint32_t)s.specs.size(), &need) != BITLM_OK) return false;
    std::vector<uint64_t> store(need / 8 + 1);  // 8-aligned for the reader check
    uint8_t *buf = reinterpret_cast<uint8_t *>(store.data());
    size_t n = 0;
    if (write_artifact_to_buffer(s.cfg, tok, s.specs.data(), (uint32_t)s.specs.size(), buf, need, &n) != BITLM_OK)
        return false;
    ArtifactInfo info;
    if (read_artifact(buf, n, false, &info) != BITLM_OK) return false;
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) return false;
    const bool ok = std::fwrite(buf, 1, n, f) == n;
    return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seed DIR\n");
        return 2;
    }
    const std::string dir = argv[1];

    Seed a;  // SwiGLU, SubLN, tied head, int8 embedding, every linear layout
    a.cfg = tiny_config(BITLM_FFN_SWIGLU, BITLM_NORM_PLACE_SUBLN, BITLM_HEAD_TIED);
    a.add(TensorRole::TokEmbedding, 0, DType::Int8, ScaleKind::Row);
    a.add(TensorRole::FinalNorm, 0, DType::F32, ScaleKind::None);
    for (uint16_t l = 0; l < 2; l++) {
        a.add(TensorRole::AttnNorm, l, DType::F32, ScaleKind::None);
        a.add(TensorRole::Wq, l, DType::Ternary, ScaleKind::Row);
        a.add(TensorRole::Wk, l, DType::Ternary, ScaleKind::Tensor);
        a.add(TensorRole::Wv, l, DType::Binary, ScaleKind::Row);
        a.add(TensorRole::AttnSubNorm, l, DType::F32, ScaleKind::None);
        a.add(TensorRole::Wo, l, DType::Int8, ScaleKind::Row);
        a.add(TensorRole::FfnNorm, l, DType::F32, ScaleKind::None);
        a.add(TensorRole::WGate, l, DType::Binary, ScaleKind::Tensor);
        a.add(TensorRole::WUp, l, DType::Ternary, ScaleKind::Row);
        a.add(TensorRole::FfnSubNorm, l, DType::F32, ScaleKind::None);
        a.add(TensorRole::WDown, l, DType::Ternary, ScaleKind::Group, 32);
    }

    Seed b;  // ReLU², PRE norms, separate head, f16 embedding
    b.cfg = tiny_config(BITLM_FFN_RELU2, BITLM_NORM_PLACE_PRE, BITLM_HEAD_SEPARATE);
    b.add(TensorRole::TokEmbedding, 0, DType::F16, ScaleKind::None);
    b.add(TensorRole::FinalNorm, 0, DType::F32, ScaleKind::None);
    b.add(TensorRole::Head, 0, DType::Ternary, ScaleKind::Group, 32);
    for (uint16_t l = 0; l < 2; l++) {
        b.add(TensorRole::AttnNorm, l, DType::F32, ScaleKind::None);
        b.add(TensorRole::Wq, l, DType::Ternary, ScaleKind::Row);
        b.add(TensorRole::Wk, l, DType::Ternary, ScaleKind::Row);
        b.add(TensorRole::Wv, l, DType::Ternary, ScaleKind::Row);
        b.add(TensorRole::Wo, l, DType::Ternary, ScaleKind::Row);
        b.add(TensorRole::FfnNorm, l, DType::F32, ScaleKind::None);
        b.add(TensorRole::WUp, l, DType::Binary, ScaleKind::Row);
        b.add(TensorRole::WDown, l, DType::Ternary, ScaleKind::Row);
    }

    if (!emit(a, dir + "/seed-swiglu-subln.blm") || !emit(b, dir + "/seed-relu2-head.blm")) {
        std::fprintf(stderr, "make_seed: could not write a valid seed into %s\n", dir.c_str());
        return 1;
    }
    return 0;
}
