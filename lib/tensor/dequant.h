// dequant.h — the one float combination of exact integer dot products, shared by every kernel.
// Integer sums are exact everywhere; fixing this order makes the floats bit-exact across targets.
#pragma once
#include <stdint.h>

namespace bitlm {

// Tensor or row scale: y = ((float)acc * w_scale) * x_scale.
inline float dequant_dot(int32_t acc, float w_scale, float x_scale) {
    return ((float)acc * w_scale) * x_scale;
}

// Group scales: sum over groups in ascending order of (float)acc_g * w_scale_g, then * x_scale.
// Use: float s = 0; for each g: s = dequant_group_add(s, acc_g, scale_g); y = dequant_group_end(s, xs).
inline float dequant_group_add(float sum, int32_t acc, float w_scale) { return sum + (float)acc * w_scale; }
inline float dequant_group_end(float sum, float x_scale) { return sum * x_scale; }

}  // namespace bitlm
