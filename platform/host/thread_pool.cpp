// thread_pool.cpp — the persistent worker pool behind bitlm_parallel_for_fn (see thread_pool.h).
#include "host/thread_pool.h"
#include <chrono>

namespace bitlm {
namespace host {

namespace {

// How long an idle thread spins before sleeping. Decoding issues a job every few microseconds, so
// a short spin saves a futex wake per job; past this the thread blocks and costs nothing.
constexpr std::chrono::microseconds kSpinTime(50);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

// Spins until pred() holds or kSpinTime passes; returns pred().
template <class Pred>
bool spin_until(Pred pred) {
    if (pred()) return true;
    const auto start = std::chrono::steady_clock::now();
    for (uint32_t i = 1;; i++) {
        cpu_relax();
        if (pred()) return true;
        if ((i & 63) == 0 && std::chrono::steady_clock::now() - start > kSpinTime) return pred();
    }
}

inline uint32_t gen_of(uint64_t state) { return (uint32_t)(state >> 32); }

// Low word of state_ while a job's parameters are being written: no task can be claimed.
constexpr uint32_t kClosed = 0xffffffffu;

}  // namespace

ThreadPool::ThreadPool(unsigned n_threads) {
    if (n_threads == 0) n_threads = std::thread::hardware_concurrency();
    if (n_threads == 0) n_threads = 1;
    workers_.reserve(n_threads - 1);
    for (unsigned i = 1; i < n_threads; i++) workers_.emplace_back([this] { worker_main(); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_.store(true, std::memory_order_release);
        // A new generation with no tasks wakes spinners and sleepers alike.
        const uint32_t gen = gen_of(state_.load(std::memory_order_relaxed)) + 1;
        state_.store((uint64_t)gen << 32 | kClosed, std::memory_order_release);
    }
    wake_cv_.notify_all();
    for (std::thread &t : workers_) t.join();
}

void ThreadPool::run_tasks(uint32_t gen) {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
        if (gen_of(s) != gen) return;  // that job is over
        if ((uint32_t)s == kClosed) {  // its parameters are being written (a few stores)
            cpu_relax();
            s = state_.load(std::memory_order_acquire);
            continue;
        }
        // Read after loading state_. If any of these already belongs to the next job, the caller
        // closed the state word (a new generation) before writing it, and these acquire loads make
        // that visible: the claim below fails. So a successful claim used job `gen`'s values.
        // (Without the closing store, a worker holding a stale, fully claimed (gen, n) could read the
        // next job's larger task count and claim a task of a job not yet published: a task run
        // twice and a miscounted job — seen as crashes and a hang under load.)
        const bitlm_task_fn fn = fn_.load(std::memory_order_acquire);
        void *const arg = arg_.load(std::memory_order_acquire);
        const uint32_t n = n_tasks_.load(std::memory_order_acquire);
        const uint32_t task = (uint32_t)s;
        if (task >= n) return;
        // Guided claims: a share of what is left (at least one task), so a job of many small tasks
        // costs a few claims instead of one per task — each claim and each completion moves a cache
        // line between cores (~0.2 us here), which made 16-task decode jobs no faster on 2 threads.
        const uint32_t left = n - task;
        uint32_t count = left / (2 * (uint32_t)(workers_.size() + 1));
        if (count == 0) count = 1;
        if (!state_.compare_exchange_weak(s, s + count, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
        for (uint32_t i = 0; i < count; i++) fn(arg, task + i);
        if (done_.fetch_add(count, std::memory_order_acq_rel) + count == n) {
            std::lock_guard<std::mutex> lock(mutex_);  // the caller checks done_ under mutex_
            done_cv_.notify_one();
        }
        s = state_.load(std::memory_order_acquire);
    }
}

void ThreadPool::worker_main() {
    uint32_t seen = 0;
    for (;;) {
        const auto changed = [&] { return gen_of(state_.load(std::memory_order_acquire)) != seen; };
        if (!spin_until(changed)) {
            std::unique_lock<std::mutex> lock(mutex_);
            sleepers_++;
            wake_cv_.wait(lock, changed);
            sleepers_--;
        }
        if (stop_.load(std::memory_order_acquire)) return;
        seen = gen_of(state_.load(std::memory_order_acquire));
        run_tasks(seen);
    }
}

void ThreadPool::parallel_for(bitlm_task_fn fn, void *arg, uint32_t n_tasks) {
    if (n_tasks == 0) return;
    if (workers_.empty() || n_tasks == 1) {
        for (uint32_t i = 0; i < n_tasks; i++) fn(arg, i);
        return;
    }
    std::lock_guard<std::mutex> one_job(submit_mutex_);
    uint32_t gen;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        gen = gen_of(state_.load(std::memory_order_relaxed)) + 1;
        state_.store((uint64_t)gen << 32 | kClosed, std::memory_order_relaxed);  // no claim of the old job
        fn_.store(fn, std::memory_order_release);  // release: the closing store is visible with these
        arg_.store(arg, std::memory_order_release);
        n_tasks_.store(n_tasks, std::memory_order_release);
        done_.store(0, std::memory_order_relaxed);
        state_.store((uint64_t)gen << 32, std::memory_order_release);  // publishes the job
        if (sleepers_ > 0) wake_cv_.notify_all();
    }
    run_tasks(gen);
    const auto finished = [&] { return done_.load(std::memory_order_acquire) == n_tasks; };
    if (!spin_until(finished)) {
        std::unique_lock<std::mutex> lock(mutex_);
        done_cv_.wait(lock, finished);
    }
}

void ThreadPool::parallel_for_fn(void *runner, bitlm_task_fn fn, void *arg, uint32_t n_tasks) {
    static_cast<ThreadPool *>(runner)->parallel_for(fn, arg, n_tasks);
}

}  // namespace host
}  // namespace bitlm
