// optim.h — optimizers and gradient clipping over a list of Params.
//   AdamW (decoupled weight decay), SGD with (Nesterov) momentum, and Muon: momentum orthogonalized by
//   a Newton-Schulz iteration for Matrix params, AdamW for Embedding and Vector params (the optimizer
//   of the 16 MB challenge's baseline). Weight decay only touches Matrix and Embedding params.
#pragma once
#include <stdint.h>
#include "bitlm.h"
#include "train/backend.h"
#include "train/param.h"

namespace bitlm {

enum class OptimKind : uint32_t { AdamW = 0, SGD = 1, Muon = 2 };

struct OptimConfig {
    OptimKind kind = OptimKind::AdamW;
    float lr = 1e-3f;            // peak learning rate (AdamW/SGD; Muon: the Matrix params)
    float adam_lr = 1e-3f;       // Muon only: peak lr of the Adam-handled params
    float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f;
    float weight_decay = 0.1f;   // decoupled: w -= lr * wd * w
    float momentum = 0.95f;      // SGD and Muon
    bool nesterov = true;        // SGD and Muon
    uint32_t ns_steps = 5;       // Muon Newton-Schulz iterations
    float grad_clip = 1.0f;      // global L2 norm clip; 0 = off
};

// Floats of optimizer state a param needs (AdamW: 2 per weight, SGD: 1, Muon: 1 for Matrix, 2 else).
// Layout: AdamW [m | v]; SGD and Muon Matrix [momentum buffer]; Muon Embedding/Vector [m | v].
uint64_t optimizer_state_floats(const OptimConfig &config, const Param &p);
// Scratch floats optim_step needs for these params: one double (2 floats) per 16384-weight chunk for
// the parallel norm reduction, and for Muon four Newton-Schulz buffers (X, A, B, T) sized for the
// largest Matrix. The scratch may be NULL for AdamW and SGD (the norm is then reduced serially, to the
// same bits); Muon needs it as soon as there is a Matrix param.
uint64_t optimizer_scratch_floats(const OptimConfig &config, const Param *params, uint32_t n);

// Global L2 norm of every gradient: double sums of squares over fixed 16384-weight chunks in index
// order, added in list order (whatever the thread count); NaN/inf if a gradient is.
float grad_global_norm(const Param *params, uint32_t n);

// One step. `step` counts from 1 (Adam bias correction). lr_mult and wd_mult come from the schedule
// (multipliers of the configured lr/adam_lr and weight_decay). Gradients are clipped to grad_clip
// (by global norm: every gradient is scaled in place by grad_clip / norm when norm > grad_clip) first;
// the norm before clipping goes to *out_grad_norm (may be NULL).
//   AdamW:  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  w = w (1 - lr wd) - lr m^/(sqrt(v^) + eps),
//           m^ = m / (1 - b1^step), v^ = v / (1 - b2^step).
//   SGD:    buf = mu buf + g;  u = nesterov ? g + mu buf : buf;  w = w (1 - lr wd) - lr u
//           (decoupled decay, as AdamW and Muon, so weight_decay means the same under every optimizer).
//   Muon:   Matrix: buf and u as SGD; X = NS_ns_steps(u / (|u|_F + 1e-7)) (on u^T when rows > cols);
//           w = w (1 - lr wd) - lr sqrt(max(1, rows/cols)) X. Embedding and Vector: AdamW at adam_lr.
// Weight decay (times wd_mult) applies to Matrix and Embedding params only. GEMMs go through
// backend->gemm, elementwise work through its task runner in fixed chunks, so the result bits do not
// depend on the thread count or task order (backend NULL = reference_train_backend()).
// Errors, returned before any weight, state or gradient is written: BAD_ARGUMENT if a gradient is
// NaN/inf (*out_grad_norm then gets the non-finite norm), if step is 0, or if the config or a multiplier
// is out of range (negative or non-finite rates, betas or momentum outside [0, 1), eps <= 0);
// NULL_ARGUMENT for a missing pointer (Muon without scratch); SIZE_OVERFLOW for absurd sizes.
bitlm_status optim_step(const OptimConfig &config, Param *params, uint32_t n, uint64_t step, float lr_mult,
                        float wd_mult, const TrainBackend *backend, float *scratch, float *out_grad_norm);

// ---- the pieces of optim_step another backend (cuda/) reuses, so every device steps alike ----

// The per-step scalars of optim_step. clip: gradients are scaled by g_scale first.
struct OptimHyper {
    bool clip;
    float g_scale;  // grad_clip / norm when clipping
    // AdamW (also Muon's non-matrix params)
    float adam_lr, b1, b2, one_minus_b1, one_minus_b2, inv_bc1, inv_bc2, eps;
    // SGD / Muon momentum
    float lr, mu;
    bool nesterov;
    float wd;  // weight_decay * wd_mult
};
// optim_step's argument check (config, step >= 1, finite non-negative multipliers).
bool optim_args_valid(const OptimConfig &config, uint64_t step, float lr_mult, float wd_mult);
// The scalars of one step, given the global gradient norm (finite).
OptimHyper optim_hyper(const OptimConfig &config, uint64_t step, float lr_mult, float wd_mult, double grad_norm);
// Muon's effective lr for a rows x cols matrix: lr * sqrt(max(1, rows / cols)).
float muon_lr_eff(const OptimHyper &h, uint32_t rows, uint32_t cols);
// sqrt in double, for the norms (no libm in lib/).
double optim_sqrt(double x);
// Keller Jordan's quintic Newton–Schulz coefficients: they push every singular value of a matrix with
// spectral norm <= 1 into roughly [0.7, 1.2] in five steps; exact orthogonality is not needed.
constexpr float kNsA = 3.4445f, kNsB = -4.7750f, kNsC = 2.0315f;
constexpr double kMuonNormEps = 1e-7;
// Elements per chunk of the gradient-norm reduction (fixed, so the sum does not depend on threads).
constexpr uint64_t kOptimChunk = 16384;

}  // namespace bitlm
