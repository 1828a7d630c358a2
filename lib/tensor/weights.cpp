// weights.cpp — sizes and names of the storage types and scale layouts.
#include "tensor/weights.h"
#include "tensor/binary_pack.h"
#include "tensor/ternary2_pack.h"
#include "tensor/ternary_pack.h"

namespace bitlm {

uint64_t dtype_row_bytes(DType dtype, uint64_t cols) {
    switch (dtype) {
        case DType::Ternary: return ternary_packed_bytes(cols);
        case DType::Binary: return binary_packed_bytes(cols);
        case DType::Int8: return cols;
        case DType::F16: return cols * 2;
        case DType::F32: return cols * 4;
        case DType::Ternary2: return ternary2_row_bytes(cols);
    }
    return 0;
}

const char *dtype_name(DType dtype) {
    switch (dtype) {
        case DType::Ternary: return "ternary";
        case DType::Binary: return "binary";
        case DType::Int8: return "int8";
        case DType::F16: return "f16";
        case DType::F32: return "f32";
        case DType::Ternary2: return "ternary2";
    }
    return "?";
}

const char *scale_kind_name(ScaleKind kind) {
    switch (kind) {
        case ScaleKind::None: return "none";
        case ScaleKind::Tensor: return "tensor";
        case ScaleKind::Row: return "row";
        case ScaleKind::Group: return "group";
    }
    return "?";
}

bool scale_kind_allowed(DType dtype, ScaleKind kind) {
    switch (dtype) {
        case DType::Ternary: return kind == ScaleKind::Tensor || kind == ScaleKind::Row || kind == ScaleKind::Group;
        case DType::Binary: return kind == ScaleKind::Tensor || kind == ScaleKind::Row;
        case DType::Int8: return kind == ScaleKind::Row;
        case DType::F16:
        case DType::F32: return kind == ScaleKind::None;
        case DType::Ternary2: return kind == ScaleKind::Tensor || kind == ScaleKind::Row;
    }
    return false;
}

uint64_t scale_count_for(ScaleKind kind, uint64_t rows, uint64_t cols, uint32_t group_size) {
    switch (kind) {
        case ScaleKind::None: return 0;
        case ScaleKind::Tensor: return 1;
        case ScaleKind::Row: return rows;
        case ScaleKind::Group:
            if (group_size == 0 || group_size % kGroupMultiple != 0) return 0;
            return rows * ((cols + group_size - 1) / group_size);
    }
    return 0;
}

}  // namespace bitlm
