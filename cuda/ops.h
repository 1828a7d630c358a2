// ops.h — the GPU training kernels, called from host code on device pointers (stream-ordered, async).
// One file per concern implements them (quantize.cu, linear.cu, embedding.cu, norm.cu, rope.cu,
// pointwise.cu, attention.cu, loss.cu, optim.cu, blas.cu); the model graph (model.cu) strings them
// together, and tests/unit/test_cuda_ops.cpp checks each against the CPU ops of lib/train.
//
// Conventions (the same as lib/train): fp32, row-major, sequences of seq_len rows stacked; "n" is
// the number of rows (tokens). Gradients of parameters are always accumulated (+=: micro-batches
// add into them); gradients of activations are written unless a comment says "accumulates".
// Float operations that must equal the CPU to the bit (quantizers, the BitLinear epilogue) are
// written with __fmul_rn/__fdiv_rn/..., and cuda/ is built with -fmad=false besides.
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>
#include "train/ops.h"
#include "train/optim.h"

namespace bitlm {
namespace cuda {

// ---- blas.cu: row-major GEMM over cuBLAS ---------------------------------------------------------
// How a GEMM may round its operands. Exact: operands hold small integers (ternary/binary codes,
// int8 codes): bf16 tensor cores with fp32 accumulation are exact below 2^24. Fp32: full fp32.
// Tf32 / Bf16: fp32 storage, tensor cores with the operands rounded to tf32 / bf16, fp32 accumulate.
enum class Precision : uint32_t { Fp32 = 0, Tf32 = 1, Bf16 = 2, Exact = 3 };

struct Blas;  // a cuBLAS handle bound to one stream (opaque)
Blas *blas_create(cudaStream_t stream);  // nullptr if cuBLAS cannot start
void blas_destroy(Blas *blas);
// The name of the last cuBLAS error gemm() met on this handle (nullptr if none).
const char *blas_last_error(const Blas *blas);

// C[m x n] = beta * C + op(A) . op(B), exactly the semantics of TrainBackend::gemm (row-major,
// trans_a: A is k x m; trans_b: B is n x k), repeated `batch` times with the given element strides
// between consecutive A, B and C matrices. Returns false if cuBLAS reports an error.
bool gemm(Blas *blas, Precision precision, bool trans_a, bool trans_b, uint32_t m, uint32_t n, uint32_t k,
          const float *a, uint32_t lda, const float *b, uint32_t ldb, float beta, float *c, uint32_t ldc,
          uint32_t batch = 1, uint64_t stride_a = 0, uint64_t stride_b = 0, uint64_t stride_c = 0);

// ---- quantize.cu: the lib quantizers (lib/quant/quantize.cpp) on the device, bit for bit -----------
// Weight quantization for a BitLinear with LinearQuant q (q.weight != F32):
//   integer path (Ternary/Binary/Int8 with Tensor or Row scales): values = codes as floats,
//     row_scale[r] = the fp16 scale of row r (as a float; the tensor scale repeated for Tensor);
//   Ternary Group: values = code * group scale (dequantized), row_scale untouched;
//   F16: values = fp16-rounded weights, row_scale untouched.
// Sums for the absmean scales run sequentially in index order (the contract's order), one warp per
// span (coalesced loads, then the adds one by one). On the Ternary/Binary/Int8 paths, non-finite weights, a scale beyond fp16 or a layout the CPU
// quantizers refuse set *error_flag = 1 (device memory) and leave values unspecified (the CPU returns
// BITLM_ERR_BAD_ARGUMENT); F16 never sets it (the CPU rounds whatever it gets).
void quantize_weights(const float *w, uint32_t rows, uint32_t cols, const LinearQuant &q, float *values,
                      float *row_scale, uint32_t *error_flag, cudaStream_t stream);
// Per-row int8 absmax activation quantization, quantize_act_int8_ref bit for bit: codes[r*cols + i] =
// the int8 code as a float, scale[r] = the returned scale (amax / 127).
void quantize_act_rows(const float *x, uint32_t n, uint32_t cols, float *codes, float *scale, cudaStream_t stream);

// ---- linear.cu: BitLinear epilogues (the GEMMs are blas.cu) -----------------------------------------
// y[r][o] = (y[r][o] * w_scale[o]) * x_scale[r]; either scale may be null (then that factor is skipped).
void scale_output(float *y, uint32_t n, uint32_t out, const float *w_scale, const float *x_scale,
                  cudaStream_t stream);
// out[r][c] = m[r][c] * row_scale[r]: x_hat = codes * x_scale before dW = dY^T . x_hat, and the
// dequantized weight codes * w_scale the backward multiplies dY by (dX = dY . W_deq); out may be m.
void scale_rows(const float *m, uint32_t n, uint32_t cols, const float *row_scale, float *out, cudaStream_t stream);

// ---- embedding.cu --------------------------------------------------------------------------------
// y[r] = table_values[tokens[r]] * (row_scale ? row_scale[tokens[r]] : 1) (int8 storage: the codes and
// fp16 scales of quantize_weights with Int8 Row; F16: rounded values; F32: the weights).
void embedding_forward(const float *table_values, const float *row_scale, const int32_t *tokens, uint32_t n,
                       uint32_t dim, float *y, cudaStream_t stream);
// dtable[tokens[r]] += dy[r], accumulated in row order for every table row (deterministic, the CPU's order).
void embedding_backward(const float *dy, const int32_t *tokens, uint32_t n, uint32_t vocab, uint32_t dim,
                        float *dtable, cudaStream_t stream);

// ---- norm.cu: RMSNorm y = (x * r) * g, r = rsqrt(mean(x^2) + eps) ----------------------------------
void rmsnorm_forward(const float *x, const float *g, uint32_t n, uint32_t dim, float eps, float *y, float *rinv,
                     cudaStream_t stream);
// dx accumulates (+=); dg accumulates. partials: rmsnorm_partial_floats(n, dim) floats of scratch
// (dg is reduced over fixed row blocks, then the blocks in order: deterministic).
void rmsnorm_backward(const float *x, const float *g, const float *rinv, const float *dy, uint32_t n, uint32_t dim,
                      float *dx, float *dg, float *partials, cudaStream_t stream);
uint64_t rmsnorm_partial_floats(uint32_t n, uint32_t dim);

// ---- rope.cu: rotate pairs (2i, 2i+1) of each head by the row's position (r % seq_len) --------------
// cs: seq_len x head_dim (cos, sin) pairs as rope_table() makes them. In place.
void rope_forward(float *x, const float *cs, uint32_t n, uint32_t width, uint32_t head_dim, uint32_t seq_len,
                  cudaStream_t stream);
// d <- R^T d in place (the gradient through the rotation).
void rope_backward(float *d, const float *cs, uint32_t n, uint32_t width, uint32_t head_dim, uint32_t seq_len,
                   cudaStream_t stream);

// ---- pointwise.cu --------------------------------------------------------------------------------
void add(const float *a, const float *b, uint64_t count, float *out, cudaStream_t stream);  // out may alias
void relu2_forward(const float *x, uint64_t count, float *y, cudaStream_t stream);
void relu2_backward(const float *x, const float *dy, uint64_t count, float *dx, cudaStream_t stream);
void swiglu_forward(const float *gate, const float *up, uint64_t count, float *y, cudaStream_t stream);
void swiglu_backward(const float *gate, const float *up, const float *dy, uint64_t count, float *dgate, float *dup,
                     cudaStream_t stream);

// ---- attention.cu: grouped-query causal softmax attention -------------------------------------------
// `stream` must be the stream `blas` was created on (the softmax kernels run between its GEMMs).
// q: n x (n_heads*head_dim), k, v: n x (n_kv*head_dim), n = n_seq * seq_len. probs: n_seq*n_heads
// blocks of seq_len x seq_len (zero above the diagonal), kept for the backward. o: like q.
struct AttnDims {
    uint32_t n_seq, seq_len, n_heads, n_kv, head_dim;
};
bool attention_forward(Blas *blas, Precision precision, const AttnDims &d, const float *q, const float *k,
                       const float *v, float *probs, float *o, cudaStream_t stream);
// dq, dk, dv written (not accumulated). ds_scratch: n_seq * n_heads * seq_len^2 floats.
bool attention_backward(Blas *blas, Precision precision, const AttnDims &d, const float *q, const float *k,
                        const float *v, const float *probs, const float *dout, float *dq, float *dk, float *dv,
                        float *ds_scratch, cudaStream_t stream);

// ---- loss.cu: cross-entropy fused with its gradient ---------------------------------------------------
// For each row: row_loss[r] = log(sum exp(l - max)) + max - l[target]; then, when dlogit_scale != 0,
// the logits are overwritten by their gradient (softmax - onehot) * dlogit_scale. A target outside
// [0, vocab) sets *error_flag = 1 and its row's loss to NaN.
void cross_entropy(float *logits, const int32_t *targets, uint32_t n, uint32_t vocab, float dlogit_scale,
                   float *row_loss, uint32_t *error_flag, cudaStream_t stream);
// *out = sum of x[0..n) added in index order (one thread: deterministic), as a float.
void sum_in_order(const float *x, uint32_t n, float *out, cudaStream_t stream);

// ---- optim.cu: optimizers on device (the math of lib/train/optim.cpp, hyperparameters from
// optim_hyper() there, computed on the host) ------------------------------------------------------------
// partials[c] = sum of g[i]^2 in double over chunk c = [c*16384, (c+1)*16384) of g (a fixed tree per
// chunk: deterministic, but not the CPU's sequential order, so the last bits of the norm may differ).
void grad_sumsq_chunks(const float *g, uint64_t count, double *partials, cudaStream_t stream);
// *out = sum of partials[0..n) in order (one thread).
void sum_doubles_in_order(const double *partials, uint64_t n, double *out, cudaStream_t stream);
void adamw_update(const OptimHyper &h, bool decays, float *w, float *g, float *m, float *v, uint64_t count,
                  cudaStream_t stream);
void sgd_update(const OptimHyper &h, bool decays, float *w, float *g, float *buf, uint64_t count,
                cudaStream_t stream);
// Muon: buf = mu buf + g (g clipped in place first when h.clip); u = nesterov ? g + mu buf : buf;
// X = u (row-major rows x cols, or its transpose cols x rows when transpose); partials[c] = sum u^2 in
// double over 16384-element chunks of the param (fixed tree per chunk, as grad_sumsq_chunks).
void muon_momentum(const OptimHyper &h, float *g, float *buf, uint32_t rows, uint32_t cols, bool transpose,
                   float *x, double *partials, cudaStream_t stream);
// x[i] = x[i] / (float)(sqrt(*sumsq) + 1e-7) (the norm read on the device, no sync).
void muon_normalize(float *x, uint64_t count, const double *sumsq, cudaStream_t stream);
// b[i] = kb * a[i] + kc * b[i]
void muon_combine(const float *a, float *b, uint64_t count, float kb, float kc, cudaStream_t stream);
// x[i] = ka * x[i] + t[i]
void muon_step_x(float *x, const float *t, uint64_t count, float ka, cudaStream_t stream);
// w = w * keep - lr_eff * X (X transposed back when transpose).
void muon_apply(float *w, const float *x, uint32_t rows, uint32_t cols, bool transpose, float keep, float lr_eff,
                cudaStream_t stream);

}  // namespace cuda
}  // namespace bitlm
