// format.h — the .blm artifact layout (documented field by field in docs/blm-format.md).
// Everything little-endian; offsets are from the start of the file.
#pragma once
#include <stdint.h>
#include "tensor/weights.h"

namespace bitlm {

// ---- header (64 bytes) ----------------------------------------------------------------------
constexpr uint8_t kMagic[8] = {'b', 'i', 't', 'l', 'm', '\r', '\n', 0x1a};
constexpr uint32_t kFormatVersion = 1;
constexpr uint32_t kHeaderBytes = 64;
constexpr uint32_t kPayloadAlign = 64;   // every tensor payload starts on a 64-byte boundary
constexpr uint32_t kScaleAlign = 4;      // scale arrays start on a 4-byte boundary

enum HeaderOffset : uint32_t {
    kHdrMagic = 0,             // 8 bytes
    kHdrVersion = 8,           // u32 format version
    kHdrHeaderBytes = 12,      // u32 size of this header (64)
    kHdrFileBytes = 16,        // u64 total file size
    kHdrChecksum = 24,         // u32 CRC-32 of the whole file with these 4 bytes taken as zero
    kHdrFlags = 28,            // u32 reserved, 0
    kHdrConfigOffset = 32,     // u32
    kHdrConfigBytes = 36,      // u32
    kHdrTokenizerOffset = 40,  // u32
    kHdrTokenizerBytes = 44,   // u32
    kHdrTableOffset = 48,      // u32
    kHdrTensorCount = 52,      // u32
    kHdrPayloadOffset = 56,    // u32 start of the payload region (64-aligned)
    kHdrReserved = 60,         // u32 0
};

// ---- configuration section: the fields of bitlm_config, 4 bytes each, in declaration order ----
constexpr uint32_t kConfigFieldCount = 17;
constexpr uint32_t kConfigBytes = kConfigFieldCount * 4;

// ---- tokenizer section ------------------------------------------------------------------------
// u32 kind, u32 vocab_size, u32 bos_id, u32 eos_id (kNoToken = none), u32 data_bytes, then data.
constexpr uint32_t kTokenizerFixedBytes = 20;
constexpr uint32_t kNoToken = 0xffffffffu;

// ---- tensor table: tensor_count entries of 48 bytes ----------------------------------------
constexpr uint32_t kTensorEntryBytes = 48;
enum TensorEntryOffset : uint32_t {
    kTenRole = 0,         // u16 TensorRole
    kTenLayer = 2,        // u16 layer index (0 for whole-model tensors)
    kTenDType = 4,        // u8 DType
    kTenScaleKind = 5,    // u8 ScaleKind
    kTenReserved = 6,     // u16 0
    kTenRows = 8,         // u32
    kTenCols = 12,        // u32
    kTenGroupSize = 16,   // u32 (ScaleKind::Group), else 0
    kTenScaleCount = 20,  // u32 number of fp16 scales
    kTenDataOffset = 24,  // u64
    kTenDataBytes = 32,   // u64 = rows * dtype_row_bytes(cols)
    kTenScaleOffset = 40, // u64 (0 when scale_count == 0)
};

enum class TensorRole : uint16_t {
    TokEmbedding = 0,  // vocab x dim, Int8 (row scales) or F16
    FinalNorm = 1,     // 1 x dim, F32
    Head = 2,          // vocab x dim, only with BITLM_HEAD_SEPARATE
    AttnNorm = 16,     // 1 x dim, F32
    Wq = 17,           // n_heads*head_dim x dim
    Wk = 18,           // n_kv_heads*head_dim x dim
    Wv = 19,           // n_kv_heads*head_dim x dim
    AttnSubNorm = 20,  // 1 x n_heads*head_dim, F32, only with SUBLN
    Wo = 21,           // dim x n_heads*head_dim
    FfnNorm = 22,      // 1 x dim, F32
    WGate = 23,        // ffn_dim x dim, only with SwiGLU
    WUp = 24,          // ffn_dim x dim
    FfnSubNorm = 25,   // 1 x ffn_dim, F32, only with SUBLN
    WDown = 26,        // dim x ffn_dim
};
const char *tensor_role_name(TensorRole role);  // "tok_embedding", "wq", ...; "?" if unknown
bool tensor_role_is_per_layer(TensorRole role);

// A decoded tensor table entry.
struct TensorEntry {
    TensorRole role;
    uint16_t layer;
    DType dtype;
    ScaleKind scale_kind;
    uint32_t rows, cols, group_size, scale_count;
    uint64_t data_offset, data_bytes, scale_offset;
};

}  // namespace bitlm
