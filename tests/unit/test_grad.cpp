// test_grad.cpp — gradient checks for every op of the training tape.
//  1. The math kernels of lib/train/op_kernels.h run in double (DoubleMath): every backward kernel
//     against central finite differences of its forward kernel at awkward sizes (relative error
//     < 1e-4), each forward against its plain definition, and row/column-range splitting (two ranges
//     give the same bits as one).
//  2. The tape ops in float against the double gradients of (1): accumulation into existing grads,
//     which inputs get grads, the GQA head -> kv head mapping, causal masking within stacked sequences.
//  3. The straight-through ops against their definitions: quantized op_linear forward bit-exact to a
//     re-implementation with lib/quant/quantize.h, backward = the surrogate gradient; op_embedding
//     with int8 / fp16 storage.
//  4. The whole model (fp32 mode) against float central differences of model_loss, and the measuring
//     tape's arena size (exactly enough; 64 bytes less fails cleanly).
//  5. Gradients do not depend on the order tasks run in (reverse / interleaved runners, a real pool),
//     and the host CPU backend gives the same bits on 1 and 4 threads for every isa it has.
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "core/fp16.h"
#include "host/thread_pool.h"
#include "train_cpu/cpu_backend.h"
#include "quant/quantize.h"
#include "train/backend.h"
#include "train/op_kernels.h"
#include "train/ops.h"
#include "train/tape.h"
#include "train/train_model.h"

using namespace bitlm;

namespace {

// The double policy for op_kernels.h.
struct DoubleMath {
    typedef double T;
    static double exp(double x) { return std::exp(x); }
    static double log(double x) { return std::log(x); }
    static double rsqrt(double x) { return 1.0 / std::sqrt(x); }
    static double silu(double x) { return x / (1.0 + std::exp(-x)); }
};

typedef std::vector<double> VecD;
typedef std::vector<float> VecF;

std::mt19937 g_rng(20240611);
std::vector<uint8_t> g_arena(8u << 20);  // the tapes of parts 2-5

VecD randn(size_t n, double scale = 1.0) {
    std::normal_distribution<double> nd(0.0, scale);
    VecD v(n);
    for (auto &x : v) x = nd(g_rng);
    return v;
}
VecF randnf(size_t n, float scale = 1.0f) {
    std::normal_distribution<float> nd(0.0f, scale);
    VecF v(n);
    for (auto &x : v) x = nd(g_rng);
    return v;
}
// sign * uniform[lo, hi): inputs kept away from a kink at 0.
template <class T>
std::vector<T> away_from_zero(size_t n, T lo, T hi) {
    std::uniform_real_distribution<double> ud(lo, hi);
    std::vector<T> v(n);
    for (auto &x : v) x = (T)(ud(g_rng) * ((g_rng() & 1) ? 1.0 : -1.0));
    return v;
}
std::vector<int32_t> rand_tokens(size_t n, uint32_t vocab) {
    std::vector<int32_t> t(n);
    for (auto &x : t) x = (int32_t)(g_rng() % vocab);
    return t;
}
VecD to_d(const float *p, size_t n) { return VecD(p, p + n); }
VecD to_d(const VecF &v) { return VecD(v.begin(), v.end()); }

double dot(const VecD &a, const VecD &b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
    return s;
}
// ||a - b|| / max(||b||, tiny): b is the reference (finite differences, or the double gradient).
double rel_err(const VecD &a, const VecD &b) {
    double d = 0, n = 0;
    for (size_t i = 0; i < b.size(); i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        n += b[i] * b[i];
    }
    if (a.size() != b.size()) return INFINITY;
    return std::sqrt(d) / std::max(std::sqrt(n), 1e-10);
}

std::string fmt(const char *f, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

// The worst relative error seen by each named check (printed at the end).
struct Worst {
    std::string name;
    double err, tol;
    int count;
};
std::vector<Worst> g_worst;

void expect_rel(const std::string &name, double err, double tol, const std::string &ctx) {
    auto it = std::find_if(g_worst.begin(), g_worst.end(), [&](const Worst &w) { return w.name == name; });
    if (it == g_worst.end()) {
        g_worst.push_back(Worst{name, 0.0, tol, 0});
        it = g_worst.end() - 1;
    }
    if (!(err <= it->err)) it->err = err;  // NaN sticks
    it->count++;
    CHECK_MSG(err <= tol, "%s [%s]: relative error %.3g > %.3g", name.c_str(), ctx.c_str(), err, tol);
}

template <class T>
bool same_bits(const std::vector<T> &a, const std::vector<T> &b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}
bool same_bits(const float *a, const float *b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }
bool same_bits(const std::vector<VecF> &a, const std::vector<VecF> &b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++)
        if (!same_bits(a[i], b[i])) return false;
    return true;
}

// Central differences of f() (which reads x) with respect to every x[i], in double.
template <class F>
VecD fd_grad(VecD &x, const F &f) {
    VecD g(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        const double x0 = x[i], h = 1e-5 * std::max(1.0, std::fabs(x0));
        const double xp = x0 + h, xm = x0 - h;
        x[i] = xp;
        const double fp = f();
        x[i] = xm;
        const double fm = f();
        x[i] = x0;
        g[i] = (fp - fm) / (xp - xm);
    }
    return g;
}

const double kTolKernel = 1e-4;  // double kernels vs finite differences
const double kTolOp = 1e-4;      // float ops vs double gradients
const double kTolSte = 1e-5;     // STE ops vs the surrogate gradient (computed in double)

// ================================================================================================
// 1. op_kernels.h in double
// ================================================================================================

void kernel_rmsnorm() {
    for (uint32_t rows : {1u, 3u, 7u})
        for (uint32_t n : {1u, 5u, 6u, 33u}) {
            const std::string ctx = fmt("rows %u width %u", rows, n);
            VecD x = randn((size_t)rows * n), g = randn(n, 0.5), r = randn((size_t)rows * n);
            for (auto &v : g) v += 1.0;
            const double eps = 1e-5;
            VecD y((size_t)rows * n), rinv(rows);
            auto L = [&] {
                opk::rmsnorm_forward<DoubleMath>(x.data(), g.data(), n, eps, 0, rows, y.data(), rinv.data());
                return dot(r, y);
            };
            L();
            VecD want(y.size());
            for (uint32_t i = 0; i < rows; i++) {
                double ss = 0;
                for (uint32_t j = 0; j < n; j++) ss += x[i * n + j] * x[i * n + j];
                for (uint32_t j = 0; j < n; j++) want[i * n + j] = x[i * n + j] / std::sqrt(ss / n + eps) * g[j];
            }
            expect_rel("kernel rmsnorm forward = definition", rel_err(y, want), 1e-12, ctx);
            VecD dx(x.size(), 0.0), dg(n, 0.0);
            opk::rmsnorm_backward_x<DoubleMath>(x.data(), g.data(), rinv.data(), r.data(), n, 0, rows, dx.data());
            opk::rmsnorm_backward_g<DoubleMath>(x.data(), rinv.data(), r.data(), n, rows, 0, n, dg.data());
            expect_rel("kernel rmsnorm dx", rel_err(dx, fd_grad(x, L)), kTolKernel, ctx);
            expect_rel("kernel rmsnorm dgain", rel_err(dg, fd_grad(g, L)), kTolKernel, ctx);
        }
}

// A (cos, sin) table of random angles: the kernels must work for any table.
VecD random_cs(uint32_t head_dim, uint32_t seq_len) {
    std::uniform_real_distribution<double> ud(-3.1, 3.1);
    VecD cs((size_t)seq_len * head_dim);
    for (uint32_t p = 0; p < seq_len; p++)
        for (uint32_t i = 0; i < head_dim / 2; i++) {
            const double a = ud(g_rng);
            cs[p * head_dim + 2 * i] = std::cos(a);
            cs[p * head_dim + 2 * i + 1] = std::sin(a);
        }
    return cs;
}

void kernel_rope() {
    for (uint32_t hd : {2u, 6u, 8u})
        for (uint32_t seq : {1u, 5u, 9u})
            for (uint32_t heads : {1u, 3u})
                for (uint32_t rows : {1u, 7u, 2 * seq}) {
                    const std::string ctx = fmt("head_dim %u seq_len %u heads %u rows %u", hd, seq, heads, rows);
                    const uint32_t w = hd * heads;
                    VecD x = randn((size_t)rows * w), r = randn((size_t)rows * w), cs = random_cs(hd, seq);
                    VecD y(x.size());
                    auto L = [&] {
                        opk::rope_forward<DoubleMath>(x.data(), cs.data(), w, hd, seq, 0, rows, y.data());
                        return dot(r, y);
                    };
                    L();
                    VecD want(y.size());
                    for (uint32_t i = 0; i < rows; i++) {
                        const uint32_t pos = i % seq;
                        for (uint32_t h = 0; h < heads; h++)
                            for (uint32_t j = 0; j < hd / 2; j++) {
                                const double c = cs[pos * hd + 2 * j], s = cs[pos * hd + 2 * j + 1];
                                const size_t at = (size_t)i * w + h * hd + 2 * j;
                                want[at] = x[at] * c - x[at + 1] * s;
                                want[at + 1] = x[at] * s + x[at + 1] * c;
                            }
                    }
                    expect_rel("kernel rope forward = definition", rel_err(y, want), 1e-12, ctx);
                    VecD dx(x.size(), 0.0);
                    opk::rope_backward<DoubleMath>(r.data(), cs.data(), w, hd, seq, 0, rows, dx.data());
                    expect_rel("kernel rope dx", rel_err(dx, fd_grad(x, L)), kTolKernel, ctx);
                }
}

// Attention over n_seq stacked sequences, every head, driven exactly as op_attention drives the kernels.
struct AttnCfg {
    uint32_t n_heads, n_kv, head_dim, seq_len, n_seq;
    uint32_t rows() const { return n_seq * seq_len; }
    uint32_t q_cols() const { return n_heads * head_dim; }
    uint32_t kv_cols() const { return n_kv * head_dim; }
    opk::AttnShape shape(uint32_t h) const {
        const uint32_t group = n_heads / n_kv;
        return opk::AttnShape{seq_len, head_dim, q_cols(), kv_cols(), h * head_dim, (h / group) * head_dim};
    }
    std::string str() const {
        return fmt("heads %u/%u head_dim %u seq_len %u n_seq %u", n_heads, n_kv, head_dim, seq_len, n_seq);
    }
};

template <class M, class T>
void attn_forward_all(const AttnCfg &c, const T *q, const T *k, const T *v, T *p, T *o) {
    const uint32_t L = c.seq_len;
    for (uint32_t s = 0; s < c.n_seq; s++)
        for (uint32_t h = 0; h < c.n_heads; h++) {
            const uint64_t row = (uint64_t)s * L;
            opk::attention_forward<M>(c.shape(h), q + row * c.q_cols(), k + row * c.kv_cols(), v + row * c.kv_cols(),
                                      p + ((uint64_t)s * c.n_heads + h) * L * L, o + row * c.q_cols());
        }
}
template <class M, class T>
void attn_backward_all(const AttnCfg &c, const T *q, const T *k, const T *v, const T *p, const T *dout, T *dq, T *dk,
                       T *dv) {
    const uint32_t L = c.seq_len, group = c.n_heads / c.n_kv;
    std::vector<T> scratch(L);
    for (uint32_t s = 0; s < c.n_seq; s++)
        for (uint32_t kvh = 0; kvh < c.n_kv; kvh++)
            for (uint32_t h = kvh * group; h < (kvh + 1) * group; h++) {
                const uint64_t row = (uint64_t)s * L;
                opk::attention_backward<M>(c.shape(h), q + row * c.q_cols(), k + row * c.kv_cols(),
                                           v + row * c.kv_cols(), p + ((uint64_t)s * c.n_heads + h) * L * L,
                                           dout + row * c.q_cols(), dq ? dq + row * c.q_cols() : nullptr,
                                           dk ? dk + row * c.kv_cols() : nullptr,
                                           dv ? dv + row * c.kv_cols() : nullptr, scratch.data());
            }
}
// The definition: causal softmax(q.k / sqrt(d)) v within each sequence, query head h on kv head h/group.
VecD attn_naive(const AttnCfg &c, const VecD &q, const VecD &k, const VecD &v) {
    VecD o((size_t)c.rows() * c.q_cols(), 0.0);
    const uint32_t group = c.n_heads / c.n_kv, hd = c.head_dim;
    for (uint32_t s = 0; s < c.n_seq; s++)
        for (uint32_t h = 0; h < c.n_heads; h++)
            for (uint32_t t = 0; t < c.seq_len; t++) {
                const size_t qt = (size_t)(s * c.seq_len + t) * c.q_cols() + h * hd;
                VecD sc(t + 1);
                double mx = -INFINITY, sum = 0;
                for (uint32_t u = 0; u <= t; u++) {
                    const size_t ku = (size_t)(s * c.seq_len + u) * c.kv_cols() + (h / group) * hd;
                    double d = 0;
                    for (uint32_t j = 0; j < hd; j++) d += q[qt + j] * k[ku + j];
                    sc[u] = d / std::sqrt((double)hd);
                    mx = std::max(mx, sc[u]);
                }
                for (uint32_t u = 0; u <= t; u++) sum += (sc[u] = std::exp(sc[u] - mx));
                for (uint32_t u = 0; u <= t; u++) {
                    const size_t vu = (size_t)(s * c.seq_len + u) * c.kv_cols() + (h / group) * hd;
                    for (uint32_t j = 0; j < hd; j++) o[qt + j] += sc[u] / sum * v[vu + j];
                }
            }
    return o;
}

void kernel_attention() {
    const uint32_t heads[][2] = {{1, 1}, {2, 2}, {4, 2}, {3, 1}};
    for (auto &hk : heads)
        for (uint32_t hd : {2u, 6u, 8u})
            for (uint32_t seq : {1u, 5u, 9u})
                for (uint32_t n_seq : {1u, 2u}) {
                    const AttnCfg c = {hk[0], hk[1], hd, seq, n_seq};
                    const std::string ctx = c.str();
                    VecD q = randn((size_t)c.rows() * c.q_cols()), k = randn((size_t)c.rows() * c.kv_cols()),
                         v = randn((size_t)c.rows() * c.kv_cols()), r = randn(q.size());
                    VecD p((size_t)n_seq * c.n_heads * seq * seq, 0.0), o(q.size());
                    auto L = [&] {
                        attn_forward_all<DoubleMath>(c, q.data(), k.data(), v.data(), p.data(), o.data());
                        return dot(r, o);
                    };
                    L();
                    expect_rel("kernel attention forward = definition", rel_err(o, attn_naive(c, q, k, v)), 1e-12, ctx);
                    VecD dq(q.size(), 0.0), dk(k.size(), 0.0), dv(v.size(), 0.0);
                    attn_backward_all<DoubleMath>(c, q.data(), k.data(), v.data(), p.data(), r.data(), dq.data(),
                                                  dk.data(), dv.data());
                    // each gradient alone (the others null) gives the same bits
                    VecD dq1(q.size(), 0.0), dk1(k.size(), 0.0), dv1(v.size(), 0.0);
                    attn_backward_all<DoubleMath>(c, q.data(), k.data(), v.data(), p.data(), r.data(), dq1.data(),
                                                  (double *)nullptr, (double *)nullptr);
                    attn_backward_all<DoubleMath>(c, q.data(), k.data(), v.data(), p.data(), r.data(),
                                                  (double *)nullptr, dk1.data(), (double *)nullptr);
                    attn_backward_all<DoubleMath>(c, q.data(), k.data(), v.data(), p.data(), r.data(),
                                                  (double *)nullptr, (double *)nullptr, dv1.data());
                    CHECK_MSG(same_bits(dq, dq1) && same_bits(dk, dk1) && same_bits(dv, dv1),
                              "attention one-sided backward differs (%s)", ctx.c_str());
                    expect_rel("kernel attention dq", rel_err(dq, fd_grad(q, L)), kTolKernel, ctx);
                    expect_rel("kernel attention dk", rel_err(dk, fd_grad(k, L)), kTolKernel, ctx);
                    expect_rel("kernel attention dv", rel_err(dv, fd_grad(v, L)), kTolKernel, ctx);
                }
}

void kernel_pointwise() {
    for (uint32_t n : {1u, 5u, 6u, 33u, 99u}) {
        const std::string ctx = fmt("n %u", n);
        {  // relu^2, inputs at least 0.1 away from the kink
            VecD x = away_from_zero<double>(n, 0.1, 2.0), r = randn(n), y(n);
            auto L = [&] {
                opk::relu2_forward<DoubleMath>(x.data(), 0, n, y.data());
                return dot(r, y);
            };
            L();
            VecD want(n);
            for (uint32_t i = 0; i < n; i++) want[i] = x[i] > 0 ? x[i] * x[i] : 0.0;
            expect_rel("kernel relu2 forward = definition", rel_err(y, want), 1e-15, ctx);
            VecD dx(n, 0.0);
            opk::relu2_backward<DoubleMath>(x.data(), r.data(), 0, n, dx.data());
            expect_rel("kernel relu2 dx", rel_err(dx, fd_grad(x, L)), kTolKernel, ctx);
        }
        {  // swiglu
            VecD g = randn(n, 2.0), u = randn(n), r = randn(n), y(n);
            auto L = [&] {
                opk::swiglu_forward<DoubleMath>(g.data(), u.data(), 0, n, y.data());
                return dot(r, y);
            };
            L();
            VecD want(n);
            for (uint32_t i = 0; i < n; i++) want[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
            expect_rel("kernel swiglu forward = definition", rel_err(y, want), 1e-15, ctx);
            VecD dg(n, 0.0), du(n, 0.0), dg_only(n, 0.0), du_only(n, 0.0);
            opk::swiglu_backward<DoubleMath>(g.data(), u.data(), r.data(), 0, n, dg.data(), du.data());
            opk::swiglu_backward<DoubleMath>(g.data(), u.data(), r.data(), 0, n, dg_only.data(), (double *)nullptr);
            opk::swiglu_backward<DoubleMath>(g.data(), u.data(), r.data(), 0, n, (double *)nullptr, du_only.data());
            CHECK_MSG(same_bits(dg, dg_only) && same_bits(du, du_only), "swiglu one-sided backward differs (%s)",
                      ctx.c_str());
            expect_rel("kernel swiglu dgate", rel_err(dg, fd_grad(g, L)), kTolKernel, ctx);
            expect_rel("kernel swiglu dup", rel_err(du, fd_grad(u, L)), kTolKernel, ctx);
        }
    }
}

void kernel_xent() {
    for (uint32_t rows : {1u, 3u, 7u})
        for (uint32_t vocab : {1u, 5u, 6u, 33u}) {
            const std::string ctx = fmt("rows %u vocab %u", rows, vocab);
            VecD l = randn((size_t)rows * vocab, 2.0), loss(rows), mx(rows), sm(rows);
            const std::vector<int32_t> tg = rand_tokens(rows, vocab);
            auto L = [&] {
                opk::xent_forward<DoubleMath>(l.data(), tg.data(), vocab, 0, rows, loss.data(), mx.data(), sm.data());
                double s = 0;
                for (double x : loss) s += x;
                return s / rows;
            };
            L();
            VecD want(rows);
            for (uint32_t i = 0; i < rows; i++) {
                double s = 0;
                for (uint32_t j = 0; j < vocab; j++) s += std::exp(l[i * vocab + j]);
                want[i] = std::log(s) - l[i * vocab + tg[i]];
            }
            double diff = 0;
            for (uint32_t i = 0; i < rows; i++) diff = std::max(diff, std::fabs(loss[i] - want[i]));
            expect_rel("kernel xent forward = definition (abs)", diff, 1e-12, ctx);
            VecD dl(l.size(), 0.0);
            opk::xent_backward<DoubleMath>(l.data(), tg.data(), vocab, mx.data(), sm.data(), 1.0 / rows, 0, rows,
                                           dl.data());
            expect_rel("kernel xent dlogits", rel_err(dl, fd_grad(l, L)), kTolKernel, ctx);
        }
}

// Two ranges give the same bits as one (for the float policy the ops use, and double).
template <class M>
void kernel_splits(const char *tag) {
    typedef typename M::T T;
    std::normal_distribution<double> nd(0.0, 1.0);
    auto rnd = [&](size_t n) {
        std::vector<T> v(n);
        for (auto &x : v) x = (T)nd(g_rng);
        return v;
    };
    const uint32_t rows = 7, n = 33, hd = 6, w = 18, seq = 5;
    const std::vector<T> x = rnd(rows * n), g = rnd(n), dy = rnd(rows * n), pre = rnd(rows * n), pre_g = rnd(n);
    const std::vector<T> u = rnd(rows * n), cs = rnd(seq * hd);
    const std::vector<int32_t> tg = rand_tokens(rows, n);
    for (uint32_t k : {1u, 3u, 6u}) {
        const std::string ctx = fmt("%s split at %u", tag, k);
        // rmsnorm forward
        std::vector<T> y1(rows * n), y2(rows * n), r1(rows), r2(rows);
        opk::rmsnorm_forward<M>(x.data(), g.data(), n, (T)1e-5, 0, rows, y1.data(), r1.data());
        opk::rmsnorm_forward<M>(x.data(), g.data(), n, (T)1e-5, 0, k, y2.data(), r2.data());
        opk::rmsnorm_forward<M>(x.data(), g.data(), n, (T)1e-5, k, rows, y2.data(), r2.data());
        CHECK_MSG(same_bits(y1, y2) && same_bits(r1, r2), "rmsnorm forward ranges (%s)", ctx.c_str());
        // rmsnorm backward x (rows) and gain (columns), accumulating into prefilled buffers
        std::vector<T> d1 = pre, d2 = pre;
        opk::rmsnorm_backward_x<M>(x.data(), g.data(), r1.data(), dy.data(), n, 0, rows, d1.data());
        opk::rmsnorm_backward_x<M>(x.data(), g.data(), r1.data(), dy.data(), n, 0, k, d2.data());
        opk::rmsnorm_backward_x<M>(x.data(), g.data(), r1.data(), dy.data(), n, k, rows, d2.data());
        CHECK_MSG(same_bits(d1, d2), "rmsnorm backward_x ranges (%s)", ctx.c_str());
        std::vector<T> g1 = pre_g, g2 = pre_g;
        const uint32_t c = k * 5;
        opk::rmsnorm_backward_g<M>(x.data(), r1.data(), dy.data(), n, rows, 0, n, g1.data());
        opk::rmsnorm_backward_g<M>(x.data(), r1.data(), dy.data(), n, rows, 0, c, g2.data());
        opk::rmsnorm_backward_g<M>(x.data(), r1.data(), dy.data(), n, rows, c, n, g2.data());
        CHECK_MSG(same_bits(g1, g2), "rmsnorm backward_g column ranges (%s)", ctx.c_str());
        // rope (width 18 = 3 heads of 6) forward and backward
        std::vector<T> ry1(rows * w), ry2(rows * w), rd1(pre.begin(), pre.begin() + rows * w), rd2 = rd1;
        opk::rope_forward<M>(x.data(), cs.data(), w, hd, seq, 0, rows, ry1.data());
        opk::rope_forward<M>(x.data(), cs.data(), w, hd, seq, 0, k, ry2.data());
        opk::rope_forward<M>(x.data(), cs.data(), w, hd, seq, k, rows, ry2.data());
        opk::rope_backward<M>(dy.data(), cs.data(), w, hd, seq, 0, rows, rd1.data());
        opk::rope_backward<M>(dy.data(), cs.data(), w, hd, seq, 0, k, rd2.data());
        opk::rope_backward<M>(dy.data(), cs.data(), w, hd, seq, k, rows, rd2.data());
        CHECK_MSG(same_bits(ry1, ry2) && same_bits(rd1, rd2), "rope ranges (%s)", ctx.c_str());
        // pointwise, element ranges
        const uint64_t e = (uint64_t)k * n + 2, all = (uint64_t)rows * n;
        std::vector<T> p1(all), p2(all), q1 = pre, q2 = pre, s1 = pre, s2 = pre;
        opk::relu2_forward<M>(x.data(), 0, all, p1.data());
        opk::relu2_forward<M>(x.data(), 0, e, p2.data());
        opk::relu2_forward<M>(x.data(), e, all, p2.data());
        opk::relu2_backward<M>(x.data(), dy.data(), 0, all, q1.data());
        opk::relu2_backward<M>(x.data(), dy.data(), 0, e, q2.data());
        opk::relu2_backward<M>(x.data(), dy.data(), e, all, q2.data());
        CHECK_MSG(same_bits(p1, p2) && same_bits(q1, q2), "relu2 ranges (%s)", ctx.c_str());
        opk::swiglu_forward<M>(x.data(), u.data(), 0, all, p1.data());
        opk::swiglu_forward<M>(x.data(), u.data(), 0, e, p2.data());
        opk::swiglu_forward<M>(x.data(), u.data(), e, all, p2.data());
        q1 = pre, q2 = pre;
        opk::swiglu_backward<M>(x.data(), u.data(), dy.data(), 0, all, q1.data(), s1.data());
        opk::swiglu_backward<M>(x.data(), u.data(), dy.data(), 0, e, q2.data(), s2.data());
        opk::swiglu_backward<M>(x.data(), u.data(), dy.data(), e, all, q2.data(), s2.data());
        CHECK_MSG(same_bits(p1, p2) && same_bits(q1, q2) && same_bits(s1, s2), "swiglu ranges (%s)", ctx.c_str());
        // cross-entropy rows
        std::vector<T> l1(rows), l2(rows), m1(rows), m2(rows), z1(rows), z2(rows), x1 = pre, x2 = pre;
        opk::xent_forward<M>(x.data(), tg.data(), n, 0, rows, l1.data(), m1.data(), z1.data());
        opk::xent_forward<M>(x.data(), tg.data(), n, 0, k, l2.data(), m2.data(), z2.data());
        opk::xent_forward<M>(x.data(), tg.data(), n, k, rows, l2.data(), m2.data(), z2.data());
        opk::xent_backward<M>(x.data(), tg.data(), n, m1.data(), z1.data(), (T)0.25, 0, rows, x1.data());
        opk::xent_backward<M>(x.data(), tg.data(), n, m1.data(), z1.data(), (T)0.25, 0, k, x2.data());
        opk::xent_backward<M>(x.data(), tg.data(), n, m1.data(), z1.data(), (T)0.25, k, rows, x2.data());
        CHECK_MSG(same_bits(l1, l2) && same_bits(m1, m2) && same_bits(z1, z2) && same_bits(x1, x2),
                  "xent ranges (%s)", ctx.c_str());
    }
}

// ================================================================================================
// 2. the tape ops in float against the double gradients
// ================================================================================================

// A leaf tensor over test memory; its grad (when wanted) starts non-zero to prove ops accumulate.
struct Leaf {
    VecF data, grad, grad0;
    Tensor *t = nullptr;
};
Tensor *leaf(Tape &tape, Leaf &in, uint32_t rows, uint32_t cols, bool want_grad, const VecF &values) {
    in.data = values;
    in.grad.clear();
    if (want_grad) {
        in.grad = randnf((size_t)rows * cols, 0.1f);
        in.grad0 = in.grad;
    }
    in.t = tape.wrap(in.data.data(), want_grad ? in.grad.data() : nullptr, rows, cols);
    return in.t;
}
// d/d y = r, then the tape's backward (a 1x1 seed outside the records starts it).
bool backward_from(Tape &t, Tensor *y, const VecF &r) {
    if (!y || !y->grad || y->count() != r.size()) return false;
    std::memcpy(y->grad, r.data(), r.size() * sizeof(float));
    Tensor *seed = t.tensor(1, 1, true);
    return seed && t.backward(seed) == BITLM_OK;
}
// What backward added to the leaf's grad, against the reference.
double grad_err(const Leaf &in, const VecD &ref) {
    VecD got(ref.size());
    for (size_t i = 0; i < ref.size() && i < in.grad.size(); i++) got[i] = (double)in.grad[i] - (double)in.grad0[i];
    return in.grad.size() == ref.size() ? rel_err(got, ref) : INFINITY;
}
double out_err(const Tensor *y, const VecD &ref) {
    return y && y->count() == ref.size() ? rel_err(to_d(y->data, ref.size()), ref) : INFINITY;
}

const char *grad_mode_name(int mode) { return mode == 0 ? "both grads" : mode == 1 ? "first only" : "second only"; }

void op_rmsnorm_test() {
    for (uint32_t rows : {1u, 3u, 7u})
        for (uint32_t n : {5u, 6u, 33u})
            for (int mode = 0; mode < 4; mode++) {  // both, x only, gain only, neither
                const std::string ctx = fmt("rows %u width %u mode %d", rows, n, mode);
                Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
                Leaf x, g;
                VecF gv = randnf(n, 0.5f);
                for (auto &v : gv) v += 1.0f;
                const float eps = 1e-5f;
                Tensor *y = op_rmsnorm(t, leaf(t, x, rows, n, mode == 0 || mode == 1, randnf((size_t)rows * n)),
                                       leaf(t, g, 1, n, mode == 0 || mode == 2, gv), eps);
                CHECK(y != nullptr);
                if (!y) continue;
                if (mode == 3) {
                    CHECK_MSG(y->grad == nullptr, "rmsnorm output has a grad though no input needs one");
                    continue;
                }
                const VecF r = randnf((size_t)rows * n);
                CHECK_MSG(backward_from(t, y, r), "backward (%s)", ctx.c_str());
                VecD xd = to_d(x.data), gd = to_d(gv), rd = to_d(r), yd(xd.size()), ri(rows), dx(xd.size(), 0.0),
                     dg(n, 0.0);
                opk::rmsnorm_forward<DoubleMath>(xd.data(), gd.data(), n, (double)eps, 0, rows, yd.data(), ri.data());
                opk::rmsnorm_backward_x<DoubleMath>(xd.data(), gd.data(), ri.data(), rd.data(), n, 0, rows, dx.data());
                opk::rmsnorm_backward_g<DoubleMath>(xd.data(), ri.data(), rd.data(), n, rows, 0, n, dg.data());
                expect_rel("op_rmsnorm forward", out_err(y, yd), 1e-5, ctx);
                if (mode != 2) expect_rel("op_rmsnorm dx", grad_err(x, dx), kTolOp, ctx);
                if (mode != 1) expect_rel("op_rmsnorm dgain", grad_err(g, dg), kTolOp, ctx);
            }
}

void op_rope_test() {
    for (uint32_t hd : {2u, 6u, 8u})
        for (uint32_t seq : {1u, 5u, 9u})
            for (uint32_t heads : {1u, 3u}) {
                const uint32_t n_seq = seq == 1 ? 3 : 2, rows = n_seq * seq, w = hd * heads;
                const std::string ctx = fmt("head_dim %u seq_len %u heads %u n_seq %u", hd, seq, heads, n_seq);
                VecF cs((size_t)seq * hd);
                rope_table(10000.0f, hd, seq, cs.data());
                double cs_err = 0;  // the table against cos/sin of pos * theta^(-2i/d) in double
                for (uint32_t p = 0; p < seq; p++)
                    for (uint32_t i = 0; i < hd / 2; i++) {
                        const double a = p * std::pow(10000.0, -(2.0 * i) / hd);
                        cs_err = std::max(cs_err, std::fabs(cs[p * hd + 2 * i] - std::cos(a)));
                        cs_err = std::max(cs_err, std::fabs(cs[p * hd + 2 * i + 1] - std::sin(a)));
                    }
                expect_rel("rope_table vs cos/sin (abs)", cs_err, 2e-6, ctx);
                Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
                Leaf x;
                Tensor *y = op_rope(t, leaf(t, x, rows, w, true, randnf((size_t)rows * w)), cs.data(), hd, seq);
                const VecF r = randnf((size_t)rows * w);
                CHECK_MSG(backward_from(t, y, r), "backward (%s)", ctx.c_str());
                if (!y) continue;
                VecD xd = to_d(x.data), csd = to_d(cs), rd = to_d(r), yd(xd.size()), dx(xd.size(), 0.0);
                opk::rope_forward<DoubleMath>(xd.data(), csd.data(), w, hd, seq, 0, rows, yd.data());
                opk::rope_backward<DoubleMath>(rd.data(), csd.data(), w, hd, seq, 0, rows, dx.data());
                expect_rel("op_rope forward", out_err(y, yd), 1e-6, ctx);
                expect_rel("op_rope dx", grad_err(x, dx), kTolOp, ctx);
            }
}

void op_attention_test() {
    const uint32_t heads[][2] = {{4, 2}, {3, 1}, {2, 2}, {1, 1}};
    for (auto &hk : heads)
        for (uint32_t hd : {2u, 6u, 8u})
            for (uint32_t seq : {1u, 5u, 9u})
                for (int mode = 0; mode < 4; mode++) {  // grads on q k v; q only; k v only; v only
                    if (mode && (hd != 6 || seq != 5)) continue;
                    const AttnCfg c = {hk[0], hk[1], hd, seq, seq == 1 ? 3u : 2u};
                    const std::string ctx = c.str() + fmt(" mode %d", mode);
                    const bool gq = mode <= 1, gk = mode == 0 || mode == 2, gv = mode != 1;
                    Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
                    Leaf q, k, v;
                    const uint32_t rows = c.rows();
                    Tensor *o = op_attention(t, leaf(t, q, rows, c.q_cols(), gq, randnf((size_t)rows * c.q_cols())),
                                             leaf(t, k, rows, c.kv_cols(), gk, randnf((size_t)rows * c.kv_cols())),
                                             leaf(t, v, rows, c.kv_cols(), gv, randnf((size_t)rows * c.kv_cols())),
                                             c.n_heads, c.n_kv, hd, seq);
                    const VecF r = randnf((size_t)rows * c.q_cols());
                    CHECK_MSG(backward_from(t, o, r), "backward (%s)", ctx.c_str());
                    if (!o) continue;
                    VecD qd = to_d(q.data), kd = to_d(k.data), vd = to_d(v.data), rd = to_d(r);
                    VecD p((size_t)c.n_seq * c.n_heads * seq * seq), od(qd.size());
                    VecD dq(qd.size(), 0.0), dk(kd.size(), 0.0), dv(vd.size(), 0.0);
                    attn_forward_all<DoubleMath>(c, qd.data(), kd.data(), vd.data(), p.data(), od.data());
                    attn_backward_all<DoubleMath>(c, qd.data(), kd.data(), vd.data(), p.data(), rd.data(), dq.data(),
                                                  dk.data(), dv.data());
                    expect_rel("op_attention forward", out_err(o, od), 1e-5, ctx);
                    if (gq) expect_rel("op_attention dq", grad_err(q, dq), kTolOp, ctx);
                    if (gk) expect_rel("op_attention dk", grad_err(k, dk), kTolOp, ctx);
                    if (gv) expect_rel("op_attention dv", grad_err(v, dv), kTolOp, ctx);
                    if (mode) continue;
                    // The forward without grads (evaluation path) computes the same function.
                    Tape t3(g_arena.data() + g_arena.size() / 2, g_arena.size() / 4, reference_train_backend());
                    t3.grad_enabled = false;
                    Tensor *o3 = op_attention(t3, t3.wrap(q.data.data(), nullptr, rows, c.q_cols()),
                                              t3.wrap(k.data.data(), nullptr, rows, c.kv_cols()),
                                              t3.wrap(v.data.data(), nullptr, rows, c.kv_cols()), c.n_heads, c.n_kv, hd, seq);
                    expect_rel("op_attention forward, grad disabled", out_err(o3, od), 1e-5, ctx);
                    // Stacked sequences do not see each other: the last sequence alone gives the same bits
                    // (on both paths: grad enabled, and evaluation).
                    const uint32_t last = (c.n_seq - 1) * seq;
                    for (int eval = 0; eval < 2; eval++) {
                        Tape t2(g_arena.data() + g_arena.size() / 4 * 3, g_arena.size() / 4, reference_train_backend());
                        t2.grad_enabled = eval == 0;
                        Tensor *o2 = op_attention(
                            t2, t2.wrap(q.data.data() + (size_t)last * c.q_cols(), nullptr, seq, c.q_cols()),
                            t2.wrap(k.data.data() + (size_t)last * c.kv_cols(), nullptr, seq, c.kv_cols()),
                            t2.wrap(v.data.data() + (size_t)last * c.kv_cols(), nullptr, seq, c.kv_cols()), c.n_heads,
                            c.n_kv, hd, seq);
                        const Tensor *full = eval ? o3 : o;
                        CHECK_MSG(o2 && full &&
                                      same_bits(o2->data, full->data + (size_t)last * c.q_cols(), (size_t)seq * c.q_cols()),
                                  "last sequence alone differs (%s, %s)", ctx.c_str(), eval ? "eval" : "grad enabled");
                    }
                }
}

void op_pointwise_test() {
    const uint32_t shapes[][2] = {{1, 1}, {3, 5}, {7, 33}};
    for (auto &sh : shapes) {
        const uint32_t rows = sh[0], cols = sh[1];
        const size_t n = (size_t)rows * cols;
        const std::string ctx = fmt("%ux%u", rows, cols);
        {  // relu^2
            Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
            Leaf x;
            Tensor *y = op_relu2(t, leaf(t, x, rows, cols, true, away_from_zero<float>(n, 0.05f, 2.0f)));
            const VecF r = randnf(n);
            CHECK_MSG(backward_from(t, y, r), "relu2 backward (%s)", ctx.c_str());
            VecD want(n), dx(n);
            for (size_t i = 0; i < n; i++) {
                const double xi = x.data[i];
                want[i] = xi > 0 ? xi * xi : 0.0;
                dx[i] = xi > 0 ? 2.0 * xi * r[i] : 0.0;
            }
            expect_rel("op_relu2 forward", out_err(y, want), 1e-6, ctx);
            expect_rel("op_relu2 dx", grad_err(x, dx), kTolOp, ctx);
        }
        for (int mode = 0; mode < 3; mode++) {  // swiglu: both, gate only, up only
            Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
            Leaf g, u;
            Tensor *y = op_swiglu(t, leaf(t, g, rows, cols, mode != 2, randnf(n, 2.0f)),
                                  leaf(t, u, rows, cols, mode != 1, randnf(n)));
            const VecF r = randnf(n);
            CHECK_MSG(backward_from(t, y, r), "swiglu backward (%s)", ctx.c_str());
            VecD gd = to_d(g.data), ud = to_d(u.data), rd = to_d(r), yd(n), dg(n, 0.0), du(n, 0.0);
            opk::swiglu_forward<DoubleMath>(gd.data(), ud.data(), 0, n, yd.data());
            opk::swiglu_backward<DoubleMath>(gd.data(), ud.data(), rd.data(), 0, n, dg.data(), du.data());
            const std::string c2 = ctx + " " + grad_mode_name(mode);
            expect_rel("op_swiglu forward", out_err(y, yd), 1e-6, c2);
            if (mode != 2) expect_rel("op_swiglu dgate", grad_err(g, dg), kTolOp, c2);
            if (mode != 1) expect_rel("op_swiglu dup", grad_err(u, du), kTolOp, c2);
        }
        for (int mode = 0; mode < 4; mode++) {  // add: both, a only, b only, add(a, a)
            Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
            Leaf a, b;
            Tensor *ta = leaf(t, a, rows, cols, mode != 2, randnf(n));
            Tensor *tb = mode == 3 ? ta : leaf(t, b, rows, cols, mode != 1, randnf(n));
            Tensor *y = op_add(t, ta, tb);
            const VecF r = randnf(n);
            CHECK_MSG(backward_from(t, y, r), "add backward (%s)", ctx.c_str());
            VecD want(n), d(n);
            for (size_t i = 0; i < n; i++) {
                want[i] = (double)a.data[i] + (mode == 3 ? a.data[i] : b.data[i]);
                d[i] = (mode == 3 ? 2.0 : 1.0) * r[i];
            }
            const std::string c2 = ctx + fmt(" mode %d", mode);
            expect_rel("op_add forward", out_err(y, want), 1e-7, c2);
            if (mode != 2) expect_rel("op_add da", grad_err(a, d), kTolOp, c2);
            if (mode == 0 || mode == 2) expect_rel("op_add db", grad_err(b, d), kTolOp, c2);
        }
    }
}

void op_cross_entropy_test() {
    for (uint32_t rows : {1u, 3u, 7u})
        for (uint32_t vocab : {1u, 5u, 6u, 33u}) {
            const std::string ctx = fmt("rows %u vocab %u", rows, vocab);
            Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
            Leaf l;
            const std::vector<int32_t> tg = rand_tokens(rows, vocab);
            VecF row_loss(rows, -1.0f);
            Tensor *loss = op_cross_entropy(t, leaf(t, l, rows, vocab, true, randnf((size_t)rows * vocab, 2.0f)),
                                            tg.data(), row_loss.data());
            CHECK(loss && loss->grad && loss->count() == 1);
            if (!loss) continue;
            const float loss_value = loss->data[0];
            CHECK(t.backward(loss) == BITLM_OK);
            VecD ld = to_d(l.data), lr(rows), mx(rows), sm(rows), dl(ld.size(), 0.0);
            opk::xent_forward<DoubleMath>(ld.data(), tg.data(), vocab, 0, rows, lr.data(), mx.data(), sm.data());
            opk::xent_backward<DoubleMath>(ld.data(), tg.data(), vocab, mx.data(), sm.data(), 1.0 / rows, 0, rows,
                                           dl.data());
            double mean = 0, rl = 0;
            for (uint32_t i = 0; i < rows; i++) {
                mean += lr[i] / rows;
                rl = std::max(rl, std::fabs(row_loss[i] - lr[i]));
            }
            expect_rel("op_cross_entropy loss (abs)", std::fabs(loss_value - mean), 2e-6, ctx);
            expect_rel("op_cross_entropy row_loss (abs)", rl, 2e-6, ctx);
            if (vocab > 1) {
                expect_rel("op_cross_entropy dlogits", grad_err(l, dl), kTolOp, ctx);
            } else {  // the gradient is exactly 0: only the rounding of (grad + d) - d may show
                double e = 0;
                for (size_t i = 0; i < l.grad.size(); i++) e = std::max(e, std::fabs((double)l.grad[i] - l.grad0[i]));
                expect_rel("op_cross_entropy dlogits, vocab 1 (abs)", e, 2.5e-7, ctx);
            }
        }
    // A target out of range fails the tape instead of reading outside the row.
    Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
    Leaf l;
    const int32_t bad[2] = {1, 5};
    Tensor *loss = op_cross_entropy(t, leaf(t, l, 2, 5, true, randnf(10)), bad);
    CHECK(loss == nullptr && t.status() == BITLM_ERR_TOKEN_OUT_OF_RANGE);
}

// op_embedding (all storages: F32 here, Int8 / F16 are the STE checks of part 3).
void op_embedding_test() {
    const uint32_t shapes[][3] = {{7, 33, 9}, {5, 6, 12}, {1, 5, 3}};  // vocab, dim, tokens
    for (auto &sh : shapes)
        for (DType storage : {DType::F32, DType::F16, DType::Int8}) {
            const uint32_t vocab = sh[0], dim = sh[1], n = sh[2];
            const std::string ctx = fmt("vocab %u dim %u tokens %u storage %d", vocab, dim, n, (int)storage);
            std::vector<int32_t> tok = rand_tokens(n, vocab);
            tok[n - 1] = tok[0];  // a repeat
            Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
            Leaf tab;
            Tensor *y = op_embedding(t, leaf(t, tab, vocab, dim, true, randnf((size_t)vocab * dim, 0.5f)), tok.data(),
                                     n, storage);
            const VecF r = randnf((size_t)n * dim);
            CHECK(y != nullptr);
            if (!y) continue;
            VecF want((size_t)n * dim);
            if (storage == DType::Int8) {
                std::vector<int8_t> q((size_t)vocab * dim);
                std::vector<uint16_t> s(vocab);
                CHECK(quantize_int8_rows(tab.data.data(), vocab, dim, q.data(), s.data()) == BITLM_OK);
                for (uint32_t i = 0; i < n; i++)
                    for (uint32_t c = 0; c < dim; c++)
                        want[i * dim + c] = (float)q[(size_t)tok[i] * dim + c] * f16_to_f32(s[tok[i]]);
            } else {
                for (uint32_t i = 0; i < n; i++)
                    for (uint32_t c = 0; c < dim; c++) {
                        const float v = tab.data[(size_t)tok[i] * dim + c];
                        want[i * dim + c] = storage == DType::F16 ? round_to_f16(v) : v;
                    }
            }
            CHECK_MSG(same_bits(y->data, want.data(), want.size()), "embedding forward differs (%s)", ctx.c_str());
            CHECK_MSG(backward_from(t, y, r), "embedding backward (%s)", ctx.c_str());
            // scatter-add in row order: exactly these float sums
            VecF g = tab.grad0;
            VecD gd(g.size(), 0.0);
            for (uint32_t i = 0; i < n; i++)
                for (uint32_t c = 0; c < dim; c++) {
                    g[(size_t)tok[i] * dim + c] += r[i * dim + c];
                    gd[(size_t)tok[i] * dim + c] += r[i * dim + c];
                }
            CHECK_MSG(same_bits(g, tab.grad), "embedding grad is not the row-order scatter-add (%s)", ctx.c_str());
            expect_rel(storage == DType::F32 ? "op_embedding f32 dtable" : "op_embedding int8/f16 dtable (STE)",
                       grad_err(tab, gd), storage == DType::F32 ? kTolOp : kTolSte, ctx);
        }
}

// ================================================================================================
// 2+3. op_linear: fp32, and every quantizer against its definition and surrogate gradient
// ================================================================================================

struct LinearRef {
    VecF y;         // the forward by definition (op_linear must give these bits with the reference gemm)
    VecD w_tilde;   // out x in: the dequantized weights the forward used
    VecD x_hat;     // n x in: the dequantized input the forward used
};

bool linear_reference(const VecF &x, uint32_t n, uint32_t in, const VecF &w, uint32_t out, const LinearQuant &q,
                      LinearRef &ref) {
    const size_t nw = (size_t)out * in;
    std::vector<int8_t> codes(nw);
    std::vector<uint16_t> scales((size_t)out * (in + 31) / 32 + out + 1);
    VecF wv(nw), ws(out, 1.0f);
    ref.w_tilde.assign(nw, 0.0);
    bool integer = false;
    if (q.weight == DType::F32 || q.weight == DType::F16) {
        for (size_t i = 0; i < nw; i++) wv[i] = q.weight == DType::F16 ? round_to_f16(w[i]) : w[i];
        ref.w_tilde = to_d(wv);
    } else {
        bitlm_status st;
        if (q.weight == DType::Ternary)
            st = quantize_ternary_absmean(w.data(), out, in, q.scale_kind, q.group_size, codes.data(), scales.data());
        else if (q.weight == DType::Binary)
            st = quantize_binary_sign(w.data(), out, in, q.scale_kind, codes.data(), scales.data());
        else
            st = quantize_int8_rows(w.data(), out, in, codes.data(), scales.data());
        if (st != BITLM_OK) return false;
        integer = q.scale_kind == ScaleKind::Tensor || q.scale_kind == ScaleKind::Row;
        const uint32_t per_row = q.scale_kind == ScaleKind::Group ? (in + q.group_size - 1) / q.group_size : 1;
        for (uint32_t o = 0; o < out; o++) {
            for (uint32_t i = 0; i < in; i++) {
                const size_t si = q.scale_kind == ScaleKind::Tensor ? 0
                                  : q.scale_kind == ScaleKind::Group ? (size_t)o * per_row + i / q.group_size
                                                                     : o;
                const float s = f16_to_f32(scales[si]), c = (float)codes[(size_t)o * in + i];
                ref.w_tilde[(size_t)o * in + i] = (double)c * s;
                wv[(size_t)o * in + i] = integer ? c : c * s;
            }
            if (integer) ws[o] = f16_to_f32(scales[q.scale_kind == ScaleKind::Tensor ? 0 : o]);
        }
    }
    const bool int8_in = q.int8_input && q.weight != DType::F32 && q.weight != DType::F16;
    VecF a((size_t)n * in), xs(n, 1.0f);
    ref.x_hat.assign((size_t)n * in, 0.0);
    std::vector<int8_t> xc(in + 4);
    for (uint32_t r = 0; r < n; r++) {
        if (int8_in) xs[r] = quantize_act_int8_ref(&x[(size_t)r * in], in, xc.data());
        for (uint32_t i = 0; i < in; i++) {
            const size_t at = (size_t)r * in + i;
            a[at] = int8_in ? (float)xc[i] : x[at];
            ref.x_hat[at] = int8_in ? (double)xc[i] * xs[r] : (double)x[at];
        }
    }
    ref.y.assign((size_t)n * out, 0.0f);
    for (uint32_t r = 0; r < n; r++)
        for (uint32_t o = 0; o < out; o++) {
            float acc = 0.0f;
            for (uint32_t i = 0; i < in; i++) acc += a[(size_t)r * in + i] * wv[(size_t)o * in + i];
            ref.y[(size_t)r * out + o] = integer ? (acc * ws[o]) * xs[r] : int8_in ? acc * xs[r] : acc;
        }
    return true;
}

struct LinearCase {
    const char *name;
    LinearQuant q;
    uint32_t n, in, out;
};

void op_linear_test() {
    const LinearCase cases[] = {
        {"f32", {DType::F32, ScaleKind::None, 0, false}, 1, 1, 1},
        {"f32", {DType::F32, ScaleKind::None, 0, false}, 3, 5, 6},
        {"f32", {DType::F32, ScaleKind::None, 0, false}, 7, 33, 5},
        {"ternary row", {DType::Ternary, ScaleKind::Row, 0, true}, 3, 33, 5},
        {"ternary row", {DType::Ternary, ScaleKind::Row, 0, true}, 7, 70, 6},
        {"ternary row float-input", {DType::Ternary, ScaleKind::Row, 0, false}, 3, 33, 5},
        {"ternary tensor", {DType::Ternary, ScaleKind::Tensor, 0, true}, 7, 33, 6},
        {"ternary group32", {DType::Ternary, ScaleKind::Group, 32, true}, 3, 64, 5},
        {"ternary group32", {DType::Ternary, ScaleKind::Group, 32, true}, 7, 70, 6},
        {"binary row", {DType::Binary, ScaleKind::Row, 0, true}, 3, 33, 5},
        {"binary tensor", {DType::Binary, ScaleKind::Tensor, 0, true}, 7, 70, 6},
        {"int8 row (tied head)", {DType::Int8, ScaleKind::Row, 0, true}, 7, 33, 11},
        {"f16", {DType::F16, ScaleKind::None, 0, false}, 3, 33, 5},
        {"f16 (int8_input ignored)", {DType::F16, ScaleKind::None, 0, true}, 1, 6, 5},
    };
    for (const LinearCase &lc : cases)
        for (int mode = 0; mode < 3; mode++) {  // both grads, x only, w only
            const uint32_t n = lc.n, in = lc.in, out = lc.out;
            const std::string ctx = fmt("%s n %u in %u out %u %s", lc.name, n, in, out, grad_mode_name(mode));
            const bool f32 = lc.q.weight == DType::F32;
            Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
            Leaf x, w;
            VecF xv = randnf((size_t)n * in);
            if (in > 3) xv[1] *= 4.0f;  // an outlier sets the absmax
            Tensor *y = op_linear(t, leaf(t, x, n, in, mode != 2, xv),
                                  leaf(t, w, out, in, mode != 1, randnf((size_t)out * in, f32 ? 1.0f : 0.05f)), lc.q);
            CHECK_MSG(y != nullptr, "op_linear failed (%s), status %d", ctx.c_str(), (int)t.status());
            if (!y) continue;
            LinearRef ref;
            CHECK(linear_reference(x.data, n, in, w.data, out, lc.q, ref));
            if (f32) {
                expect_rel("op_linear f32 forward", out_err(y, to_d(ref.y)), 1e-6, ctx);
            } else {
                CHECK_MSG(same_bits(y->data, ref.y.data(), ref.y.size()), "op_linear forward is not the definition (%s)",
                          ctx.c_str());
            }
            const VecF r = randnf((size_t)n * out);
            CHECK_MSG(backward_from(t, y, r), "backward (%s)", ctx.c_str());
            // surrogate: dX = dY . W~, dW = dY^T . X^
            VecD dx((size_t)n * in, 0.0), dw((size_t)out * in, 0.0);
            for (uint32_t i = 0; i < n; i++)
                for (uint32_t o = 0; o < out; o++)
                    for (uint32_t j = 0; j < in; j++) {
                        dx[(size_t)i * in + j] += (double)r[i * out + o] * ref.w_tilde[(size_t)o * in + j];
                        dw[(size_t)o * in + j] += (double)r[i * out + o] * ref.x_hat[(size_t)i * in + j];
                    }
            const double tol = f32 ? kTolOp : kTolSte;
            const std::string nm = f32 ? "op_linear f32" : "op_linear STE";
            if (mode != 2) expect_rel(nm + " dx", grad_err(x, dx), tol, ctx);
            if (mode != 1) expect_rel(nm + " dw", grad_err(w, dw), tol, ctx);
        }
}

// ================================================================================================
// 4. the whole model
// ================================================================================================

TrainModelSpec tiny_spec(bool swiglu, bool subln, bool separate, bool fp32) {
    TrainModelSpec s;
    std::memset(&s, 0, sizeof s);
    bitlm_config &c = s.config;
    c.vocab_size = 11, c.dim = 8, c.n_layers = 2, c.n_heads = 2, c.n_kv_heads = 1, c.head_dim = 4, c.ffn_dim = 12;
    c.max_seq_len = 8;
    c.ffn_kind = swiglu ? BITLM_FFN_SWIGLU : BITLM_FFN_RELU2;
    c.norm_kind = BITLM_NORM_RMSNORM;
    c.norm_placement = subln ? BITLM_NORM_PLACE_SUBLN : BITLM_NORM_PLACE_PRE;
    c.attn_kind = BITLM_ATTN_SOFTMAX;
    c.pos_kind = BITLM_POS_ROPE;
    c.act_kind = BITLM_ACT_INT8;
    c.head_kind = separate ? BITLM_HEAD_SEPARATE : BITLM_HEAD_TIED;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    s.storage = StorageRecipe{DType::Ternary, ScaleKind::Row, 0, DType::Int8, DType::Int8};
    s.fp32 = fp32;
    return s;
}
std::string spec_name(const TrainModelSpec &s) {
    return fmt("%s %s %s %s", s.config.ffn_kind == BITLM_FFN_SWIGLU ? "swiglu" : "relu2",
               s.config.norm_placement == BITLM_NORM_PLACE_SUBLN ? "subln" : "pre",
               s.config.head_kind == BITLM_HEAD_SEPARATE ? "separate-head" : "tied-head", s.fp32 ? "fp32" : "quantized");
}

// Parameters, their memory and the rope table of one tiny model (not copyable: TrainModel points in).
struct ModelBox {
    TrainModelSpec spec;
    std::vector<Param> params;
    std::vector<VecF> w, g;
    VecF cs;
    TrainModel m;
    ModelBox(const TrainModelSpec &s, uint32_t seq_len, uint64_t seed, float init_std) : spec(s) {
        const uint32_t np = train_param_count(s);
        params.resize(np), w.resize(np), g.resize(np);
        for (uint32_t i = 0; i < np; i++) {
            const ParamInfo info = train_param_info(s, i);
            w[i].assign((size_t)info.rows * info.cols, 0.0f);
            g[i].assign(w[i].size(), 0.0f);
            params[i] = Param{"param", info.kind, info.rows, info.cols, w[i].data(), g[i].data(), nullptr};
        }
        init_params(s, params.data(), seed, init_std);
        for (uint32_t i = 0; i < np; i++)  // gains away from 1 so their gradients are generic
            if (params[i].kind == ParamKind::Vector)
                for (float &v : w[i]) v += 0.2f * randnf(1)[0];
        cs.assign((size_t)seq_len * s.config.head_dim, 0.0f);
        rope_table(s.config.rope_theta, s.config.head_dim, seq_len, cs.data());
        m = TrainModel{spec, params.data(), cs.data(), seq_len};
    }
    ModelBox(const ModelBox &) = delete;
    void zero_grads() {
        for (auto &v : g) std::fill(v.begin(), v.end(), 0.0f);
    }
};

float eval_loss(const ModelBox &b, const int32_t *tok, const int32_t *tgt, uint32_t n_seq) {
    Tape t(g_arena.data(), g_arena.size(), reference_train_backend());
    t.grad_enabled = false;
    Tensor *l = model_loss(t, b.m, tok, tgt, n_seq);
    return l && t.status() == BITLM_OK ? l->data[0] : NAN;
}
// Loss and gradients (into the params' g, zeroed first) on `backend`.
float loss_and_grads(ModelBox &b, const TrainBackend *backend, const int32_t *tok, const int32_t *tgt, uint32_t n_seq) {
    b.zero_grads();
    Tape t(g_arena.data(), g_arena.size(), backend);
    Tensor *l = model_loss(t, b.m, tok, tgt, n_seq);
    const bitlm_status st = t.backward(l);
    CHECK_MSG(l && st == BITLM_OK, "model_loss/backward failed: status %d", (int)st);
    return l ? l->data[0] : NAN;
}

const char *role_name(TensorRole r) {
    switch (r) {
        case TensorRole::TokEmbedding: return "tok_embedding";
        case TensorRole::Head: return "head";
        case TensorRole::FinalNorm: return "final_norm";
        case TensorRole::AttnNorm: return "attn_norm";
        case TensorRole::FfnNorm: return "ffn_norm";
        case TensorRole::AttnSubNorm: return "attn_subnorm";
        case TensorRole::FfnSubNorm: return "ffn_subnorm";
        case TensorRole::Wq: return "wq";
        case TensorRole::Wk: return "wk";
        case TensorRole::Wv: return "wv";
        case TensorRole::Wo: return "wo";
        case TensorRole::WGate: return "w_gate";
        case TensorRole::WUp: return "w_up";
        case TensorRole::WDown: return "w_down";
    }
    return "?";
}

void model_fd_test() {
    const uint32_t seq = 5, n_seq = 2;
    const bool variants[][3] = {{true, false, false}, {false, true, true}, {true, true, true}, {false, false, false}};
    for (auto &v : variants) {
        const TrainModelSpec spec = tiny_spec(v[0], v[1], v[2], true);
        const std::string name = spec_name(spec);
        CHECK_MSG(check_train_spec(spec) == BITLM_OK, "spec rejected (%s)", name.c_str());
        ModelBox box(spec, seq, 7, 0.3f);
        const std::vector<int32_t> tok = rand_tokens(seq * n_seq, 11), tgt = rand_tokens(seq * n_seq, 11);
        const float loss = loss_and_grads(box, reference_train_backend(), tok.data(), tgt.data(), n_seq);
        const float loss_eval = eval_loss(box, tok.data(), tgt.data(), n_seq);
        // Training and evaluation may run different (equally valid) summation orders: same loss to float rounding.
        expect_rel("model loss: grad enabled vs evaluation", std::fabs((double)loss - loss_eval) / std::fabs(loss_eval),
                   1e-5, name);
        for (uint32_t p = 0; p < box.params.size(); p++) {
            const ParamInfo info = train_param_info(spec, p);
            const std::string ctx = fmt("%s: %s layer %u", name.c_str(), role_name(info.role), info.layer);
            std::vector<uint32_t> idx(box.w[p].size());
            for (uint32_t i = 0; i < idx.size(); i++) idx[i] = i;
            std::shuffle(idx.begin(), idx.end(), g_rng);
            if (idx.size() > 30) idx.resize(30);
            VecD a, fd;
            for (uint32_t i : idx) {
                float &wi = box.w[p][i];
                const float w0 = wi, h = 1e-2f * std::max(std::fabs(w0), 0.25f), wp = w0 + h, wm = w0 - h;
                wi = wp;
                const double lp = eval_loss(box, tok.data(), tgt.data(), n_seq);
                wi = wm;
                const double lm = eval_loss(box, tok.data(), tgt.data(), n_seq);
                wi = w0;
                fd.push_back((lp - lm) / ((double)wp - (double)wm));
                a.push_back(box.g[p][i]);
            }
            expect_rel("model fp32 dloss/dw vs float FD", rel_err(a, fd), 2e-2, ctx);
        }
    }
}

// The measuring tape's count is exactly what a computing tape needs.
void model_arena_test() {
    const uint32_t seq = 5, n_seq = 2;
    for (int fp32 = 1; fp32 >= 0; fp32--)
        for (int sep = 0; sep < 2; sep++) {
            const TrainModelSpec spec = tiny_spec(sep == 0, sep == 1, sep == 1, fp32 != 0);
            const std::string name = spec_name(spec);
            ModelBox box(spec, seq, 3, 0.3f);
            const std::vector<int32_t> tok = rand_tokens(seq * n_seq, 11), tgt = rand_tokens(seq * n_seq, 11);
            const float want = loss_and_grads(box, reference_train_backend(), tok.data(), tgt.data(), n_seq);
            const std::vector<VecF> want_g = box.g;

            std::vector<uint8_t> small(1 << 16);
            Tape m(small.data(), small.size(), reference_train_backend(), true);
            Tensor *ml = model_loss(m, box.m, tok.data(), tgt.data(), n_seq);
            CHECK_MSG(ml && m.status() == BITLM_OK && m.backward(ml) == BITLM_OK, "measuring pass failed (%s)",
                      name.c_str());
            const uint64_t need = m.used_bytes();

            std::vector<uint8_t> raw(need + 64);
            uint8_t *base = raw.data() + (64 - (uintptr_t)raw.data() % 64) % 64;
            box.zero_grads();
            {
                Tape t(base, need, reference_train_backend());
                Tensor *l = model_loss(t, box.m, tok.data(), tgt.data(), n_seq);
                CHECK_MSG(l && t.status() == BITLM_OK && t.backward(l) == BITLM_OK,
                          "a tape of the measured %llu bytes failed (%s)", (unsigned long long)need, name.c_str());
                CHECK_MSG(l && std::memcmp(&l->data[0], &want, 4) == 0 && same_bits(box.g, want_g),
                          "exact-size tape gives other results (%s)", name.c_str());
                CHECK(t.used_bytes() == need);
            }
            // Every shortfall, 64 bytes at a time (each op's every allocation fails once): the status says
            // ARENA_TOO_SMALL, the loss is null or backward refuses, nothing crashes or writes a gradient.
            // (An op whose only failed allocation is its own OpRecord still returns its forward result.)
            box.zero_grads();
            bool all_fail = true, untouched = true, last_null = false;
            for (uint64_t cap = 0; cap < need; cap += 64) {
                Tape t(base, need - 64 - cap, reference_train_backend());
                Tensor *l = model_loss(t, box.m, tok.data(), tgt.data(), n_seq);
                all_fail &= t.status() == BITLM_ERR_ARENA_TOO_SMALL && t.backward(l) == BITLM_ERR_ARENA_TOO_SMALL;
                if (cap == 0) last_null = l == nullptr;
            }
            for (auto &gv : box.g)
                for (float x : gv) untouched &= x == 0.0f;
            CHECK_MSG(all_fail, "a short arena did not fail with ARENA_TOO_SMALL (%s)", name.c_str());
            CHECK_MSG(untouched, "a failed tape wrote gradients (%s)", name.c_str());
            if (!last_null)
                std::printf("  note: 64 bytes short, model_loss returned a tensor (its record failed); status is "
                            "ARENA_TOO_SMALL (%s)\n", name.c_str());
            std::printf("  arena for %s, 2x5 tokens: %llu bytes\n", name.c_str(), (unsigned long long)need);
        }
}

// ================================================================================================
// 5. task order does not change a bit
// ================================================================================================

void reverse_runner(void *, bitlm_task_fn fn, void *arg, uint32_t n) {
    for (uint32_t i = n; i-- > 0;) fn(arg, i);
}
void odd_even_runner(void *, bitlm_task_fn fn, void *arg, uint32_t n) {
    for (uint32_t i = 1; i < n; i += 2) fn(arg, i);
    for (uint32_t i = 0; i < n; i += 2) fn(arg, i);
}

void task_order_test() {
    const uint32_t seq = 5, n_seq = 2;
    host::ThreadPool pool(4);
    TrainBackend rev = *reference_train_backend(), oe = rev, threaded = rev;
    rev.parallel_for = reverse_runner;
    oe.parallel_for = odd_even_runner;
    threaded.parallel_for = host::ThreadPool::parallel_for_fn;
    threaded.runner = &pool;
    const TrainBackend *others[] = {&rev, &oe, &threaded};
    const char *other_names[] = {"reverse", "odd-even", "4-thread pool"};
    for (int fp32 = 1; fp32 >= 0; fp32--)
        for (int v = 0; v < 4; v++) {
            const TrainModelSpec spec = tiny_spec(v & 1, v & 2, v == 1 || v == 2, fp32 != 0);
            ModelBox box(spec, seq, 11, 0.3f);
            const std::vector<int32_t> tok = rand_tokens(seq * n_seq, 11), tgt = rand_tokens(seq * n_seq, 11);
            const float want = loss_and_grads(box, reference_train_backend(), tok.data(), tgt.data(), n_seq);
            const std::vector<VecF> want_g = box.g;
            bool nonzero = false;
            for (auto &gv : want_g)
                for (float x : gv) nonzero |= x != 0.0f;
            CHECK(nonzero);
            for (int o = 0; o < 3; o++) {
                const float got = loss_and_grads(box, others[o], tok.data(), tgt.data(), n_seq);
                CHECK_MSG(std::memcmp(&got, &want, 4) == 0 && same_bits(box.g, want_g), "%s runner changes the bits (%s)",
                          other_names[o], spec_name(spec).c_str());
            }
        }
}

// The host CPU backend (blocked GEMMs on a pool): the same bits on 1 and 4 threads for every isa, and
// (fp32 model) the reference backend's gradients to float rounding.
void cpu_backend_test() {
    const uint32_t seq = 5, n_seq = 2;
    host::ThreadPool pool(4);
    for (const std::string &isa : host::CpuTrainBackend::available_isas()) {
        host::CpuTrainBackend serial(nullptr, isa.c_str()), threaded(&pool, isa.c_str());
        CHECK_MSG(serial.ok() && threaded.ok(), "cpu backend %s: %s", isa.c_str(), serial.error().c_str());
        if (!serial.ok() || !threaded.ok()) continue;
        for (int fp32 = 1; fp32 >= 0; fp32--)
            for (int v = 0; v < 4; v++) {
                const TrainModelSpec spec = tiny_spec(v & 1, v & 2, v == 1 || v == 2, fp32 != 0);
                const std::string ctx = isa + " " + spec_name(spec);
                ModelBox box(spec, seq, 13, 0.3f);
                const std::vector<int32_t> tok = rand_tokens(seq * n_seq, 11), tgt = rand_tokens(seq * n_seq, 11);
                const float ref = loss_and_grads(box, reference_train_backend(), tok.data(), tgt.data(), n_seq);
                const std::vector<VecF> ref_g = box.g;
                const float one = loss_and_grads(box, serial.backend(), tok.data(), tgt.data(), n_seq);
                const std::vector<VecF> one_g = box.g;
                const float four = loss_and_grads(box, threaded.backend(), tok.data(), tgt.data(), n_seq);
                CHECK_MSG(std::memcmp(&one, &four, 4) == 0 && same_bits(one_g, box.g),
                          "cpu backend: 1 and 4 threads give other bits (%s)", ctx.c_str());
                if (!fp32) continue;
                expect_rel("cpu backend loss vs reference backend", std::fabs((double)one - ref) / std::fabs(ref), 1e-5,
                           ctx);
                for (size_t p = 0; p < ref_g.size(); p++)
                    expect_rel("cpu backend grads vs reference backend", rel_err(to_d(one_g[p]), to_d(ref_g[p])), 1e-4,
                               ctx + fmt(" param %zu", p));
            }
    }
}

}  // namespace

int main() {
    kernel_rmsnorm();
    kernel_rope();
    kernel_attention();
    kernel_pointwise();
    kernel_xent();
    kernel_splits<FloatMath>("float");
    kernel_splits<DoubleMath>("double");

    op_rmsnorm_test();
    op_rope_test();
    op_attention_test();
    op_pointwise_test();
    op_cross_entropy_test();
    op_embedding_test();
    op_linear_test();

    model_fd_test();
    model_arena_test();
    task_order_test();
    cpu_backend_test();

    std::printf("  worst observed relative error per check (count, tolerance):\n");
    for (const Worst &w : g_worst)
        std::printf("    %-44s %9.3g  (%d, tol %.1e)\n", w.name.c_str(), w.err, w.count, w.tol);
    return check::finish("test_grad");
}
