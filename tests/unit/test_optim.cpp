// test_optim.cpp — AdamW, SGD and Muon against straightforward double-precision re-implementations
// written here; clipping, weight-decay kinds, refused NaN gradients, Newton–Schulz spectra, determinism.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "check.h"
#include "train/optim.h"

using namespace bitlm;

// ---- parameters owning their memory -------------------------------------------------------------

struct Shape {
    const char *name;
    ParamKind kind;
    uint32_t rows, cols;
};

struct Model {
    std::vector<std::vector<float>> w, g, state;
    std::vector<Param> params;
    std::vector<float> scratch;  // with a canary tail
    uint64_t scratch_floats = 0;
    static constexpr size_t kCanary = 64;

    Model(const OptimConfig &config, const std::vector<Shape> &shapes, std::mt19937 &rng, float w_scale = 0.5f) {
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (const Shape &s : shapes) {
            const size_t count = (size_t)s.rows * s.cols;
            w.emplace_back(count);
            for (float &x : w.back()) x = w_scale * nd(rng);
            g.emplace_back(count, 0.0f);
        }
        for (size_t i = 0; i < shapes.size(); i++) {
            Param p = {shapes[i].name, shapes[i].kind, shapes[i].rows, shapes[i].cols, w[i].data(), g[i].data(), nullptr};
            state.emplace_back((size_t)optimizer_state_floats(config, p), 0.0f);
            p.state = state[i].data();
            params.push_back(p);
        }
        scratch_floats = optimizer_scratch_floats(config, params.data(), (uint32_t)params.size());
        scratch.assign((size_t)scratch_floats + kCanary, 12345.0f);
    }
    void random_grads(std::mt19937 &rng, float scale) {
        std::normal_distribution<float> nd(0.0f, scale);
        for (auto &gv : g)
            for (float &x : gv) x = nd(rng);
    }
    bool canary_intact() const {
        for (size_t i = 0; i < kCanary; i++)
            if (scratch[(size_t)scratch_floats + i] != 12345.0f) return false;
        return true;
    }
    bitlm_status step(const OptimConfig &config, uint64_t t, float lr_mult, float wd_mult, const TrainBackend *b,
                      float *norm, bool with_scratch = true) {
        return optim_step(config, params.data(), (uint32_t)params.size(), t, lr_mult, wd_mult, b,
                          with_scratch ? scratch.data() : nullptr, norm);
    }
};

// ---- double-precision references -----------------------------------------------------------------

struct RefParam {
    ParamKind kind;
    uint32_t rows, cols;
    std::vector<double> w, m, v, buf;
};

static std::vector<RefParam> ref_from(const Model &model) {
    std::vector<RefParam> refs;
    for (size_t i = 0; i < model.params.size(); i++) {
        const Param &p = model.params[i];
        RefParam r{p.kind, p.rows, p.cols, std::vector<double>(model.w[i].begin(), model.w[i].end()), {}, {}, {}};
        r.m.assign(r.w.size(), 0.0);
        r.v.assign(r.w.size(), 0.0);
        r.buf.assign(r.w.size(), 0.0);
        refs.push_back(r);
    }
    return refs;
}

static bool ref_decays(ParamKind k) { return k == ParamKind::Matrix || k == ParamKind::Embedding; }

static void ref_adamw(const OptimConfig &c, RefParam &p, const std::vector<double> &g, uint64_t t, double lr,
                      double wd) {
    const double b1 = c.beta1, b2 = c.beta2;
    const double bc1 = 1.0 - std::pow(b1, (double)t), bc2 = 1.0 - std::pow(b2, (double)t);
    const double keep = ref_decays(p.kind) ? 1.0 - lr * wd : 1.0;
    for (size_t i = 0; i < g.size(); i++) {
        p.m[i] = b1 * p.m[i] + (1.0 - b1) * g[i];
        p.v[i] = b2 * p.v[i] + (1.0 - b2) * g[i] * g[i];
        const double update = (p.m[i] / bc1) / (std::sqrt(p.v[i] / bc2) + (double)c.eps);
        p.w[i] = p.w[i] * keep - lr * update;
    }
}

static void ref_sgd(const OptimConfig &c, RefParam &p, const std::vector<double> &g, double lr, double wd) {
    const double mu = c.momentum, keep = ref_decays(p.kind) ? 1.0 - lr * wd : 1.0;
    for (size_t i = 0; i < g.size(); i++) {
        p.buf[i] = mu * p.buf[i] + g[i];
        const double u = c.nesterov ? g[i] + mu * p.buf[i] : p.buf[i];
        p.w[i] = p.w[i] * keep - lr * u;
    }
}

// Plain matrix product of row-major doubles: C (m x n) = A (m x k) * B (k x n).
static std::vector<double> matmul(const std::vector<double> &a, const std::vector<double> &b, size_t m, size_t k,
                                  size_t n) {
    std::vector<double> c(m * n, 0.0);
    for (size_t i = 0; i < m; i++)
        for (size_t p = 0; p < k; p++)
            for (size_t j = 0; j < n; j++) c[i * n + j] += a[i * k + p] * b[p * n + j];
    return c;
}

static std::vector<double> transpose(const std::vector<double> &a, size_t rows, size_t cols) {
    std::vector<double> t(a.size());
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
    return t;
}

// Keller Jordan's Newton–Schulz in double, on the transpose when tall; returns rows x cols.
static std::vector<double> ref_newton_schulz(const std::vector<double> &u, size_t rows, size_t cols, uint32_t steps) {
    const bool tall = rows > cols;
    const size_t p = tall ? cols : rows, q = tall ? rows : cols;
    std::vector<double> x = tall ? transpose(u, rows, cols) : u;
    double norm = 0.0;
    for (double v : x) norm += v * v;
    norm = std::sqrt(norm) + 1e-7;
    for (double &v : x) v /= norm;
    const double a = 3.4445, b = -4.7750, c = 2.0315;
    for (uint32_t s = 0; s < steps; s++) {
        const std::vector<double> A = matmul(x, transpose(x, p, q), p, q, p);
        std::vector<double> B = matmul(A, A, p, p, p);
        for (size_t i = 0; i < B.size(); i++) B[i] = b * A[i] + c * B[i];
        const std::vector<double> BX = matmul(B, x, p, p, q);
        for (size_t i = 0; i < x.size(); i++) x[i] = a * x[i] + BX[i];
    }
    return tall ? transpose(x, p, q) : x;
}

static void ref_muon_matrix(const OptimConfig &c, RefParam &p, const std::vector<double> &g, double lr, double wd) {
    const double mu = c.momentum;
    std::vector<double> u(g.size());
    for (size_t i = 0; i < g.size(); i++) {
        p.buf[i] = mu * p.buf[i] + g[i];
        u[i] = c.nesterov ? g[i] + mu * p.buf[i] : p.buf[i];
    }
    const std::vector<double> x = ref_newton_schulz(u, p.rows, p.cols, c.ns_steps);
    const double scale = std::sqrt(std::max(1.0, (double)p.rows / p.cols));
    for (size_t i = 0; i < g.size(); i++) p.w[i] = p.w[i] * (1.0 - lr * wd) - lr * scale * x[i];
}

// One reference step over every param; returns the global norm before clipping, and the clipped
// gradients in `used` (what the optimizer must leave in Param::g).
static double ref_step(const OptimConfig &c, std::vector<RefParam> &refs, const Model &model, uint64_t t,
                       double lr_mult, double wd_mult, std::vector<std::vector<double>> &used) {
    double sumsq = 0.0;
    for (const auto &gv : model.g)
        for (float x : gv) sumsq += (double)x * x;
    const double norm = std::sqrt(sumsq);
    const double scale = (c.grad_clip > 0.0f && norm > c.grad_clip) ? c.grad_clip / norm : 1.0;
    used.clear();
    for (const auto &gv : model.g) {
        used.emplace_back(gv.size());
        for (size_t i = 0; i < gv.size(); i++) used.back()[i] = gv[i] * scale;
    }
    const double wd = (double)c.weight_decay * wd_mult;
    for (size_t i = 0; i < refs.size(); i++) {
        RefParam &p = refs[i];
        switch (c.kind) {
            case OptimKind::AdamW: ref_adamw(c, p, used[i], t, c.lr * lr_mult, wd); break;
            case OptimKind::SGD: ref_sgd(c, p, used[i], c.lr * lr_mult, wd); break;
            case OptimKind::Muon:
                if (p.kind == ParamKind::Matrix) ref_muon_matrix(c, p, used[i], c.lr * lr_mult, wd);
                else ref_adamw(c, p, used[i], t, c.adam_lr * lr_mult, wd);
                break;
        }
    }
    return norm;
}

static double max_rel_err(const std::vector<float> &got, const std::vector<double> &want, double floor) {
    double worst = 0.0;
    for (size_t i = 0; i < got.size(); i++)
        worst = std::max(worst, std::fabs((double)got[i] - want[i]) / std::max(std::fabs(want[i]), floor));
    return worst;
}

// ---- backends that change the task order ----------------------------------------------------------

static void reverse_parallel_for(void *, bitlm_task_fn fn, void *arg, uint32_t n) {
    for (uint32_t i = n; i-- > 0;) fn(arg, i);
}

// Three threads taking tasks in an interleaved stride (so neighbouring chunks run concurrently).
static void threaded_parallel_for(void *, bitlm_task_fn fn, void *arg, uint32_t n) {
    std::vector<std::thread> threads;
    for (uint32_t t = 0; t < 3; t++)
        threads.emplace_back([=] {
            for (uint32_t i = t; i < n; i += 3) fn(arg, n - 1 - i);
        });
    for (auto &th : threads) th.join();
}

static TrainBackend with_runner(bitlm_parallel_for_fn pf) {
    TrainBackend b = *reference_train_backend();
    b.name = "reordered";
    b.parallel_for = pf;
    return b;
}

// ---- symmetric eigen-decomposition (cyclic Jacobi) for the spectrum checks --------------------------

// a: n x n symmetric (destroyed); returns eigenvalues, eigenvectors in the columns of vecs.
static std::vector<double> jacobi_eigen(std::vector<double> a, size_t n, std::vector<double> &vecs) {
    vecs.assign(n * n, 0.0);
    for (size_t i = 0; i < n; i++) vecs[i * n + i] = 1.0;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++) off += a[i * n + j] * a[i * n + j];
        if (off < 1e-26) break;
        for (size_t p = 0; p < n; p++) {
            for (size_t q = p + 1; q < n; q++) {
                const double apq = a[p * n + q];
                if (std::fabs(apq) < 1e-300) continue;
                const double theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
                const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
                for (size_t k = 0; k < n; k++) {  // columns p, q
                    const double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < n; k++) {  // rows p, q
                    const double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for (size_t k = 0; k < n; k++) {
                    const double vkp = vecs[k * n + p], vkq = vecs[k * n + q];
                    vecs[k * n + p] = c * vkp - s * vkq;
                    vecs[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    std::vector<double> eig(n);
    for (size_t i = 0; i < n; i++) eig[i] = a[i * n + i];
    return eig;
}

// Gram matrix on the small side: M M^T when rows <= cols, else M^T M.
static std::vector<double> small_gram(const std::vector<double> &m, size_t rows, size_t cols, size_t *n) {
    if (rows <= cols) {
        *n = rows;
        return matmul(m, transpose(m, rows, cols), rows, cols, rows);
    }
    *n = cols;
    return matmul(transpose(m, rows, cols), m, cols, rows, cols);
}

// ---- tests -------------------------------------------------------------------------------------------

static const std::vector<Shape> kMixed = {
    {"layers.0.wq", ParamKind::Matrix, 5, 7},
    {"tok_emb", ParamKind::Embedding, 4, 3},
    {"norm.g", ParamKind::Vector, 1, 6},
    {"layers.0.w2", ParamKind::Matrix, 9, 4},
};

// Runs `steps` steps of the optimizer and of the double reference side by side.
static void compare_with_reference(const OptimConfig &config, const char *label, uint32_t seed, double w_tol) {
    std::mt19937 rng(seed);
    Model model(config, kMixed, rng);
    std::vector<RefParam> refs = ref_from(model);
    std::vector<std::vector<double>> used;
    for (uint64_t t = 1; t <= 6; t++) {
        model.random_grads(rng, 0.4f);
        const float lr_mult = 1.0f - 0.1f * (float)t, wd_mult = 0.5f + 0.1f * (float)t;
        const double want_norm = ref_step(config, refs, model, t, lr_mult, wd_mult, used);
        float norm = -1.0f;
        CHECK_MSG(model.step(config, t, lr_mult, wd_mult, reference_train_backend(), &norm) == BITLM_OK, "%s", label);
        CHECK_MSG(std::fabs(norm - want_norm) <= 1e-6 * want_norm, "%s step %d norm %g vs %g", label, (int)t, norm,
                  want_norm);
        for (size_t i = 0; i < refs.size(); i++) {
            const double ew = max_rel_err(model.w[i], refs[i].w, 1.0);
            const double eg = max_rel_err(model.g[i], used[i], 1e-3);
            CHECK_MSG(ew <= w_tol, "%s step %d param %zu: w rel err %g", label, (int)t, i, ew);
            CHECK_MSG(eg <= 1e-6, "%s step %d param %zu: clipped grad rel err %g", label, (int)t, i, eg);
        }
    }
    // State after the last step (Adam moments / momentum buffers).
    for (size_t i = 0; i < refs.size(); i++) {
        const Param &p = model.params[i];
        const size_t n = (size_t)p.count();
        const bool adam = config.kind == OptimKind::AdamW || (config.kind == OptimKind::Muon && p.kind != ParamKind::Matrix);
        if (adam) {
            std::vector<float> m(model.state[i].begin(), model.state[i].begin() + n);
            std::vector<float> v(model.state[i].begin() + n, model.state[i].end());
            CHECK_MSG(max_rel_err(m, refs[i].m, 1e-2) <= 1e-6, "%s param %zu: m", label, i);
            CHECK_MSG(max_rel_err(v, refs[i].v, 1e-4) <= 1e-6, "%s param %zu: v", label, i);
        } else {
            CHECK_MSG(max_rel_err(model.state[i], refs[i].buf, 1.0) <= 1e-6, "%s param %zu: momentum %g", label, i,
                      max_rel_err(model.state[i], refs[i].buf, 1.0));
        }
    }
    CHECK_MSG(model.canary_intact(), "%s: scratch overrun", label);
}

static void test_against_reference() {
    OptimConfig adam;
    adam.kind = OptimKind::AdamW;
    adam.lr = 0.01f;
    adam.weight_decay = 0.1f;
    adam.grad_clip = 0.0f;
    compare_with_reference(adam, "adamw no clip", 1, 1e-6);
    adam.grad_clip = 1.0f;  // the random grads have norm ~3, so every step clips
    compare_with_reference(adam, "adamw clip", 2, 1e-6);
    adam.beta2 = 0.999f;
    adam.eps = 1e-6f;
    compare_with_reference(adam, "adamw b2=0.999", 3, 1e-6);

    OptimConfig sgd;
    sgd.kind = OptimKind::SGD;
    sgd.lr = 0.05f;
    sgd.momentum = 0.9f;
    sgd.weight_decay = 0.01f;
    sgd.nesterov = true;
    compare_with_reference(sgd, "sgd nesterov", 4, 1e-6);
    sgd.nesterov = false;
    sgd.grad_clip = 0.0f;
    compare_with_reference(sgd, "sgd heavy-ball", 5, 1e-6);

    // Muon: float GEMMs inside five NS iterations drift from the double result by ~1e-5 of X.
    OptimConfig muon;
    muon.kind = OptimKind::Muon;
    muon.lr = 0.02f;
    muon.adam_lr = 0.008f;
    muon.weight_decay = 0.05f;
    compare_with_reference(muon, "muon", 6, 2e-6);
    muon.nesterov = false;
    muon.grad_clip = 0.0f;
    compare_with_reference(muon, "muon heavy-ball", 7, 2e-6);
}

// At step 1 the bias-corrected Adam step is g / (|g| + eps): every weight moves by lr against sign(g).
static void test_bias_correction() {
    OptimConfig c;
    c.lr = 0.01f;
    c.weight_decay = 0.0f;
    c.grad_clip = 0.0f;
    c.beta2 = 0.999f;
    std::mt19937 rng(11);
    Model model(c, {{"v", ParamKind::Vector, 1, 50}}, rng);
    model.random_grads(rng, 1.0f);
    const std::vector<float> w0 = model.w[0], g0 = model.g[0];
    CHECK(model.step(c, 1, 1.0f, 1.0f, nullptr, nullptr) == BITLM_OK);
    for (size_t i = 0; i < w0.size(); i++) {
        const double want = -0.01 * (g0[i] > 0 ? 1.0 : -1.0) * std::fabs(g0[i]) / (std::fabs(g0[i]) + 1e-8);
        CHECK_MSG(std::fabs((model.w[0][i] - w0[i]) - want) <= 2e-7, "i=%zu moved %g want %g", i,
                  model.w[0][i] - w0[i], want);
    }
}

// Zero gradients: only weight decay moves anything, and only Matrix and Embedding params.
static void test_weight_decay_kinds() {
    const OptimKind kinds[] = {OptimKind::AdamW, OptimKind::SGD, OptimKind::Muon};
    for (OptimKind kind : kinds) {
        OptimConfig c;
        c.kind = kind;
        c.lr = 0.1f;
        c.adam_lr = 0.1f;
        c.weight_decay = 0.5f;
        std::mt19937 rng(12);
        Model model(c, kMixed, rng);
        const auto w0 = model.w;
        float norm = -1.0f;
        CHECK(model.step(c, 1, 1.0f, 0.5f, nullptr, &norm) == BITLM_OK);
        CHECK(norm == 0.0f);
        const float keep = 1.0f - 0.1f * (0.5f * 0.5f);
        for (size_t i = 0; i < kMixed.size(); i++) {
            for (size_t j = 0; j < w0[i].size(); j++) {
                if (kMixed[i].kind == ParamKind::Vector) {
                    CHECK_MSG(model.w[i][j] == w0[i][j], "kind %d: Vector param decayed", (int)kind);
                } else {
                    CHECK_MSG(std::fabs(model.w[i][j] - w0[i][j] * keep) <= 1e-7f * std::fabs(w0[i][j]),
                              "kind %d param %zu: %g vs %g", (int)kind, i, model.w[i][j], w0[i][j] * keep);
                }
            }
        }
    }
}

// Clipping scales every gradient by clip / norm in place and reports the norm before clipping.
static void test_clipping() {
    OptimConfig c;
    c.grad_clip = 0.5f;
    std::mt19937 rng(13);
    Model model(c, kMixed, rng);
    model.random_grads(rng, 1.0f);
    const auto g0 = model.g;
    const float norm0 = grad_global_norm(model.params.data(), (uint32_t)model.params.size());
    double want = 0.0;
    for (const auto &gv : g0)
        for (float x : gv) want += (double)x * x;
    want = std::sqrt(want);
    CHECK(std::fabs(norm0 - want) <= 1e-6 * want);
    float norm = 0.0f;
    CHECK(model.step(c, 1, 1.0f, 1.0f, nullptr, &norm) == BITLM_OK);
    CHECK(norm == norm0);  // the step's parallel reduction gives the same bits as the serial one
    double after = 0.0;
    for (size_t i = 0; i < g0.size(); i++)
        for (size_t j = 0; j < g0[i].size(); j++) {
            CHECK(std::fabs(model.g[i][j] - g0[i][j] * (0.5 / want)) <= 1e-7);
            after += (double)model.g[i][j] * model.g[i][j];
        }
    CHECK(std::fabs(std::sqrt(after) - 0.5) <= 1e-6);

    // Under the limit: gradients untouched, bit for bit.
    c.grad_clip = 1000.0f;
    Model small(c, kMixed, rng);
    small.random_grads(rng, 1.0f);
    const auto gs = small.g;
    CHECK(small.step(c, 1, 1.0f, 1.0f, nullptr, nullptr) == BITLM_OK);
    CHECK(small.g == gs);
}

// A NaN or inf gradient anywhere: BAD_ARGUMENT and nothing written — weights, state, gradients.
static void test_non_finite_refused() {
    const OptimKind kinds[] = {OptimKind::AdamW, OptimKind::SGD, OptimKind::Muon};
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (OptimKind kind : kinds) {
        for (float b : bad) {
            OptimConfig c;
            c.kind = kind;
            std::mt19937 rng(14);
            Model model(c, kMixed, rng);
            model.random_grads(rng, 1.0f);
            CHECK(model.step(c, 1, 1.0f, 1.0f, nullptr, nullptr) == BITLM_OK);  // non-zero state first
            model.random_grads(rng, 1.0f);
            model.g[3][5] = b;  // in the last param: the earlier ones would be updated first otherwise
            const auto w0 = model.w, g0 = model.g, s0 = model.state;
            float norm = 0.0f;
            CHECK(model.step(c, 2, 1.0f, 1.0f, nullptr, &norm) == BITLM_ERR_BAD_ARGUMENT);
            CHECK(!std::isfinite(norm));
            CHECK(model.w == w0);
            CHECK(model.state == s0);
            for (size_t i = 0; i < g0.size(); i++)
                CHECK(std::memcmp(model.g[i].data(), g0[i].data(), g0[i].size() * sizeof(float)) == 0);
            CHECK(!std::isfinite(grad_global_norm(model.params.data(), (uint32_t)model.params.size())));
        }
    }
}

static void test_argument_errors() {
    OptimConfig c;
    std::mt19937 rng(15);
    Model model(c, kMixed, rng);
    model.random_grads(rng, 1.0f);
    const auto w0 = model.w;
    CHECK(model.step(c, 0, 1.0f, 1.0f, nullptr, nullptr) == BITLM_ERR_BAD_ARGUMENT);  // steps count from 1
    CHECK(model.step(c, 1, -1.0f, 1.0f, nullptr, nullptr) == BITLM_ERR_BAD_ARGUMENT);
    CHECK(model.step(c, 1, 1.0f, NAN, nullptr, nullptr) == BITLM_ERR_BAD_ARGUMENT);
    OptimConfig bad = c;
    bad.beta1 = 1.0f;
    CHECK(model.step(bad, 1, 1.0f, 1.0f, nullptr, nullptr) == BITLM_ERR_BAD_ARGUMENT);
    bad = c;
    bad.eps = 0.0f;
    CHECK(model.step(bad, 1, 1.0f, 1.0f, nullptr, nullptr) == BITLM_ERR_BAD_ARGUMENT);
    bad = c;
    bad.lr = INFINITY;
    CHECK(model.step(bad, 1, 1.0f, 1.0f, nullptr, nullptr) == BITLM_ERR_BAD_ARGUMENT);
    bad = c;
    bad.momentum = 1.0f;
    CHECK(model.step(bad, 1, 1.0f, 1.0f, nullptr, nullptr) == BITLM_ERR_BAD_ARGUMENT);
    CHECK(optim_step(c, nullptr, 2, 1, 1.0f, 1.0f, nullptr, nullptr, nullptr) == BITLM_ERR_NULL_ARGUMENT);
    CHECK(model.w == w0);

    OptimConfig muon;
    muon.kind = OptimKind::Muon;
    Model mm(muon, kMixed, rng);
    mm.random_grads(rng, 1.0f);
    const auto mw0 = mm.w;
    CHECK(mm.step(muon, 1, 1.0f, 1.0f, nullptr, nullptr, /*with_scratch=*/false) == BITLM_ERR_NULL_ARGUMENT);
    CHECK(mm.w == mw0);
    // AdamW and SGD run without scratch, and give the same bits as with it.
    Model a1(c, kMixed, rng), a2 = a1;
    a2.params.clear();
    for (size_t i = 0; i < a1.params.size(); i++) {  // re-point the copy's params at its own vectors
        Param p = a1.params[i];
        p.w = a2.w[i].data();
        p.g = a2.g[i].data();
        p.state = a2.state[i].data();
        a2.params.push_back(p);
    }
    a1.random_grads(rng, 1.0f);
    a2.g = a1.g;
    for (size_t i = 0; i < a1.params.size(); i++) a2.params[i].g = a2.g[i].data();
    CHECK(a1.step(c, 1, 1.0f, 1.0f, nullptr, nullptr, true) == BITLM_OK);
    CHECK(a2.step(c, 1, 1.0f, 1.0f, nullptr, nullptr, false) == BITLM_OK);
    CHECK(a1.w == a2.w && a1.state == a2.state);
}

static void test_state_and_scratch_sizes() {
    OptimConfig c;
    const Param mat = {"m", ParamKind::Matrix, 3, 5, nullptr, nullptr, nullptr};
    const Param vec = {"v", ParamKind::Vector, 1, 5, nullptr, nullptr, nullptr};
    c.kind = OptimKind::AdamW;
    CHECK(optimizer_state_floats(c, mat) == 30 && optimizer_state_floats(c, vec) == 10);
    c.kind = OptimKind::SGD;
    CHECK(optimizer_state_floats(c, mat) == 15 && optimizer_state_floats(c, vec) == 5);
    c.kind = OptimKind::Muon;
    CHECK(optimizer_state_floats(c, mat) == 15 && optimizer_state_floats(c, vec) == 10);
    // Muon's scratch holds X and T (p x q) and A and B (p x p) of the largest matrix.
    const Param big[] = {{"tall", ParamKind::Matrix, 300, 40, nullptr, nullptr, nullptr},
                         {"emb", ParamKind::Embedding, 1000, 64, nullptr, nullptr, nullptr}};
    CHECK(optimizer_scratch_floats(c, big, 2) >= 2 * 300 * 40 + 2 * 40 * 40);
    c.kind = OptimKind::AdamW;
    CHECK(optimizer_scratch_floats(c, big, 2) < 2 * 300 * 40);  // only the norm partials
}

// Newton–Schulz output: with momentum 0, lr 1, wd 0 and w = 0, one Muon step leaves
// w = -sqrt(max(1, rows/cols)) * X, so the test reads X back and checks its spectrum.
static std::vector<double> muon_x(uint32_t rows, uint32_t cols, const std::vector<float> &grad, uint32_t ns_steps) {
    OptimConfig c;
    c.kind = OptimKind::Muon;
    c.lr = 1.0f;
    c.momentum = 0.0f;
    c.weight_decay = 0.0f;
    c.grad_clip = 0.0f;
    c.ns_steps = ns_steps;
    std::mt19937 rng(0);
    Model model(c, {{"m", ParamKind::Matrix, rows, cols}}, rng, 0.0f);
    model.g[0] = grad;
    model.params[0].g = model.g[0].data();
    CHECK(model.step(c, 1, 1.0f, 1.0f, nullptr, nullptr) == BITLM_OK);
    CHECK(model.canary_intact());
    const double scale = std::sqrt(std::max(1.0, (double)rows / cols));
    std::vector<double> x(grad.size());
    for (size_t i = 0; i < x.size(); i++) x[i] = -(double)model.w[0][i] / scale;
    return x;
}

static void test_newton_schulz_spectrum() {
    struct Case {
        uint32_t rows, cols;
    } cases[] = {{24, 24}, {16, 40}, {40, 16}, {1, 9}, {9, 1}, {130, 160}};
    std::mt19937 rng(16);
    for (const Case &k : cases) {
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> g((size_t)k.rows * k.cols);
        for (float &v : g) v = nd(rng);
        const std::vector<double> gd(g.begin(), g.end());
        const std::vector<double> x = muon_x(k.rows, k.cols, g, 5);

        // Against the double reference: float GEMMs change X by ~1e-5.
        const std::vector<double> want = ref_newton_schulz(gd, k.rows, k.cols, 5);
        double err = 0.0;
        for (size_t i = 0; i < x.size(); i++) err = std::max(err, std::fabs(x[i] - want[i]));
        CHECK_MSG(err <= 2e-4, "%ux%u: max |X - X_ref| = %g", k.rows, k.cols, err);

        // Spectrum: X = U phi(S / |G|_F) V^T with phi the NS quintic applied 5 times, so for each
        // eigenvector u_i of G G^T (small side) u_i^T X X^T u_i = phi(s_i)^2. Where s_i / |G|_F is
        // not tiny, phi lands in NS5's band (about [0.68, 1.13]); check [0.6, 1.3].
        size_t n = 0;
        const std::vector<double> gram_g = small_gram(gd, k.rows, k.cols, &n);
        const std::vector<double> gram_x = small_gram(x, k.rows, k.cols, &n);
        std::vector<double> vecs;
        const std::vector<double> eig_g = jacobi_eigen(gram_g, n, vecs);
        double fro = 0.0;
        for (double v : gd) fro += v * v;
        fro = std::sqrt(fro);
        int in_band = 0;
        for (size_t i = 0; i < n; i++) {
            double s = std::sqrt(std::max(0.0, eig_g[i])) / (fro + 1e-7);
            const double s0 = s;
            for (int it = 0; it < 5; it++) s = 3.4445 * s - 4.7750 * s * s * s + 2.0315 * s * s * s * s * s;
            double rayleigh = 0.0;
            for (size_t a = 0; a < n; a++)
                for (size_t b = 0; b < n; b++) rayleigh += vecs[a * n + i] * gram_x[a * n + b] * vecs[b * n + i];
            CHECK_MSG(std::fabs(rayleigh - s * s) <= 2e-3, "%ux%u: sigma %zu: %g vs phi^2 %g", k.rows, k.cols, i,
                      rayleigh, s * s);
            if (s0 >= 2e-3) {
                in_band++;
                CHECK_MSG(rayleigh >= 0.36 && rayleigh <= 1.69, "%ux%u: singular value^2 %g outside band", k.rows,
                          k.cols, rayleigh);
            }
        }
        // Wide/tall Gaussian matrices are well conditioned: every singular value is in the band.
        if (k.rows != k.cols) CHECK_MSG(in_band == (int)n, "%ux%u: %d of %zu in band", k.rows, k.cols, in_band, n);
        // ...and the eigenvalues of X X^T (small side) themselves, directly.
        std::vector<double> unused;
        const std::vector<double> eig_x = jacobi_eigen(gram_x, n, unused);
        if (k.rows != k.cols) {
            for (double e : eig_x) CHECK_MSG(e >= 0.36 && e <= 1.69, "%ux%u: eig %g", k.rows, k.cols, e);
        }
    }
}

// The tall case works on the transpose: Muon(G) for tall G equals sqrt(rows/cols) * Muon(G^T)^T.
static void test_tall_transposes() {
    const uint32_t rows = 40, cols = 16;
    std::mt19937 rng(17);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> g((size_t)rows * cols), gt(g.size());
    for (float &v : g) v = nd(rng);
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t c = 0; c < cols; c++) gt[(size_t)c * rows + r] = g[(size_t)r * cols + c];
    const std::vector<double> x_tall = muon_x(rows, cols, g, 5);
    const std::vector<double> x_wide = muon_x(cols, rows, gt, 5);
    double err = 0.0;
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t c = 0; c < cols; c++)
            err = std::max(err, std::fabs(x_tall[(size_t)r * cols + c] - x_wide[(size_t)c * rows + r]));
    CHECK_MSG(err <= 1e-6, "tall vs transposed wide: %g", err);
}

// Under Muon, Embedding and Vector params get exactly AdamW at adam_lr.
static void test_muon_adam_fallback() {
    OptimConfig muon;
    muon.kind = OptimKind::Muon;
    muon.lr = 0.05f;
    muon.adam_lr = 0.003f;
    OptimConfig adam = muon;
    adam.kind = OptimKind::AdamW;
    adam.lr = 0.003f;
    const std::vector<Shape> shapes = {{"emb", ParamKind::Embedding, 6, 5}, {"g", ParamKind::Vector, 1, 7}};
    std::mt19937 r1(18), r2(18);
    Model a(muon, shapes, r1), b(adam, shapes, r2);
    for (uint64_t t = 1; t <= 3; t++) {
        a.random_grads(r1, 0.3f);
        b.random_grads(r2, 0.3f);
        CHECK(a.step(muon, t, 0.7f, 0.9f, nullptr, nullptr) == BITLM_OK);
        CHECK(b.step(adam, t, 0.7f, 0.9f, nullptr, nullptr) == BITLM_OK);
    }
    CHECK(a.w == b.w && a.state == b.state);
}

// Same bits whatever order or thread the tasks run in; params big enough to span several chunks.
static void test_determinism() {
    const std::vector<Shape> shapes = {
        {"big", ParamKind::Matrix, 160, 130},  // 20800 weights: two chunks
        {"emb", ParamKind::Embedding, 300, 64},
        {"tall", ParamKind::Matrix, 70, 20},
        {"g", ParamKind::Vector, 1, 130},
    };
    const TrainBackend reverse = with_runner(reverse_parallel_for);
    const TrainBackend threaded = with_runner(threaded_parallel_for);
    const OptimKind kinds[] = {OptimKind::AdamW, OptimKind::SGD, OptimKind::Muon};
    for (OptimKind kind : kinds) {
        OptimConfig c;
        c.kind = kind;
        c.lr = 0.02f;
        c.grad_clip = 1.0f;
        std::vector<Model> models;
        const TrainBackend *backends[] = {reference_train_backend(), &reverse, &threaded};
        std::vector<float> norms[3];
        for (int bi = 0; bi < 3; bi++) {
            std::mt19937 rng(19);
            Model m(c, shapes, rng);
            for (uint64_t t = 1; t <= 3; t++) {
                m.random_grads(rng, 0.5f);
                float norm = 0.0f;
                CHECK(m.step(c, t, 1.0f, 1.0f, backends[bi], &norm) == BITLM_OK);
                norms[bi].push_back(norm);
            }
            CHECK(m.canary_intact());
            models.push_back(std::move(m));
        }
        for (int bi = 1; bi < 3; bi++) {
            CHECK_MSG(models[bi].w == models[0].w, "kind %d backend %d: weights differ", (int)kind, bi);
            CHECK_MSG(models[bi].state == models[0].state, "kind %d backend %d: state differs", (int)kind, bi);
            CHECK_MSG(models[bi].g == models[0].g, "kind %d backend %d: clipped grads differ", (int)kind, bi);
            CHECK(norms[bi] == norms[0]);
        }
    }
}

int main() {
    test_against_reference();
    test_bias_correction();
    test_weight_decay_kinds();
    test_clipping();
    test_non_finite_refused();
    test_argument_errors();
    test_state_and_scratch_sizes();
    test_newton_schulz_spectrum();
    test_tall_transposes();
    test_muon_adam_fallback();
    test_determinism();
    return check::finish("test_optim");
}
