// checkpoint.h — the trainer's checkpoint file: fp32 latent weights, optimizer state and training
// state (step, config, ...) as named float arrays plus key=value metadata, written atomically.
//
// File layout (all integers little-endian):
//   offset 0   char[8]  magic "BLMCKPT\0"
//              u32      version = 1 (readers refuse newer versions)
//              u32      meta_bytes
//              u8[]     meta text: UTF-8 "key=value\n" lines; keys unique, non-empty, without '=' or
//                       '\n'; values without '\n'
//              u32      array_count
//   per array: u32      name_len
//              u8[]     name (non-empty, unique in the file)
//              u64      count
//              u8[]     zero padding up to a 4-byte file offset
//              f32[]    count IEEE binary32 values
//   end:       u32      CRC-32 (zlib) of every byte before it
#pragma once
#include <stdint.h>
#include <string>
#include <utility>
#include <vector>

namespace bitlm {
namespace tools {

constexpr uint32_t kCheckpointVersion = 1;

struct CheckpointArrayRef {
    std::string name;
    const float *data;
    uint64_t count;
};

// Writes the checkpoint atomically (temporary file + fsync + rename: a crash leaves the old one).
// Arrays are streamed from the caller's memory, not gathered into one buffer. Refuses empty keys,
// keys with '=' or '\n', values with '\n', duplicate keys, and empty or duplicate array names.
std::string write_checkpoint(const std::string &path, const std::vector<std::pair<std::string, std::string>> &meta,
                             const std::vector<CheckpointArrayRef> &arrays);

struct Checkpoint {
    std::vector<std::pair<std::string, std::string>> meta;  // in file order
    std::vector<std::string> names;                         // names[i] names arrays[i]
    std::vector<std::vector<float>> arrays;

    const std::string *find_meta(const std::string &key) const;         // nullptr if absent
    const std::vector<float> *find_array(const std::string &name) const;  // nullptr if absent
};

// Reads and validates a checkpoint; `out` is cleared first and left empty on error. Messages:
// "'P' is not a bitlm checkpoint", "'P' has checkpoint version V, newer than this build reads (1)",
// "'P' is truncated or corrupted (... runs past the end of the file)", "'P' is corrupted (checksum
// mismatch)", "'P' is corrupted (N unexpected bytes after the last array)", "'P' is malformed (...)"
// (a matching checksum over impossible contents: a writer's bug), plus read_file's file errors. Every size in the file is checked against the file's length before anything is
// allocated, so lying counts cannot make it over-allocate; memory use is the arrays themselves.
std::string read_checkpoint(const std::string &path, Checkpoint *out);

}  // namespace tools
}  // namespace bitlm
