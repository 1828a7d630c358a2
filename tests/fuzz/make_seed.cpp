// make_seed.cpp — writes small valid .blm artifacts into a directory, as the fuzzer's seed corpus.
// Uses only the library's writer and the shared test fixture: usage `make_seed DIR`.
#include <cstdio>
#include <string>
#include <vector>

#include "../unit/artifact_fixture.h"

using namespace bitlm;

namespace {

using fixture::Model;

bitlm_config tiny_config(uint32_t ffn_kind, uint32_t placement, uint32_t head_kind) {
    bitlm_config c = fixture::base_config();
    c.ffn_kind = ffn_kind;
    c.norm_placement = placement;
    c.head_kind = head_kind;
    return c;
}

bool emit(const Model &s, const std::string &path) {
    const std::vector<TensorSpec> specs = s.list();
    uint64_t need = 0;
    if (artifact_size(s.cfg, s.tok, specs.data(), (uint32_t)specs.size(), &need) != BITLM_OK) return false;
    std::vector<uint64_t> store(need / 8 + 1);  // 8-aligned for the reader check
    uint8_t *buf = reinterpret_cast<uint8_t *>(store.data());
    size_t n = 0;
    if (write_artifact_to_buffer(s.cfg, s.tok, specs.data(), (uint32_t)specs.size(), buf, need, &n) != BITLM_OK)
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

    Model a;  // SwiGLU, SubLN, tied head, int8 embedding, every linear layout
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

    Model b;  // ReLU², PRE norms, separate head, f16 embedding
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
