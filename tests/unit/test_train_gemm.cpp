// test_train_gemm.cpp — the CPU training backend's GEMMs (every kernel this CPU runs, and AVX-512 through
// SIMDe emulation) against reference_train_backend(): awkward sizes, transposes, strides, beta, exact
// integer sums, NaN in a write-only C, and the same bits whatever the thread count.
//   test_train_gemm          the checks (a few seconds)
//   test_train_gemm --bench  GFLOP/s of each kernel and thread count on the training shapes
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

// The AVX-512 kernel's source compiled once more here on SIMDe's portable intrinsics, so that its
// logic (tile layout, epilogue) is checked on CPUs that cannot run the native build.
#if defined(__x86_64__) && __has_include(<simde/x86/avx512.h>)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#define BITLM_GEMM_AVX512_EMULATED 1
#define gemm_kernel_avx512 gemm_kernel_avx512_emulated  // not the native kernel of the build
#include "train_cpu/gemm_avx512.cpp"
#undef gemm_kernel_avx512
#define HAVE_EMULATED_AVX512 1
#endif

#include "best_time.h"
#include "check.h"
#include "host/thread_pool.h"
#include "train/backend.h"
#include "train_cpu/cpu_backend.h"
#include "train_cpu/gemm_kernels.h"

namespace bitlm {
namespace host {
const GemmMicroKernel *gemm_kernel_avx512();  // the build's own (its declaration above was renamed)
}  // namespace host
}  // namespace bitlm

using bitlm::TrainBackend;
using bitlm::host::CpuTrainBackend;
using bitlm::host::ThreadPool;

namespace {

struct Rng {
    uint64_t s;
    uint64_t next() {  // splitmix64
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    float uniform() { return (float)(next() >> 40) * (2.0f / 16777216.0f) - 1.0f; }  // [-1, 1)
    int range(int lo, int hi) { return lo + (int)(next() % (uint64_t)(hi - lo + 1)); }
};

constexpr float kSentinel = 12345.5f;  // C's padding columns: a gemm must never touch them

// One GEMM problem with its operands laid out as TrainBackend::gemm reads them.
struct Problem {
    bool trans_a, trans_b;
    uint32_t m, n, k, lda, ldb, ldc;
    float beta;
    bool integer;  // values -127..127 times -1..1: every fp32 order gives the exact sum
    std::vector<float> a, b, c_init;

    Problem(bool ta, bool tb, uint32_t m_, uint32_t n_, uint32_t k_, uint32_t pad, float beta_, bool integer_,
            uint64_t seed)
        : trans_a(ta), trans_b(tb), m(m_), n(n_), k(k_), beta(beta_), integer(integer_) {
        Rng rng{seed};
        lda = (ta ? m : k) + pad;
        ldb = (tb ? k : n) + pad;
        ldc = n + pad;
        // Padding of A and B holds NaN: read by mistake, it would poison the result.
        a.assign((size_t)(ta ? k : m) * lda, NAN);
        b.assign((size_t)(tb ? n : k) * ldb, NAN);
        c_init.assign((size_t)m * ldc, kSentinel);
        for (uint32_t r = 0; r < (ta ? k : m); r++)
            for (uint32_t q = 0; q < (ta ? m : k); q++)
                a[(size_t)r * lda + q] = integer ? (float)rng.range(-127, 127) : rng.uniform();
        for (uint32_t r = 0; r < (tb ? n : k); r++)
            for (uint32_t q = 0; q < (tb ? k : n); q++)
                b[(size_t)r * ldb + q] = integer ? (float)rng.range(-1, 1) : rng.uniform();
        // beta == 0: C is write-only, so fill it with NaN to prove it is never read.
        for (uint32_t i = 0; i < m; i++)
            for (uint32_t j = 0; j < n; j++)
                c_init[(size_t)i * ldc + j] =
                    beta == 0.0f ? NAN : integer ? (float)rng.range(-1000, 1000) : rng.uniform();
    }

    std::vector<float> run(const TrainBackend *backend) const {
        std::vector<float> c = c_init;
        backend->gemm(backend->ctx, trans_a, trans_b, m, n, k, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
        return c;
    }
    std::vector<float> run_kernel(const bitlm::host::GemmMicroKernel &kernel, ThreadPool *pool) const {
        std::vector<float> c = c_init;
        bitlm::host::gemm_blocked(kernel, pool, trans_a, trans_b, m, n, k, a.data(), lda, b.data(), ldb, beta,
                                  c.data(), ldc);
        return c;
    }
    std::string describe() const {
        char text[160];
        std::snprintf(text, sizeof text, "%s%s m=%u n=%u k=%u lda=%u ldb=%u ldc=%u beta=%g %s", trans_a ? "At" : "A",
                      trans_b ? "Bt" : "B", m, n, k, lda, ldb, ldc, beta, integer ? "integer" : "float");
        return text;
    }
};

bool same_bits(const std::vector<float> &x, const std::vector<float> &y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// Checks `got` against the reference result: padding untouched, then exact (integer data) or
// ||got - ref|| <= 1e-5 ||ref|| over the m x n elements.
void check_result(const Problem &p, const std::vector<float> &got, const std::vector<float> &ref, const char *who) {
    bool padding_kept = true;
    double diff2 = 0, ref2 = 0;
    bool exact = true;
    for (uint32_t i = 0; i < p.m; i++) {
        for (uint32_t j = 0; j < p.ldc; j++) {
            const size_t at = (size_t)i * p.ldc + j;
            if (j >= p.n) {
                padding_kept = padding_kept && std::memcmp(&got[at], &kSentinel, sizeof(float)) == 0;
                continue;
            }
            const double d = (double)got[at] - ref[at];
            diff2 += d * d;
            ref2 += (double)ref[at] * ref[at];
            exact = exact && std::memcmp(&got[at], &ref[at], sizeof(float)) == 0;
        }
    }
    CHECK_MSG(padding_kept, "%s: %s wrote C's padding", who, p.describe().c_str());
    if (p.integer || ref2 == 0) {
        CHECK_MSG(exact, "%s: %s not exact", who, p.describe().c_str());
    } else {
        const double rel = std::sqrt(diff2 / ref2);
        CHECK_MSG(rel <= 1e-5, "%s: %s relative error %.3g", who, p.describe().c_str(), rel);
    }
}

// One backend under test: a kernel and a thread count (the pool is owned here).
struct Candidate {
    std::string label;
    std::string isa;
    unsigned threads;
    std::unique_ptr<ThreadPool> pool;
    std::unique_ptr<CpuTrainBackend> cpu;
};

std::vector<Candidate> make_candidates(const std::vector<std::string> &isas, const std::vector<unsigned> &threads) {
    std::vector<Candidate> all;
    for (const std::string &isa : isas) {
        for (unsigned t : threads) {
            Candidate cand;
            cand.isa = isa;
            cand.threads = t;
            cand.label = isa + " x" + std::to_string(t);
            if (t > 1) cand.pool.reset(new ThreadPool(t));
            cand.cpu.reset(new CpuTrainBackend(cand.pool.get(), isa.c_str()));
            CHECK_MSG(cand.cpu->ok(), "%s: %s", cand.label.c_str(), cand.cpu->error().c_str());
            if (cand.cpu->ok()) all.push_back(std::move(cand));
        }
    }
    return all;
}

// Runs p on every candidate: each against the reference, and every thread count of a kernel to the
// same bits as its first (and a second call to the same bits as the first).
void check_problem(const Problem &p, const std::vector<Candidate> &cands) {
    const std::vector<float> ref = p.run(bitlm::reference_train_backend());
    const std::vector<float> *first_of_isa = nullptr;
    std::vector<std::vector<float>> results;
    results.reserve(cands.size());
    for (size_t i = 0; i < cands.size(); i++) {
        results.push_back(p.run(cands[i].cpu->backend()));
        check_result(p, results.back(), ref, cands[i].label.c_str());
        if (i == 0 || cands[i].isa != cands[i - 1].isa) {
            first_of_isa = &results.back();
            CHECK_MSG(same_bits(p.run(cands[i].cpu->backend()), results.back()), "%s: %s repeat differs",
                      cands[i].label.c_str(), p.describe().c_str());
        } else {
            CHECK_MSG(same_bits(results.back(), *first_of_isa), "%s: %s bits depend on threads",
                      cands[i].label.c_str(), p.describe().c_str());
        }
    }
}

const uint32_t kSizes[] = {1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 63, 65, 100, 129, 257};
constexpr uint32_t kNumSizes = sizeof kSizes / sizeof kSizes[0];
const float kBetas[] = {0.0f, 1.0f, 0.5f};
const uint32_t kPads[] = {0, 3, 16};

// The awkward-size sweep: every (m, n) pair of kSizes for each transpose combination, k, beta,
// padding and data kind rotating through their lists.
template <class Fn>
void for_each_sweep_problem(Fn fn) {
    uint64_t seed = 1;
    for (int trans = 0; trans < 4; trans++) {
        for (uint32_t i = 0; i < kNumSizes; i++) {
            for (uint32_t j = 0; j < kNumSizes; j++, seed++) {
                const uint32_t k = kSizes[(i * 7 + j * 3 + trans) % kNumSizes];
                fn(Problem(trans & 1, trans & 2, kSizes[i], kSizes[j], k, kPads[(i + j + trans) % 3],
                           kBetas[(i + 2 * j + trans) % 3], (i + j) % 2 == 1, seed));
            }
        }
    }
}

// Bigger products: the threaded paths, the B chunking (large k), column splits (m below the threads).
template <class Fn>
void for_each_big_problem(Fn fn) {
    struct Shape {
        uint32_t m, n, k;
    };
    const Shape shapes[] = {{512, 768, 300}, {300, 1000, 70}, {5, 1000, 200}, {1, 2000, 300},
                            {2000, 1, 300},  {37, 300, 5000}, {129, 257, 511}};
    uint64_t seed = 1000;
    for (const Shape &s : shapes) {
        for (int trans = 0; trans < 4; trans++, seed++) {
            const float beta = kBetas[seed % 3];
            fn(Problem(trans & 1, trans & 2, s.m, s.n, s.k, (uint32_t)(seed % 2) * 5, beta, false, seed));
            if (trans == 0 || s.k == 5000) fn(Problem(trans & 1, trans & 2, s.m, s.n, s.k, 1, beta, true, seed + 500));
        }
    }
}

void check_degenerate(const std::vector<Candidate> &cands) {
    for (const Candidate &cand : cands) {
        const TrainBackend *b = cand.cpu->backend();
        // k == 0: C = beta * C (beta == 0: zeros, NaN or not).
        std::vector<float> c = {1.0f, 2.0f, kSentinel, 3.0f, 4.0f, kSentinel};
        b->gemm(b->ctx, false, false, 2, 2, 0, nullptr, 1, nullptr, 2, 0.5f, c.data(), 3);
        CHECK(c[0] == 0.5f && c[1] == 1.0f && c[2] == kSentinel && c[3] == 1.5f && c[4] == 2.0f && c[5] == kSentinel);
        c = {NAN, NAN, kSentinel, NAN, NAN, kSentinel};
        b->gemm(b->ctx, true, true, 2, 2, 0, nullptr, 2, nullptr, 1, 0.0f, c.data(), 3);
        CHECK(c[0] == 0.0f && c[1] == 0.0f && c[3] == 0.0f && c[4] == 0.0f && c[2] == kSentinel);
        // m == 0 or n == 0: nothing is read or written.
        c = {kSentinel};
        b->gemm(b->ctx, false, false, 0, 5, 5, nullptr, 5, nullptr, 5, 0.0f, c.data(), 5);
        b->gemm(b->ctx, false, false, 1, 0, 5, nullptr, 5, nullptr, 1, 0.0f, c.data(), 1);
        CHECK(c[0] == kSentinel);
    }
}

// The backend's own task runner, and a gemm inside one of its tasks: the pool is not reentrant, so the
// nested gemm must run serially (not deadlock), with the same bits as outside.
void check_tasks_and_nesting(const std::vector<Candidate> &cands) {
    for (const Candidate &cand : cands) {
        const TrainBackend *backend = cand.cpu->backend();
        CHECK((backend->parallel_for != nullptr) == (cand.threads > 1));
        std::vector<uint32_t> hits(97, 0);
        struct Count {
            static void task(void *arg, uint32_t i) { (*static_cast<std::vector<uint32_t> *>(arg))[i]++; }
        };
        bitlm::backend_run(backend, Count::task, &hits, 97);
        bool each_once = true;
        for (uint32_t h : hits) each_once = each_once && h == 1;
        CHECK_MSG(each_once, "%s: backend_run", cand.label.c_str());

        const Problem p(false, true, 70, 90, 130, 2, 0.0f, false, 77);  // above the parallel threshold
        const std::vector<float> outside = p.run(backend);
        struct Nested {
            const Problem *p;
            const TrainBackend *backend;
            std::vector<std::vector<float>> out;
            static void task(void *arg, uint32_t i) {
                Nested *self = static_cast<Nested *>(arg);
                self->out[i] = self->p->run(self->backend);
            }
        } nested = {&p, backend, std::vector<std::vector<float>>(4)};
        bitlm::backend_run(backend, Nested::task, &nested, 4);
        for (const std::vector<float> &c : nested.out)
            CHECK_MSG(same_bits(c, outside), "%s: gemm inside a task", cand.label.c_str());
    }
}

void check_names() {
    const std::vector<std::string> isas = CpuTrainBackend::available_isas();
    CHECK(!isas.empty() && isas[0] == "portable");
    CpuTrainBackend best(nullptr, nullptr);
    CHECK(best.ok() && best.error().empty() && best.isa_name() == isas.back());
    CHECK(best.backend() && std::string(best.backend()->name) == "cpu-" + isas.back());
    CHECK(best.backend()->parallel_for == nullptr);  // no pool: tasks run serially

    CpuTrainBackend bogus(nullptr, "sse9");
    CHECK(!bogus.ok() && bogus.backend() == nullptr);
    std::string have = "portable";
    if (bitlm::host::gemm_kernel_avx2()) have += ", avx2";
    if (bitlm::host::gemm_kernel_avx512()) have += ", avx512";
    CHECK_MSG(bogus.error() == "unknown gemm kernel 'sse9' (have: " + have + ")", "%s", bogus.error().c_str());
#if defined(__x86_64__)
    // This file's build of the tree has the x86 kernels whenever train_cpu/flags.mk applied.
    for (const bitlm::host::GemmMicroKernel *k : {bitlm::host::gemm_kernel_avx2(), bitlm::host::gemm_kernel_avx512()}) {
        if (!k || k->cpu_supported()) continue;
        CpuTrainBackend unsupported(nullptr, k->name);
        CHECK(!unsupported.ok());
        CHECK_MSG(unsupported.error() == "gemm kernel '" + std::string(k->name) + "' not supported by this CPU", "%s",
                  unsupported.error().c_str());
    }
#endif
}

#ifdef HAVE_EMULATED_AVX512
// The emulated AVX-512 kernel on the sweep's smaller half and one threaded product (emulation is slow).
void check_emulated_avx512() {
    const bitlm::host::GemmMicroKernel &kernel = *bitlm::host::gemm_kernel_avx512_emulated();
    ThreadPool pool(2);
    uint32_t n_checked = 0;
    for_each_sweep_problem([&](const Problem &p) {
        if ((uint64_t)p.m * p.n * p.k > 300000) return;
        check_result(p, p.run_kernel(kernel, nullptr), p.run(bitlm::reference_train_backend()), "avx512 (emulated)");
        n_checked++;
    });
    const Problem big(true, false, 100, 130, 400, 3, 0.5f, false, 4242);
    const std::vector<float> serial = big.run_kernel(kernel, nullptr);
    check_result(big, serial, big.run(bitlm::reference_train_backend()), "avx512 (emulated)");
    CHECK(same_bits(big.run_kernel(kernel, &pool), serial));
    std::printf("avx512 kernel through SIMDe emulation: %u products\n", n_checked + 1);
}
#endif

// ---- --bench ------------------------------------------------------------------------------------

void bench() {
    struct Shape {
        const char *what;
        bool trans_a, trans_b;
        uint32_t m, n, k;
    };
    const Shape shapes[] = {
        {"2048x256x256", false, false, 2048, 256, 256},    {"2048x1024x256", false, false, 2048, 1024, 256},
        {"2048x256x1024", false, false, 2048, 256, 1024},  {"256x256x2048 At", true, false, 256, 256, 2048},
        {"2048x384x1536", false, false, 2048, 384, 1536},  {"2048x1024x256 Bt", false, true, 2048, 1024, 256},
    };
    std::vector<unsigned> thread_counts = {1};
    const unsigned cores = std::thread::hardware_concurrency();
    if (cores > 1) thread_counts.push_back(cores);
    std::printf("GFLOP/s = 2*m*n*k / best time of at least 6 runs and ~0.6 s (wall clock; beta = 0)\n%-18s",
                "shape (m x n x k)");
    std::vector<Candidate> cands = make_candidates(CpuTrainBackend::available_isas(), thread_counts);
    for (const Candidate &cand : cands) std::printf(" %13s", cand.label.c_str());
    std::printf("\n");
    for (const Shape &s : shapes) {
        std::printf("%-18s", s.what);
        const Problem p(s.trans_a, s.trans_b, s.m, s.n, s.k, 0, 0.0f, false, 9);
        std::vector<float> c = p.c_init;
        for (const Candidate &cand : cands) {
            const TrainBackend *b = cand.cpu->backend();
            const double best = timing::best_seconds(
                [&] {
                    b->gemm(b->ctx, p.trans_a, p.trans_b, p.m, p.n, p.k, p.a.data(), p.lda, p.b.data(), p.ldb, 0.0f,
                            c.data(), p.ldc);
                },
                6, 0.6, 400);
            std::printf(" %13.1f", 2.0 * s.m * s.n * s.k / best * 1e-9);
            std::fflush(stdout);
        }
        std::printf("\n");
    }
}

}  // namespace

int main(int argc, char **argv) {
    if (argc > 1 && std::strcmp(argv[1], "--bench") == 0) {
        bench();
        return 0;
    }
    check_names();
    const std::vector<std::string> isas = CpuTrainBackend::available_isas();
    std::vector<Candidate> cands = make_candidates(isas, {1, 2, 3});
    check_degenerate(cands);
    check_tasks_and_nesting(cands);
    uint32_t n_problems = 0;
    for_each_sweep_problem([&](const Problem &p) {
        check_problem(p, cands);
        n_problems++;
    });
    for_each_big_problem([&](const Problem &p) { check_problem(p, cands); });
    std::printf("kernels tested:");
    for (const std::string &isa : isas) std::printf(" %s", isa.c_str());
    std::printf(" (threads 1, 2, 3; %u sweep products + big ones)\n", n_problems);
#ifdef HAVE_EMULATED_AVX512
    check_emulated_avx512();
#else
    std::printf("avx512 emulation skipped: SIMDe not installed or not x86-64\n");
#endif
    return check::finish("train_gemm");
}
