// random_model.h — artifacts from float weights (a trained checkpoint or random weights of any shape,
// for tests and benchmarks), and the size breakdown that bitlm_pack and `bitlm_run info` print. Host only.
//
// Weights come from a deterministic PRNG: std::mt19937_64 (its output is fixed by the C++ standard)
// and our own Box-Muller transform built on the library's det_logf/det_sqrtf/det_sincosf, so the
// same seed gives the same artifact bytes on every host and standard library. Every tensor has its
// own stream, seeded from (seed, role, layer), so the order of generation does not matter.
//
// Initialization (floats, before quantization):
//   BitLinear weights (wq wk wv wo, gate up down)  N(0, 1/fan_in)   (std = 1/sqrt(cols))
//   token embedding, separate head                 N(0, 1), head N(0, 1/dim)
//   token embedding, tied head                     N(0, 1/dim), so logits = h.E have std ~1
//   norm gains                                     1 + norm_jitter * N(0, 1)   (default jitter 0.1:
//                                                  a forward pass that ignores a gain shows up)
// then quantized with the library quantizers (ternary absmean, binary sign, int8 rows, fp16) and
// packed row by row. One tensor's floats exist at a time (bench-180m never holds 720 MB of floats);
// the packed payloads are kept until the artifact is written (its CRC covers every byte).
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <functional>
#include <string>
#include <vector>
#include "artifact/format.h"
#include "artifact/reader.h"
#include "artifact/writer.h"
#include "bitlm.h"
#include "model/presets.h"

namespace bitlm {
namespace tools {

struct RandomModelSpec {
    bitlm_config config;
    StorageRecipe storage;
    uint64_t seed = 1;
    float norm_jitter = 0.1f;
    unsigned threads = 1;  // tensors generated in parallel (the bytes do not depend on it)
};

// One tensor as it sits (or will sit) in an artifact: everything but the bytes.
struct TensorSize {
    TensorRole role;
    uint16_t layer;
    DType dtype;
    ScaleKind scale_kind;
    uint32_t rows, cols, group_size;
    uint64_t data_bytes;   // rows * dtype_row_bytes(cols)
    uint64_t scale_count;  // fp16 scales
};

// Bytes per part of an artifact.
struct SizeBreakdown {
    uint64_t embeddings = 0;  // token embedding and separate head payloads
    uint64_t attention = 0;   // wq wk wv wo payloads
    uint64_t ffn = 0;         // gate up down payloads
    uint64_t norms = 0;       // f32 norm gains
    uint64_t scales = 0;      // every fp16 scale
    uint64_t overhead = 0;    // header, config, tokenizer, tensor table, alignment padding
    uint64_t total = 0;       // the artifact's size
    uint64_t linear_weights = 0;        // entries of the BitLinear matrices
    uint64_t linear_payload_bytes = 0;  // attention + ffn
    uint64_t linear_scale_bytes = 0;    // the BitLinear matrices' scales
    uint64_t embedding_weights = 0;     // entries of the embedding and separate head
    double bits_per_weight() const;              // linear payload bits / linear weights
    double bits_per_weight_with_scales() const;  // (payload + scales) bits / linear weights
};

bool role_is_linear(TensorRole role);     // a BitLinear matrix (attention or FFN)
bool role_is_attention(TensorRole role);  // wq wk wv wo
bool role_is_norm(TensorRole role);

SizeBreakdown size_breakdown(const std::vector<TensorSize> &tensors, uint64_t total_bytes);
// `key: value` lines: embeddings_bytes, attention_bytes, ffn_bytes, norms_bytes, scales_bytes,
// overhead_bytes, artifact_bytes, linear_params, bits_per_weight, bits_per_weight_with_scales.
void print_size_breakdown(FILE *out, const SizeBreakdown &b);

// The tensors a configuration needs under a storage recipe, in file order (shapes from the reader's
// expected_shape, so the writer, the reader and this agree). "" or an error naming the problem.
std::string plan_tensors(const bitlm_config &config, const StorageRecipe &storage, std::vector<TensorSize> *out);

// The tensors of a validated artifact.
std::vector<TensorSize> artifact_tensors(const ArtifactInfo &info);

// Checks the spec (configuration and storage) with messages that name the offending field.
std::string check_random_spec(const RandomModelSpec &spec);

// Size of the artifact without generating any weight.
std::string random_model_size(const RandomModelSpec &spec, SizeBreakdown *out);

// Called after each tensor is generated (done of total).
typedef void (*ProgressFn)(void *user, uint32_t done, uint32_t total);

// Any model from float weights (a checkpoint, a random generator): the source hands over each
// planned tensor's rows*cols floats (row-major); they are quantized with the library quantizers and
// packed as the storage recipe says. Tensors may be requested in parallel (threads) and in any order.
struct ModelSource {
    bitlm_config config;
    StorageRecipe storage;
    unsigned threads = 1;
    std::function<std::string(const TensorSize &t, std::vector<float> *weights)> weights;
};
// Write atomically to `path` (nothing is left there on error) / build in memory.
std::string write_model(const ModelSource &source, const std::string &path, SizeBreakdown *out,
                        ProgressFn progress = nullptr, void *user = nullptr);
std::string build_model(const ModelSource &source, std::vector<uint8_t> *out_bytes, SizeBreakdown *out = nullptr);

// Generate and write atomically to `path`. On error nothing is left at `path`.
std::string write_random_model(const RandomModelSpec &spec, const std::string &path, SizeBreakdown *out,
                               ProgressFn progress = nullptr, void *user = nullptr);
// Generate into memory (tests).
std::string build_random_model(const RandomModelSpec &spec, std::vector<uint8_t> *out_bytes,
                               SizeBreakdown *out = nullptr);

// The byte tokenizer spec random models carry.
TokenizerSpec byte_tokenizer_spec();

}  // namespace tools
}  // namespace bitlm
