// detmath.h — the library's own deterministic float functions. They use only IEEE +,-,*,/ and
// integer bit manipulation in a fixed order (built with -ffp-contract=off), so every target —
// x86, NEON, Cortex-M with FPU or soft float — gets the same bits. Never use libm on the inference path.
// Subnormal inputs/results of exp, log, sqrt, sin/cos and rne are handled in integer code, so the bits
// do not depend on flush-to-zero / denormals-are-zero modes either (det_silu's final division does).
// Measured (tests/unit/test_detmath.cpp; exhaustively over all 2^32 inputs when written): exp 0.91 ulp,
// log 0.84 ulp, sqrt correctly rounded, sin/cos absolute error <= 1.1e-7 for every finite x.
#pragma once
#include <stdint.h>

namespace bitlm {

float det_expf(float x);        // e^x; 0 at or below -103.972084, +inf from 88.722839, NaN stays NaN; < 1 ulp
float det_logf(float x);        // natural log; -inf at +-0, NaN below 0, +inf at +inf; < 1 ulp
float det_sqrtf(float x);       // correctly rounded: IEEE sqrt bits for every non-NaN result (NaN below 0)
float det_rsqrtf(float x);      // 1/sqrt(x) as 1.0f / det_sqrtf(x)
// sin and cos. |x| < 2^16: Cody–Waite reduction by pi/2; beyond: exact integer (Payne–Hanek)
// reduction, so RoPE angles of any size stay accurate. inf/NaN give NaN.
void det_sincosf(float x, float *s, float *c);
// Round half to even, for every float (|x| >= 2^23, inf and NaN come back unchanged; -0.3 -> -0).
// As an integer it equals the (x + 1.5*2^23) - 1.5*2^23 trick wherever that is valid (|x| < 2^22).
float det_rne(float x);
float det_fabsf(float x);
bool det_isfinite(float x);
bool det_isnan(float x);
float det_silu(float x);        // x / (1 + e^-x) in that order; silu(-inf) = -0
// x[i] = det_expf(x[i] - shift) for i < n, the same bits, four lanes at a time where the target has
// IEEE float SIMD (x86-64 SSE2, AArch64 NEON; GCC vector extensions), one at a time elsewhere. The
// vector lanes round a subnormal result with a float multiply (the same round-to-nearest-even), so
// they assume no flush-to-zero, as the forward pass's other float math does.
void det_expf_shifted(float *x, uint32_t n, float shift);
// x[i] = det_silu(gate[i]) * x[i] for i < n (SwiGLU), the same bits, four lanes at a time as above.
void det_silu_mul(const float *gate, float *x, uint32_t n);

}  // namespace bitlm
