// backend.h — what a training backend gives the tape: matrix products and a task runner.
// The tape's ops (ops.cpp) and the optimizers (optim.cpp) do their heavy math through this table,
// so lib/ never names a target: platform/train_cpu implements it with threaded SIMD GEMMs, the
// reference below with plain loops (tests, and any target without a faster one).
#pragma once
#include <stdint.h>
#include "bitlm.h"

namespace bitlm {

struct TrainBackend {
    const char *name;  // "reference", "cpu-avx2", ...
    void *ctx;         // passed to gemm

    // Row-major single-precision GEMM:  C[m x n] = beta * C + op(A)[m x k] * op(B)[k x n]
    //   op(A) = A (m x k, row stride lda) or, with trans_a, A^T where A is k x m (stride lda);
    //   op(B) = B (k x n, stride ldb) or, with trans_b, B^T where B is n x k (stride ldb).
    // beta == 0 means C is only written (it may hold garbage or NaN before). Any summation order is
    // allowed: BitLinear sums integers (exact in fp32 below 2^24), everything else is float math.
    void (*gemm)(void *ctx, bool trans_a, bool trans_b, uint32_t m, uint32_t n, uint32_t k, const float *a,
                 uint32_t lda, const float *b, uint32_t ldb, float beta, float *c, uint32_t ldc);

    // Runs fn(arg, i) for i in [0, n_tasks), possibly in parallel; NULL = serially.
    bitlm_parallel_for_fn parallel_for;
    void *runner;
};

// Plain triple loops, serial: always available, the one every faster gemm is tested against.
const TrainBackend *reference_train_backend();

// Convenience: run tasks through the backend's runner (or serially).
inline void backend_run(const TrainBackend *b, bitlm_task_fn fn, void *arg, uint32_t n_tasks) {
    if (b->parallel_for && n_tasks > 1) {
        b->parallel_for(b->runner, fn, arg, n_tasks);
    } else {
        for (uint32_t i = 0; i < n_tasks; i++) fn(arg, i);
    }
}

}  // namespace bitlm
