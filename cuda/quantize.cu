// quantize.cu — the weight quantizers (ternary absmean, binary sign, int8 rows, fp16) and the per-row
// int8 activation quantizer on the device, bit for bit the CPU's (lib/quant/quantize.cpp, op_linear.cpp).
#include "common.cuh"
#include "ops.h"

namespace bitlm {
namespace cuda {
namespace {

constexpr uint32_t kFullMask = 0xffffffffu;

// The CPU stores a code as int8 and converts it back with (float): -0 (rintf of -0.3) must become +0.
__device__ __forceinline__ float code_value(float r) { return (float)(int32_t)r; }

__device__ __forceinline__ float ternary_code(float w, float s) {
    return s == 0.0f ? 0.0f : code_value(round_clamp(__fdiv_rn(w, s), 1.0f));
}

// fp16(x) as a float, NaN included: core/fp16 keeps a NaN's sign and top 10 payload bits and sets the
// quiet bit, where __float2half_rn would give the canonical NaN.
__device__ __forceinline__ float f16_value(float x) {
    if (isnan(x)) return __uint_as_float((__float_as_uint(x) & 0xffffe000u) | 0x00400000u);
    return round_to_f16(x);
}

__device__ __forceinline__ void raise_flag(uint32_t *error_flag) {
    if (error_flag) atomicExch(error_flag, 1u);
}

__global__ void set_flag_kernel(uint32_t *error_flag) { raise_flag(error_flag); }

// Scale k covers one contiguous span of the row-major tensor: all of it (Tensor), row k (Row), or row
// k / per_row, columns [g*group, min(cols, (g+1)*group)) with g = k % per_row (Group; the last group of
// a row may be short) — the spans of quantize_ternary_absmean.
struct SpanLayout {
    ScaleKind kind;  // Tensor, Row or Group
    uint32_t rows, cols, group;
    uint64_t per_row;  // groups per row (Group only)
    uint64_t count;    // number of spans (scales)
};

__device__ __forceinline__ void span_of(const SpanLayout &l, uint64_t k, uint64_t *start, uint64_t *len) {
    if (l.kind == ScaleKind::Tensor) {
        *start = 0;
        *len = (uint64_t)l.rows * l.cols;
    } else if (l.kind == ScaleKind::Row) {
        *start = k * l.cols;
        *len = l.cols;
    } else {
        const uint64_t col = (k % l.per_row) * l.group;
        *start = (k / l.per_row) * l.cols + col;
        *len = l.cols - col < l.group ? l.cols - col : l.group;
    }
}

enum class Stat : uint32_t { MeanAbs, AbsMax127 };  // absmean (ternary, binary) or absmax / 127 (int8)

// One warp per span computes its fp16 scale. The mean's sum must run sequentially in index order (the
// contract), so the warp loads 32 weights at a time (coalesced) and every lane then adds them one by
// one in index order, broadcast by shuffle: all lanes hold the same, exactly sequential, sum. For
// ScaleKind::Tensor that is one warp walking the whole tensor — slow for big tensors, but the order is
// what makes the scale equal the CPU's. Non-finite weights or a scale beyond fp16 raise the flag.
// Row/Tensor: the scale of each row goes to row_scale (Tensor: repeated for every row). Group: there
// is no buffer for the scales, so the warp writes its span's dequantized values right away.
__global__ void span_scales_kernel(const float *w, SpanLayout l, Stat stat, float *row_scale, float *group_values,
                                   uint32_t *error_flag) {
    const uint32_t lane = threadIdx.x & 31u;
    const uint64_t first = ((uint64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32u;
    const uint64_t warps = (uint64_t)gridDim.x * blockDim.x / 32u;
    for (uint64_t k = first; k < l.count; k += warps) {
        uint64_t start, len;
        span_of(l, k, &start, &len);
        const float *ws = w + start;
        float sum = 0.0f, amax = 0.0f;
        bool bad = false;
        for (uint64_t base = 0; base < len; base += 32) {
            float a = 0.0f;
            if (base + lane < len) {
                const float v = ws[base + lane];
                bad |= !isfinite(v);
                a = fabsf(v);
            }
            if (stat == Stat::AbsMax127) {
                amax = fmaxf(amax, a);  // the order of a max does not matter
                continue;
            }
            const uint64_t m = len - base < 32 ? len - base : 32;
#pragma unroll
            for (uint32_t j = 0; j < 32; j++) {
                const float b = __shfl_sync(kFullMask, a, j);
                if (j < m) sum = __fadd_rn(sum, b);
            }
        }
        float value;
        if (stat == Stat::AbsMax127) value = __fdiv_rn(warp_max(amax), 127.0f);
        else value = len == 0 ? 0.0f : __fdiv_rn(sum, __ull2float_rn(len));
        const float s = round_to_f16(value);  // the same in every lane
        if (__any_sync(kFullMask, bad) || !isfinite(s)) {
            if (lane == 0) raise_flag(error_flag);
        }
        if (group_values) {
            for (uint64_t i = lane; i < len; i += 32)
                group_values[start + i] = __fmul_rn(ternary_code(ws[i], s), s);  // code * scale: exact
        } else if (l.kind == ScaleKind::Tensor) {
            for (uint32_t r = lane; r < l.rows; r += 32) row_scale[r] = s;
        } else if (lane == 0) {
            row_scale[k] = s;
        }
    }
}

// Integer path: values = the codes against the stored per-row scales. A block per row (grid-stride).
__global__ void codes_kernel(const float *w, uint32_t rows, uint32_t cols, DType dtype, const float *row_scale,
                             float *values) {
    for (uint64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float s = row_scale[r];
        const float *wr = w + r * cols;
        float *vr = values + r * cols;
        for (uint32_t c = threadIdx.x; c < cols; c += blockDim.x) {
            const float x = wr[c];
            float v;
            if (dtype == DType::Binary) v = x >= 0.0f ? 1.0f : -1.0f;  // -0 -> +1
            else if (dtype == DType::Int8) v = s == 0.0f ? 0.0f : code_value(round_clamp(__fdiv_rn(x, s), 127.0f));
            else v = ternary_code(x, s);
            vr[c] = v;
        }
    }
}

__global__ void f16_values_kernel(const float *w, uint64_t count, float *values) {
    BITLM_CUDA_FOR(i, count) values[i] = f16_value(w[i]);
}

// amax / 127 for a non-finite amax as the CPU gets it: inf stays inf, a NaN comes back as that NaN made
// quiet (x86 and AArch64 propagate the operand's payload; CUDA's division would give its canonical NaN).
__device__ __forceinline__ float nonfinite_scale(uint32_t amax_bits) {
    return __uint_as_float(amax_bits == 0x7f800000u ? amax_bits : amax_bits | 0x00400000u);
}

// One warp per row: quantize_act_int8_ref (amax over the |x| bit patterns, then x * (127 / amax)).
__global__ void act_rows_kernel(const float *x, uint32_t n, uint32_t cols, float *codes, float *scale) {
    const uint32_t lane = threadIdx.x & 31u;
    const uint64_t first = ((uint64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32u;
    const uint64_t warps = (uint64_t)gridDim.x * blockDim.x / 32u;
    for (uint64_t r = first; r < n; r += warps) {
        const float *xr = x + r * cols;
        float *cr = codes + r * cols;
        uint32_t bits = 0;
        for (uint32_t i = lane; i < cols; i += 32) bits = max(bits, __float_as_uint(xr[i]) & 0x7fffffffu);
        const uint32_t amax_bits = warp_max_u32(bits);
        const float amax = __uint_as_float(amax_bits);
        if (amax_bits == 0 || amax_bits >= 0x7f800000u) {  // all zero, or NaN/inf somewhere: codes 0
            for (uint32_t i = lane; i < cols; i += 32) cr[i] = 0.0f;
            if (lane == 0) scale[r] = amax_bits == 0 ? 0.0f : nonfinite_scale(amax_bits);
            continue;
        }
        // A tiny amax makes mult +inf: x == 0 then gives NaN, which round_clamp maps to 0, as on the CPU.
        const float mult = __fdiv_rn(127.0f, amax);
        for (uint32_t i = lane; i < cols; i += 32) cr[i] = code_value(round_clamp(__fmul_rn(xr[i], mult), 127.0f));
        if (lane == 0) scale[r] = __fdiv_rn(amax, 127.0f);
    }
}


}  // namespace

void quantize_weights(const float *w, uint32_t rows, uint32_t cols, const LinearQuant &q, float *values,
                      float *row_scale, uint32_t *error_flag, cudaStream_t stream) {
    const uint64_t n = (uint64_t)rows * cols;
    if (q.weight == DType::F32) {  // not a quantizer (ops.h excludes it); a plain copy, as the CPU does
        if (n && values != w) cudaMemcpyAsync(values, w, n * sizeof(float), cudaMemcpyDeviceToDevice, stream);
        return;
    }
    if (q.weight == DType::F16) {  // the CPU neither checks finiteness nor overflow here
        if (n) f16_values_kernel<<<blocks_for(n), kThreads, 0, stream>>>(w, n, values);
        return;
    }
    // The layouts the CPU quantizers accept. quantize_int8_rows ignores the kind, but only Row is
    // meaningful (op_linear would give every row row 0's scale for Tensor), so refuse the others.
    bool ok = q.weight == DType::Int8 ? q.scale_kind == ScaleKind::Row
                                      : (q.weight == DType::Ternary || q.weight == DType::Binary) &&
                                            scale_kind_allowed(q.weight, q.scale_kind);
    const bool group = q.scale_kind == ScaleKind::Group;
    if (group && (q.group_size == 0 || q.group_size % kGroupMultiple != 0)) ok = false;
    if (!ok) {
        set_flag_kernel<<<1, 1, 0, stream>>>(error_flag);
        return;
    }
    SpanLayout l;
    l.kind = q.scale_kind;
    l.rows = rows;
    l.cols = cols;
    l.group = q.group_size;
    l.per_row = group ? ((uint64_t)cols + q.group_size - 1) / q.group_size : 1;
    l.count = scale_count_for(q.scale_kind, rows, cols, q.group_size);
    if (l.count == 0) return;  // no rows (or no columns, Row/Group): nothing to write
    const Stat stat = q.weight == DType::Int8 ? Stat::AbsMax127 : Stat::MeanAbs;
    span_scales_kernel<<<blocks_for(l.count * 32), kThreads, 0, stream>>>(w, l, stat, group ? nullptr : row_scale,
                                                                          group ? values : nullptr, error_flag);
    if (!group && n)
        codes_kernel<<<row_blocks(rows), row_threads(cols), 0, stream>>>(w, rows, cols, q.weight, row_scale, values);
}

void quantize_act_rows(const float *x, uint32_t n, uint32_t cols, float *codes, float *scale, cudaStream_t stream) {
    if (n == 0) return;
    act_rows_kernel<<<blocks_for((uint64_t)n * 32), kThreads, 0, stream>>>(x, n, cols, codes, scale);
}

}  // namespace cuda
}  // namespace bitlm
