// tape.cpp — arena allocation and the reverse walk of the autograd tape (see tape.h).
#include "train/tape.h"
#include "core/bytes.h"

namespace bitlm {

namespace {
constexpr uint64_t kAlign = 64;
uint64_t round_up(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
// What data allocations return in a measuring pass: aligned, non-null, never read or written.
alignas(64) float g_measure_dummy[16];
}  // namespace

Tape::Tape(void *arena, uint64_t arena_bytes, const TrainBackend *b, bool measure) : backend(b), measure_(measure) {
    // Align the base; the slack counts against the capacity.
    const uint64_t addr = (uint64_t)(uintptr_t)arena;
    const uint64_t skip = arena ? (kAlign - addr % kAlign) % kAlign : 0;
    base_ = arena ? (uint8_t *)arena + skip : nullptr;
    capacity_ = arena && arena_bytes > skip ? arena_bytes - skip : 0;
}

void *Tape::take(uint64_t bytes) {
    const uint64_t size = round_up(bytes);
    if (size > capacity_ - real_used_) {
        fail(BITLM_ERR_ARENA_TOO_SMALL);
        return nullptr;
    }
    void *p = base_ + real_used_;
    real_used_ += size;
    return p;
}

void *Tape::alloc_meta(uint64_t bytes) {
    void *p = take(bytes);
    if (p) {
        used_ += round_up(bytes);
        if (used_ > peak_) peak_ = used_;
    }
    return p;
}

float *Tape::alloc_floats(uint64_t n) {
    const uint64_t bytes = n * sizeof(float);
    if (measure_) {
        used_ += round_up(bytes);
        if (used_ > peak_) peak_ = used_;
        return g_measure_dummy;
    }
    float *p = (float *)take(bytes);
    if (p) {
        used_ += round_up(bytes);
        if (used_ > peak_) peak_ = used_;
    }
    return p;
}

Tensor *Tape::tensor(uint32_t rows, uint32_t cols, bool want_grad) {
    Tensor *t = (Tensor *)alloc_meta(sizeof(Tensor));
    float *data = alloc_floats((uint64_t)rows * cols);
    const bool with_grad = want_grad && grad_enabled;
    float *grad = with_grad ? alloc_floats((uint64_t)rows * cols) : nullptr;
    if (!t || !data || (with_grad && !grad)) return nullptr;
    if (grad && computing()) zero_bytes(grad, (uint64_t)rows * cols * sizeof(float));
    *t = Tensor{data, grad, rows, cols};
    return t;
}

Tensor *Tape::wrap(float *data, float *grad, uint32_t rows, uint32_t cols) {
    Tensor *t = (Tensor *)alloc_meta(sizeof(Tensor));
    if (!t) return nullptr;
    *t = Tensor{data, grad_enabled ? grad : nullptr, rows, cols};
    return t;
}

OpRecord *Tape::record(BackwardFn fn) {
    if (!grad_enabled) return nullptr;
    OpRecord *r = (OpRecord *)alloc_meta(sizeof(OpRecord));
    if (!r) return nullptr;
    zero_bytes(r, sizeof *r);
    r->backward = fn;
    r->prev = last_;
    last_ = r;
    return r;
}

bitlm_status Tape::backward(Tensor *loss) {
    if (status_ != BITLM_OK) return status_;
    if (!loss || loss->count() != 1 || !loss->grad) return BITLM_ERR_BAD_ARGUMENT;
    if (!computing()) return BITLM_OK;
    loss->grad[0] = 1.0f;
    for (const OpRecord *r = last_; r; r = r->prev) r->backward(*this, *r);
    return status_;
}

void Tape::reset() {
    used_ = real_used_ = 0;
    last_ = nullptr;
    status_ = BITLM_OK;
}

}  // namespace bitlm
