// weights.h — how a weight tensor is stored (dtype, scale layout) and the read-in-place view of one.
// The one table of storage types: every kernel and the artifact reader agree on it.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace bitlm {

// Storage type of a tensor payload. Row-major; each row starts on its own byte.
enum class DType : uint8_t {
    Ternary = 0,  // {-1,0,+1}, base 3, five trits per byte: ceil(cols/5) bytes per row (ternary_pack.h)
    Binary = 1,   // {-1,+1}, one bit per weight (bit i of byte j = weight 8j+i, 1 = +1): ceil(cols/8) bytes/row
    Int8 = 2,     // int8 in [-127,127] with a per-row scale: cols bytes per row
    F16 = 3,      // IEEE binary16: 2*cols bytes per row
    F32 = 4,      // IEEE binary32 (norm gains): 4*cols bytes per row
    // In RAM only, never in an artifact: ternary as 2-bit codes w+1 (ternary2_pack.h), the faster
    // copy a desktop runtime may keep (bitlm_repack).
    Ternary2 = 5,
};
constexpr uint32_t kDTypeCount = 5;  // the dtypes an artifact may hold (Ternary2 is not one)

// Where the (fp16) scales of a tensor apply. Dequantized weight = stored value * scale.
enum class ScaleKind : uint8_t {
    None = 0,    // F16 / F32
    Tensor = 1,  // one scale
    Row = 2,     // one scale per row
    Group = 3,   // one scale per group_size consecutive weights of a row (rows * ceil(cols/group) scales)
};
constexpr uint32_t kScaleKindCount = 4;

// Groups must be whole 32-weight planes of a ternary block so SIMD kernels never split a plane.
constexpr uint32_t kGroupMultiple = 32;

// Bytes one row of `cols` weights occupies; 0 for an unknown dtype.
uint64_t dtype_row_bytes(DType dtype, uint64_t cols);
const char *dtype_name(DType dtype);
const char *scale_kind_name(ScaleKind kind);
// Number of fp16 scales a tensor carries; 0 if the layout is invalid (see scale_kind_allowed).
uint64_t scale_count_for(ScaleKind kind, uint64_t rows, uint64_t cols, uint32_t group_size);
bool scale_kind_allowed(DType dtype, ScaleKind kind);

// A tensor read in place from the artifact (RAM or flash).
struct WeightView {
    DType dtype;
    ScaleKind scale_kind;
    uint32_t rows;
    uint32_t cols;
    uint32_t group_size;     // ScaleKind::Group only
    uint32_t row_bytes;      // stride between rows of `data`
    const uint8_t *data;
    const uint16_t *scales;  // fp16 bit patterns; nullptr for ScaleKind::None
};

// Index into `scales` of the scale for row r, group g (g = column / group_size).
inline uint32_t scale_index(const WeightView &w, uint32_t r, uint32_t g) {
    switch (w.scale_kind) {
        case ScaleKind::Tensor: return 0;
        case ScaleKind::Row: return r;
        case ScaleKind::Group: return r * ((w.cols + w.group_size - 1) / w.group_size) + g;
        default: return 0;
    }
}

}  // namespace bitlm
