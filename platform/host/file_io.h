// file_io.h — whole-file reads into a 64-byte-aligned buffer and atomic file writes. Host only.
// Errors come back as a one-line message ("" on success), never as exceptions.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string>

namespace bitlm {
namespace host {

// An owned, 64-byte-aligned byte buffer (artifacts are read in place by SIMD loads); from 4 MB on,
// 2 MB-aligned in transparent huge pages where the kernel allows (file_io.cpp says why). Move-only.
class AlignedBuffer {
public:
    static constexpr size_t kAlign = 64;
    AlignedBuffer() = default;
    ~AlignedBuffer() { reset(); }
    AlignedBuffer(AlignedBuffer &&other) noexcept;
    AlignedBuffer &operator=(AlignedBuffer &&other) noexcept;
    AlignedBuffer(const AlignedBuffer &) = delete;
    AlignedBuffer &operator=(const AlignedBuffer &) = delete;

    // Allocates `size` bytes (zeroed, padded to a multiple of 64); false if out of memory.
    bool allocate(size_t size);
    void reset();

    uint8_t *data() { return data_; }
    const uint8_t *data() const { return data_; }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

private:
    uint8_t *data_ = nullptr;
    size_t size_ = 0;
};

// Reads the whole regular file at `path` into `out`. Messages: "cannot open 'PATH': <strerror>",
// "'PATH' is a directory", "'PATH' is empty", "'PATH' is not a regular file", "error reading 'PATH': ...".
std::string read_file(const std::string &path, AlignedBuffer *out);

// Writes a file atomically: the bytes go to PATH.tmp.<pid> in the same directory, are fsync'ed and
// renamed over PATH, so a reader sees the old file or the complete new one, never a partial one.
// On any error the temporary file is removed and PATH is untouched.
class AtomicFileWriter {
public:
    AtomicFileWriter() = default;
    ~AtomicFileWriter();  // abandons (removes the temporary) unless commit() succeeded
    AtomicFileWriter(const AtomicFileWriter &) = delete;
    AtomicFileWriter &operator=(const AtomicFileWriter &) = delete;

    std::string open(const std::string &path);
    std::string write(const void *bytes, size_t n);
    std::string commit();  // fsync, close, rename into place
    void abandon();
    uint64_t bytes_written() const { return written_; }

private:
    std::string path_, tmp_path_;
    int fd_ = -1;
    uint64_t written_ = 0;
};

// One-shot atomic write of a buffer.
std::string write_file_atomic(const std::string &path, const void *bytes, size_t n);

// Whether a path exists (any kind of file).
bool path_exists(const std::string &path);

}  // namespace host
}  // namespace bitlm
