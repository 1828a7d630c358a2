// writer.h — lay out and write a .blm artifact (used by bitlm_pack and tests; freestanding).
// The output goes through a callback, so a host tool can stream to a file and firmware to a buffer.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "artifact/format.h"
#include "bitlm.h"

namespace bitlm {

struct TensorSpec {
    TensorRole role;
    uint16_t layer;
    DType dtype;
    ScaleKind scale_kind;
    uint32_t rows, cols, group_size;
    const void *data;        // rows * dtype_row_bytes(cols) bytes
    const uint16_t *scales;  // scale_count_for(...) fp16 values, or nullptr for ScaleKind::None
};

struct TokenizerSpec {
    uint32_t kind;  // bitlm_tokenizer_kind
    uint32_t bos_id, eos_id;
    const void *data;
    uint32_t data_bytes;
};

typedef bitlm_status (*WriteFn)(void *user, const void *bytes, size_t n);

// Total bytes the artifact will take (validates the specs: layouts, sizes, overflow). Only the
// layout is computed, so data/scales pointers may be null (size a model before generating it).
bitlm_status artifact_size(const bitlm_config &config, const TokenizerSpec &tok, const TensorSpec *tensors,
                           uint32_t n_tensors, uint64_t *out_bytes);

// Write the artifact: computes the layout and CRC-32 first, then emits bytes in file order.
bitlm_status write_artifact(const bitlm_config &config, const TokenizerSpec &tok, const TensorSpec *tensors,
                            uint32_t n_tensors, WriteFn write, void *user);

// Convenience: write into a caller buffer of `capacity` bytes (BUFFER_TOO_SMALL if short).
bitlm_status write_artifact_to_buffer(const bitlm_config &config, const TokenizerSpec &tok,
                                      const TensorSpec *tensors, uint32_t n_tensors, uint8_t *buffer,
                                      size_t capacity, size_t *out_bytes);

// Recompute and store the checksum of an artifact image in place (tests that craft bad artifacts).
void artifact_fix_checksum(uint8_t *bytes, size_t size);
// The checksum an artifact image should carry.
uint32_t artifact_compute_checksum(const uint8_t *bytes, size_t size);

}  // namespace bitlm
