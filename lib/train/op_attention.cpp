// op_attention.cpp — grouped-query causal softmax attention on the tape.
// Training (grad enabled) runs each (sequence, head) as GEMMs on the backend: S = Q K^T, masked
// softmax, O = P V, and backward dP = dO V^T, dQ = dS K, dK = dS^T Q, dV = P^T dO — most of a step's
// attention time is there, and the backend's GEMM is many times faster than dot-product loops.
// Evaluation (grad disabled) runs the exact loops of op_kernels.h, which sum in the order inference
// does, so the trainer's validation loss is the packed model's loss to the bit.
// Backward tasks are (sequence, kv head): heads that share a kv head add into dK/dV in a fixed order.
#include "core/bytes.h"
#include "train/op_kernels.h"
#include "train/ops.h"
#include "train/parallel.h"

namespace bitlm {
namespace {

// u: [0] n_heads, [1] n_kv_heads, [2] head_dim, [3] seq_len. saved[0]: probabilities, one
// seq_len x seq_len block per (sequence, head), zero above the diagonal; saved[1]: dP scratch, one
// seq_len x seq_len block per backward task.
opk::AttnShape shape_for(uint32_t n_heads, uint32_t n_kv, uint32_t hd, uint32_t seq_len, uint32_t head) {
    return opk::AttnShape{seq_len, hd, n_heads * hd, n_kv * hd, head * hd, (head / (n_heads / n_kv)) * hd};
}
opk::AttnShape shape_for(const OpRecord &op, uint32_t head) { return shape_for(op.u[0], op.u[1], op.u[2], op.u[3], head); }
// e^x for x <= 0 (softmax after subtracting the max), relative error ~2e-7, branch-free so the loop
// vectorizes: only the training path uses it (the softmax there is the most exp-heavy loop of a
// step); evaluation keeps det_expf, the function inference uses.
inline float softmax_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // rne(x / ln 2)
    const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-06f;  // x - n ln 2, two parts
    float p = 1.9875691500e-4f;  // e^r - 1 - r on [-ln2/2, ln2/2], degree 7 (Taylor-like minimax)
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = (p * r) * r + r + 1.0f;
    return p * bits_float((uint32_t)((int32_t)n + 127) << 23);
}

// Scores of one (sequence, head) into p (seq_len x seq_len, from a GEMM), then the causal softmax
// in place: row t keeps s <= t, the rest becomes 0 (so P V needs no mask).
void softmax_rows(const opk::AttnShape &a, float *p) {
    const float scale = det_rsqrtf((float)a.head_dim);
    for (uint32_t t = 0; t < a.seq_len; t++) {
        float *pt = p + (uint64_t)t * a.seq_len;
        float max = -3.4028235e38f;
        for (uint32_t s = 0; s <= t; s++) {
            pt[s] = pt[s] * scale;
            if (pt[s] > max) max = pt[s];
        }
        for (uint32_t s = 0; s <= t; s++) pt[s] = softmax_expf(pt[s] - max);
        const float inv = 1.0f / lane_sum<float, false>(pt, t + 1);
        for (uint32_t s = 0; s <= t; s++) pt[s] = pt[s] * inv;
        for (uint32_t s = t + 1; s < a.seq_len; s++) pt[s] = 0.0f;
    }
}

void attention_backward(Tape &t, const OpRecord &op) {
    const Tensor &q = *op.in[0], &k = *op.in[1], &v = *op.in[2], &o = *op.out;
    if (!o.grad || (!q.grad && !k.grad && !v.grad)) return;  // an input without a grad gets none
    const TrainBackend *b = t.backend;
    const uint32_t n_heads = op.u[0], n_kv = op.u[1], T = op.u[3], group = n_heads / n_kv;
    const uint64_t n_seq = q.rows / T;
    for_ranges(b, n_seq * n_kv, [&](uint64_t i0, uint64_t i1) {
        for (uint64_t i = i0; i < i1; i++) {
            const uint64_t seq = i / n_kv, kvh = i % n_kv, row = seq * T;
            float *ds = op.saved[1] + i * T * T;
            for (uint32_t h = (uint32_t)kvh * group; h < (kvh + 1) * group; h++) {
                const opk::AttnShape a = shape_for(op, h);
                const float scale = det_rsqrtf((float)a.head_dim);
                const float *p = op.saved[0] + (seq * n_heads + h) * T * T;
                const float *qh = q.data + row * a.q_stride + a.q_col, *doh = o.grad + row * a.q_stride + a.q_col;
                const float *kg = k.data + row * a.kv_stride + a.kv_col, *vg = v.data + row * a.kv_stride + a.kv_col;
                float *dqh = q.grad ? q.grad + row * a.q_stride + a.q_col : nullptr;
                float *dkg = k.grad ? k.grad + row * a.kv_stride + a.kv_col : nullptr;
                float *dvg = v.grad ? v.grad + row * a.kv_stride + a.kv_col : nullptr;
                // dV += P^T dO;  dP = dO V^T;  dS = P (dP - rowsum(P dP)) * scale;  dQ += dS K;  dK += dS^T Q.
                if (dvg) b->gemm(b->ctx, true, false, T, a.head_dim, T, p, T, doh, a.q_stride, 1.0f, dvg, a.kv_stride);
                if (!dqh && !dkg) continue;
                b->gemm(b->ctx, false, true, T, T, a.head_dim, doh, a.q_stride, vg, a.kv_stride, 0.0f, ds, T);
                for (uint32_t r = 0; r < T; r++) {
                    const float *pr = p + (uint64_t)r * T;
                    float *dr = ds + (uint64_t)r * T;
                    float weighted = 0.0f;
                    for (uint32_t s = 0; s <= r; s++) weighted += pr[s] * dr[s];
                    for (uint32_t s = 0; s <= r; s++) dr[s] = pr[s] * (dr[s] - weighted) * scale;
                    for (uint32_t s = r + 1; s < T; s++) dr[s] = 0.0f;
                }
                if (dqh) b->gemm(b->ctx, false, false, T, a.head_dim, T, ds, T, kg, a.kv_stride, 1.0f, dqh, a.q_stride);
                if (dkg) b->gemm(b->ctx, true, false, T, a.head_dim, T, ds, T, qh, a.q_stride, 1.0f, dkg, a.kv_stride);
            }
        }
    });
}

}  // namespace

Tensor *op_attention(Tape &t, Tensor *q, Tensor *k, Tensor *v, uint32_t n_heads, uint32_t n_kv_heads,
                     uint32_t head_dim, uint32_t seq_len) {
    if (!q || !k || !v) return nullptr;
    if (n_kv_heads == 0 || n_heads % n_kv_heads || seq_len == 0 || q->rows % seq_len || q->cols != n_heads * head_dim ||
        k->cols != n_kv_heads * head_dim || v->cols != k->cols || k->rows != q->rows || v->rows != q->rows) {
        t.fail(BITLM_ERR_SHAPE_MISMATCH);
        return nullptr;
    }
    const uint64_t n_seq = q->rows / seq_len;
    const bool grad = q->grad || k->grad || v->grad;
    Tensor *o = t.tensor(q->rows, q->cols, grad);
    float *p = t.alloc_floats(n_seq * n_heads * seq_len * seq_len);
    float *dp = grad && t.grad_enabled ? t.alloc_floats(n_seq * n_kv_heads * seq_len * seq_len) : nullptr;
    if (!o || !p || (grad && t.grad_enabled && !dp)) return nullptr;
    if (OpRecord *op = t.record(attention_backward)) {
        op->in[0] = q;
        op->in[1] = k;
        op->in[2] = v;
        op->out = o;
        op->saved[0] = p;
        op->saved[1] = dp;
        op->u[0] = n_heads, op->u[1] = n_kv_heads, op->u[2] = head_dim, op->u[3] = seq_len;
    }
    if (!t.computing()) return o;
    const TrainBackend *b = t.backend;
    const bool exact = !t.grad_enabled;
    for_ranges(b, n_seq * n_heads, [&](uint64_t i0, uint64_t i1) {
        for (uint64_t i = i0; i < i1; i++) {
            const uint64_t seq = i / n_heads, h = i % n_heads, row = seq * seq_len;
            const opk::AttnShape a = shape_for(n_heads, n_kv_heads, head_dim, seq_len, (uint32_t)h);
            const float *qh = q->data + row * a.q_stride, *kh = k->data + row * a.kv_stride;
            const float *vh = v->data + row * a.kv_stride;
            float *ph = p + i * seq_len * seq_len, *oh = o->data + row * a.q_stride;
            if (exact) {
                opk::attention_forward<FloatMath>(a, qh, kh, vh, ph, oh);
            } else {
                b->gemm(b->ctx, false, true, seq_len, seq_len, head_dim, qh + a.q_col, a.q_stride, kh + a.kv_col,
                        a.kv_stride, 0.0f, ph, seq_len);
                softmax_rows(a, ph);
                b->gemm(b->ctx, false, false, seq_len, head_dim, seq_len, ph, seq_len, vh + a.kv_col, a.kv_stride,
                        0.0f, oh + a.q_col, a.q_stride);
            }
        }
    });
    return o;
}

}  // namespace bitlm
