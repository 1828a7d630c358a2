// quantize.h — the weight quantizers (float latent weights -> stored form) and the activation
// quantizer. The training forward (STE) must compute exactly these functions, in this float order:
// mean |w| = (((0 + |w0|) + |w1|) + ...) / (float)count, ascending index, one float add at a time
// (then rounded to fp16); absmax = the largest |w|; q = rne(w / s) with s the fp16-rounded scale.
// Weight quantizers return BAD_ARGUMENT for NaN/inf weights or a scale that overflows fp16 (> 65504),
// before writing any quantized weight.
#pragma once
#include <stdint.h>
#include "bitlm.h"
#include "tensor/weights.h"

namespace bitlm {

// Ternary absmean (BitNet b1.58): for each scale span (tensor, row, or group of `group_size`
// consecutive weights in a row) s = fp16(mean |w|); trit = clamp(rne(w / s), -1, 1), and 0 where
// s == 0. `scales` receives scale_count_for(kind, rows, cols, group_size) fp16 values.
// Errors: BAD_ARGUMENT for a layout not allowed for ternary or a group size not a multiple of 32.
bitlm_status quantize_ternary_absmean(const float *w, uint32_t rows, uint32_t cols, ScaleKind kind,
                                      uint32_t group_size, int8_t *trits, uint16_t *scales);

// Binary sign with alpha: per row (or per tensor) alpha = fp16(mean |w|); sign = w >= 0 ? +1 : -1.
bitlm_status quantize_binary_sign(const float *w, uint32_t rows, uint32_t cols, ScaleKind kind,
                                  int8_t *signs, uint16_t *scales);

// Int8 rows (embeddings, heads): per row s = fp16(absmax / 127); q = clamp(rne(w / s), -127, 127).
bitlm_status quantize_int8_rows(const float *w, uint32_t rows, uint32_t cols, int8_t *q, uint16_t *scales);

// Per-token int8 absmax activation quantization (the reference behind bitlm_kernels):
// q[i] = clamp(rne(x[i] * (127 / amax)), -127, 127); returns amax / 127 (0 if amax == 0).
// Any NaN/inf in x: every q is 0 and the returned scale is NaN/inf, so the output visibly turns NaN.
float quantize_act_int8_ref(const float *x, uint32_t n, int8_t *q);

}  // namespace bitlm
