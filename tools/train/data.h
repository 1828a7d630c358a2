// data.h — the trainer's token data: loading a token shard or a text file, the train/validation split,
// and the deterministic batch sampler that lets a resumed run draw exactly the batches it would have.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string>
#include <vector>

namespace bitlm {
namespace tools {

// ---- loading -----------------------------------------------------------------------------------

struct TokenData {
    std::vector<uint16_t> tokens;
    bool bytes = false;  // true: a text file, one token per byte
    std::string path;
    uint16_t max_token = 0;  // the largest token in the file (0 for no tokens)
};

// Token shards (the 16 MB challenge's and llm.c's format, see ../shared/data/README.md): a 1024-byte
// header of 256 little-endian int32 — [0] = 20240520, [1] = 1 (version), [2] = N tokens — then N
// little-endian uint16 tokens, file size exactly 1024 + 2*N.
constexpr int32_t kShardMagic = 20240520;
constexpr uint32_t kShardHeaderBytes = 1024;

// Loads `path` into `out`. A file whose first int32 is the shard magic must be a consistent shard;
// otherwise it is an error naming the problem ("'P': token shard header says N tokens but the file
// holds M", "'P': unsupported shard version V", "'P': token shard is shorter than its 1024-byte
// header", "'P' is an empty token shard"). Any other file is text: each byte is one token.
// Missing files, directories and empty files give read_file's messages ("'P' is empty", ...).
std::string load_tokens(const std::string &path, TokenData *out);

// ---- train / validation split ------------------------------------------------------------------

// Half-open token ranges [begin, end) into one token stream.
struct DataSplit {
    size_t train_begin, train_end, val_begin, val_end;
};

// nanoGPT style: train is the first floor((1 - f) * n) tokens, validation the rest (f = 0.1: the last
// 10%). f <= 0 (or NaN) gives no validation range (val_begin == val_end == n); f is clamped to 1.
DataSplit split_train_val(size_t n_tokens, double val_fraction);

// Checks that tokens [begin, end) of `d` hold at least one sequence of seq_len + 1 tokens and that
// every one of them is below `vocab`. `what` names the range in the message ("training",
// "validation"): "training data has N tokens, shorter than one sequence of T+1 (seq_len + 1)",
// "token X in 'P' is out of range for vocab V (position I)".
std::string check_data_fits(const TokenData &d, size_t begin, size_t end, uint32_t seq_len, uint32_t vocab,
                            const char *what);

// ---- batches -----------------------------------------------------------------------------------

// Fills out[batch * (seq_len + 1)]: row b is tokens[off_b .. off_b + seq_len] (seq_len + 1 tokens;
// inputs are the first seq_len, targets the last seq_len). off_b depends on (seed, step, b) only —
// not on the batch size, earlier steps or any saved state — so a resumed run redraws identical
// batches, and row b of a step is the same whatever the batch size:
//
//   key     = mix64(mix64(mix64(seed) ^ step) ^ b)          mix64(x) = splitmix64 output for state x
//   r_k     = mix64(key + k),  k = 0, 1, 2, ...              (a stream per sequence)
//   starts  = end - begin - seq_len                          (valid offsets begin .. end - seq_len - 1)
//   off_b   = begin + (first r_k >= 2^64 mod starts) mod starts   (rejection: exactly uniform)
//
// Precondition: end - begin >= seq_len + 1 (check_data_fits); otherwise `out` is zero-filled.
void draw_batch(const uint16_t *tokens, size_t begin, size_t end, uint64_t seed, uint64_t step, uint32_t batch,
                uint32_t seq_len, int32_t *out);

// The offset draw_batch uses for row b (exposed for tests and for logging which data a step saw).
size_t batch_offset(size_t begin, size_t end, uint64_t seed, uint64_t step, uint32_t b, uint32_t seq_len);

}  // namespace tools
}  // namespace bitlm
