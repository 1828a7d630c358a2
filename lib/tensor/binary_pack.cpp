// binary_pack.cpp — pack and unpack rows of {-1,+1} weights at one bit each (layout in binary_pack.h).
#include "tensor/binary_pack.h"

namespace bitlm {

void binary_pack_row(const int8_t *signs, uint32_t n, uint8_t *out) {
    const uint32_t full = n / 8;
    for (uint32_t j = 0; j < full; j++) {
        uint32_t byte = 0;
        for (uint32_t i = 0; i < 8; i++) byte |= (uint32_t)(signs[8 * j + i] >= 0) << i;
        out[j] = (uint8_t)byte;
    }
    const uint32_t rest = n % 8;
    if (rest != 0) {  // last partial byte: unused high bits stay zero
        uint32_t byte = 0;
        for (uint32_t i = 0; i < rest; i++) byte |= (uint32_t)(signs[8 * full + i] >= 0) << i;
        out[full] = (uint8_t)byte;
    }
}

void binary_unpack_row(const uint8_t *in, uint32_t n, int8_t *signs) {
    for (uint32_t i = 0; i < n; i++) signs[i] = ((in[i / 8] >> (i % 8)) & 1u) ? (int8_t)1 : (int8_t)-1;
}

}  // namespace bitlm
