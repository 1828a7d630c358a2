// format.cpp — names and classes of the tensor roles of a .blm artifact (layout in format.h).
#include "artifact/format.h"

namespace bitlm {

const char *tensor_role_name(TensorRole role) {
    switch (role) {
        case TensorRole::TokEmbedding: return "tok_embedding";
        case TensorRole::FinalNorm: return "final_norm";
        case TensorRole::Head: return "head";
        case TensorRole::AttnNorm: return "attn_norm";
        case TensorRole::Wq: return "wq";
        case TensorRole::Wk: return "wk";
        case TensorRole::Wv: return "wv";
        case TensorRole::AttnSubNorm: return "attn_subnorm";
        case TensorRole::Wo: return "wo";
        case TensorRole::FfnNorm: return "ffn_norm";
        case TensorRole::WGate: return "w_gate";
        case TensorRole::WUp: return "w_up";
        case TensorRole::FfnSubNorm: return "ffn_subnorm";
        case TensorRole::WDown: return "w_down";
    }
    return "?";
}

// Per-layer roles are the contiguous range AttnNorm..WDown (16..26); whole-model roles are 0..2.
bool tensor_role_is_per_layer(TensorRole role) {
    const uint16_t r = (uint16_t)role;
    return r >= (uint16_t)TensorRole::AttnNorm && r <= (uint16_t)TensorRole::WDown;
}

}  // namespace bitlm
