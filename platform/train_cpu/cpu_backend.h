// cpu_backend.h — the training backend for host CPUs: packed, register-blocked SGEMM kernels (portable
// C++, AVX2+FMA, AVX-512F) picked by CPUID, threaded on a ThreadPool, deterministic to the bit.
//
//   bitlm::host::ThreadPool pool(n);
//   bitlm::host::CpuTrainBackend cpu(&pool, nullptr);   // nullptr isa = the best this CPU runs
//   if (!cpu.ok()) fail(cpu.error());
//   const bitlm::TrainBackend *backend = cpu.backend();
//
// The bits of every GEMM result depend on the inputs and the kernel (isa_name()) only, never on the
// thread count: each element of C is summed in an order fixed by the kernel's blocking. Different
// kernels give different (all accurate) bits, so a run that must resume bit for bit keeps its isa.
// The backend's parallel_for runs tasks on the pool; a gemm called from inside such a task (or a
// nested parallel_for) runs serially on that thread, because the pool is not reentrant. Do not call
// gemm from a task that was put on the same pool some other way (ThreadPool::parallel_for directly).
// The object must outlive every use of backend(); the pool must outlive the object.
#pragma once
#include <string>
#include <vector>

#include "train/backend.h"

namespace bitlm {
namespace host {

class ThreadPool;
struct GemmMicroKernel;

class CpuTrainBackend {
public:
    // pool: where the tasks run (nullptr = serially on the calling thread). isa: "portable", "avx2" or
    // "avx512"; nullptr = the fastest this CPU supports. A name that is unknown or that the CPU cannot
    // run leaves the object !ok() with error() saying why, and backend() == nullptr.
    CpuTrainBackend(ThreadPool *pool, const char *isa);
    CpuTrainBackend(const CpuTrainBackend &) = delete;
    CpuTrainBackend &operator=(const CpuTrainBackend &) = delete;

    const TrainBackend *backend() const { return ok() ? &table_ : nullptr; }
    const char *isa_name() const;  // "portable", "avx2", "avx512" (empty when !ok())
    bool ok() const { return kernel_ != nullptr; }
    std::string error() const { return error_; }

    // The isa names this build has and this CPU runs, slowest first ("portable" always first); the
    // default is the last.
    static std::vector<std::string> available_isas();

private:
    static void gemm_fn(void *ctx, bool trans_a, bool trans_b, uint32_t m, uint32_t n, uint32_t k,
                        const float *a, uint32_t lda, const float *b, uint32_t ldb, float beta, float *c,
                        uint32_t ldc);
    static void parallel_for_fn(void *runner, bitlm_task_fn fn, void *arg, uint32_t n_tasks);

    ThreadPool *pool_;
    const GemmMicroKernel *kernel_ = nullptr;
    std::string name_;  // "cpu-avx2", ...: table_.name points here
    std::string error_;
    TrainBackend table_;
};

}  // namespace host
}  // namespace bitlm
