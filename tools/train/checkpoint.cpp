// checkpoint.cpp — streaming checkpoint writer (atomic, CRC computed on the way) and a validating
// streaming reader that checks every size against the file's length before it allocates.

// Large-file interface on 32-bit hosts (armv7): checkpoints may pass 2 GiB.
#define _FILE_OFFSET_BITS 64
#include "train/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <new>
#include <set>

#include "core/bytes.h"
#include "core/crc32.h"
#include "host/file_io.h"

namespace bitlm {
namespace tools {

namespace {

const char kMagic[8] = {'B', 'L', 'M', 'C', 'K', 'P', 'T', '\0'};
// magic + version + meta_bytes + array_count + CRC: a checkpoint with no metadata and no arrays.
constexpr uint64_t kSmallestCheckpoint = 8 + 4 + 4 + 4 + 4;

std::string quoted(const std::string &s) { return "'" + s + "'"; }

// A name read from a possibly corrupted file, safe to put in a one-line message.
std::string printable(const std::string &s) {
    std::string out;
    for (size_t i = 0; i < s.size() && i < 64; i++) out += (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s.size() > 64) out += "...";
    return "'" + out + "'";
}

uint32_t pad_to_4(uint64_t offset) { return (uint32_t)((4 - offset % 4) % 4); }

// ---- writing -----------------------------------------------------------------------------------

// The atomic writer with the CRC of everything written so far.
class ChecksummedWriter {
public:
    std::string open(const std::string &path) { return file_.open(path); }
    std::string write(const void *bytes, size_t n) {
        crc_ = crc32_update(crc_, bytes, n);
        return file_.write(bytes, n);
    }
    std::string write_u32(uint32_t v) {
        uint8_t b[4];
        store_u32(b, v);
        return write(b, 4);
    }
    std::string write_u64(uint64_t v) {
        uint8_t b[8];
        store_u64(b, v);
        return write(b, 8);
    }
    std::string finish() {  // the CRC itself, then fsync + rename
        uint8_t b[4];
        store_u32(b, crc_);
        std::string err = file_.write(b, 4);
        return err.empty() ? file_.commit() : err;
    }
    uint64_t offset() const { return file_.bytes_written(); }

private:
    host::AtomicFileWriter file_;
    uint32_t crc_ = 0;
};

std::string check_contents(const std::vector<std::pair<std::string, std::string>> &meta,
                           const std::vector<CheckpointArrayRef> &arrays) {
    std::set<std::string> keys;
    for (const auto &kv : meta) {
        if (kv.first.empty()) return "checkpoint metadata key is empty";
        if (kv.first.find('=') != std::string::npos) return "checkpoint metadata key " + printable(kv.first) + " contains '='";
        if (kv.first.find('\n') != std::string::npos) return "checkpoint metadata key " + printable(kv.first) + " contains a newline";
        if (kv.second.find('\n') != std::string::npos)
            return "checkpoint metadata value of " + quoted(kv.first) + " contains a newline";
        if (!keys.insert(kv.first).second) return "duplicate checkpoint metadata key " + quoted(kv.first);
    }
    if (arrays.size() > UINT32_MAX) return "too many checkpoint arrays";
    std::set<std::string> names;
    for (const CheckpointArrayRef &a : arrays) {
        if (a.name.empty()) return "checkpoint array name is empty";
        if (a.name.size() > UINT32_MAX) return "checkpoint array name is too long";
        if (!names.insert(a.name).second) return "duplicate checkpoint array name " + printable(a.name);
        uint64_t bytes;
        if (mul_overflows(a.count, 4, &bytes) || bytes > (uint64_t)SIZE_MAX)
            return "checkpoint array " + printable(a.name) + " is too large (" + std::to_string(a.count) + " floats)";
        if (a.count > 0 && a.data == nullptr) return "internal error: checkpoint array " + printable(a.name) + " has no data";
    }
    return "";
}

// ---- reading -----------------------------------------------------------------------------------

// Sequential reads of an open file that keep the running CRC of everything read.
class ChecksummedReader {
public:
    ChecksummedReader(int fd, const std::string &path) : fd_(fd), path_(path) {}
    // Reads exactly n bytes (the caller has checked they exist); false with error() on failure.
    bool read(void *dst, uint64_t n) {
        uint8_t *p = static_cast<uint8_t *>(dst);
        uint64_t left = n;
        while (left > 0) {
            const size_t chunk = left > (1u << 30) ? (size_t)(1u << 30) : (size_t)left;
            const ssize_t r = ::read(fd_, p, chunk);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                error_ = "error reading " + quoted(path_) + ": " + strerror(errno);
                return false;
            }
            if (r == 0) {
                error_ = "error reading " + quoted(path_) + ": file shrank while reading";
                return false;
            }
            crc_ = crc32_update(crc_, p, (size_t)r);
            p += r;
            left -= (uint64_t)r;
        }
        pos_ += n;
        return true;
    }
    bool read_u32(uint32_t *v) {
        uint8_t b[4];
        if (!read(b, 4)) return false;
        *v = load_u32(b);
        return true;
    }
    bool read_u64(uint64_t *v) {
        uint8_t b[8];
        if (!read(b, 8)) return false;
        *v = load_u64(b);
        return true;
    }
    // Feeds the bytes up to `end` into the CRC without keeping them.
    bool skip_to(uint64_t end) {
        uint8_t buf[1 << 16];
        while (pos_ < end) {
            const uint64_t n = end - pos_ < sizeof buf ? end - pos_ : sizeof buf;
            if (!read(buf, n)) return false;
        }
        return true;
    }
    uint64_t pos() const { return pos_; }
    uint32_t crc() const { return crc_; }
    const std::string &error() const { return error_; }

private:
    int fd_;
    std::string path_;
    uint64_t pos_ = 0;
    uint32_t crc_ = 0;
    std::string error_;
};

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

// "key=value\n" lines -> pairs; "" or what is wrong with them.
std::string parse_meta(const std::string &text, std::vector<std::pair<std::string, std::string>> *meta) {
    std::set<std::string> keys;
    size_t start = 0, line = 1;
    while (start < text.size()) {
        const size_t nl = text.find('\n', start);
        if (nl == std::string::npos) return "metadata line " + std::to_string(line) + " has no newline";
        const size_t eq = text.find('=', start);
        if (eq == std::string::npos || eq > nl) return "metadata line " + std::to_string(line) + " is not key=value";
        if (eq == start) return "metadata line " + std::to_string(line) + " has an empty key";
        std::string key = text.substr(start, eq - start);
        if (!keys.insert(key).second) return "duplicate metadata key " + printable(key);
        meta->emplace_back(std::move(key), text.substr(eq + 1, nl - eq - 1));
        start = nl + 1;
        line++;
    }
    return "";
}

// What the walk over the file's structure found wrong, if anything.
struct Structure {
    std::string problem;     // "" if the sizes add up exactly to the file
    bool runs_past = false;  // a size reaches past the end: what truncation (or a flipped size) does
};

// Walks the file's structure, reading metadata and arrays into place. Returns "" or a fatal error
// (I/O, out of memory); what is inconsistent goes to *found.
std::string read_structure(ChecksummedReader &in, uint64_t body_end, const std::string &path,
                           std::string *meta_text, Checkpoint *out, Structure *found) {
    // How many bytes are left before the CRC; every size is compared with this before use.
    auto left = [&]() { return body_end - in.pos(); };
    auto past_end = [&](const std::string &what) {
        found->problem = what + " runs past the end of the file";
        found->runs_past = true;
        return std::string();
    };
    uint32_t meta_bytes;
    if (left() < 4) return past_end("the metadata size");
    if (!in.read_u32(&meta_bytes)) return in.error();
    if (meta_bytes > left()) return past_end("the metadata (" + std::to_string(meta_bytes) + " bytes)");
    meta_text->resize(meta_bytes);
    if (meta_bytes && !in.read(&(*meta_text)[0], meta_bytes)) return in.error();
    uint32_t array_count;
    if (left() < 4) return past_end("the array count");
    if (!in.read_u32(&array_count)) return in.error();
    // No reserve(array_count): the count is unverified; each array needs at least 12 bytes, so the
    // loop ends at the file's end long before a lying count matters.
    for (uint32_t i = 0; i < array_count; i++) {
        const std::string nth = "array #" + std::to_string(i);
        uint32_t name_len;
        if (left() < 4) return past_end(nth + "'s name length");
        if (!in.read_u32(&name_len)) return in.error();
        if (name_len > left()) return past_end(nth + "'s name (" + std::to_string(name_len) + " bytes)");
        std::string name(name_len, '\0');
        if (name_len && !in.read(&name[0], name_len)) return in.error();
        uint64_t count;
        if (left() < 8) return past_end("array " + printable(name) + "'s count");
        if (!in.read_u64(&count)) return in.error();
        const uint32_t pad = pad_to_4(in.pos());
        if (pad > left()) return past_end("array " + printable(name) + "'s padding");
        uint8_t zeros[4];
        if (pad && !in.read(zeros, pad)) return in.error();
        if (count > left() / 4)
            return past_end("array " + printable(name) + " of " + std::to_string(count) + " floats");
        if (count > SIZE_MAX / 4)  // a 32-bit host reading a file made on a 64-bit one
            return "array " + printable(name) + " of " + std::to_string(count) + " floats in " + quoted(path) +
                   " does not fit in this machine's memory";
        try {
            out->arrays.emplace_back((size_t)count);
        } catch (const std::bad_alloc &) {
            return "out of memory reading " + quoted(path) + " (array " + printable(name) + " of " +
                   std::to_string(count) + " floats)";
        }
        out->names.push_back(std::move(name));
        if (count && !in.read(out->arrays.back().data(), count * 4)) return in.error();
    }
    if (in.pos() != body_end) {
        const uint64_t extra = body_end - in.pos();
        found->problem = std::to_string(extra) + (extra == 1 ? " unexpected byte" : " unexpected bytes") +
                         " after the last array";
    }
    return "";
}

}  // namespace

std::string write_checkpoint(const std::string &path, const std::vector<std::pair<std::string, std::string>> &meta,
                             const std::vector<CheckpointArrayRef> &arrays) {
    std::string err = check_contents(meta, arrays);
    if (!err.empty()) return "cannot write " + quoted(path) + ": " + err;
    std::string meta_text;
    for (const auto &kv : meta) meta_text += kv.first + "=" + kv.second + "\n";
    if (meta_text.size() > UINT32_MAX) return "cannot write " + quoted(path) + ": checkpoint metadata is too large";

    ChecksummedWriter w;
    err = w.open(path);
    if (err.empty()) err = w.write(kMagic, sizeof kMagic);
    if (err.empty()) err = w.write_u32(kCheckpointVersion);
    if (err.empty()) err = w.write_u32((uint32_t)meta_text.size());
    if (err.empty()) err = w.write(meta_text.data(), meta_text.size());
    if (err.empty()) err = w.write_u32((uint32_t)arrays.size());
    for (size_t i = 0; i < arrays.size() && err.empty(); i++) {
        const CheckpointArrayRef &a = arrays[i];
        err = w.write_u32((uint32_t)a.name.size());
        if (err.empty()) err = w.write(a.name.data(), a.name.size());
        if (err.empty()) err = w.write_u64(a.count);
        const uint8_t zeros[4] = {0, 0, 0, 0};
        if (err.empty()) err = w.write(zeros, pad_to_4(w.offset()));
        // Little-endian host (core/bytes.h asserts it): the floats go out as they are in memory.
        if (err.empty() && a.count) err = w.write(a.data, (size_t)(a.count * 4));
    }
    if (err.empty()) err = w.finish();
    return err;
}

const std::string *Checkpoint::find_meta(const std::string &key) const {
    for (const auto &kv : meta)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

const std::vector<float> *Checkpoint::find_array(const std::string &name) const {
    for (size_t i = 0; i < names.size() && i < arrays.size(); i++)
        if (names[i] == name) return &arrays[i];
    return nullptr;
}

std::string read_checkpoint(const std::string &path, Checkpoint *out) {
    *out = Checkpoint();
    if (path.empty()) return "no checkpoint file name given";
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return "cannot open " + quoted(path) + ": " + strerror(errno);
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return "cannot stat " + quoted(path) + ": " + strerror(errno);
    if (S_ISDIR(st.st_mode)) return quoted(path) + " is a directory, not a file";
    if (!S_ISREG(st.st_mode)) return quoted(path) + " is not a regular file";
    const uint64_t size = (uint64_t)st.st_size;
    if (size == 0) return quoted(path) + " is empty";
    const std::string truncated = quoted(path) + " is truncated or corrupted (";
    ChecksummedReader in(fd.get(), path);

    // Magic and version first: they say whether the rest is ours to judge at all.
    char magic[8];
    const uint64_t magic_bytes = size < 8 ? size : 8;
    if (!in.read(magic, magic_bytes)) return in.error();
    if (memcmp(magic, kMagic, (size_t)magic_bytes) != 0) return quoted(path) + " is not a bitlm checkpoint";
    if (size < 12) return truncated + std::to_string(size) + " bytes, shorter than a checkpoint header)";
    uint32_t version;
    if (!in.read_u32(&version)) return in.error();
    if (version > kCheckpointVersion)
        return quoted(path) + " has checkpoint version " + std::to_string(version) + ", newer than this build reads (" +
               std::to_string(kCheckpointVersion) + ")";
    if (version == 0) return quoted(path) + " has unsupported checkpoint version 0";
    if (size < kSmallestCheckpoint)
        return truncated + std::to_string(size) + " bytes, shorter than the smallest checkpoint)";

    const uint64_t body_end = size - 4;
    std::string meta_text;
    Structure found;
    std::string err = read_structure(in, body_end, path, &meta_text, out, &found);
    if (err.empty() && !in.skip_to(body_end)) err = in.error();
    const uint32_t computed = in.crc();
    uint32_t stored = 0;
    if (err.empty() && !in.read_u32(&stored)) err = in.error();
    if (!err.empty()) {
        *out = Checkpoint();
        return err;
    }
    // A size that runs past the end is what truncation looks like, but a flipped bit in a size field
    // looks the same; only a matching checksum says the file is as written (then the writer was wrong).
    if (!found.problem.empty()) {
        if (computed == stored) err = quoted(path) + " is malformed (" + found.problem + ")";
        else if (found.runs_past) err = truncated + found.problem + ")";
        else err = quoted(path) + " is corrupted (" + found.problem + ")";
    } else if (computed != stored) {
        err = quoted(path) + " is corrupted (checksum mismatch)";
    }
    if (err.empty()) {
        const std::string meta_err = parse_meta(meta_text, &out->meta);
        if (!meta_err.empty()) err = quoted(path) + " is malformed (" + meta_err + ")";
    }
    if (err.empty()) {
        std::set<std::string> seen;
        for (const std::string &name : out->names) {
            if (name.empty()) err = quoted(path) + " is malformed (an array has an empty name)";
            else if (!seen.insert(name).second) err = quoted(path) + " is malformed (duplicate array name " + printable(name) + ")";
            if (!err.empty()) break;
        }
    }
    if (!err.empty()) *out = Checkpoint();
    return err;
}

}  // namespace tools
}  // namespace bitlm
