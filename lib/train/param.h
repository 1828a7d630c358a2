// param.h — a trainable parameter: fp32 latent weights, their gradient, and optimizer state.
// Memory is owned by the caller (the trainer lays every parameter out in one block).
#pragma once
#include <stdint.h>

namespace bitlm {

enum class ParamKind : uint8_t {
    Matrix = 0,     // a 2-D BitLinear weight (Muon orthogonalizes these; weight decay applies)
    Embedding = 1,  // token embedding or separate head (Adam under Muon; weight decay applies)
    Vector = 2,     // norm gains and other 1-D scalars (Adam under Muon; no weight decay)
};

struct Param {
    const char *name;  // e.g. "layers.3.wq" (static storage, owned by whoever built the list)
    ParamKind kind;
    uint32_t rows, cols;  // Vector: rows = 1
    float *w;             // rows*cols latent weights
    float *g;             // rows*cols gradients (accumulated by backward; zeroed by the trainer)
    float *state;         // optimizer_state_floats(...) floats, zero-initialized before step 1
    uint64_t count() const { return (uint64_t)rows * cols; }
};

}  // namespace bitlm
