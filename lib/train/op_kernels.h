// op_kernels.h — the float math of every non-GEMM tape op, forward and backward side by side,
// templated on a math policy so the gradient test can run the very same code in double.
// M supplies: typedef T (float or double), T exp(T), T log(T), T rsqrt(T), T silu(T).
// Every function works on a range of rows (or columns) so ops can split it over tasks; each output
// element is written by one task in a fixed order, so results never depend on the thread count.
// The forward orders copy lib/model/forward.cpp exactly (the trainer computes the inference function).
#pragma once
#include <stdint.h>
#include "core/detmath.h"
#include "core/lane_sum.h"

namespace bitlm {

// The float policy: the library's deterministic functions (what inference uses).
struct FloatMath {
    typedef float T;
    static float exp(float x) { return det_expf(x); }
    static float log(float x) { return det_logf(x); }
    static float rsqrt(float x) { return det_rsqrtf(x); }
    static float silu(float x) { return det_silu(x); }
};

namespace opk {

// ---- RMSNorm: y = (x * r) * g,  r = rsqrt(mean(x^2) + eps) ------------------------------------
template <class M, class T = typename M::T>
void rmsnorm_forward(const T *x, const T *g, uint32_t n, T eps, uint32_t r0, uint32_t r1, T *y, T *rinv) {
    for (uint32_t r = r0; r < r1; r++) {
        const T *xr = x + (uint64_t)r * n;
        const T ri = M::rsqrt(lane_sum<T, true>(xr, n) / (T)n + eps);
        rinv[r] = ri;
        T *yr = y + (uint64_t)r * n;
        for (uint32_t i = 0; i < n; i++) yr[i] = (xr[i] * ri) * g[i];
    }
}
// dx += r*(g*dy) - r^3/n * x * sum_j(g_j dy_j x_j), rows [r0, r1).
template <class M, class T = typename M::T>
void rmsnorm_backward_x(const T *x, const T *g, const T *rinv, const T *dy, uint32_t n, uint32_t r0, uint32_t r1,
                        T *dx) {
    for (uint32_t r = r0; r < r1; r++) {
        const T *xr = x + (uint64_t)r * n, *dyr = dy + (uint64_t)r * n;
        T dot = 0;
        for (uint32_t i = 0; i < n; i++) dot += g[i] * dyr[i] * xr[i];
        const T ri = rinv[r], c = ri * ri * ri * dot / (T)n;
        T *dxr = dx + (uint64_t)r * n;
        for (uint32_t i = 0; i < n; i++) dxr[i] += ri * g[i] * dyr[i] - c * xr[i];
    }
}
// dg[i] += sum over rows of dy * x * r, for columns [c0, c1) (rows in ascending order).
template <class M, class T = typename M::T>
void rmsnorm_backward_g(const T *x, const T *rinv, const T *dy, uint32_t n, uint32_t rows, uint32_t c0, uint32_t c1,
                        T *dg) {
    for (uint32_t r = 0; r < rows; r++) {
        const T *xr = x + (uint64_t)r * n, *dyr = dy + (uint64_t)r * n;
        for (uint32_t i = c0; i < c1; i++) dg[i] += dyr[i] * xr[i] * rinv[r];
    }
}

// ---- RoPE: rotate pairs (2i, 2i+1) of every head by the angle of the row's position ------------
// cs[pos * head_dim + 2i] = cos, [.. + 2i + 1] = sin; row r has position r % seq_len.
template <class M, class T = typename M::T>
void rope_forward(const T *x, const T *cs, uint32_t width, uint32_t head_dim, uint32_t seq_len, uint32_t r0,
                  uint32_t r1, T *y) {
    for (uint32_t r = r0; r < r1; r++) {
        const T *c = cs + (uint64_t)(r % seq_len) * head_dim;
        const T *xr = x + (uint64_t)r * width;
        T *yr = y + (uint64_t)r * width;
        for (uint32_t h = 0; h < width; h += head_dim)
            for (uint32_t i = 0; i < head_dim / 2; i++) {
                const T co = c[2 * i], si = c[2 * i + 1], a = xr[h + 2 * i], b = xr[h + 2 * i + 1];
                yr[h + 2 * i] = a * co - b * si;
                yr[h + 2 * i + 1] = a * si + b * co;
            }
    }
}
template <class M, class T = typename M::T>
void rope_backward(const T *dy, const T *cs, uint32_t width, uint32_t head_dim, uint32_t seq_len, uint32_t r0,
                   uint32_t r1, T *dx) {
    for (uint32_t r = r0; r < r1; r++) {
        const T *c = cs + (uint64_t)(r % seq_len) * head_dim;
        const T *dyr = dy + (uint64_t)r * width;
        T *dxr = dx + (uint64_t)r * width;
        for (uint32_t h = 0; h < width; h += head_dim)
            for (uint32_t i = 0; i < head_dim / 2; i++) {
                const T co = c[2 * i], si = c[2 * i + 1], a = dyr[h + 2 * i], b = dyr[h + 2 * i + 1];
                dxr[h + 2 * i] += a * co + b * si;
                dxr[h + 2 * i + 1] += -a * si + b * co;
            }
    }
}

// ---- causal softmax attention, one (sequence, head) -------------------------------------------
// q: rows of q_stride floats, head h at column h*hd; k, v: rows of kv_stride, kv head at kv_col.
// p: seq_len x seq_len probabilities of this (sequence, head), row t filled for s <= t.
struct AttnShape {
    uint32_t seq_len, head_dim, q_stride, kv_stride, q_col, kv_col;
};
template <class M, class T = typename M::T>
void attention_forward(const AttnShape &a, const T *q, const T *k, const T *v, T *p, T *o) {
    const T scale = M::rsqrt((T)a.head_dim);
    for (uint32_t t = 0; t < a.seq_len; t++) {
        const T *qt = q + (uint64_t)t * a.q_stride + a.q_col;
        T *pt = p + (uint64_t)t * a.seq_len;
        T max = -3.4028235e38f;
        for (uint32_t s = 0; s <= t; s++) {
            const T *ks = k + (uint64_t)s * a.kv_stride + a.kv_col;
            T dot = 0;
            for (uint32_t d = 0; d < a.head_dim; d++) dot += qt[d] * ks[d];
            pt[s] = dot * scale;
            if (pt[s] > max) max = pt[s];
        }
        for (uint32_t s = 0; s <= t; s++) pt[s] = M::exp(pt[s] - max);
        const T sum = lane_sum<T, false>(pt, t + 1);
        T *ot = o + (uint64_t)t * a.q_stride + a.q_col;
        for (uint32_t d = 0; d < a.head_dim; d++) ot[d] = 0;
        for (uint32_t s = 0; s <= t; s++) {
            pt[s] = pt[s] / sum;
            const T *vs = v + (uint64_t)s * a.kv_stride + a.kv_col;
            for (uint32_t d = 0; d < a.head_dim; d++) ot[d] += pt[s] * vs[d];
        }
    }
}
// The backward in plain loops: the reference the gradient test checks in double; op_attention.cpp
// trains with the same math as GEMMs (dV = P^T dO, dP = dO V^T, dS, dQ = dS K, dK = dS^T Q).
// Accumulates dq (this head's columns), dk and dv (this kv head's columns); any of the three may be
// null (not wanted). Heads that share a kv head must run in one task, one after another (they add
// into the same dk/dv).
template <class M, class T = typename M::T>
void attention_backward(const AttnShape &a, const T *q, const T *k, const T *v, const T *p, const T *dout, T *dq,
                        T *dk, T *dv, T *dp_scratch) {
    const T scale = M::rsqrt((T)a.head_dim);
    for (uint32_t t = 0; t < a.seq_len; t++) {
        const T *pt = p + (uint64_t)t * a.seq_len;
        const T *dot_ = dout + (uint64_t)t * a.q_stride + a.q_col;
        const T *qt = q + (uint64_t)t * a.q_stride + a.q_col;
        T weighted = 0;
        for (uint32_t s = 0; s <= t; s++) {
            const T *vs = v + (uint64_t)s * a.kv_stride + a.kv_col;
            T dp = 0;
            for (uint32_t d = 0; d < a.head_dim; d++) dp += dot_[d] * vs[d];
            if (dv) {
                T *dvs = dv + (uint64_t)s * a.kv_stride + a.kv_col;
                for (uint32_t d = 0; d < a.head_dim; d++) dvs[d] += pt[s] * dot_[d];
            }
            dp_scratch[s] = dp;
            weighted += pt[s] * dp;
        }
        if (!dq && !dk) continue;
        for (uint32_t s = 0; s <= t; s++) {
            const T ds = pt[s] * (dp_scratch[s] - weighted) * scale;
            const T *ks = k + (uint64_t)s * a.kv_stride + a.kv_col;
            if (dq) {
                T *dqt = dq + (uint64_t)t * a.q_stride + a.q_col;
                for (uint32_t d = 0; d < a.head_dim; d++) dqt[d] += ds * ks[d];
            }
            if (dk) {
                T *dks = dk + (uint64_t)s * a.kv_stride + a.kv_col;
                for (uint32_t d = 0; d < a.head_dim; d++) dks[d] += ds * qt[d];
            }
        }
    }
}

// ---- FFN activations --------------------------------------------------------------------------
template <class M, class T = typename M::T>
void relu2_forward(const T *x, uint64_t i0, uint64_t i1, T *y) {
    for (uint64_t i = i0; i < i1; i++) {
        const T u = x[i] > 0 ? x[i] : (T)0;
        y[i] = u * u;
    }
}
template <class M, class T = typename M::T>
void relu2_backward(const T *x, const T *dy, uint64_t i0, uint64_t i1, T *dx) {
    for (uint64_t i = i0; i < i1; i++)
        if (x[i] > 0) dx[i] += dy[i] * 2 * x[i];
}
// y = silu(gate) * up (the order of lib/model/forward.cpp).
template <class M, class T = typename M::T>
void swiglu_forward(const T *gate, const T *up, uint64_t i0, uint64_t i1, T *y) {
    for (uint64_t i = i0; i < i1; i++) y[i] = M::silu(gate[i]) * up[i];
}
template <class M, class T = typename M::T>
void swiglu_backward(const T *gate, const T *up, const T *dy, uint64_t i0, uint64_t i1, T *dgate, T *dup) {
    for (uint64_t i = i0; i < i1; i++) {
        const T sig = 1 / (1 + M::exp(-gate[i]));
        if (dgate) dgate[i] += dy[i] * up[i] * sig * (1 + gate[i] * (1 - sig));
        if (dup) dup[i] += dy[i] * gate[i] * sig;
    }
}

// ---- cross-entropy over rows of logits --------------------------------------------------------
// loss_r = log(sum exp(l - m)) + m - l[target]; keeps m and the sum for backward.
template <class M, class T = typename M::T>
void xent_forward(const T *logits, const int32_t *targets, uint32_t vocab, uint32_t r0, uint32_t r1, T *row_loss,
                  T *row_max, T *row_sum) {
    for (uint32_t r = r0; r < r1; r++) {
        const T *l = logits + (uint64_t)r * vocab;
        T m = l[0];
        for (uint32_t i = 1; i < vocab; i++)
            if (l[i] > m) m = l[i];
        T sum = 0;
        for (uint32_t i = 0; i < vocab; i++) sum += M::exp(l[i] - m);
        row_max[r] = m;
        row_sum[r] = sum;
        row_loss[r] = M::log(sum) + m - l[targets[r]];
    }
}
// dlogits += (softmax - onehot) * dloss_r.
template <class M, class T = typename M::T>
void xent_backward(const T *logits, const int32_t *targets, uint32_t vocab, const T *row_max, const T *row_sum,
                   T dloss_r, uint32_t r0, uint32_t r1, T *dlogits) {
    for (uint32_t r = r0; r < r1; r++) {
        const T *l = logits + (uint64_t)r * vocab;
        T *dl = dlogits + (uint64_t)r * vocab;
        for (uint32_t i = 0; i < vocab; i++) dl[i] += M::exp(l[i] - row_max[r]) / row_sum[r] * dloss_r;
        dl[targets[r]] -= dloss_r;
    }
}

}  // namespace opk
}  // namespace bitlm
