// model_meta.h — what a checkpoint says about its model: the TrainModelSpec as `key=value` meta
// lines, the checkpoint array name of every parameter, and the parameters as a packing source. Shared by bitlm_train (writes, resumes)
// and bitlm_pack (turns a checkpoint into an artifact).
#pragma once
#include <string>
#include <utility>
#include <vector>
#include "common/random_model.h"
#include "train/train_model.h"

namespace bitlm {
namespace tools {

typedef std::vector<std::pair<std::string, std::string>> MetaLines;
struct Checkpoint;

// "model.dim=192", "storage.linear=ternary", "model.fp32=0", ...
void spec_to_meta(const TrainModelSpec &spec, MetaLines *out);
// Reads them back; "" or a message naming the missing/bad key.
std::string spec_from_meta(const Checkpoint &ckpt, TrainModelSpec *out);
// The first field where two specs differ, as "dim 64 vs 192", or "" when they are the same.
std::string spec_difference(const TrainModelSpec &a, const TrainModelSpec &b);

// "tok_embedding", "layers.3.wq", "final_norm", "head".
std::string param_name(const ParamInfo &info);

// What to pack for a model's parameters: weights(i) is parameter i's rows*cols floats (train_param_info
// order); each artifact tensor takes the parameter of its role and layer.
ModelSource params_source(const TrainModelSpec &spec, unsigned threads,
                          const std::function<const float *(uint32_t index)> &weights);

}  // namespace tools
}  // namespace bitlm
