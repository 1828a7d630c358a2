// test_crc32.cpp — CRC-32 (zlib) against the standard check values and a bit-at-a-time reference;
// incremental updates compose at every split point.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "core/crc32.h"

using namespace bitlm;

// Bit-at-a-time reference, no table.
static uint32_t ref_crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

int main() {
    CHECK(crc32_update(0, "123456789", 9) == 0xCBF43926u);
    CHECK(crc32_update(0, "", 0) == 0);
    CHECK(crc32_update(0, nullptr, 0) == 0);
    CHECK(crc32_update(0x12345678u, "", 0) == 0x12345678u);  // empty update is the identity
    CHECK(crc32_update(0, "a", 1) == 0xE8B7BE43u);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    CHECK(crc32_update(0, fox, std::strlen(fox)) == 0x414FA339u);
    std::vector<uint8_t> zeros(4096, 0), ones(4096, 0xff);
    CHECK(crc32_update(0, zeros.data(), 32) == 0x190A55ADu);
    CHECK(crc32_update(0, ones.data(), 32) == 0xFF6CAB0Bu);

    std::mt19937 rng(31337);
    std::vector<uint8_t> buf(5000);
    for (auto &b : buf) b = (uint8_t)rng();
    // Every length up to 5000 against the reference.
    int bad = 0;
    for (size_t n = 0; n <= buf.size(); n += (n < 300 ? 1 : 37)) bad += crc32_update(0, buf.data(), n) != ref_crc32(buf.data(), n);
    CHECK(bad == 0);
    // Split at every point (and into many random pieces): same as one call.
    const uint32_t whole = crc32_update(0, buf.data(), 1000);
    bad = 0;
    for (size_t k = 0; k <= 1000; k++) bad += crc32_update(crc32_update(0, buf.data(), k), buf.data() + k, 1000 - k) != whole;
    CHECK(bad == 0);
    uint32_t c = 0;
    size_t pos = 0;
    while (pos < buf.size()) {
        const size_t take = std::min<size_t>(rng() % 97, buf.size() - pos);
        c = crc32_update(c, buf.data() + pos, take);
        pos += take;
    }
    CHECK(c == crc32_update(0, buf.data(), buf.size()));
    // A single flipped bit anywhere changes the checksum.
    bad = 0;
    for (size_t i = 0; i < 1000 * 8; i += 13) {
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
        bad += crc32_update(0, buf.data(), 1000) == whole;
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    CHECK(bad == 0);
    return check::finish("test_crc32");
}
