// thread_pool.h — a persistent pool of worker threads behind the library's bitlm_parallel_for_fn.
// N threads in all: N-1 workers plus the calling thread, which takes tasks too. Host only.
//
//   bitlm::host::ThreadPool pool(n);
//   options.parallel_for = bitlm::host::ThreadPool::parallel_for_fn;  // when n > 1
//   options.runner = &pool;
//
// Tasks are claimed one at a time from a single atomic word holding (job generation, next task), so
// a worker that wakes late can never run a task of a finished job, and the caller never waits for a
// worker that has not shown up (it just runs the tasks itself): on a loaded machine a job costs at
// worst what running it serially costs. The caller returns once every task has completed. Idle
// workers spin briefly (decoding issues a job every few microseconds), then sleep on a condition
// variable. One job at a time: calls from several threads at once are serialized. Not reentrant (a
// task must not call parallel_for on the same pool).
#pragma once
#include <stdint.h>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#include "bitlm.h"

namespace bitlm {
namespace host {

class ThreadPool {
public:
    // n_threads counts the caller; 0 means std::thread::hardware_concurrency().
    explicit ThreadPool(unsigned n_threads);
    ~ThreadPool();  // stops and joins the workers
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool &operator=(const ThreadPool &) = delete;

    unsigned size() const { return (unsigned)workers_.size() + 1; }

    // Runs fn(arg, i) for every i in [0, n_tasks) and returns when all are done.
    void parallel_for(bitlm_task_fn fn, void *arg, uint32_t n_tasks);

    // The bitlm_parallel_for_fn signature; `runner` is the ThreadPool.
    static void parallel_for_fn(void *runner, bitlm_task_fn fn, void *arg, uint32_t n_tasks);

private:
    void worker_main();
    // Claims and runs tasks of job `gen` until none are left (or the job changed).
    void run_tasks(uint32_t gen);

    std::vector<std::thread> workers_;
    std::mutex submit_mutex_;  // one job at a time

    std::mutex mutex_;
    std::condition_variable wake_cv_;  // workers sleep here between jobs
    std::condition_variable done_cv_;  // the caller sleeps here until the job is done
    unsigned sleepers_ = 0;            // workers blocked on wake_cv_ (guarded by mutex_)
    std::atomic<bool> stop_{false};

    // High 32 bits: job generation; low 32 bits: next task to claim. Claimed by compare-exchange.
    // state_ and done_ sit on cache lines of their own: every claim and completion writes one of them.
    alignas(64) std::atomic<uint64_t> state_{0};
    alignas(64) std::atomic<uint32_t> done_{0};  // tasks of the current job completed
    // The current job; written only between jobs, read by workers after they load state_.
    std::atomic<bitlm_task_fn> fn_{nullptr};
    std::atomic<void *> arg_{nullptr};
    std::atomic<uint32_t> n_tasks_{0};
};

}  // namespace host
}  // namespace bitlm
