// quantize.cpp — the weight quantizers (ternary absmean, binary sign, int8 rows) and the reference
// per-token int8 activation quantizer. The float order below is part of the contract: the trainer's
// forward pass must reproduce it to get the same trits and scales.
//
// Fixed evaluation order (all float, IEEE, no FMA):
//   mean |w| of a span   sum = 0; for i ascending: sum = sum + |w_i|;  mean = sum / (float)count
//   absmax of a span     the largest |w_i|
//   scale                s = fp16(mean) or fp16(absmax / 127.0f), used as that fp16 value from then on
//   weight               q = clamp(rne(w_i / s), lo, hi), with q = 0 for every weight of a span with s == 0
//
// Non-finite input: the weight quantizers refuse NaN or +-inf weights, and spans whose scale does not
// fit in fp16 (mean or absmax/127 above 65504), with BITLM_ERR_BAD_ARGUMENT — a checkpoint like that
// is broken and must not be packed silently. The checks run before any trit/sign/q is written; scales
// may be partly written. The activation quantizer cannot fail; see its comment.
#include "quant/quantize.h"
#include "core/bytes.h"

#include "core/detmath.h"
#include "core/fp16.h"

namespace bitlm {

namespace {

bool all_finite(const float *w, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (!det_isfinite(w[i])) return false;
    return true;
}

// mean |w| over w[0..n) in the contract's order; the mean of an empty span is 0.
float mean_abs(const float *w, uint64_t n) {
    if (n == 0) return 0.0f;
    float sum = 0.0f;
    for (uint64_t i = 0; i < n; i++) sum = sum + det_fabsf(w[i]);
    return sum / (float)n;
}

float max_abs(const float *w, uint64_t n) {
    float m = 0.0f;
    for (uint64_t i = 0; i < n; i++) {
        const float a = det_fabsf(w[i]);
        if (a > m) m = a;
    }
    return m;
}

// Stores fp16(value) and reports whether it is a usable (finite) scale.
bool store_scale(float value, uint16_t *out) {
    const uint16_t h = f32_to_f16(value);
    *out = h;
    return (h & 0x7c00u) != 0x7c00u;
}

// clamp(rne(v), -limit, limit) as an integer; +-inf clamps like any large value and NaN gives 0
// (never a float->int conversion of an out-of-range value, which would be undefined behaviour).
inline int8_t round_clamp(float v, float limit) {
    const float r = det_rne(v);
    if (r > limit) return (int8_t)(int32_t)limit;
    if (r < -limit) return (int8_t)-(int32_t)limit;
    if (det_isnan(r)) return 0;
    return (int8_t)(int32_t)r;
}

void ternary_span(const float *w, uint64_t n, float s, int8_t *trits) {
    for (uint64_t i = 0; i < n; i++) trits[i] = s == 0.0f ? (int8_t)0 : round_clamp(w[i] / s, 1.0f);
}

}  // namespace

bitlm_status quantize_ternary_absmean(const float *w, uint32_t rows, uint32_t cols, ScaleKind kind,
                                      uint32_t group_size, int8_t *trits, uint16_t *scales) {
    if (!w || !trits || !scales) return BITLM_ERR_NULL_ARGUMENT;
    if (!scale_kind_allowed(DType::Ternary, kind)) return BITLM_ERR_BAD_ARGUMENT;
    if (kind == ScaleKind::Group && (group_size == 0 || group_size % kGroupMultiple != 0))
        return BITLM_ERR_BAD_ARGUMENT;
    const uint64_t n = (uint64_t)rows * cols;
    if (!all_finite(w, n)) return BITLM_ERR_BAD_ARGUMENT;

    // Scale k covers one contiguous span of the row-major tensor: all of it (Tensor), row k (Row), or
    // row k / per_row, columns [g*group, min(cols, (g+1)*group)) with g = k % per_row (Group; the last
    // group of a row may be short).
    const uint64_t count = scale_count_for(kind, rows, cols, group_size);
    const uint64_t per_row = kind == ScaleKind::Group ? (cols + (uint64_t)group_size - 1) / group_size : 1;
    auto span_of = [&](uint64_t k, uint64_t *start, uint64_t *len) {
        if (kind == ScaleKind::Tensor) {
            *start = 0;
            *len = n;
        } else if (kind == ScaleKind::Row) {
            *start = k * cols;
            *len = cols;
        } else {
            const uint64_t col = (k % per_row) * group_size;
            *start = (k / per_row) * cols + col;
            *len = cols - col < group_size ? cols - col : group_size;
        }
    };
    // Pass 1: every scale, so an unusable one stops us before any trit is written.
    for (uint64_t k = 0; k < count; k++) {
        uint64_t start, len;
        span_of(k, &start, &len);
        if (!store_scale(mean_abs(w + start, len), &scales[k])) return BITLM_ERR_BAD_ARGUMENT;
    }
    // Pass 2: trits against the stored (fp16-rounded) scales.
    for (uint64_t k = 0; k < count; k++) {
        uint64_t start, len;
        span_of(k, &start, &len);
        ternary_span(w + start, len, f16_to_f32(scales[k]), trits + start);
    }
    return BITLM_OK;
}

bitlm_status quantize_binary_sign(const float *w, uint32_t rows, uint32_t cols, ScaleKind kind,
                                  int8_t *signs, uint16_t *scales) {
    if (!w || !signs || !scales) return BITLM_ERR_NULL_ARGUMENT;
    if (!scale_kind_allowed(DType::Binary, kind)) return BITLM_ERR_BAD_ARGUMENT;
    const uint64_t n = (uint64_t)rows * cols;
    if (!all_finite(w, n)) return BITLM_ERR_BAD_ARGUMENT;
    if (kind == ScaleKind::Tensor) {
        if (!store_scale(mean_abs(w, n), &scales[0])) return BITLM_ERR_BAD_ARGUMENT;
    } else {
        for (uint32_t r = 0; r < rows; r++)
            if (!store_scale(mean_abs(w + (uint64_t)r * cols, cols), &scales[r])) return BITLM_ERR_BAD_ARGUMENT;
    }
    for (uint64_t i = 0; i < n; i++) signs[i] = w[i] >= 0.0f ? (int8_t)1 : (int8_t)-1;  // -0 -> +1
    return BITLM_OK;
}

bitlm_status quantize_int8_rows(const float *w, uint32_t rows, uint32_t cols, int8_t *q, uint16_t *scales) {
    if (!w || !q || !scales) return BITLM_ERR_NULL_ARGUMENT;
    const uint64_t n = (uint64_t)rows * cols;
    if (!all_finite(w, n)) return BITLM_ERR_BAD_ARGUMENT;
    for (uint32_t r = 0; r < rows; r++)
        if (!store_scale(max_abs(w + (uint64_t)r * cols, cols) / 127.0f, &scales[r])) return BITLM_ERR_BAD_ARGUMENT;
    for (uint32_t r = 0; r < rows; r++) {
        // fp16 rounding of absmax/127 may round down, so the absmax weight can land just above 127: clamp.
        const float s = f16_to_f32(scales[r]);
        const float *wr = w + (uint64_t)r * cols;
        int8_t *qr = q + (uint64_t)r * cols;
        for (uint32_t c = 0; c < cols; c++) qr[c] = s == 0.0f ? (int8_t)0 : round_clamp(wr[c] / s, 127.0f);
    }
    return BITLM_OK;
}

// amax is taken over the |x| bit patterns as integers: for finite values that is the float order,
// and it makes the non-finite case simple and SIMD-friendly: NaN > +inf > every finite value.
// Non-finite input (any NaN or inf): every q is 0 and the returned scale is NaN or inf, so whatever
// consumes it turns NaN instead of silently computing with garbage. All-zero (or n == 0): q = 0, 0.
float quantize_act_int8_ref(const float *x, uint32_t n, int8_t *q) {
    if (!x || !q) return 0.0f;
    uint32_t amax_bits = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t b = float_bits(x[i]) & 0x7fffffffu;
        if (b > amax_bits) amax_bits = b;
    }
    const float amax = bits_float(amax_bits);
    if (amax_bits == 0 || amax_bits >= 0x7f800000u) {
        for (uint32_t i = 0; i < n; i++) q[i] = 0;
        return amax_bits == 0 ? 0.0f : amax / 127.0f;
    }
    // For amax < 127/FLT_MAX (~3.7e-37, e.g. subnormal) mult is +inf: nonzero x then gives +-127 and
    // x == 0 gives 0*inf = NaN, which round_clamp maps to 0 — the same q as exact arithmetic would.
    const float mult = 127.0f / amax;
    for (uint32_t i = 0; i < n; i++) q[i] = round_clamp(x[i] * mult, 127.0f);
    return amax / 127.0f;
}

}  // namespace bitlm
