// crc32.h — CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as zlib/PNG), table in .rodata.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace bitlm {

// Start with crc = 0; feed pieces in order: crc = crc32_update(crc, p, n).
uint32_t crc32_update(uint32_t crc, const void *data, size_t n);

}  // namespace bitlm
