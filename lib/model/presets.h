// presets.h — named model shapes shared by every tool (bitlm_train, bitlm_pack, bitlm_run, firmware).
// A preset is a configuration plus how its tensors are stored.
#pragma once
#include <stdint.h>
#include "bitlm.h"
#include "tensor/weights.h"

namespace bitlm {

struct StorageRecipe {
    DType linear_dtype;      // Ternary or Binary for the BitLinear layers
    ScaleKind linear_scale;  // Tensor, Row or Group
    uint32_t group_size;     // for ScaleKind::Group
    DType embedding_dtype;   // Int8 or F16
    DType head_dtype;        // for BITLM_HEAD_SEPARATE: Ternary, Binary, Int8 or F16
};

struct Preset {
    const char *name;
    const char *summary;
    bitlm_config config;
    StorageRecipe storage;
};

// nullptr if unknown. Names: tiny, demo, golf-16mb, bench-180m, mcu-260k, s1, s2.
const Preset *find_preset(const char *name);
uint32_t preset_count();
const Preset *preset_at(uint32_t i);

// Count of weights (matrix entries) in the linear layers and in the embedding/head.
uint64_t linear_param_count(const bitlm_config &config);
uint64_t embedding_param_count(const bitlm_config &config);  // embedding + separate head

}  // namespace bitlm
