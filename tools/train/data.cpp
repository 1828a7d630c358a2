// data.cpp — token shard / text loading, the train/validation split and the deterministic batch
// sampler (see data.h for the shard format and the exact offset function).
#include "train/data.h"

#include <cmath>
#include <new>

#include "core/bytes.h"
#include "host/file_io.h"

namespace bitlm {
namespace tools {

namespace {

std::string quoted(const std::string &path) { return "'" + path + "'"; }

// ---- loading -----------------------------------------------------------------------------------

// The shard checks, in the order a user can act on them: header present, version, token count.
std::string load_shard(const std::string &path, const uint8_t *bytes, size_t size, TokenData *out) {
    if (size < kShardHeaderBytes)
        return quoted(path) + ": token shard is shorter than its " + std::to_string(kShardHeaderBytes) +
               "-byte header (" + std::to_string(size) + " bytes)";
    const int32_t version = (int32_t)load_u32(bytes + 4);
    if (version != 1) return quoted(path) + ": unsupported shard version " + std::to_string(version);
    const int32_t claimed = (int32_t)load_u32(bytes + 8);
    const size_t payload = size - kShardHeaderBytes;
    if (claimed < 0 || (size_t)claimed * 2 != payload) {
        std::string held = std::to_string(payload / 2);
        if (payload % 2) held += " and a stray byte";
        return quoted(path) + ": token shard header says " + std::to_string(claimed) +
               " tokens but the file holds " + held;
    }
    if (claimed == 0) return quoted(path) + " is an empty token shard (0 tokens)";
    try {
        out->tokens.resize((size_t)claimed);
    } catch (const std::bad_alloc &) {
        return "out of memory loading " + quoted(path) + " (" + std::to_string(claimed) + " tokens)";
    }
    const uint8_t *p = bytes + kShardHeaderBytes;
    uint16_t max_token = 0;
    for (size_t i = 0; i < (size_t)claimed; i++) {
        const uint16_t t = load_u16(p + 2 * i);
        out->tokens[i] = t;
        if (t > max_token) max_token = t;
    }
    out->bytes = false;
    out->max_token = max_token;
    return "";
}

std::string load_text(const std::string &path, const uint8_t *bytes, size_t size, TokenData *out) {
    try {
        out->tokens.resize(size);
    } catch (const std::bad_alloc &) {
        return "out of memory loading " + quoted(path) + " (" + std::to_string(size) + " bytes)";
    }
    uint8_t max_byte = 0;
    for (size_t i = 0; i < size; i++) {
        out->tokens[i] = bytes[i];
        if (bytes[i] > max_byte) max_byte = bytes[i];
    }
    out->bytes = true;
    out->max_token = max_byte;
    return "";
}

// ---- batches -----------------------------------------------------------------------------------

// splitmix64's output function for state x (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
uint64_t mix64(uint64_t x) {
    uint64_t z = x + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

}  // namespace

std::string load_tokens(const std::string &path, TokenData *out) {
    out->tokens.clear();
    out->bytes = false;
    out->path = path;
    out->max_token = 0;
    host::AlignedBuffer file;
    std::string err = host::read_file(path, &file);
    if (!err.empty()) return err;
    const bool shard = file.size() >= 4 && (int32_t)load_u32(file.data()) == kShardMagic;
    err = shard ? load_shard(path, file.data(), file.size(), out) : load_text(path, file.data(), file.size(), out);
    if (!err.empty()) {
        out->tokens.clear();
        out->tokens.shrink_to_fit();
        out->max_token = 0;
    }
    return err;
}

// ---- train / validation split ------------------------------------------------------------------

DataSplit split_train_val(size_t n_tokens, double val_fraction) {
    double f = val_fraction;
    if (!(f > 0.0)) f = 0.0;  // also NaN
    if (f > 1.0) f = 1.0;
    size_t train = n_tokens;
    if (f > 0.0) {
        const double t = std::floor((1.0 - f) * (double)n_tokens);
        train = t <= 0.0 ? 0 : (t >= (double)n_tokens ? n_tokens : (size_t)t);
    }
    return DataSplit{0, train, train, n_tokens};
}

std::string check_data_fits(const TokenData &d, size_t begin, size_t end, uint32_t seq_len, uint32_t vocab,
                            const char *what) {
    if (begin > end || end > d.tokens.size())
        return std::string("internal error: ") + what + " range [" + std::to_string(begin) + ", " +
               std::to_string(end) + ") is outside the " + std::to_string(d.tokens.size()) + " tokens of " +
               quoted(d.path);
    const uint64_t need = (uint64_t)seq_len + 1;
    if ((uint64_t)(end - begin) < need)
        return std::string(what) + " data has " + std::to_string(end - begin) +
               " tokens, shorter than one sequence of " + std::to_string(need) + " (seq_len + 1)";
    if ((uint32_t)d.max_token < vocab) return "";  // the whole file fits: no need to scan the range
    for (size_t i = begin; i < end; i++) {
        if (d.tokens[i] >= vocab) {
            std::string msg = "token " + std::to_string(d.tokens[i]) + " in " + quoted(d.path) +
                              " is out of range for vocab " + std::to_string(vocab) + " (position " +
                              std::to_string(i) + ")";
            if (d.bytes) msg += "; a text file's tokens are its bytes";
            return msg;
        }
    }
    return "";
}

// ---- batches -----------------------------------------------------------------------------------

size_t batch_offset(size_t begin, size_t end, uint64_t seed, uint64_t step, uint32_t b, uint32_t seq_len) {
    if (end < begin || end - begin < (size_t)seq_len + 1) return begin;
    const uint64_t starts = (uint64_t)(end - begin - seq_len);
    // 2^64 mod starts: the values below it are the ones a plain `% starts` would over-represent.
    const uint64_t reject_below = (0 - starts) % starts;
    const uint64_t key = mix64(mix64(mix64(seed) ^ step) ^ (uint64_t)b);
    for (uint64_t k = 0;; k++) {
        const uint64_t r = mix64(key + k);
        if (r >= reject_below) return begin + (size_t)(r % starts);
    }
}

void draw_batch(const uint16_t *tokens, size_t begin, size_t end, uint64_t seed, uint64_t step, uint32_t batch,
                uint32_t seq_len, int32_t *out) {
    const size_t row = (size_t)seq_len + 1;
    const bool fits = end >= begin && end - begin >= row;
    for (uint32_t b = 0; b < batch; b++) {
        int32_t *dst = out + (size_t)b * row;
        if (!fits) {
            for (size_t t = 0; t < row; t++) dst[t] = 0;
            continue;
        }
        const uint16_t *src = tokens + batch_offset(begin, end, seed, step, b, seq_len);
        for (size_t t = 0; t < row; t++) dst[t] = src[t];
    }
}

}  // namespace tools
}  // namespace bitlm
