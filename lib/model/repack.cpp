// repack.cpp — bitlm_repack: a faster in-RAM copy of an open model's ternary weights, for kernel
// tables that read the 2-bit layout faster than base 3 (bitlm_kernels.prefers_ternary2; today AVX2).
// The artifact stays the one at-rest format; the copy lives in a buffer the caller gives and keeps.
#include "model/model_state.h"
#include "tensor/ternary2_pack.h"

namespace bitlm {
namespace {

constexpr uint64_t kRepackAlign = 64;

// The linear weights of every layer a repack may touch (w_gate has no rows without SwiGLU). The views
// live in the arena behind m->layers, so a const model still names them mutably.
template <class Fn>
void each_linear(const bitlm_model *m, Fn fn) {
    for (uint32_t l = 0; l < m->config.n_layers; l++) {
        LayerWeights &L = m->layers[l];
        WeightView *all[] = {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down};
        for (WeightView *w : all) fn(*w);
    }
}

bool repackable(const WeightView &w) {
    return w.rows > 0 && w.dtype == DType::Ternary && (w.scale_kind == ScaleKind::Tensor || w.scale_kind == ScaleKind::Row);
}

uint64_t copy_bytes(const WeightView &w) {
    return ((uint64_t)w.rows * ternary2_row_bytes(w.cols) + kRepackAlign - 1) / kRepackAlign * kRepackAlign;
}

}  // namespace
}  // namespace bitlm

using namespace bitlm;

extern "C" size_t bitlm_repack_bytes(const bitlm_model *m) {
    if (!m || !m->kernels->prefers_ternary2) return 0;
    uint64_t total = 0;
    each_linear(m, [&](WeightView &w) {
        if (repackable(w)) total += copy_bytes(w);
    });
    return (size_t)total;
}

extern "C" bitlm_status bitlm_repack(bitlm_model *m, void *buffer, size_t buffer_bytes) {
    if (!m) return BITLM_ERR_NULL_ARGUMENT;
    const size_t need = bitlm_repack_bytes(m);
    if (need == 0) return BITLM_OK;  // nothing the kernels would read faster (or already repacked)
    if (!buffer) return BITLM_ERR_NULL_ARGUMENT;
    if ((uintptr_t)buffer % kRepackAlign != 0) return BITLM_ERR_BAD_ALIGNMENT;
    if (buffer_bytes < need) return BITLM_ERR_BUFFER_TOO_SMALL;
    uint8_t *out = (uint8_t *)buffer;
    each_linear(m, [&](WeightView &w) {
        if (!repackable(w)) return;
        const uint64_t row_bytes = ternary2_row_bytes(w.cols);
        for (uint32_t r = 0; r < w.rows; r++) ternary2_repack_row(w, r, out + (uint64_t)r * row_bytes);
        w.dtype = DType::Ternary2;
        w.row_bytes = (uint32_t)row_bytes;
        w.data = out;
        out += copy_bytes(w);
    });
    return BITLM_OK;
}
