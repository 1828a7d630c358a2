// trainer.h — the GPU backend's entry point: a DeviceTrainer (lib/train/device_trainer.h) that runs the
// whole training step on one CUDA device. Host code includes only this header (no CUDA headers needed).
#pragma once
#include "train/device_trainer.h"

namespace bitlm {
namespace cuda {

// True if a CUDA device can be used; otherwise *why (may be null) says why not ("no GPU", the driver's
// message, ...). Never fails hard: the CPU path goes on.
bool device_available(char *why, uint32_t why_size);

// Builds a trainer for `config` on device 0: allocates one device arena for parameters, gradients,
// optimizer state, activations and scratch (nothing is allocated per step). Parameters start at zero:
// upload() them. On failure returns an error status and writes a one-line reason into err.
bitlm_status open_trainer(const DeviceTrainerConfig &config, DeviceTrainer *out, char *err, uint32_t err_size);

// Bytes of device memory open_trainer would take for `config` with this micro-batch.
uint64_t trainer_device_bytes(const DeviceTrainerConfig &config, uint32_t micro_batch);

}  // namespace cuda
}  // namespace bitlm
