// tape.h — the autograd tape: tensors with gradients and op records bump-allocated from one caller
// arena, backward run over the records in reverse order. No heap: the caller sizes the arena by a
// measuring pass: a Tape built with measure = true gets real memory only for its small bookkeeping
// (Tensor structs, op records) and counts the float buffers without allocating them, and its ops skip
// all arithmetic; used_bytes() is then what a computing tape needs for the same calls.
//
//   Tape t(arena, bytes, backend);        // or Tape m(small, small_bytes, backend, true) to measure
//   Tensor *loss = model_loss(t, ...);     // ops record themselves while grad is enabled
//   t.backward(loss);                      // d loss / d every input, accumulated into Param::g
//   t.reset();                             // forget every tensor and record (params keep their grads)
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "bitlm.h"
#include "train/backend.h"

namespace bitlm {

// A 2-D fp32 tensor (row-major, rows x cols). grad is null when nothing needs its gradient.
struct Tensor {
    float *data;
    float *grad;
    uint32_t rows, cols;
    uint64_t count() const { return (uint64_t)rows * cols; }
};

struct Tape;
struct OpRecord;
typedef void (*BackwardFn)(Tape &tape, const OpRecord &op);

// What an op keeps for its backward: inputs, output, saved buffers and small parameters.
struct OpRecord {
    BackwardFn backward;
    OpRecord *prev;
    Tensor *in[3];
    Tensor *out;
    float *saved[4];
    uint32_t u[6];
    float f[2];
    const void *ptr;  // op-specific constant data (e.g. token ids)
};

struct Tape {
    Tape(void *arena, uint64_t arena_bytes, const TrainBackend *backend, bool measure = false);

    const TrainBackend *backend;
    bool grad_enabled = true;  // false: ops compute forward only and record nothing (evaluation)

    // True while buffers are real; false in a measuring pass (ops then skip all arithmetic).
    bool computing() const { return !measure_; }
    // First failure (ARENA_TOO_SMALL, or an error an op reports), sticky until reset().
    bitlm_status status() const { return status_; }
    void fail(bitlm_status s) {
        if (status_ == BITLM_OK) status_ = s;
    }
    uint64_t used_bytes() const { return used_; }
    uint64_t peak_bytes() const { return peak_; }

    // 64-byte aligned data buffers; nullptr (and status ARENA_TOO_SMALL) when the arena is full. In a
    // measuring pass they return a non-null dummy pointer that must never be dereferenced.
    float *alloc_floats(uint64_t n);
    // Bookkeeping memory (always real).
    void *alloc_meta(uint64_t bytes);
    // A new tensor; its grad buffer exists (zeroed) iff want_grad and grad is enabled.
    Tensor *tensor(uint32_t rows, uint32_t cols, bool want_grad);
    // A tensor over caller memory (parameters, inputs): grad may be null.
    Tensor *wrap(float *data, float *grad, uint32_t rows, uint32_t cols);
    // A new record, linked as the latest; nullptr when out of memory or grad is disabled.
    OpRecord *record(BackwardFn fn);

    // Seeds d loss = 1 for a 1x1 loss tensor and runs every record backward, newest first.
    bitlm_status backward(Tensor *loss);
    // Frees every tensor and record (and clears the status); peak_bytes() is kept.
    void reset();

private:
    void *take(uint64_t bytes);  // the bump allocator behind both

    uint8_t *base_;
    uint64_t capacity_;
    bool measure_;
    uint64_t used_ = 0, peak_ = 0;      // counted bytes (measuring: bookkeeping + virtual data)
    uint64_t real_used_ = 0;            // bytes actually taken from the arena
    OpRecord *last_ = nullptr;
    bitlm_status status_ = BITLM_OK;
};

}  // namespace bitlm
