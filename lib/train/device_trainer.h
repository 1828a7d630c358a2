// device_trainer.h — a whole-step training backend: a device (the GPU backend in cuda/) that keeps the
// parameters, gradients, optimizer state and activations in its own memory and runs the model's
// forward, backward and optimizer step there. The trainer (tools/bitlm_train) drives it exactly as it
// drives the tape on the CPU: same parameters in train_param_info order, same optimizer state layout
// (optimizer_state_floats), same loss and gradient-norm semantics, so checkpoints move between devices.
#pragma once
#include <stdint.h>
#include "bitlm.h"
#include "train/optim.h"
#include "train/param.h"
#include "train/train_model.h"

namespace bitlm {

struct DeviceTrainerConfig {
    TrainModelSpec spec;
    OptimConfig optim;
    uint32_t batch;        // sequences per step
    uint32_t micro_batch;  // sequences per device pass (divides batch; 0 = the largest that fits)
    uint32_t seq_len;      // tokens per sequence
    uint32_t precision;    // GEMM operand rounding for non-integer products: 0 fp32, 1 tf32, 2 bf16
};

struct DeviceTrainer {
    const char *name;  // e.g. "cuda: NVIDIA H100 80GB HBM3"
    void *ctx;
    uint32_t micro_batch;   // what the device settled on
    uint64_t device_bytes;  // the one device allocation

    // Parameter weights and optimizer state from / to host Params (train_param_info order, state
    // layout as optimizer_state_floats); gradients stay on the device.
    bitlm_status (*upload)(void *ctx, const Param *params, uint32_t n);
    bitlm_status (*download)(void *ctx, Param *params, uint32_t n);
    // The two halves of a step, as the CPU trainer runs them (so failures read the same):
    // forward_backward: gradients zeroed, forward and backward over the micro-batches of batch x
    // seq_len tokens (inputs and next-token targets, host memory); *loss = mean cross-entropy (nats).
    //   BAD_ARGUMENT: the quantizers refused the weights (non-finite, or a scale beyond fp16).
    // optimize: optim_step's update on the device; *grad_norm = global norm before clipping.
    //   BAD_ARGUMENT: a gradient is not finite, or the step arguments are invalid (nothing updated).
    // optimize must follow a forward_backward that returned OK (a failed one leaves partial gradients).
    // Both: TOKEN_OUT_OF_RANGE for a bad token, DEVICE for a device error (last_error says which).
    bitlm_status (*forward_backward)(void *ctx, const int32_t *inputs, const int32_t *targets, float *loss);
    bitlm_status (*optimize)(void *ctx, uint64_t step, float lr_mult, float wd_mult, float *grad_norm);
    // Forward only: logits [n_seq*len x vocab] into host memory for n_seq sequences of len <= seq_len.
    bitlm_status (*logits)(void *ctx, const int32_t *tokens, uint32_t n_seq, uint32_t len, float *out);
    const char *(*last_error)(void *ctx);
    void (*destroy)(void *ctx);
};

}  // namespace bitlm
