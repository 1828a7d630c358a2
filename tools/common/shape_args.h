// shape_args.h — the model shape and storage flags that bitlm_pack --random and bitlm_train share
// (--dim, --layers, --heads, --weights, --scale, ...): declared once, applied over a preset.
#pragma once
#include <string>
#include <stdio.h>
#include "common/args.h"
#include "model/presets.h"

namespace bitlm {
namespace tools {

// Registers the flags. Their help text is kShapeHelp.
void add_shape_options(Args &args);
extern const char *const kShapeHelp;

// Applies the flags given to config/storage (which start as a preset's). "" or a usage message.
std::string apply_shape_options(Args &args, bitlm_config *config, StorageRecipe *storage);

const char *ffn_kind_name(uint32_t kind);
const char *norm_placement_name(uint32_t placement);
// "shape: vocab 256, dim 64, ..." and "storage: ternary weights, row scales, int8 embedding" lines.
std::string describe_shape(const bitlm_config &c);
std::string describe_storage(const bitlm_config &c, const StorageRecipe &s);

}  // namespace tools
}  // namespace bitlm
