// kernels_dsp.h — what platform/cortex_m_dsp offers its select_kernels.cpp and the Helium folder
// (platform/cortex_m_mve reuses the DSP table and the FPU activation quantizer on the M55).
#pragma once
#include <stdint.h>

#include "kernels.h"

namespace bitlm {
namespace cm {

// The DSP-extension table ("cm-dsp"): SMLAD ternary and int8 matmuls, FPU activation quantizer.
const bitlm_kernels *dsp_kernels();

// Per-token int8 absmax quantization with the FPU (vcvtr: round to nearest even under the default
// FPSCR); equals quantize_act_int8_ref bit for bit, which it calls for the rare inputs it does not
// take itself (all-zero, non-finite, amax below 2^-119).
float quantize_act_int8_fpu(const float *x, uint32_t n, int8_t *q);

// y[r] for rows [r0, r1), each holding the int32 sum of its row (bit pattern), becomes
// ((float)sum * w_scale) * x_scale (tensor/dequant.h) for tensor or row scales.
void combine_rows(const WeightView *w, uint32_t r0, uint32_t r1, float xs, float *y);

// An fp16 scale as float: one vcvtb with the FPU (bit-identical to f16_to_f32, NaN included).
float scale_to_f32(uint16_t h);

}  // namespace cm
}  // namespace bitlm
