// best_time.h — the timing loop of the tests' --bench modes (test_kernels, test_train_gemm).
#pragma once
#include <algorithm>
#include <chrono>

namespace timing {

// The best wall time, in seconds, of run() over at least min_runs runs and about min_total seconds
// (at most max_runs), not counting the first run, which warms caches and scratch.
template <class Run>
double best_seconds(Run run, int min_runs, double min_total, int max_runs = 1000) {
    double best = 1e30, spent = 0;
    for (int rep = 0; rep < max_runs && (rep <= min_runs || spent < min_total); rep++) {
        const auto start = std::chrono::steady_clock::now();
        run();
        const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (rep > 0) best = std::min(best, t);
        spent += t;
    }
    return best;
}

}  // namespace timing
