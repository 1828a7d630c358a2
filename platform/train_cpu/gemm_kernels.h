// gemm_kernels.h — the per-ISA pieces of the training GEMM: a register-blocked micro-kernel per file
// (each compiled with its own ISA flags, flags.mk), and the one blocked, threaded driver that runs them.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace bitlm {
namespace host {

class ThreadPool;

// One ISA's micro-kernel and the cache blocking that suits it. The driver (cpu_backend.cpp) packs
// op(A) into micro-panels of mr rows (for each p, the mr values of column p, zero rows past m) and
// op(B) into micro-panels of nr columns (for each p, the nr values of row p, zero columns past n).
struct GemmMicroKernel {
    const char *name;  // "portable", "avx2", "avx512" (the isa names CpuTrainBackend accepts)
    uint32_t mr, nr;   // register tile: mr rows x nr columns of C per call
    uint32_t kc;       // depth of one pass: a packed B micro-panel (kc x nr) should stay in L1
    uint32_t mc;       // most rows of A one task packs per pass (kc x mc in L2); a multiple of mr
    bool (*cpu_supported)();  // this CPU (and OS) runs the ISA
    // C[mr x nr] (row stride ldc) = beta * C + sum over p < kc of a_panel[p*mr + i] * b_panel[p*nr + j],
    // the sum taken in order p = 0, 1, ... from zero for every element, then added to beta * C
    // (multiply, then add: no fused rounding). beta == 0 writes C without reading it.
    // Panels are 64-byte aligned; kc >= 1.
    void (*tile)(uint32_t kc, const float *a_panel, const float *b_panel, float beta, float *c, uint32_t ldc);
    // Optional (nullptr: the driver's portable loop): packs mr whole rows of a row-major A (row r at
    // a + r * lda, columns [0, depth)) into one micro-panel, dst[p * mr + r], writing exactly those
    // depth * mr floats. A SIMD transpose here is ~4x faster than scalar scattering.
    void (*pack_a_rows)(const float *a, size_t lda, uint32_t depth, float *dst);
};

// Always available: plain C++ that the compiler vectorizes for whatever the target has.
const GemmMicroKernel *gemm_kernel_portable();
// nullptr where this build has no such kernel (not x86-64, or the file was compiled without its ISA
// flags, as in `make NO_SIMD=1`). Non-null does not mean this CPU runs it: ask cpu_supported().
const GemmMicroKernel *gemm_kernel_avx2();
const GemmMicroKernel *gemm_kernel_avx512();

// C = beta * C + op(A) op(B) as in TrainBackend::gemm, with `kernel`. Tasks go to `pool` when the
// product is big enough and this thread is not already running a task of a CpuTrainBackend pool
// (nested calls run serially instead of deadlocking the non-reentrant pool); nullptr = serially.
// The bits of C depend only on the kernel and the inputs: every element is summed in the same order
// whatever the thread count, so training resumes bit for bit.
void gemm_blocked(const GemmMicroKernel &kernel, ThreadPool *pool, bool trans_a, bool trans_b, uint32_t m,
                  uint32_t n, uint32_t k, const float *a, uint32_t lda, const float *b, uint32_t ldb, float beta,
                  float *c, uint32_t ldc);

}  // namespace host
}  // namespace bitlm
