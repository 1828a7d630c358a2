// cpu_backend.cpp — CpuTrainBackend and the blocked GEMM driver every ISA's micro-kernel runs under:
// packing, cache blocking, edge tiles and threading live here once, compiled for the baseline CPU.
//
// The driver (Goto/BLIS order): for each chunk of nc columns, op(B)[k x nc] is packed once into
// kc x nr micro-panels (one job, split over threads); then one job computes C in tasks that each own
// a block of rows (at most mc) x a range of column panels: for each pass of kc along k, the task packs
// its rows of op(A) into kc x mr micro-panels (thread-local, L2) and runs the micro-kernel over every
// (row panel, column panel) pair, the B micro-panel staying in L1 across the row panels.
// Determinism: an element of C is ((beta*C + pass_0) + pass_1) + ..., where pass_q is the kernel's
// in-order sum over p in [q*kc, (q+1)*kc). Neither the task grid nor the thread count changes that, and
// edge tiles run the same kernel on zero-padded panels, so the bits never depend on the split.
#include "train_cpu/cpu_backend.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "host/thread_pool.h"
#include "train_cpu/gemm_kernels.h"

namespace bitlm {
namespace host {
namespace {

// Below this many multiply-adds a job's wake-up and hand-off cost more than a second core saves.
constexpr uint64_t kMinParallelMacs = 1u << 16;
// Below this many floats of op(B), the calling thread packs it alone (no job hand-off).
constexpr uint64_t kMinParallelPackFloats = 1u << 17;
// Packed op(B) per column chunk, in floats (4 MB): k x nc stays in L3 while every row task reads it.
constexpr size_t kBPackBudgetFloats = size_t(1) << 20;
// The largest mr x nr of any micro-kernel: the scratch tile that edge tiles are computed into.
constexpr uint32_t kMaxTileFloats = 1024;

// Set while this thread runs a task that CpuTrainBackend put on a pool: the pool is not reentrant, so
// anything parallel started from inside a task runs serially on that thread instead.
thread_local bool t_inside_pool_task = false;

struct MarkedTask {
    bitlm_task_fn fn;
    void *arg;
};

void run_marked_task(void *arg, uint32_t task) {
    const MarkedTask *marked = static_cast<const MarkedTask *>(arg);
    const bool was_inside = t_inside_pool_task;
    t_inside_pool_task = true;
    marked->fn(marked->arg, task);
    t_inside_pool_task = was_inside;
}

bool can_run_parallel(const ThreadPool *pool) { return pool && pool->size() > 1 && !t_inside_pool_task; }

void run_tasks(ThreadPool *pool, bitlm_task_fn fn, void *arg, uint32_t n_tasks) {
    if (n_tasks > 1 && can_run_parallel(pool)) {
        MarkedTask marked = {fn, arg};
        pool->parallel_for(run_marked_task, &marked, n_tasks);
    } else {
        for (uint32_t i = 0; i < n_tasks; i++) fn(arg, i);
    }
}

// A growable 64-byte-aligned float buffer; one per thread and purpose, kept for the thread's life so
// that steady-state training allocates nothing.
class ScratchFloats {
public:
    ~ScratchFloats() { release(); }
    float *get(size_t n_floats) {
        if (n_floats > capacity_) {
            release();
            capacity_ = std::max(n_floats, capacity_ + capacity_ / 2);
            data_ = static_cast<float *>(::operator new(capacity_ * sizeof(float), std::align_val_t(64)));
        }
        return data_;
    }

private:
    void release() {
        if (data_) ::operator delete(data_, std::align_val_t(64));
        data_ = nullptr;
        capacity_ = 0;
    }
    float *data_ = nullptr;
    size_t capacity_ = 0;
};

thread_local ScratchFloats t_a_pack;  // the rows of op(A) a task is working on
thread_local ScratchFloats t_b_pack;  // op(B) for the current column chunk, owned by the calling thread

inline uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

struct GemmJob {
    const GemmMicroKernel *kernel;
    bool trans_a, trans_b;
    uint32_t m, k;
    const float *a, *b;
    uint32_t lda, ldb, ldc;
    float beta;
    float *c;
    // The current column chunk: columns [col0, col0 + cols) of C, packed into col_panels panels.
    uint32_t col0, cols, col_panels;
    float *b_packed;
    uint32_t pack_tasks;
    // The compute grid: row blocks of rows_per_task panels x column ranges of cols_per_task panels.
    uint32_t row_panels, rows_per_task, cols_per_task, col_blocks;
};

// Where the micro-panel of column panel jp for the pass starting at p0 (depth depth) lies in b_packed:
// passes are consecutive, each holding every panel of the chunk.
inline const float *b_panel(const GemmJob &job, uint32_t p0, uint32_t depth, uint32_t jp) {
    return job.b_packed + (size_t)p0 * job.col_panels * job.kernel->nr + (size_t)jp * depth * job.kernel->nr;
}

// The packers take the tile size as a template argument (the kernels' mr and nr; 0 = read it at run
// time), so that a panel's row compiles to a few vector moves rather than a memcpy call or a short
// loop. Source rows are read along their length where the layout allows, and the rows to be read
// next are prefetched: they are short segments (one pass, or one panel's width) at a large stride,
// too short for the hardware prefetcher to catch on. Packing was a quarter of a weight-gradient GEMM
// before this; it is now a few percent.

// Depth of the blocks that transposed packs go through: 16 source rows stay in L1 across panels.
constexpr uint32_t kPackDepthBlock = 16;

// Starts fetching the n_floats at p (a row segment that exists) into the cache.
inline void prefetch_row(const float *p, uint32_t n_floats) {
    for (uint32_t i = 0; i < n_floats; i += 16) __builtin_prefetch(p + i);
    __builtin_prefetch(p + n_floats - 1);
}

template <uint32_t kNr>
void pack_b_panels_t(const GemmJob &job, uint32_t jp_begin, uint32_t jp_end) {
    const uint32_t nr = kNr ? kNr : job.kernel->nr, kc = job.kernel->kc;
    const uint32_t col_begin = job.col0 + jp_begin * nr;
    const uint32_t width = std::min((jp_end - jp_begin) * nr, job.col0 + job.cols - col_begin);
    const uint32_t full_panels = width / nr, tail = width % nr;
    for (uint32_t p0 = 0; p0 < job.k; p0 += kc) {
        const uint32_t depth = std::min(kc, job.k - p0);
        float *const panels = const_cast<float *>(b_panel(job, p0, depth, jp_begin));
        const size_t panel_floats = (size_t)depth * nr;
        if (!job.trans_b) {
            // Row p of B holds row p of every panel. In blocks of 16 values of p, copy panel by panel:
            // the block's source rows stay in L1 and each panel is written in order.
            for (uint32_t pb = 0; pb < depth; pb += kPackDepthBlock) {
                const uint32_t pb_end = std::min(depth, pb + kPackDepthBlock);
                if (p0 + pb_end + kPackDepthBlock <= job.k)
                    for (uint32_t p = pb_end; p < pb_end + kPackDepthBlock; p++)
                        prefetch_row(job.b + (size_t)(p0 + p) * job.ldb + col_begin, width);
                for (uint32_t jp = 0; jp <= full_panels && jp < jp_end - jp_begin; jp++) {
                    const uint32_t cols = jp < full_panels ? nr : tail;
                    const float *src = job.b + (size_t)(p0 + pb) * job.ldb + col_begin + jp * nr;
                    float *dst = panels + jp * panel_floats + (size_t)pb * nr;
                    for (uint32_t p = pb; p < pb_end; p++, src += job.ldb, dst += nr) {
                        if (cols == nr) {
                            std::memcpy(dst, src, nr * sizeof(float));
                        } else {
                            std::memcpy(dst, src, cols * sizeof(float));
                            for (uint32_t j = cols; j < nr; j++) dst[j] = 0.0f;
                        }
                    }
                }
            }
        } else {
            // op(B)[p][j] = B[j][p]: read each row of B along p, scatter it with stride nr.
            for (uint32_t j = 0; j < width; j++) {
                const float *src = job.b + (size_t)(col_begin + j) * job.ldb + p0;
                if (j + 1 < width) prefetch_row(src + job.ldb, depth);
                float *dst = panels + (size_t)(j / nr) * panel_floats + j % nr;
                for (uint32_t p = 0; p < depth; p++) dst[(size_t)p * nr] = src[p];
            }
            if (tail) {
                float *dst = panels + (size_t)full_panels * panel_floats;
                for (uint32_t p = 0; p < depth; p++)
                    for (uint32_t j = tail; j < nr; j++) dst[(size_t)p * nr + j] = 0.0f;
            }
        }
    }
}

// Packs column panels [jp_begin, jp_end) of the chunk for every p, zero-padding columns past the end.
void pack_b_panels(const GemmJob &job, uint32_t jp_begin, uint32_t jp_end) {
    switch (job.kernel->nr) {
        case 8: return pack_b_panels_t<8>(job, jp_begin, jp_end);
        case 16: return pack_b_panels_t<16>(job, jp_begin, jp_end);
        case 32: return pack_b_panels_t<32>(job, jp_begin, jp_end);
        default: return pack_b_panels_t<0>(job, jp_begin, jp_end);
    }
}

void pack_b_task(void *arg, uint32_t task) {
    const GemmJob &job = *static_cast<const GemmJob *>(arg);
    pack_b_panels(job, (uint32_t)((uint64_t)job.col_panels * task / job.pack_tasks),
                  (uint32_t)((uint64_t)job.col_panels * (task + 1) / job.pack_tasks));
}

template <uint32_t kMr>
void pack_a_rows_t(const GemmJob &job, uint32_t row, uint32_t n_panels, uint32_t p0, uint32_t depth, float *dst) {
    const uint32_t mr = kMr ? kMr : job.kernel->mr;
    const size_t panel_floats = (size_t)depth * mr;
    const uint32_t rows = std::min(n_panels * mr, job.m - row);  // the rows that exist
    const uint32_t full_panels = rows / mr, tail = rows % mr;
    if (!job.trans_a) {
        // Row-major A: the kernel's own transposing packer for whole panels where it has one;
        // otherwise read each row along p and scatter it with stride mr into its panel.
        uint32_t r = 0;
        if (job.kernel->pack_a_rows) {
            for (; r < full_panels * mr; r += mr)
                job.kernel->pack_a_rows(job.a + (size_t)(row + r) * job.lda + p0, job.lda, depth,
                                        dst + (size_t)(r / mr) * panel_floats);
        }
        for (; r < rows; r++) {
            const float *src = job.a + (size_t)(row + r) * job.lda + p0;
            if (r + 4 < rows) prefetch_row(src + (size_t)4 * job.lda, depth);
            float *out = dst + (size_t)(r / mr) * panel_floats + r % mr;
            for (uint32_t p = 0; p < depth; p++) out[(size_t)p * mr] = src[p];
        }
        if (tail) {
            float *out = dst + (size_t)full_panels * panel_floats;
            for (uint32_t p = 0; p < depth; p++)
                for (uint32_t i = tail; i < mr; i++) out[(size_t)p * mr + i] = 0.0f;
        }
    } else {
        // op(A)[i][p] = A[p][i]: row p of A holds row p of every panel. In blocks of 16 values of p,
        // copy panel by panel: the block's source rows stay in L1 and each panel is written in order.
        for (uint32_t pb = 0; pb < depth; pb += kPackDepthBlock) {
            const uint32_t pb_end = std::min(depth, pb + kPackDepthBlock);
            if (p0 + pb_end + kPackDepthBlock <= job.k)
                for (uint32_t p = pb_end; p < pb_end + kPackDepthBlock; p++)
                    prefetch_row(job.a + (size_t)(p0 + p) * job.lda + row, rows);
            for (uint32_t ip = 0; ip <= full_panels && ip < n_panels; ip++) {
                const uint32_t width = ip < full_panels ? mr : tail;
                const float *src = job.a + (size_t)(p0 + pb) * job.lda + row + ip * mr;
                float *out = dst + ip * panel_floats + (size_t)pb * mr;
                for (uint32_t p = pb; p < pb_end; p++, src += job.lda, out += mr) {
                    if (width == mr) {
                        std::memcpy(out, src, mr * sizeof(float));
                    } else {
                        std::memcpy(out, src, width * sizeof(float));
                        for (uint32_t r = width; r < mr; r++) out[r] = 0.0f;
                    }
                }
            }
        }
    }
}

// Packs rows [row, row + n_panels * mr) of op(A), depth [p0, p0 + depth), into n_panels micro-panels;
// rows past m are zero.
void pack_a_rows(const GemmJob &job, uint32_t row, uint32_t n_panels, uint32_t p0, uint32_t depth, float *dst) {
    switch (job.kernel->mr) {
        case 4: return pack_a_rows_t<4>(job, row, n_panels, p0, depth, dst);
        case 6: return pack_a_rows_t<6>(job, row, n_panels, p0, depth, dst);
        case 12: return pack_a_rows_t<12>(job, row, n_panels, p0, depth, dst);
        default: return pack_a_rows_t<0>(job, row, n_panels, p0, depth, dst);
    }
}

void compute_task(void *arg, uint32_t task) {
    const GemmJob &job = *static_cast<const GemmJob *>(arg);
    const GemmMicroKernel &kernel = *job.kernel;
    const uint32_t mr = kernel.mr, nr = kernel.nr, kc = kernel.kc;

    const uint32_t row_block = task / job.col_blocks, col_block = task % job.col_blocks;
    const uint32_t ip_begin = row_block * job.rows_per_task;
    const uint32_t n_row_panels = std::min(job.rows_per_task, job.row_panels - ip_begin);
    const uint32_t jp_begin = col_block * job.cols_per_task;
    const uint32_t jp_end = std::min(jp_begin + job.cols_per_task, job.col_panels);
    const uint32_t row0 = ip_begin * mr;

    float *a_packed = t_a_pack.get((size_t)n_row_panels * mr * std::min(kc, job.k));
    alignas(64) float edge_tile[kMaxTileFloats];

    for (uint32_t p0 = 0; p0 < job.k; p0 += kc) {
        const uint32_t depth = std::min(kc, job.k - p0);
        pack_a_rows(job, row0, n_row_panels, p0, depth, a_packed);
        // The first pass applies beta; later passes add to what the earlier ones left in C.
        const float beta = p0 == 0 ? job.beta : 1.0f;
        for (uint32_t jp = jp_begin; jp < jp_end; jp++) {
            const float *bp = b_panel(job, p0, depth, jp);
            const uint32_t col = job.col0 + jp * nr;
            const uint32_t width = std::min(nr, job.col0 + job.cols - col);
            for (uint32_t ip = 0; ip < n_row_panels; ip++) {
                const float *ap = a_packed + (size_t)ip * depth * mr;
                const uint32_t row = row0 + ip * mr;
                const uint32_t height = std::min(mr, job.m - row);
                float *ct = job.c + (size_t)row * job.ldc + col;
                if (height == mr && width == nr) {
                    kernel.tile(depth, ap, bp, beta, ct, job.ldc);
                    continue;
                }
                // Edge: the same kernel into a full scratch tile, then the same beta*C + sum rounding
                // as the kernel's own epilogue, for the elements that exist.
                kernel.tile(depth, ap, bp, 0.0f, edge_tile, nr);
                for (uint32_t r = 0; r < height; r++) {
                    float *crow = ct + (size_t)r * job.ldc;
                    const float *sums = edge_tile + (size_t)r * nr;
                    if (beta == 0.0f) {
                        for (uint32_t j = 0; j < width; j++) crow[j] = sums[j];
                    } else {
                        for (uint32_t j = 0; j < width; j++) crow[j] = beta * crow[j] + sums[j];
                    }
                }
            }
        }
    }
}

}  // namespace

void gemm_blocked(const GemmMicroKernel &kernel, ThreadPool *pool, bool trans_a, bool trans_b, uint32_t m,
                  uint32_t n, uint32_t k, const float *a, uint32_t lda, const float *b, uint32_t ldb, float beta,
                  float *c, uint32_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {  // an empty sum: C = beta * C, rounded as the reference does
        for (uint32_t i = 0; i < m; i++) {
            float *row = c + (size_t)i * ldc;
            for (uint32_t j = 0; j < n; j++) row[j] = beta == 0.0f ? 0.0f : beta * row[j] + 0.0f;
        }
        return;
    }
    const uint32_t mr = kernel.mr, nr = kernel.nr;
    const bool parallel = (uint64_t)m * n * k >= kMinParallelMacs && can_run_parallel(pool);
    const uint32_t threads = parallel ? pool->size() : 1;

    GemmJob job;
    job.kernel = &kernel;
    job.trans_a = trans_a;
    job.trans_b = trans_b;
    job.m = m;
    job.k = k;
    job.a = a;
    job.b = b;
    job.lda = lda;
    job.ldb = ldb;
    job.ldc = ldc;
    job.beta = beta;
    job.c = c;
    job.row_panels = ceil_div(m, mr);

    // Row blocks: at most mc rows each, and a multiple of the thread count of them, so that equal
    // tasks end together. Column ranges split only what rows cannot (m smaller than the threads).
    const uint32_t mc_panels = std::max(1u, kernel.mc / mr);
    const uint32_t rounds = ceil_div(job.row_panels, threads * mc_panels);
    job.rows_per_task = ceil_div(job.row_panels, threads * rounds);
    const uint32_t row_blocks = ceil_div(job.row_panels, job.rows_per_task);

    const uint32_t chunk_cols = (uint32_t)std::max<size_t>(nr, kBPackBudgetFloats / k / nr * nr);
    for (uint32_t col0 = 0; col0 < n; col0 += chunk_cols) {
        job.col0 = col0;
        job.cols = std::min(chunk_cols, n - col0);
        job.col_panels = ceil_div(job.cols, nr);
        job.b_packed = t_b_pack.get((size_t)k * job.col_panels * nr);

        // Packing is memory-bound and small next to the product: a job of its own pays only when
        // there is much of it.
        const bool parallel_pack = parallel && (uint64_t)k * job.cols >= kMinParallelPackFloats;
        job.pack_tasks = parallel_pack ? std::min(job.col_panels, threads) : 1;
        run_tasks(parallel_pack ? pool : nullptr, pack_b_task, &job, job.pack_tasks);

        const uint32_t want_col_blocks = row_blocks >= threads ? 1 : ceil_div(threads, row_blocks);
        job.cols_per_task = ceil_div(job.col_panels, std::min(want_col_blocks, job.col_panels));
        job.col_blocks = ceil_div(job.col_panels, job.cols_per_task);
        run_tasks(parallel ? pool : nullptr, compute_task, &job, row_blocks * job.col_blocks);
    }
}

CpuTrainBackend::CpuTrainBackend(ThreadPool *pool, const char *isa) : pool_(pool), table_() {
    const GemmMicroKernel *built[] = {gemm_kernel_portable(), gemm_kernel_avx2(), gemm_kernel_avx512()};
    if (isa == nullptr) {
        for (const GemmMicroKernel *kernel : built)
            if (kernel && kernel->cpu_supported()) kernel_ = kernel;  // the last one is the fastest
    } else {
        const GemmMicroKernel *named = nullptr;
        std::string have;
        for (const GemmMicroKernel *kernel : built) {
            if (!kernel) continue;
            have += (have.empty() ? "" : ", ") + std::string(kernel->name);
            if (std::strcmp(kernel->name, isa) == 0) named = kernel;
        }
        if (!named) {
            error_ = "unknown gemm kernel '" + std::string(isa) + "' (have: " + have + ")";
        } else if (!named->cpu_supported()) {
            error_ = "gemm kernel '" + std::string(isa) + "' not supported by this CPU";
        } else {
            kernel_ = named;
        }
    }
    if (!kernel_) return;
    name_ = std::string("cpu-") + kernel_->name;
    table_.name = name_.c_str();
    table_.ctx = this;
    table_.gemm = gemm_fn;
    const bool threaded = pool_ && pool_->size() > 1;
    table_.parallel_for = threaded ? parallel_for_fn : nullptr;
    table_.runner = threaded ? this : nullptr;
}

const char *CpuTrainBackend::isa_name() const { return kernel_ ? kernel_->name : ""; }

std::vector<std::string> CpuTrainBackend::available_isas() {
    std::vector<std::string> names;
    for (const GemmMicroKernel *kernel : {gemm_kernel_portable(), gemm_kernel_avx2(), gemm_kernel_avx512()})
        if (kernel && kernel->cpu_supported()) names.push_back(kernel->name);
    return names;
}

void CpuTrainBackend::gemm_fn(void *ctx, bool trans_a, bool trans_b, uint32_t m, uint32_t n, uint32_t k,
                              const float *a, uint32_t lda, const float *b, uint32_t ldb, float beta, float *c,
                              uint32_t ldc) {
    const CpuTrainBackend *self = static_cast<const CpuTrainBackend *>(ctx);
    gemm_blocked(*self->kernel_, self->pool_, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

void CpuTrainBackend::parallel_for_fn(void *runner, bitlm_task_fn fn, void *arg, uint32_t n_tasks) {
    run_tasks(static_cast<CpuTrainBackend *>(runner)->pool_, fn, arg, n_tasks);
}

}  // namespace host
}  // namespace bitlm
