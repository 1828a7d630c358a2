// model.h — the model family's training graph on the GPU (model.cu): device buffers laid out once,
// weights quantized once per step, the forward pass to logits and loss, and the backward pass into
// the parameter gradients. The graph is lib/train/train_model.cpp's, op for op.
#pragma once
#include <vector>
#include "ops.h"
#include "train/param.h"
#include "train/train_model.h"

namespace bitlm {
namespace cuda {

// A bump allocator over one device block; with base == nullptr it only counts (the sizing pass), so
// one layout function both sizes and places every buffer.
struct DeviceArena {
    uint8_t *base = nullptr;
    uint64_t capacity = 0, used = 0;
    bool ok = true;  // false once a placement did not fit
    template <class T>
    T *take(uint64_t count) {
        const uint64_t at = (used + 255) & ~(uint64_t)255;
        used = at + count * sizeof(T);
        if (base == nullptr) return reinterpret_cast<T *>(uintptr_t(256));  // never dereferenced
        if (used > capacity) {
            ok = false;
            return nullptr;
        }
        return reinterpret_cast<T *>(base + at);
    }
    float *floats(uint64_t count) { return take<float>(count); }
};

// One linear weight (or the embedding table) as this step's forward and backward use it.
struct QuantWeight {
    LinearQuant q;
    uint32_t param;    // index into Model::params
    float *values;     // forward operand: integer codes, dequantized or fp16-rounded values, or w itself
    float *deq;        // backward operand: codes * row scale on the integer path, else == values
    float *row_scale;  // integer path: the fp16 scale of each row
    bool integer;      // values are integer codes with per-row scales
};

// A linear layer's input as its GEMM saw it: int8 codes and per-row scales, or the floats (xs null).
struct LinearIn {
    float *x;
    float *xs;
    uint32_t cols;
};

// Parameter indices of one layer (-1: absent in this configuration).
struct LayerIndex {
    int attn_norm = -1, wq = -1, wk = -1, wv = -1, attn_sub = -1, wo = -1;
    int ffn_norm = -1, wgate = -1, wup = -1, ffn_sub = -1, wdown = -1;
};

// What one layer keeps from its forward for its backward.
struct LayerActs {
    float *x_in, *rinv1;       // residual stream in, attention norm
    LinearIn h1;               // q/k/v input (quantized once, used three times)
    float *q, *k, *v;          // after RoPE
    float *probs, *o;          // attention probabilities and output
    float *rinv_asub;          // SubLN after attention (null without)
    LinearIn a;                // wo input
    float *x_mid, *rinv2;      // residual stream after attention, FFN norm
    LinearIn h2;               // w_up / w_gate input
    float *gate, *up, *f;      // FFN pre-activations and activation output
    float *rinv_fsub;          // SubLN after the FFN (null without)
    LinearIn fin;              // w_down input
};

struct Model {
    TrainModelSpec spec;
    uint32_t seq_len = 0;     // tokens per training sequence (buffers hold micro * seq_len rows)
    uint32_t micro = 0;       // sequences per device pass
    Precision precision = Precision::Bf16;
    cudaStream_t stream = nullptr;
    Blas *blas = nullptr;

    std::vector<Param> params;       // device pointers, train_param_info order
    std::vector<QuantWeight> quant;  // per param (unused entries for norm gains)
    float *rope_cs = nullptr;        // seq_len x head_dim
    int32_t *tokens = nullptr, *targets = nullptr;  // micro * seq_len
    uint32_t *error_flag = nullptr;  // quantizer refused a weight / a target out of range

    std::vector<LayerIndex> index;  // per layer, found once by layout_model
    int final_norm = -1, head = -1;  // head: -1 when tied to the embedding
    std::vector<LayerActs> layers;
    float *x_out = nullptr, *rinv_f = nullptr;  // last residual stream, final norm
    LinearIn head_in{};
    float *logits = nullptr;  // micro * seq_len x vocab; holds dlogits after a training forward
    uint32_t trained_seqs = 0;  // sequences of the last training forward (what backward may run on)

    // backward scratch
    float *dx = nullptr, *dh = nullptr, *dq = nullptr, *dk = nullptr, *dv = nullptr, *dattn = nullptr;
    float *dsub = nullptr, *dup = nullptr, *dgate = nullptr, *dact = nullptr, *xhat = nullptr, *ds = nullptr;
    float *norm_partials = nullptr;
};

// Places every activation and scratch buffer for `micro` sequences of seq_len tokens (and the
// quantized weights); params must already point at device memory. Returns false if it did not fit.
bool layout_model(Model &m, DeviceArena &arena);

// Quantizes every weight for this step (once per optimizer step, shared by all micro-batches).
bool quantize_weights_for_step(Model &m);

// Forward for n_seq <= micro sequences of len <= seq_len tokens already in m.tokens. With
// dlogit_scale != 0 (training) m.targets are scored: row_loss[n_seq*len] gets each row's loss and
// m.logits becomes d loss / d logits (times dlogit_scale); otherwise m.logits holds the logits.
bool forward(Model &m, uint32_t n_seq, uint32_t len, float dlogit_scale, float *row_loss);

// Backward of the last training forward (which must have had n_seq full sequences; false otherwise):
// adds into every parameter gradient.
bool backward(Model &m, uint32_t n_seq);

}  // namespace cuda
}  // namespace bitlm
