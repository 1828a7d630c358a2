// test_checkpoint.cpp — the trainer's checkpoint file: bit-exact round trips, the byte layout, writer
// refusals, and clean failures for every truncation, every flipped byte and crafted lying sizes.

#include "temp_dir.h"  // first: it sets the large-file interface (see there)

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "check.h"
#include "train/checkpoint.h"

using namespace bitlm::tools;
using test::TempDir;
using test::read_bytes;
using test::write_bytes;
using test::read_text;
using test::write_text;

namespace {

uint32_t ref_crc32(const uint8_t *p, size_t n) {  // bit at a time, independent of lib/core
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

uint32_t get_u32(const std::vector<uint8_t> &b, size_t at) {
    return (uint32_t)b[at] | ((uint32_t)b[at + 1] << 8) | ((uint32_t)b[at + 2] << 16) | ((uint32_t)b[at + 3] << 24);
}
uint64_t get_u64(const std::vector<uint8_t> &b, size_t at) { return get_u32(b, at) | ((uint64_t)get_u32(b, at + 4) << 32); }
void put_u32(std::vector<uint8_t> &b, uint32_t v) {
    for (int i = 0; i < 4; i++) b.push_back((uint8_t)(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t> &b, uint64_t v) {
    for (int i = 0; i < 8; i++) b.push_back((uint8_t)(v >> (8 * i)));
}
void set_u32(std::vector<uint8_t> &b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; i++) b[at + i] = (uint8_t)(v >> (8 * i));
}

bool contains(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

// ---- crafting files by hand ------------------------------------------------------------------

struct RawArray {
    std::string name;
    uint64_t count;              // as written in the file (may lie)
    std::vector<float> values;   // what actually follows
};

// Builds a checkpoint byte by byte as checkpoint.h documents it, with a correct CRC unless told not to.
std::vector<uint8_t> craft(const std::string &meta, const std::vector<RawArray> &arrays, uint32_t version = 1,
                           int64_t array_count = -1, const std::vector<uint8_t> &trailing = {}) {
    std::vector<uint8_t> b = {'B', 'L', 'M', 'C', 'K', 'P', 'T', 0};
    put_u32(b, version);
    put_u32(b, (uint32_t)meta.size());
    b.insert(b.end(), meta.begin(), meta.end());
    put_u32(b, array_count < 0 ? (uint32_t)arrays.size() : (uint32_t)array_count);
    for (const RawArray &a : arrays) {
        put_u32(b, (uint32_t)a.name.size());
        b.insert(b.end(), a.name.begin(), a.name.end());
        put_u64(b, a.count);
        while (b.size() % 4) b.push_back(0);
        for (float v : a.values) {
            uint32_t bits;
            std::memcpy(&bits, &v, 4);
            put_u32(b, bits);
        }
    }
    b.insert(b.end(), trailing.begin(), trailing.end());
    put_u32(b, ref_crc32(b.data(), b.size()));
    return b;
}

// ---- tests ---------------------------------------------------------------------------------------

bool same_bits(const std::vector<float> &a, const float *b, size_t n) {
    return a.size() == n && (n == 0 || std::memcmp(a.data(), b, n * 4) == 0);
}

void test_roundtrip(const TempDir &dir) {
    const std::string path = dir.file("a.ckpt");
    std::mt19937 rng(7);
    std::vector<float> w(1000), odd = {1.5f, -0.0f, NAN, INFINITY, -INFINITY, 1e-40f, 3.0f};
    for (float &v : w) v = std::uniform_real_distribution<float>(-2, 2)(rng);
    std::vector<float> big(1 << 20);
    for (size_t i = 0; i < big.size(); i++) big[i] = (float)i * 0.25f;
    const std::vector<std::pair<std::string, std::string>> meta = {
        {"step", "100"}, {"config", "dim=64 layers=2"}, {"empty", ""}, {"unicode", "größe ✓"}};
    // Names of lengths 1, 3, 4 and 6 put every padding amount on the way.
    const std::vector<CheckpointArrayRef> arrays = {{"w", w.data(), w.size()},
                                                    {"abc", odd.data(), odd.size()},
                                                    {"none", nullptr, 0},
                                                    {"layer0", big.data(), big.size()}};
    CHECK(write_checkpoint(path, meta, arrays) == "");
    CHECK(dir.entries().size() == 1);  // no temporary left behind

    Checkpoint ck;
    std::string err = read_checkpoint(path, &ck);
    CHECK_MSG(err == "", "%s", err.c_str());
    CHECK(ck.meta == meta);
    CHECK(ck.names == std::vector<std::string>({"w", "abc", "none", "layer0"}));
    CHECK(ck.arrays.size() == 4);
    if (ck.arrays.size() == 4) {
        CHECK(same_bits(ck.arrays[0], w.data(), w.size()));
        CHECK(same_bits(ck.arrays[1], odd.data(), odd.size()));  // NaN, -0 and denormals bit-exact
        CHECK(ck.arrays[2].empty());
        CHECK(same_bits(ck.arrays[3], big.data(), big.size()));
    }
    CHECK(ck.find_meta("step") && *ck.find_meta("step") == "100");
    CHECK(ck.find_meta("empty") && ck.find_meta("empty")->empty());
    CHECK(ck.find_meta("nope") == nullptr);
    CHECK(ck.find_array("abc") == &ck.arrays[1]);
    CHECK(ck.find_array("nope") == nullptr);

    // The bytes are the documented layout.
    const std::vector<uint8_t> b = read_bytes(path);
    CHECK(b.size() > 28 && std::memcmp(b.data(), "BLMCKPT\0", 8) == 0);
    CHECK(get_u32(b, 8) == 1);
    const uint32_t meta_bytes = get_u32(b, 12);
    CHECK(std::string(b.begin() + 16, b.begin() + 16 + meta_bytes) ==
          "step=100\nconfig=dim=64 layers=2\nempty=\nunicode=größe ✓\n");
    size_t at = 16 + meta_bytes;
    CHECK(get_u32(b, at) == 4);
    at += 4;
    bool layout_ok = true;
    for (const CheckpointArrayRef &a : arrays) {
        layout_ok &= get_u32(b, at) == a.name.size();
        at += 4;
        layout_ok &= std::string(b.begin() + at, b.begin() + at + a.name.size()) == a.name;
        at += a.name.size();
        layout_ok &= get_u64(b, at) == a.count;
        at += 8;
        while (at % 4) layout_ok &= b[at++] == 0;
        layout_ok &= a.count == 0 || std::memcmp(&b[at], a.data, a.count * 4) == 0;
        at += a.count * 4;
    }
    CHECK(layout_ok);
    CHECK(at + 4 == b.size());
    CHECK(get_u32(b, at) == ref_crc32(b.data(), at));
    // The hand-crafted equivalent is byte-identical.
    std::vector<RawArray> raw;
    for (const CheckpointArrayRef &a : arrays) raw.push_back({a.name, a.count, std::vector<float>(a.data, a.data + a.count)});
    CHECK(craft("step=100\nconfig=dim=64 layers=2\nempty=\nunicode=größe ✓\n", raw) == b);

    // Overwriting replaces the whole file; an empty checkpoint is legal.
    CHECK(write_checkpoint(path, {}, {}) == "");
    CHECK(read_bytes(path).size() == 24);
    CHECK(read_checkpoint(path, &ck) == "" && ck.meta.empty() && ck.names.empty() && ck.arrays.empty());
    CHECK(dir.entries().size() == 1);
}

void test_writer_refusals(const TempDir &dir) {
    const std::string path = dir.file("refused.ckpt");
    const float x[2] = {1, 2};
    struct Case {
        std::vector<std::pair<std::string, std::string>> meta;
        std::vector<CheckpointArrayRef> arrays;
        const char *message;
    };
    const std::vector<Case> cases = {
        {{{"a=b", "1"}}, {}, "checkpoint metadata key 'a=b' contains '='"},
        {{{"a\nb", "1"}}, {}, "contains a newline"},
        {{{"a", "1\n2"}}, {}, "checkpoint metadata value of 'a' contains a newline"},
        {{{"", "1"}}, {}, "checkpoint metadata key is empty"},
        {{{"a", "1"}, {"a", "2"}}, {}, "duplicate checkpoint metadata key 'a'"},
        {{}, {{"w", x, 2}, {"w", x, 1}}, "duplicate checkpoint array name 'w'"},
        {{}, {{"", x, 2}}, "checkpoint array name is empty"},
        {{}, {{"w", nullptr, 2}}, "has no data"},
        {{}, {{"w", x, UINT64_MAX / 2}}, "is too large"},
    };
    for (size_t i = 0; i < cases.size(); i++) {
        const std::string err = write_checkpoint(path, cases[i].meta, cases[i].arrays);
        CHECK_MSG(contains(err, cases[i].message) && err.find("cannot write '" + path + "': ") == 0, "case %zu: %s", i,
                  err.c_str());
    }
    CHECK(dir.entries().empty());  // nothing written, no temporaries
    CHECK(write_checkpoint(dir.file("no/such/dir.ckpt"), {}, {}) != "");
    CHECK(write_checkpoint(dir.path, {}, {}) != "");  // a directory
}

// A small checkpoint and which of its bytes are size fields (a flip there may read as truncation).
struct Small {
    std::vector<uint8_t> bytes;
    std::set<size_t> size_fields;
};
Small small_checkpoint(const TempDir &dir) {
    const std::string path = dir.file("small.ckpt");
    const float w[3] = {1.0f, -2.5f, 0.125f}, v[1] = {42.0f};
    write_checkpoint(path, {{"step", "5"}, {"lr", "0.001"}}, {{"wq", w, 3}, {"m.w", v, 1}, {"e", nullptr, 0}});
    Small s;
    s.bytes = read_bytes(path);
    unlink(path.c_str());
    const std::vector<uint8_t> &b = s.bytes;
    for (size_t i = 12; i < 16; i++) s.size_fields.insert(i);  // meta_bytes
    size_t at = 16 + get_u32(b, 12);
    for (size_t i = at; i < at + 4; i++) s.size_fields.insert(i);  // array_count
    at += 4;
    for (int a = 0; a < 3; a++) {
        const uint32_t name_len = get_u32(b, at);
        for (size_t i = at; i < at + 4; i++) s.size_fields.insert(i);
        at += 4 + name_len;
        const uint64_t count = get_u64(b, at);
        for (size_t i = at; i < at + 8; i++) s.size_fields.insert(i);
        at += 8;
        while (at % 4) at++;
        at += count * 4;
    }
    CHECK(at + 4 == b.size());
    return s;
}

void test_truncation_and_flips(const TempDir &dir) {
    const Small s = small_checkpoint(dir);
    const std::string path = dir.file("cut.ckpt");
    Checkpoint ck;
    write_bytes(path, s.bytes);
    CHECK(read_checkpoint(path, &ck) == "" && ck.arrays.size() == 3);

    // Every prefix fails cleanly and says so.
    int unclean = 0;
    for (size_t n = 0; n < s.bytes.size(); n++) {
        write_bytes(path, s.bytes.data(), n);
        ck.names.assign(1, "stale");
        const std::string err = read_checkpoint(path, &ck);
        const bool ok = n == 0 ? err == "'" + path + "' is empty"
                               : err.find("'" + path + "' is truncated or corrupted (") == 0;
        if (!ok || !ck.names.empty() || !ck.arrays.empty()) {
            unclean++;
            if (unclean < 5) std::printf("  prefix %zu: %s\n", n, err.c_str());
        }
    }
    CHECK(unclean == 0);
    // A longer file (bytes appended after the CRC) fails too.
    std::vector<uint8_t> longer = s.bytes;
    longer.push_back(0);
    write_bytes(path, longer);
    CHECK(read_checkpoint(path, &ck) == "'" + path + "' is corrupted (1 unexpected byte after the last array)");
    CHECK(ck.arrays.empty());

    // Every flipped byte fails; outside the magic, version and size fields it is the checksum that says so.
    int missed = 0, wrong_message = 0;
    for (size_t i = 0; i < s.bytes.size(); i++)
        for (uint8_t mask : {0x01, 0x80, 0xff}) {
            std::vector<uint8_t> b = s.bytes;
            b[i] ^= mask;
            write_bytes(path, b);
            const std::string err = read_checkpoint(path, &ck);
            if (err.empty() || !ck.arrays.empty()) missed++;
            std::string expect;
            if (i < 8) expect = "' is not a bitlm checkpoint";
            else if (i < 12) expect = "checkpoint version";
            else if (!s.size_fields.count(i)) expect = "' is corrupted (checksum mismatch)";
            else expect = "'" + path + "' is";
            if (!contains(err, expect)) {
                wrong_message++;
                if (wrong_message < 5) std::printf("  flip byte %zu by %02x: %s\n", i, mask, err.c_str());
            }
        }
    CHECK(missed == 0);
    CHECK(wrong_message == 0);
}

void test_crafted(const TempDir &dir) {
    const std::string path = dir.file("crafted.ckpt");
    Checkpoint ck;
    auto read_crafted = [&](const std::vector<uint8_t> &b) {
        write_bytes(path, b);
        ck.names.assign(1, "stale");
        std::string err = read_checkpoint(path, &ck);
        if (!err.empty() && (!ck.names.empty() || !ck.arrays.empty() || !ck.meta.empty())) err += " [output not cleared]";
        return err;
    };
    const std::string P = "'" + path + "'";
    // The crafter matches the writer.
    CHECK(read_crafted(craft("a=1\n", {{"x", 2, {1, 2}}})) == "");
    CHECK(ck.find_array("x") && ck.find_array("x")->size() == 2 && (*ck.find_array("x"))[1] == 2.0f);

    struct Case {
        std::vector<uint8_t> bytes;
        std::string message;
    };
    std::vector<Case> cases = {
        // Sizes that lie, under a valid checksum: malformed, and nothing is allocated for them.
        {craft("", {{"x", 2, {1, 2}}}, 1, 0xffffffff),
         P + " is malformed (array #1's name length runs past the end of the file)"},
        {craft("", {{"x", 1ull << 62, {1, 2}}}), P + " is malformed (array 'x' of 4611686018427387904 floats runs past the end of the file)"},
        {craft("", {{"x", UINT64_MAX, {1, 2}}}), P + " is malformed (array 'x' of 18446744073709551615 floats runs past the end of the file)"},
        {craft("", {{"x", 3, {1, 2}}}), P + " is malformed (array 'x' of 3 floats runs past the end of the file)"},
        {craft("", {{"x", 1, {1, 2}}}), P + " is malformed (4 unexpected bytes after the last array)"},
        {craft("", {{"x", 2, {1, 2}}}, 1, -1, {0, 0}), P + " is malformed (2 unexpected bytes after the last array)"},
        {craft("", {{"x", 2, {1, 2}}}, 1, 0), P + " is malformed (24 unexpected bytes after the last array)"},
        {craft("", {{"x", 1, {1}}, {"x", 1, {2}}}), P + " is malformed (duplicate array name 'x')"},
        {craft("", {{"", 1, {1}}}), P + " is malformed (an array has an empty name)"},
        {craft("a=1\nnoequals\n", {}), P + " is malformed (metadata line 2 is not key=value)"},
        {craft("a=1", {}), P + " is malformed (metadata line 1 has no newline)"},
        {craft("=1\n", {}), P + " is malformed (metadata line 1 has an empty key)"},
        {craft("a=1\na=2\n", {}), P + " is malformed (duplicate metadata key 'a')"},
        // Versions and magic.
        {craft("", {}, 2), P + " has checkpoint version 2, newer than this build reads (1)"},
        {craft("", {}, 0xffffffff), P + " has checkpoint version 4294967295, newer than this build reads (1)"},
        {craft("", {}, 0), P + " has unsupported checkpoint version 0"},
        {{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'}, P + " is not a bitlm checkpoint"},
        {{'B', 'L', 'M'}, P + " is truncated or corrupted (3 bytes, shorter than a checkpoint header)"},
        {{'X'}, P + " is not a bitlm checkpoint"},
    };
    {
        // meta_bytes and a name length far beyond the file, with a valid checksum.
        std::vector<uint8_t> b = craft("a=1\n", {});
        set_u32(b, 12, 0xfffffff0);
        b.resize(b.size() - 4);
        put_u32(b, ref_crc32(b.data(), b.size()));
        cases.push_back({b, P + " is malformed (the metadata (4294967280 bytes) runs past the end of the file)"});
        b = craft("", {{"xyz", 0, {}}});
        set_u32(b, 20, 0x7fffffff);
        b.resize(b.size() - 4);
        put_u32(b, ref_crc32(b.data(), b.size()));
        cases.push_back({b, P + " is malformed (array #0's name (2147483647 bytes) runs past the end of the file)"});
        // The same lie without fixing the checksum reads as truncation-or-corruption.
        b = craft("", {{"x", 2, {1, 2}}});
        b[25] = 0x10;  // the count's low byte: 2 -> 16
        cases.push_back({b, P + " is truncated or corrupted (array 'x' of 16 floats runs past the end of the file)"});
        // A non-printable name is shown safely.
        cases.push_back({craft("", {{"a\nb", 5, {}}}), P + " is malformed (array 'a?b' of 5 floats runs past the end of the file)"});
    }
    for (size_t i = 0; i < cases.size(); i++) {
        const std::string err = read_crafted(cases[i].bytes);
        CHECK_MSG(err == cases[i].message, "case %zu: %s", i, err.c_str());
    }

    // File-level errors.
    std::string err = read_checkpoint(dir.file("missing.ckpt"), &ck);
    CHECK_MSG(err.find("cannot open '" + dir.file("missing.ckpt") + "'") == 0, "%s", err.c_str());
    err = read_checkpoint(dir.path, &ck);
    CHECK_MSG(err == "'" + dir.path + "' is a directory, not a file", "%s", err.c_str());
    CHECK(read_checkpoint("", &ck) != "");
    unlink(path.c_str());
}

}  // namespace

int main() {
    TempDir dir("checkpoint");
    CHECK(!dir.path.empty());
    if (dir.path.empty()) return check::finish("test_checkpoint");
    test_roundtrip(dir);
    unlink(dir.file("a.ckpt").c_str());
    test_writer_refusals(dir);
    test_truncation_and_flips(dir);
    unlink(dir.file("cut.ckpt").c_str());
    test_crafted(dir);
    return check::finish("test_checkpoint");
}
