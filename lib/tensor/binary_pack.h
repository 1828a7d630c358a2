// binary_pack.h — one bit per weight: bit i of byte j is weight 8j+i, 1 = +1, 0 = -1.
// A row of n weights takes ceil(n/8) bytes; unused high bits of the last byte are zero.
#pragma once
#include <stdint.h>

namespace bitlm {

inline uint64_t binary_packed_bytes(uint64_t n) { return (n + 7) / 8; }

// Pack signs: weight >= 0 (as int8: +1) becomes bit 1, negative becomes bit 0.
void binary_pack_row(const int8_t *signs, uint32_t n, uint8_t *out);
// Unpack to -1/+1.
void binary_unpack_row(const uint8_t *in, uint32_t n, int8_t *signs);

}  // namespace bitlm
