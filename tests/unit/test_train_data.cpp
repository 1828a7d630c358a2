// test_train_data.cpp — the trainer's data: token shard detection (hand-built and malformed shards),
// the text fallback, every load/fit error message, the train/val split and the batch sampler.

#include "temp_dir.h"  // first: it sets the large-file interface (see there)

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "train/data.h"

using namespace bitlm::tools;
using test::TempDir;
using test::read_bytes;
using test::write_bytes;
using test::read_text;
using test::write_text;

namespace {

void put_i32(std::vector<uint8_t> &b, size_t at, int32_t v) {
    for (int i = 0; i < 4; i++) b[at + i] = (uint8_t)((uint32_t)v >> (8 * i));
}

// A shard as the README describes it; `claimed`/`version` override the header for malformed ones.
std::vector<uint8_t> make_shard(const std::vector<uint16_t> &tokens, int32_t version = 1, int64_t claimed = INT64_MIN) {
    std::vector<uint8_t> b(1024 + 2 * tokens.size(), 0);
    put_i32(b, 0, 20240520);
    put_i32(b, 4, version);
    put_i32(b, 8, claimed == INT64_MIN ? (int32_t)tokens.size() : (int32_t)claimed);
    for (size_t i = 0; i < tokens.size(); i++) {
        b[1024 + 2 * i] = (uint8_t)tokens[i];
        b[1024 + 2 * i + 1] = (uint8_t)(tokens[i] >> 8);
    }
    return b;
}

bool contains(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

// ---- loading -----------------------------------------------------------------------------------

void test_shards(const TempDir &dir) {
    const std::vector<uint16_t> tokens = {1, 500, 65535, 0, 7, 1023};
    const std::string path = dir.file("ok.bin");
    std::vector<uint8_t> shard = make_shard(tokens);
    shard[100] = 0xAB;  // the header's unused words are not checked
    write_bytes(path, shard);
    TokenData d;
    CHECK(load_tokens(path, &d) == "");
    CHECK(!d.bytes);
    CHECK(d.tokens == tokens);
    CHECK(d.max_token == 65535);
    CHECK(d.path == path);

    // A longer shard, little-endian order of every token.
    std::vector<uint16_t> many(3000);
    for (size_t i = 0; i < many.size(); i++) many[i] = (uint16_t)(i * 2654435761u >> 7);
    write_bytes(path, make_shard(many));
    CHECK(load_tokens(path, &d) == "");
    CHECK(d.tokens == many);

    struct Bad {
        std::vector<uint8_t> bytes;
        std::string message;
    };
    std::vector<Bad> bad;
    {
        std::vector<uint8_t> b = make_shard({});
        b.resize(100);
        bad.push_back({b, "': token shard is shorter than its 1024-byte header (100 bytes)"});
    }
    {
        std::vector<uint8_t> b(4, 0);
        put_i32(b, 0, 20240520);
        bad.push_back({b, "': token shard is shorter than its 1024-byte header (4 bytes)"});
    }
    bad.push_back({make_shard(tokens, 2), "': unsupported shard version 2"});
    bad.push_back({make_shard(tokens, 0), "': unsupported shard version 0"});
    bad.push_back({make_shard(tokens, 1, 10), "': token shard header says 10 tokens but the file holds 6"});
    bad.push_back({make_shard(tokens, 1, 5), "': token shard header says 5 tokens but the file holds 6"});
    bad.push_back({make_shard(tokens, 1, -3), "': token shard header says -3 tokens but the file holds 6"});
    {
        std::vector<uint8_t> b = make_shard(tokens);
        b.push_back(9);
        bad.push_back({b, "': token shard header says 6 tokens but the file holds 6 and a stray byte"});
    }
    bad.push_back({make_shard({}), "' is an empty token shard (0 tokens)"});
    for (size_t i = 0; i < bad.size(); i++) {
        write_bytes(path, bad[i].bytes);
        d.tokens.assign(3, 1);
        const std::string err = load_tokens(path, &d);
        CHECK_MSG(err == "'" + path + bad[i].message, "case %zu: %s", i, err.c_str());
        CHECK(d.tokens.empty());
    }
}

void test_text(const TempDir &dir) {
    const std::string path = dir.file("text.txt");
    const std::vector<uint8_t> text = {'h', 'i', '\n', 0xff, 0x00, 'z'};
    write_bytes(path, text);
    TokenData d;
    CHECK(load_tokens(path, &d) == "");
    CHECK(d.bytes);
    CHECK(d.max_token == 255);
    CHECK(d.tokens.size() == text.size());
    bool same = d.tokens.size() == text.size();
    for (size_t i = 0; same && i < text.size(); i++) same = d.tokens[i] == text[i];
    CHECK(same);

    // Shorter than the magic, or the magic's first bytes only: text.
    write_bytes(path, {'a', 'b'});
    CHECK(load_tokens(path, &d) == "" && d.bytes && d.tokens.size() == 2 && d.max_token == 'b');
    write_bytes(path, {0x48, 0xD6, 0x34});  // 20240520 = 0x0134D648, little-endian, minus its last byte
    CHECK(load_tokens(path, &d) == "" && d.bytes && d.tokens.size() == 3);
    // A big file whose size matches a shard but whose first word is not the magic: text.
    std::vector<uint8_t> b = make_shard({1, 2, 3});
    b[0] ^= 1;
    write_bytes(path, b);
    CHECK(load_tokens(path, &d) == "" && d.bytes && d.tokens.size() == b.size());
}

void test_file_errors(const TempDir &dir) {
    TokenData d;
    const std::string missing = dir.file("missing.txt");
    std::string err = load_tokens(missing, &d);
    CHECK_MSG(contains(err, "cannot open '" + missing + "'"), "%s", err.c_str());
    const std::string sub = dir.file("subdir");
    mkdir(sub.c_str(), 0755);
    err = load_tokens(sub, &d);
    CHECK_MSG(contains(err, "'" + sub + "' is a directory"), "%s", err.c_str());
    const std::string empty = dir.file("empty.txt");
    write_bytes(empty, {});
    err = load_tokens(empty, &d);
    CHECK_MSG(err == "'" + empty + "' is empty", "%s", err.c_str());
    CHECK(load_tokens("", &d) != "");
}

// ---- split and fit -----------------------------------------------------------------------------

void test_split() {
    DataSplit s = split_train_val(1000, 0.1);
    CHECK(s.train_begin == 0 && s.train_end == 900 && s.val_begin == 900 && s.val_end == 1000);
    s = split_train_val(1000, 0.0);
    CHECK(s.train_begin == 0 && s.train_end == 1000 && s.val_begin == 1000 && s.val_end == 1000);
    s = split_train_val(7, 0.5);  // floor(3.5)
    CHECK(s.train_end == 3 && s.val_begin == 3 && s.val_end == 7);
    s = split_train_val(1000, 1.0);
    CHECK(s.train_end == 0 && s.val_begin == 0 && s.val_end == 1000);
    s = split_train_val(1000, 2.0);
    CHECK(s.train_end == 0 && s.val_end == 1000);
    s = split_train_val(1000, -0.5);
    CHECK(s.train_end == 1000 && s.val_begin == 1000);
    s = split_train_val(1000, std::nan(""));
    CHECK(s.train_end == 1000 && s.val_begin == 1000);
    s = split_train_val(0, 0.1);
    CHECK(s.train_end == 0 && s.val_begin == 0 && s.val_end == 0);
    // The ranges always tile [0, n).
    for (size_t n = 0; n < 200; n += 7)
        for (double f : {0.01, 0.1, 0.33, 0.9}) {
            s = split_train_val(n, f);
            CHECK(s.train_begin == 0 && s.train_end == s.val_begin && s.val_end == n);
        }
}

void test_fits() {
    TokenData d;
    d.path = "data.bin";
    d.tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9, 300};
    d.max_token = 300;
    CHECK(check_data_fits(d, 0, 9, 8, 256, "training") == "");  // 9 tokens, sequence of 9: fits
    CHECK(check_data_fits(d, 0, 9, 9, 256, "training") ==
          "training data has 9 tokens, shorter than one sequence of 10 (seq_len + 1)");
    CHECK(check_data_fits(d, 5, 7, 4, 1024, "validation") ==
          "validation data has 2 tokens, shorter than one sequence of 5 (seq_len + 1)");
    CHECK(check_data_fits(d, 0, 10, 4, 256, "training") ==
          "token 300 in 'data.bin' is out of range for vocab 256 (position 9)");
    CHECK(check_data_fits(d, 0, 10, 4, 301, "training") == "");
    CHECK(check_data_fits(d, 0, 10, 4, 300, "training") != "");  // vocab 300 holds 0..299
    CHECK(check_data_fits(d, 0, 11, 4, 1024, "training").find("internal error") == 0);
    CHECK(check_data_fits(d, 6, 5, 1, 1024, "training").find("internal error") == 0);

    TokenData text;
    text.path = "t.txt";
    text.bytes = true;
    text.tokens = {'a', 'b', 200, 'c'};
    text.max_token = 200;
    CHECK(check_data_fits(text, 0, 4, 2, 128, "training") ==
          "token 200 in 't.txt' is out of range for vocab 128 (position 2); a text file's tokens are its bytes");
    CHECK(check_data_fits(text, 3, 4, 0, 128, "validation") == "");  // only the range is checked
    CHECK(check_data_fits(text, 0, 4, 3, 256, "training") == "");
}

// ---- batches -----------------------------------------------------------------------------------

// The offset function exactly as data.h documents it, written out independently.
uint64_t doc_mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
size_t doc_offset(size_t begin, size_t end, uint64_t seed, uint64_t step, uint64_t b, uint32_t seq_len) {
    const uint64_t starts = end - begin - seq_len;
    const uint64_t key = doc_mix64(doc_mix64(doc_mix64(seed) ^ step) ^ b);
    // 2^64 mod starts, computed the long way.
    const uint64_t rem = (uint64_t)((UINT64_MAX % starts + 1) % starts);
    for (uint64_t k = 0;; k++) {
        const uint64_t r = doc_mix64(key + k);
        if (r >= rem) return begin + r % starts;
    }
}

void test_batches() {
    // Token i is i (mod 2^16): a row's first token gives its offset, and rows must be consecutive.
    const size_t n = 50000;
    std::vector<uint16_t> tokens(n);
    for (size_t i = 0; i < n; i++) tokens[i] = (uint16_t)i;
    const uint32_t T = 16, B = 8;
    std::vector<int32_t> a(B * (T + 1)), b(B * (T + 1)), c(B * (T + 1));

    draw_batch(tokens.data(), 0, 40000, 42, 7, B, T, a.data());
    draw_batch(tokens.data(), 0, 40000, 42, 7, B, T, b.data());
    CHECK(a == b);  // deterministic
    draw_batch(tokens.data(), 0, 40000, 42, 8, B, T, c.data());
    CHECK(a != c);  // the step matters
    draw_batch(tokens.data(), 0, 40000, 43, 7, B, T, c.data());
    CHECK(a != c);  // the seed matters
    bool rows_ok = true, rows_differ = false;
    for (uint32_t r = 0; r < B; r++) {
        const int32_t *row = &a[r * (T + 1)];
        const size_t off = batch_offset(0, 40000, 42, 7, r, T);
        rows_ok &= row[0] == (int32_t)(uint16_t)off;
        for (uint32_t t = 0; t < T; t++) rows_ok &= row[t + 1] == (int32_t)(uint16_t)(row[t] + 1);
        if (r) rows_differ |= row[0] != a[0];
    }
    CHECK(rows_ok);
    CHECK(rows_differ);
    // Row b does not depend on the batch size.
    std::vector<int32_t> small(3 * (T + 1));
    draw_batch(tokens.data(), 0, 40000, 42, 7, 3, T, small.data());
    CHECK(std::equal(small.begin(), small.end(), a.begin()));

    // The code is the documented function, everywhere (including large seeds and steps).
    int mismatches = 0;
    const uint64_t seeds[] = {0, 1, 42, 0xffffffffffffffffull, 0x123456789abcdefull};
    for (uint64_t seed : seeds)
        for (uint64_t step = 0; step < 40; step += 3)
            for (uint32_t r = 0; r < 5; r++) {
                mismatches += batch_offset(0, 40000, seed, step, r, T) != doc_offset(0, 40000, seed, step, r, T);
                mismatches += batch_offset(1000, 1017, seed, step, r, T) != doc_offset(1000, 1017, seed, step, r, T);
                mismatches += batch_offset(123, 45678, seed, step << 40, r, 255) !=
                              doc_offset(123, 45678, seed, step << 40, r, 255);
            }
    CHECK(mismatches == 0);

    // Offsets stay in [begin, end - T - 1] (a validation range not starting at 0 included) and, with
    // few possible starts, cover all of them about equally.
    const size_t begin = 45000, end = begin + T + 1 + 9;  // 10 possible starts
    std::vector<int> hits(10, 0);
    bool in_range = true;
    for (uint64_t step = 0; step < 2000; step++) {
        draw_batch(tokens.data(), begin, end, 5, step, B, T, a.data());
        for (uint32_t r = 0; r < B; r++) {
            const size_t off = (size_t)a[r * (T + 1)];  // token i is i below 65536
            in_range &= off >= begin && off + T + 1 <= end;
            if (off >= begin && off < begin + 10) hits[off - begin]++;
        }
    }
    CHECK(in_range);
    for (int h : hits) CHECK_MSG(h > 1600 * 0.85 && h < 1600 * 1.15, "hits %d of about 1600", h);

    // Exactly one sequence: the only offset is begin.
    for (uint64_t step = 0; step < 50; step++) CHECK(batch_offset(300, 300 + T + 1, 9, step, 0, T) == 300);
    draw_batch(tokens.data(), 300, 300 + T + 1, 9, 3, 2, T, a.data());
    CHECK(a[0] == 300 && a[T] == 300 + (int32_t)T && a[T + 1] == 300);

    // Broken precondition: zeros, no out-of-range read.
    std::fill(a.begin(), a.end(), 7);
    draw_batch(tokens.data(), 10, 20, 1, 1, B, T, a.data());
    bool zeros = true;
    for (int32_t v : a) zeros &= v == 0;
    CHECK(zeros);
}

}  // namespace

int main() {
    TempDir dir("train_data");
    CHECK(!dir.path.empty());
    if (dir.path.empty()) return check::finish("test_train_data");
    test_shards(dir);
    test_text(dir);
    test_file_errors(dir);
    test_split();
    test_fits();
    test_batches();
    return check::finish("test_train_data");
}
