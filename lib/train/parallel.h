// parallel.h — split a range of rows (or any independent items) into tasks on the backend's runner.
// Every item is computed by exactly one task, so results do not depend on the split.
#pragma once
#include <stdint.h>
#include "train/backend.h"

namespace bitlm {

// Calls f(begin, end) over [0, n) in up to `max_tasks` contiguous chunks of at least `min_chunk`
// items (column passes over row-major data want wide chunks; element-wise passes want big ones so a
// task is worth its scheduling).
template <class F>
void for_ranges(const TrainBackend *backend, uint64_t n, const F &f, uint32_t max_tasks = 64, uint64_t min_chunk = 1) {
    if (n == 0) return;
    struct Ctx {
        const F *f;
        uint64_t n, chunk;
    };
    const uint64_t by_size = (n + min_chunk - 1) / min_chunk;
    const uint64_t tasks = by_size < max_tasks ? by_size : max_tasks;
    Ctx ctx = {&f, n, (n + tasks - 1) / tasks};
    const uint32_t n_tasks = (uint32_t)((n + ctx.chunk - 1) / ctx.chunk);
    auto run = [](void *arg, uint32_t task) {
        const Ctx &c = *(const Ctx *)arg;
        const uint64_t b = (uint64_t)task * c.chunk, e = b + c.chunk < c.n ? b + c.chunk : c.n;
        (*c.f)(b, e);
    };
    backend_run(backend, run, &ctx, n_tasks);
}

// Chunk sizes for the common cases.
constexpr uint64_t kColumnChunk = 64;       // column passes: whole cache lines of every row
constexpr uint64_t kElementChunk = 16384;   // element-wise passes

}  // namespace bitlm
