// attention.cu — grouped-query causal softmax attention as batched GEMMs (blas.cu) around two row
// kernels: the masked softmax (forward) and its gradient (backward). The math of lib/train/op_attention.cpp.
#include <math.h>

#include "common.cuh"
#include "train/optim.h"  // OptimHyper, which ops.h names without including
#include "ops.h"

namespace bitlm {
namespace cuda {
namespace {

constexpr uint32_t kRowWarps = 8;  // rows per block, one warp each

// Rows of seq_len x seq_len blocks stacked: row i is row (i % T) of its block, at p + i * T.
// In place: row t keeps s <= t as softmax(scores * scale), the rest becomes exactly 0 (so P V and the
// backward need no mask). The order of the CPU's training path: scale, max, exp, sum, times 1/sum.
__global__ void causal_softmax(float *p, uint32_t T, uint64_t rows, float scale) {
    const uint32_t lane = threadIdx.x & 31u;
    for (uint64_t row = (uint64_t)blockIdx.x * kRowWarps + threadIdx.x / 32u; row < rows;
         row += (uint64_t)gridDim.x * kRowWarps) {
        float *pr = p + row * T;
        const uint32_t t = (uint32_t)(row % T);
        float mx = -3.4028235e38f;
        for (uint32_t s = lane; s <= t; s += 32) mx = fmaxf(mx, pr[s] * scale);
        mx = warp_max(mx);
        float sum = 0.0f;
        for (uint32_t s = lane; s <= t; s += 32) {
            const float e = expf(pr[s] * scale - mx);
            pr[s] = e;
            sum += e;
        }
        const float inv = 1.0f / warp_sum(sum);
        for (uint32_t s = lane; s < T; s += 32) pr[s] = s <= t ? pr[s] * inv : 0.0f;
    }
}

// ds holds dP on entry; out: dS = P (dP - rowsum(P dP)) * scale, zero above the diagonal.
__global__ void causal_softmax_grad(const float *p, float *ds, uint32_t T, uint64_t rows, float scale) {
    const uint32_t lane = threadIdx.x & 31u;
    for (uint64_t row = (uint64_t)blockIdx.x * kRowWarps + threadIdx.x / 32u; row < rows;
         row += (uint64_t)gridDim.x * kRowWarps) {
        const float *pr = p + row * T;
        float *dr = ds + row * T;
        const uint32_t t = (uint32_t)(row % T);
        float w = 0.0f;
        for (uint32_t s = lane; s <= t; s += 32) w += pr[s] * dr[s];
        w = warp_sum(w);
        for (uint32_t s = lane; s < T; s += 32) dr[s] = s <= t ? pr[s] * (dr[s] - w) * scale : 0.0f;
    }
}

// The (sequence, head) pairs are covered by `leads` GEMM calls of `batch` matrices each, batched
// either over the sequences (one call per head) or over the kv heads (one call per sequence and
// position within a kv group), whichever gives fewer calls. Either way a kv head's query heads come
// in increasing order, one call after another on the stream: the first writes dK/dV, the rest add,
// so the sums are deterministic.
struct Plan {
    uint32_t leads, batch, group;
    bool by_seq;
    uint64_t q_step, kv_step, blk_step;  // element strides between the batch's Q/O, K/V, P matrices
};

// Element offsets of one call's first matrices. first: its heads open their kv groups (beta 0).
struct Lead {
    uint64_t q, kv, blk;
    bool first;
};

Plan plan_for(const AttnDims &d) {
    const uint64_t T = d.seq_len, q_stride = (uint64_t)d.n_heads * d.head_dim;
    const uint64_t kv_stride = (uint64_t)d.n_kv * d.head_dim;
    Plan p;
    p.group = d.n_heads / d.n_kv;
    p.by_seq = d.n_seq >= d.n_kv;
    if (p.by_seq) {
        p.leads = d.n_heads;
        p.batch = d.n_seq;
        p.q_step = T * q_stride;
        p.kv_step = T * kv_stride;
        p.blk_step = (uint64_t)d.n_heads * T * T;
    } else {
        p.leads = d.n_seq * p.group;
        p.batch = d.n_kv;
        p.q_step = (uint64_t)p.group * d.head_dim;
        p.kv_step = d.head_dim;
        p.blk_step = (uint64_t)p.group * T * T;
    }
    return p;
}

Lead lead_at(const AttnDims &d, const Plan &p, uint32_t i) {
    const uint32_t seq = p.by_seq ? 0 : i / p.group, head = p.by_seq ? i : i % p.group;
    const uint64_t T = d.seq_len, row = (uint64_t)seq * T;
    Lead l;
    l.q = row * d.n_heads * d.head_dim + (uint64_t)head * d.head_dim;
    l.kv = row * d.n_kv * d.head_dim + (uint64_t)(head / p.group) * d.head_dim;
    l.blk = ((uint64_t)seq * d.n_heads + head) * T * T;
    l.first = head % p.group == 0;
    return l;
}

bool dims_valid(const AttnDims &d) { return d.n_kv != 0 && d.n_heads % d.n_kv == 0; }
bool dims_empty(const AttnDims &d) { return d.n_seq == 0 || d.seq_len == 0 || d.n_heads == 0; }

// 1/sqrt(head_dim) as the CPU's det_rsqrtf: correctly rounded sqrt, then a correctly rounded divide.
float score_scale(const AttnDims &d) { return 1.0f / sqrtf((float)d.head_dim); }

// The row kernels go on `stream`, the GEMMs on the stream blas was created with: callers pass the
// same stream, or the kernels would race the GEMMs around them.
template <class K, class... Args>
bool launch_rows(K kernel, const AttnDims &d, cudaStream_t stream, Args... args) {
    const uint64_t rows = (uint64_t)d.n_seq * d.n_heads * d.seq_len;
    kernel<<<blocks_for(rows, kRowWarps), kRowWarps * 32, 0, stream>>>(args..., d.seq_len, rows, score_scale(d));
    return cudaPeekAtLastError() == cudaSuccess;
}

}  // namespace

bool attention_forward(Blas *blas, Precision precision, const AttnDims &d, const float *q, const float *k,
                       const float *v, float *probs, float *o, cudaStream_t stream) {
    if (!dims_valid(d)) return false;
    if (dims_empty(d)) return true;
    const Plan p = plan_for(d);
    const uint32_t T = d.seq_len, hd = d.head_dim, qs = d.n_heads * hd, kvs = d.n_kv * hd;
    // S = Q K^T per (sequence, head) into its probability block.
    for (uint32_t i = 0; i < p.leads; i++) {
        const Lead l = lead_at(d, p, i);
        if (!gemm(blas, precision, false, true, T, T, hd, q + l.q, qs, k + l.kv, kvs, 0.0f, probs + l.blk, T, p.batch,
                  p.q_step, p.kv_step, p.blk_step))
            return false;
    }
    if (!launch_rows(causal_softmax, d, stream, probs)) return false;
    // O = P V into the head's columns of o.
    for (uint32_t i = 0; i < p.leads; i++) {
        const Lead l = lead_at(d, p, i);
        if (!gemm(blas, precision, false, false, T, hd, T, probs + l.blk, T, v + l.kv, kvs, 0.0f, o + l.q, qs, p.batch,
                  p.blk_step, p.kv_step, p.q_step))
            return false;
    }
    return true;
}

bool attention_backward(Blas *blas, Precision precision, const AttnDims &d, const float *q, const float *k,
                        const float *v, const float *probs, const float *dout, float *dq, float *dk, float *dv,
                        float *ds_scratch, cudaStream_t stream) {
    if (!dims_valid(d)) return false;
    if (dims_empty(d)) return true;
    const Plan p = plan_for(d);
    const uint32_t T = d.seq_len, hd = d.head_dim, qs = d.n_heads * hd, kvs = d.n_kv * hd;
    // dV = sum over the group's heads of P^T dO.
    if (dv) {
        for (uint32_t i = 0; i < p.leads; i++) {
            const Lead l = lead_at(d, p, i);
            if (!gemm(blas, precision, true, false, T, hd, T, probs + l.blk, T, dout + l.q, qs, l.first ? 0.0f : 1.0f,
                      dv + l.kv, kvs, p.batch, p.blk_step, p.q_step, p.kv_step))
                return false;
        }
    }
    if (!dq && !dk) return true;
    // dP = dO V^T, then dS in place (every head has its own block of the scratch).
    for (uint32_t i = 0; i < p.leads; i++) {
        const Lead l = lead_at(d, p, i);
        if (!gemm(blas, precision, false, true, T, T, hd, dout + l.q, qs, v + l.kv, kvs, 0.0f, ds_scratch + l.blk, T,
                  p.batch, p.q_step, p.kv_step, p.blk_step))
            return false;
    }
    if (!launch_rows(causal_softmax_grad, d, stream, probs, ds_scratch)) return false;
    // dQ = dS K (each query head once); dK = sum over the group's heads of dS^T Q.
    if (dq) {
        for (uint32_t i = 0; i < p.leads; i++) {
            const Lead l = lead_at(d, p, i);
            if (!gemm(blas, precision, false, false, T, hd, T, ds_scratch + l.blk, T, k + l.kv, kvs, 0.0f, dq + l.q, qs,
                      p.batch, p.blk_step, p.kv_step, p.q_step))
                return false;
        }
    }
    if (dk) {
        for (uint32_t i = 0; i < p.leads; i++) {
            const Lead l = lead_at(d, p, i);
            if (!gemm(blas, precision, true, false, T, hd, T, ds_scratch + l.blk, T, q + l.q, qs, l.first ? 0.0f : 1.0f,
                      dk + l.kv, kvs, p.batch, p.blk_step, p.q_step, p.kv_step))
                return false;
        }
    }
    return true;
}

}  // namespace cuda
}  // namespace bitlm
