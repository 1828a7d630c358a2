// crc32.cpp — CRC-32 as in zlib/PNG (reflected polynomial 0xEDB88320, init and final xor ~0), one byte
// per step through a 256-entry table that the compiler builds (constexpr) straight into .rodata.
#include "core/crc32.h"

namespace bitlm {

namespace {

struct Crc32Table {
    uint32_t entry[256];
};

constexpr Crc32Table make_crc32_table() {
    Crc32Table t{};
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1u) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
        t.entry[i] = c;
    }
    return t;
}

// constexpr at namespace scope: constant-initialised, no runtime constructor, lives in .rodata.
constexpr Crc32Table kCrc32 = make_crc32_table();
static_assert(kCrc32.entry[1] == 0x77073096u && kCrc32.entry[255] == 0x2D02EF8Du, "CRC-32 table");

}  // namespace

// The pre/post inversion is inside, so crc32_update(crc32_update(0, a), b) == crc32_update(0, a||b).
uint32_t crc32_update(uint32_t crc, const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    uint32_t c = ~crc;
    for (size_t i = 0; i < n; i++) c = kCrc32.entry[(c ^ p[i]) & 0xffu] ^ (c >> 8);
    return ~c;
}

}  // namespace bitlm
