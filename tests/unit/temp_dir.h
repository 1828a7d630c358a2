// temp_dir.h — a scratch directory for host tests (removed with everything in it) and whole-file
// byte helpers; shared by the trainer's file tests (data, checkpoint, log).
// Include first in a test that uses it: 32-bit Linux targets (armv7 under qemu-user) fail readdir
// with EOVERFLOW on 64-bit inode numbers unless the large-file interface is used.
#pragma once
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace test {

class TempDir {
public:
    // A new directory /tmp/bitlm_test_<tag>_XXXXXX (path() is "" if it could not be made).
    explicit TempDir(const char *tag) {
        std::string tmpl = std::string("/tmp/bitlm_test_") + tag + "_XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        const char *p = mkdtemp(buf.data());
        path = p ? p : "";
    }
    ~TempDir() {
        if (!path.empty()) remove_tree(path);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    std::string file(const char *name) const { return path + "/" + name; }
    // Names in the directory (not . and ..), e.g. to see that no temporary file was left behind.
    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        if (DIR *d = opendir(path.c_str())) {
            while (dirent *e = readdir(d))
                if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) out.push_back(e->d_name);
            closedir(d);
        }
        return out;
    }

    std::string path;

private:
    static void remove_tree(const std::string &dir) {
        if (DIR *d = opendir(dir.c_str())) {
            while (dirent *e = readdir(d)) {
                const std::string name = e->d_name;
                if (name == "." || name == "..") continue;
                const std::string full = dir + "/" + name;
                struct stat st;
                if (lstat(full.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
                    remove_tree(full);
                else
                    unlink(full.c_str());
            }
            closedir(d);
        }
        rmdir(dir.c_str());
    }
};

inline std::vector<uint8_t> read_bytes(const std::string &path) {
    std::vector<uint8_t> out;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return out;
    uint8_t buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
    std::fclose(f);
    return out;
}

inline void write_bytes(const std::string &path, const uint8_t *p, size_t n) {
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) return;
    if (n) std::fwrite(p, 1, n, f);
    std::fclose(f);
}
inline void write_bytes(const std::string &path, const std::vector<uint8_t> &b) { write_bytes(path, b.data(), b.size()); }

inline std::string read_text(const std::string &path) {
    const std::vector<uint8_t> b = read_bytes(path);
    return std::string(b.begin(), b.end());
}
inline void write_text(const std::string &path, const std::string &text) {
    write_bytes(path, (const uint8_t *)text.data(), text.size());
}

}  // namespace test
