// test_thread_pool.cpp — the host thread pool runs every task of every job exactly once and returns
// only when all are done, also when jobs of very different sizes follow each other back to back (the
// pattern that once let a late worker claim a task of the next, not yet published job).
#include <stdio.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>
#include "check.h"
#include "host/thread_pool.h"

using bitlm::host::ThreadPool;

namespace {

struct Job {
    std::vector<std::atomic<uint32_t>> *runs;  // runs[i]: times task i ran in this job
    uint32_t n;
};

void count_task(void *arg, uint32_t task) {
    Job *job = static_cast<Job *>(arg);
    if (task < job->n) (*job->runs)[task].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

int main() {
    // A pool that loses count of a job never returns: fail instead of hanging the test run.
    std::thread([] {
        std::this_thread::sleep_for(std::chrono::seconds(120));
        fprintf(stderr, "thread_pool: a job never finished (hang)\n");
        _exit(1);
    }).detach();
    for (unsigned threads : {2u, 3u, 8u}) {
        ThreadPool pool(threads);
        std::vector<std::atomic<uint32_t>> runs(256);
        uint32_t bad = 0;
        // Alternate tiny and large jobs: a worker delayed while holding a fully claimed tiny job's
        // state must never run a task of the large job that follows.
        for (uint32_t round = 0; round < 200000; round++) {
            const uint32_t n = round % 2 ? 2 + round % 3 : 64 + round % 190;
            for (uint32_t i = 0; i < n; i++) runs[i].store(0, std::memory_order_relaxed);
            Job job = {&runs, n};
            pool.parallel_for(count_task, &job, n);
            for (uint32_t i = 0; i < n; i++)
                if (runs[i].load(std::memory_order_relaxed) != 1) bad++;
        }
        CHECK(bad == 0);
        if (bad) printf("threads %u: %u tasks not run exactly once\n", threads, bad);
    }
    return check::finish("thread_pool");
}
