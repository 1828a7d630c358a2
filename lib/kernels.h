// kernels.h — the kernel table: the hot loops of inference that each platform may override.
// lib/ calls only through this table; platform/generic holds the reference every variant must equal
// bit for bit (same int32 sums, then the float combination of tensor/dequant.h in the same order).
#pragma once
#include <stdint.h>
#include "tensor/weights.h"

extern "C" {

struct bitlm_kernels {
    const char *name;  // e.g. "generic", "avx2", "neon-dot"

    // Per-token int8 absmax quantization of n floats: q[i] = clamp(rne(x[i] * (127/amax)), -127, 127).
    // Returns the dequantization factor amax/127 (0 when amax == 0, then q is all zero).
    float (*quantize_act_int8)(const float *x, uint32_t n, int8_t *q);

    // Quantized weights (Ternary, Binary or Int8) times int8 activations, for rows [row_begin,row_end):
    //   y[t*y_stride + r] = combine(int32 dot(w row r, x token t), scales, x_scale[t])
    // x holds n_tok tokens of w->cols int8 each, contiguous, every value in [-127, 127] (what
    // quantize_act_int8 produces; kernels may rely on it, e.g. to negate or pair-sum in int16).
    void (*matmul_q8)(const bitlm::WeightView *w, const int8_t *x, const float *x_scale, uint32_t n_tok,
                      uint32_t row_begin, uint32_t row_end, float *y, uint32_t y_stride);

    // F16 weights times float activations: fp32 products summed in column order.
    void (*matmul_f16)(const bitlm::WeightView *w, const float *x, uint32_t n_tok, uint32_t row_begin,
                       uint32_t row_end, float *y, uint32_t y_stride);

    // Attention's weighted sum of n rows (`stride` floats apart), for outputs i < width:
    //   out[i] = ((0.0f + a[0]*rows[i]) + a[1]*rows[stride + i]) + ... + a[n-1]*rows[(n-1)*stride + i]
    // every product rounded to float and added in j order (no fused multiply-add), so any vector width
    // gives the bits of that scalar loop. Optional: NULL uses the portable loop in lib/model/forward.cpp.
    void (*weighted_rows)(const float *a, const float *rows, uint64_t stride, uint32_t n, uint32_t width, float *out);

    // Softmax and SwiGLU on wider lanes: x[i] = det_expf(x[i] - shift), and x[i] = det_silu(gate[i]) *
    // x[i], for i < n: the bits of those scalar functions for every input (lib/core/detmath_lanes.h).
    // Optional: NULL uses lib/core/detmath's det_expf_shifted / det_silu_mul (four lanes or one).
    void (*expf_shifted)(float *x, uint32_t n, float shift);
    void (*silu_mul)(const float *gate, float *x, uint32_t n);

    // Nonzero when matmul_q8 reads DType::Ternary2 (the 2-bit in-RAM copy, tensor/ternary2_pack.h)
    // faster than base 3: only then does bitlm_repack make one, so only such tables (and the
    // reference, which tests compare them with) ever see that dtype.
    uint32_t prefers_ternary2;
};

// The table this build uses when bitlm_open_options.kernels is NULL (defined by platform/): the
// fastest one this CPU supports.
const bitlm_kernels *bitlm_default_kernels(void);
// Every table this build has that this CPU can run, reference first (for tests and --kernels NAME).
uint32_t bitlm_kernel_table_count(void);
const bitlm_kernels *bitlm_kernel_table(uint32_t index);  // NULL past the end
// The portable reference table (platform/generic), always available for comparison.
const bitlm_kernels *bitlm_reference_kernels(void);
}
