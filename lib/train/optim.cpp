// optim.cpp — AdamW, SGD with (Nesterov) momentum and Muon over a list of Params, with the global
// gradient norm and clipping. Elementwise work runs in fixed-size chunks on the backend's task runner.
#include "train/optim.h"

#include "core/bytes.h"
#include "core/detmath.h"

namespace bitlm {
namespace {

// ---------------------------------------------------------------------------------------------------
// Chunks and small helpers

// Elements per task. Fixed (never derived from the thread count), so every reduction below adds the
// same partial sums in the same order whichever thread ran which chunk, and so do the element updates.
constexpr uint64_t kChunk = kOptimChunk;
// Scratch buffers start on 16-float (64-byte) boundaries relative to the scratch pointer: cheap, and
// a SIMD GEMM that likes aligned rows gets them whenever the caller's block is aligned.
constexpr uint64_t kAlignFloats = 16;


inline uint64_t chunks_of(uint64_t count) { return (count + kChunk - 1) / kChunk; }

inline bool decays(ParamKind kind) { return kind == ParamKind::Matrix || kind == ParamKind::Embedding; }

// Partial sums are doubles kept in the caller's float scratch, two floats each; memcpy because the
// scratch block is only promised float alignment.
inline void store_partial(float *slots, uint64_t i, double v) { __builtin_memcpy(slots + 2 * i, &v, sizeof v); }
inline double load_partial(const float *slots, uint64_t i) {
    double v;
    __builtin_memcpy(&v, slots + 2 * i, sizeof v);
    return v;
}

inline bool finite_d(double x) {
    uint64_t bits;
    __builtin_memcpy(&bits, &x, sizeof bits);
    return ((bits >> 52) & 0x7ffu) != 0x7ffu;
}

inline bool finite_nonneg(float x) { return det_isfinite(x) && x >= 0.0f; }

// b^e by repeated squaring in double (no libm); underflows harmlessly to 0 for long runs.
double pow_u64(double b, uint64_t e) {
    double result = 1.0, base = b;
    while (e != 0) {
        if (e & 1u) result *= base;
        base *= base;
        e >>= 1;
    }
    return result;
}

// sqrt of a finite x >= 0 in double: scale into float range by even powers of two (exact), start from
// the float root and polish with two Newton steps (each doubles the correct bits: 24 -> 48 -> 53).
double sqrt_d(double x) {
    if (!(x > 0.0)) return 0.0;
    double scale = 1.0;
    while (x > 0x1p100) { x *= 0x1p-100; scale *= 0x1p50; }
    while (x < 0x1p-100) { x *= 0x1p100; scale *= 0x1p-50; }
    double y = (double)det_sqrtf((float)x);
    y = 0.5 * (y + x / y);
    y = 0.5 * (y + x / y);
    return y * scale;
}

// sqrt for Adam's denominator, once per weight per step. det_sqrtf is correctly rounded but works bit
// by bit (~50 ns); this is an inverse-sqrt Newton iteration from the usual bit-trick guess plus one
// Heron correction — a dozen IEEE operations in a fixed order (so every target gets the same bits),
// within 1 ulp of the true root (checked over every float in [2^-100, 2^100] when written).
// Zero, tiny, huge and non-finite inputs take the exact path.
inline float adam_sqrt(float x) {
    if (!(x >= 0x1p-100f && x <= 0x1p100f)) return det_sqrtf(x);
    float r = bits_float(0x5f375a86u - (float_bits(x) >> 1));  // ~3.4% relative error
    const float half = 0.5f * x;
    r = r * (1.5f - half * r * r);  // each step squares the error: 1.2e-3, 2e-6, then float rounding
    r = r * (1.5f - half * r * r);
    r = r * (1.5f - half * r * r);
    const float s = x * r;
    return s + (0.5f * r) * (x - s * s);
}

// Runs f(task) for task in [0, n_tasks) on the backend's runner.
template <class F>
void task_trampoline(void *arg, uint32_t task) {
    (*static_cast<const F *>(arg))(task);
}

template <class F>
void for_tasks(const TrainBackend *backend, uint64_t n_tasks, const F &f) {
    backend_run(backend, task_trampoline<F>, const_cast<F *>(&f), (uint32_t)n_tasks);
}

// Runs f(task, begin, end) over [0, count) in kChunk-sized tasks.
template <class F>
void for_chunks(const TrainBackend *backend, uint64_t count, const F &f) {
    for_tasks(backend, chunks_of(count), [&](uint32_t task) {
        const uint64_t begin = (uint64_t)task * kChunk;
        f(task, begin, count - begin < kChunk ? count : begin + kChunk);
    });
}

// Tasks over the chunks of several params at once (small params then share the runner instead of
// each paying a dispatch): task t is chunk `chunk` of params[index], counting only params with use(p).
template <class Use>
bool locate_chunk(const Param *params, uint32_t n, const Use &use, uint64_t task, uint32_t *index,
                  uint64_t *chunk) {
    for (uint32_t i = 0; i < n; i++) {
        if (!use(params[i])) continue;
        const uint64_t c = chunks_of(params[i].count());
        if (task < c) {
            *index = i;
            *chunk = task;
            return true;
        }
        task -= c;
    }
    return false;
}

template <class Use>
uint64_t total_chunks(const Param *params, uint32_t n, const Use &use) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        if (use(params[i])) total += chunks_of(params[i].count());
    return total;
}

inline bool any_param(const Param &) { return true; }

// ---------------------------------------------------------------------------------------------------
// Scratch layout: [norm partials | X | A | B | T], each part starting on a kAlignFloats boundary.
//   partials: one double (2 floats) per chunk of every param (the global-norm reduction; Muon's
//             Frobenius norms reuse the front of it);
//   X, T: p x q, A, B: p x p for the largest Muon matrix, p = min(rows, cols), q = max(rows, cols).

struct ScratchLayout {
    uint64_t x, a, b, t, total;
};

ScratchLayout scratch_layout(const OptimConfig &config, const Param *params, uint32_t n) {
    ScratchLayout s = {};
    const uint64_t partials = align_up(2 * total_chunks(params, n, any_param), kAlignFloats);
    uint64_t pq = 0, pp = 0;
    if (config.kind == OptimKind::Muon) {
        for (uint32_t i = 0; i < n; i++) {
            if (params[i].kind != ParamKind::Matrix) continue;
            const uint64_t p = params[i].rows < params[i].cols ? params[i].rows : params[i].cols;
            const uint64_t q = params[i].rows < params[i].cols ? params[i].cols : params[i].rows;
            if (p * q > pq) pq = p * q;
            if (p * p > pp) pp = p * p;
        }
    }
    pq = align_up(pq, kAlignFloats);
    pp = align_up(pp, kAlignFloats);
    s.x = partials;
    s.a = s.x + pq;
    s.b = s.a + pp;
    s.t = s.b + pp;
    s.total = pq == 0 ? partials : s.t + pq;
    return s;
}

// ---------------------------------------------------------------------------------------------------
// Global gradient norm: a double sum of squares per kChunk chunk (index order), the chunk sums added
// in list order. Serial and parallel evaluation give the same bits.

double chunk_sumsq(const float *g, uint64_t begin, uint64_t end) {
    double sum = 0.0;
    for (uint64_t i = begin; i < end; i++) sum += (double)g[i] * (double)g[i];
    return sum;
}

double grad_sumsq_serial(const Param *params, uint32_t n) {
    double total = 0.0;
    for (uint32_t i = 0; i < n; i++) {
        const uint64_t count = params[i].count();
        for (uint64_t b = 0; b < count; b += kChunk)
            total += chunk_sumsq(params[i].g, b, count - b < kChunk ? count : b + kChunk);
    }
    return total;
}

double grad_sumsq_parallel(const Param *params, uint32_t n, const TrainBackend *backend, float *slots) {
    const uint64_t tasks = total_chunks(params, n, any_param);
    for_tasks(backend, tasks, [&](uint32_t task) {
        uint32_t pi;
        uint64_t c;
        if (!locate_chunk(params, n, any_param, task, &pi, &c)) return;
        const uint64_t count = params[pi].count(), b = c * kChunk;
        store_partial(slots, task, chunk_sumsq(params[pi].g, b, count - b < kChunk ? count : b + kChunk));
    });
    double total = 0.0;
    for (uint64_t t = 0; t < tasks; t++) total += load_partial(slots, t);
    return total;
}

// ---------------------------------------------------------------------------------------------------
// Elementwise updates


inline float read_grad(const OptimHyper &h, float *g, uint64_t i) {
    float v = g[i];
    if (h.clip) {
        v = v * h.g_scale;
        g[i] = v;  // the caller sees the clipped gradient, as after clip_grad_norm_
    }
    return v;
}

// AdamW on [begin, end) of p. State: m then v, count floats each. Everything the loop reads is copied
// into locals first: the loop stores floats, which could alias Hyper's fields, and the compiler would
// otherwise reload every one of them per element.
void adamw_range(const OptimHyper &h, const Param &p, uint64_t begin, uint64_t end) {
    float *const w = p.w, *const g = p.g, *const m = p.state, *const v = p.state + p.count();
    const bool clip = h.clip;
    const float g_scale = h.g_scale, b1 = h.b1, b2 = h.b2, c1 = h.one_minus_b1, c2 = h.one_minus_b2;
    const float inv_bc1 = h.inv_bc1, inv_bc2 = h.inv_bc2, eps = h.eps, lr = h.adam_lr;
    // Decoupled decay as PyTorch's AdamW: w *= 1 - lr*wd, then the Adam step.
    const float keep = decays(p.kind) ? 1.0f - h.adam_lr * h.wd : 1.0f;
    for (uint64_t i = begin; i < end; i++) {
        float gi = g[i];
        if (clip) {
            gi = gi * g_scale;
            g[i] = gi;  // the caller sees the clipped gradient, as after clip_grad_norm_
        }
        const float mi = b1 * m[i] + c1 * gi;
        const float vi = b2 * v[i] + c2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        const float update = (mi * inv_bc1) / (adam_sqrt(vi * inv_bc2) + eps);
        w[i] = w[i] * keep - lr * update;
    }
}

// SGD with momentum on [begin, end). State: the momentum buffer. Weight decay is decoupled, as in
// AdamW and Muon (w *= 1 - lr*wd), rather than added to the gradient: then it does not pass through
// the momentum buffer and one weight_decay means the same thing under every optimizer.
void sgd_range(const OptimHyper &h, const Param &p, uint64_t begin, uint64_t end) {
    float *const w = p.w, *const g = p.g, *const buf = p.state;
    const bool clip = h.clip, nesterov = h.nesterov;
    const float g_scale = h.g_scale, mu = h.mu, lr = h.lr;
    const float keep = decays(p.kind) ? 1.0f - h.lr * h.wd : 1.0f;
    for (uint64_t i = begin; i < end; i++) {
        float gi = g[i];
        if (clip) {
            gi = gi * g_scale;
            g[i] = gi;
        }
        const float b = mu * buf[i] + gi;
        buf[i] = b;
        const float update = nesterov ? gi + mu * b : b;
        w[i] = w[i] * keep - lr * update;
    }
}

// One pass over the chunks of every param the optimizer updates elementwise (all of them for AdamW
// and SGD; Embedding and Vector under Muon).
void elementwise_pass(const OptimConfig &config, const OptimHyper &h, Param *params, uint32_t n,
                      const TrainBackend *backend) {
    const bool muon = config.kind == OptimKind::Muon;
    auto use = [muon](const Param &p) { return !(muon && p.kind == ParamKind::Matrix); };
    const uint64_t tasks = total_chunks(params, n, use);
    for_tasks(backend, tasks, [&](uint32_t task) {
        uint32_t pi;
        uint64_t c;
        if (!locate_chunk(params, n, use, task, &pi, &c)) return;
        const Param &p = params[pi];
        const uint64_t b = c * kChunk, e = p.count() - b < kChunk ? p.count() : b + kChunk;
        if (config.kind == OptimKind::SGD) sgd_range(h, p, b, e);
        else adamw_range(h, p, b, e);
    });
}

// ---------------------------------------------------------------------------------------------------
// Muon for one Matrix param: momentum, Newton–Schulz orthogonalization (GEMMs on the backend), update.

void muon_matrix(const OptimHyper &h, const Param &p, const TrainBackend *backend, float *scratch,
                 const ScratchLayout &layout, uint32_t ns_steps) {
    const uint32_t rows = p.rows, cols = p.cols;
    const bool tall = rows > cols;                // work on the transpose: X is p x q with p <= q
    const uint32_t pd = tall ? cols : rows, qd = tall ? rows : cols;
    const uint64_t count = p.count(), pq = (uint64_t)pd * qd, pp = (uint64_t)pd * pd;
    float *slots = scratch, *X = scratch + layout.x, *A = scratch + layout.a, *B = scratch + layout.b,
          *T = scratch + layout.t;

    // u = momentum (Nesterov or not) into X, transposed when tall; per-chunk sums of u^2 for its norm.
    auto momentum = [&](uint32_t task, uint64_t begin, uint64_t end) {
        float *buf = p.state;
        uint64_t r = begin / cols, c = begin % cols;
        double sumsq = 0.0;
        for (uint64_t i = begin; i < end; i++) {
            const float g = read_grad(h, p.g, i);
            const float b = h.mu * buf[i] + g;
            buf[i] = b;
            const float u = h.nesterov ? g + h.mu * b : b;
            X[tall ? c * rows + r : i] = u;
            sumsq += (double)u * (double)u;
            if (++c == cols) { c = 0; r++; }
        }
        store_partial(slots, task, sumsq);
    };
    for_chunks(backend, count, momentum);
    double sumsq = 0.0;
    for (uint64_t t = 0; t < chunks_of(count); t++) sumsq += load_partial(slots, t);

    // X /= (||u||_F + 1e-7): spectral norm <= Frobenius norm <= 1, inside NS's basin.
    const float denom = (float)(sqrt_d(sumsq) + kMuonNormEps);
    for_chunks(backend, pq, [&](uint32_t, uint64_t b, uint64_t e) {
        for (uint64_t i = b; i < e; i++) X[i] = X[i] / denom;
    });

    // X <- a X + (b A + c A A) X with A = X X^T (p x p, the small side).
    for (uint32_t s = 0; s < ns_steps; s++) {
        backend->gemm(backend->ctx, false, true, pd, pd, qd, X, qd, X, qd, 0.0f, A, pd);
        backend->gemm(backend->ctx, false, false, pd, pd, pd, A, pd, A, pd, 0.0f, B, pd);
        for_chunks(backend, pp, [&](uint32_t, uint64_t b, uint64_t e) {
            for (uint64_t i = b; i < e; i++) B[i] = kNsB * A[i] + kNsC * B[i];
        });
        backend->gemm(backend->ctx, false, false, pd, qd, pd, B, pd, X, qd, 0.0f, T, qd);
        for_chunks(backend, pq, [&](uint32_t, uint64_t b, uint64_t e) {
            for (uint64_t i = b; i < e; i++) X[i] = kNsA * X[i] + T[i];
        });
    }

    // w = w * (1 - lr*wd) - lr * max(1, rows/cols)^0.5 * X: the scale keeps the per-element update
    // size of tall matrices comparable to wide ones (Keller Jordan's / the challenge baseline's rule).
    const float lr_eff = muon_lr_eff(h, rows, cols);
    const float keep = 1.0f - h.lr * h.wd;
    for_chunks(backend, count, [&](uint32_t, uint64_t begin, uint64_t end) {
        uint64_t r = begin / cols, c = begin % cols;
        for (uint64_t i = begin; i < end; i++) {
            p.w[i] = p.w[i] * keep - lr_eff * X[tall ? c * rows + r : i];
            if (++c == cols) { c = 0; r++; }
        }
    });
}

// ---------------------------------------------------------------------------------------------------
// Validation: everything is checked before any weight, state or gradient is written.

bool config_valid(const OptimConfig &c) {
    if (c.kind != OptimKind::AdamW && c.kind != OptimKind::SGD && c.kind != OptimKind::Muon) return false;
    if (!finite_nonneg(c.lr) || !finite_nonneg(c.adam_lr) || !finite_nonneg(c.weight_decay)) return false;
    if (!finite_nonneg(c.grad_clip)) return false;
    // betas in [0, 1): beta = 1 makes the bias correction divide by zero.
    if (!finite_nonneg(c.beta1) || !(c.beta1 < 1.0f) || !finite_nonneg(c.beta2) || !(c.beta2 < 1.0f)) return false;
    // eps > 0: with eps = 0 a weight whose gradient was always zero would get 0/0.
    if (!det_isfinite(c.eps) || !(c.eps > 0.0f)) return false;
    if (!finite_nonneg(c.momentum) || !(c.momentum < 1.0f)) return false;
    return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Public API

bool optim_args_valid(const OptimConfig &config, uint64_t step, float lr_mult, float wd_mult) {
    return step != 0 && config_valid(config) && finite_nonneg(lr_mult) && finite_nonneg(wd_mult);
}

OptimHyper optim_hyper(const OptimConfig &config, uint64_t step, float lr_mult, float wd_mult, double grad_norm) {
    const bool muon = config.kind == OptimKind::Muon;
    OptimHyper h = {};
    h.clip = config.grad_clip > 0.0f && grad_norm > (double)config.grad_clip;
    h.g_scale = h.clip ? (float)((double)config.grad_clip / grad_norm) : 1.0f;
    h.adam_lr = (muon ? config.adam_lr : config.lr) * lr_mult;
    h.b1 = config.beta1;
    h.b2 = config.beta2;
    h.one_minus_b1 = 1.0f - config.beta1;
    h.one_minus_b2 = 1.0f - config.beta2;
    // Bias correction 1 - beta^step in double: early on beta^step is close to 1, and the subtraction
    // would magnify the rounding of a float power by 1 / (1 - beta^step), e.g. ~20x for beta2 = 0.95.
    h.inv_bc1 = (float)(1.0 / (1.0 - pow_u64((double)config.beta1, step)));
    h.inv_bc2 = (float)(1.0 / (1.0 - pow_u64((double)config.beta2, step)));
    h.eps = config.eps;
    h.lr = config.lr * lr_mult;
    h.mu = config.momentum;
    h.nesterov = config.nesterov;
    h.wd = config.weight_decay * wd_mult;
    return h;
}

float muon_lr_eff(const OptimHyper &h, uint32_t rows, uint32_t cols) {
    const double aspect = (double)rows / (double)cols;
    return (float)((double)h.lr * sqrt_d(aspect > 1.0 ? aspect : 1.0));
}

double optim_sqrt(double x) { return sqrt_d(x); }

uint64_t optimizer_state_floats(const OptimConfig &config, const Param &p) {
    switch (config.kind) {
        case OptimKind::SGD: return p.count();
        case OptimKind::Muon: return p.kind == ParamKind::Matrix ? p.count() : 2 * p.count();
        case OptimKind::AdamW:
        default: return 2 * p.count();
    }
}

uint64_t optimizer_scratch_floats(const OptimConfig &config, const Param *params, uint32_t n) {
    if (params == nullptr) return 0;
    return scratch_layout(config, params, n).total;
}

float grad_global_norm(const Param *params, uint32_t n) {
    if (params == nullptr) return 0.0f;
    const double sumsq = grad_sumsq_serial(params, n);
    return finite_d(sumsq) ? (float)sqrt_d(sumsq) : (float)sumsq;
}

bitlm_status optim_step(const OptimConfig &config, Param *params, uint32_t n, uint64_t step, float lr_mult,
                        float wd_mult, const TrainBackend *backend, float *scratch, float *out_grad_norm) {
    if (params == nullptr && n != 0) return BITLM_ERR_NULL_ARGUMENT;
    if (backend == nullptr) backend = reference_train_backend();
    if (!optim_args_valid(config, step, lr_mult, wd_mult)) return BITLM_ERR_BAD_ARGUMENT;
    const bool muon = config.kind == OptimKind::Muon;
    for (uint32_t i = 0; i < n; i++) {
        const Param &p = params[i];
        if (p.count() == 0) continue;
        if (p.w == nullptr || p.g == nullptr || p.state == nullptr) return BITLM_ERR_NULL_ARGUMENT;
        if (muon && p.kind == ParamKind::Matrix && (scratch == nullptr || backend->gemm == nullptr))
            return BITLM_ERR_NULL_ARGUMENT;
    }
    if (total_chunks(params, n, any_param) > 0xffffffffu) return BITLM_ERR_SIZE_OVERFLOW;

    // The norm first: it also finds NaN/inf (a float squared is finite in double, so the double sum is
    // non-finite exactly when some gradient is), before anything is written.
    const double sumsq = scratch != nullptr ? grad_sumsq_parallel(params, n, backend, scratch)
                                            : grad_sumsq_serial(params, n);
    if (!finite_d(sumsq)) {
        if (out_grad_norm) *out_grad_norm = (float)sumsq;
        return BITLM_ERR_BAD_ARGUMENT;
    }
    const double norm = sqrt_d(sumsq);
    if (out_grad_norm) *out_grad_norm = (float)norm;

    const OptimHyper h = optim_hyper(config, step, lr_mult, wd_mult, norm);

    if (muon) {
        const ScratchLayout layout = scratch_layout(config, params, n);
        for (uint32_t i = 0; i < n; i++)
            if (params[i].kind == ParamKind::Matrix && params[i].count() != 0)
                muon_matrix(h, params[i], backend, scratch, layout, config.ns_steps);
    }
    elementwise_pass(config, h, params, n, backend);
    return BITLM_OK;
}

}  // namespace bitlm
