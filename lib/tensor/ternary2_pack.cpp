// ternary2_pack.cpp — base 3 to the in-RAM 2-bit layout (ternary2_pack.h).
#include "tensor/ternary2_pack.h"
#include "tensor/ternary_pack.h"

namespace bitlm {

namespace {
inline void put_code(uint8_t *out, uint32_t i, uint32_t code) {
    const uint32_t block = i / kTernary2BlockWeights, in = i % kTernary2BlockWeights;
    out[block * kTernary2BlockBytes + in % 32] |= (uint8_t)(code << (2 * (in / 32)));
}
}  // namespace

void ternary2_repack_row(const WeightView &base3, uint32_t r, uint8_t *out) {
    const uint8_t *bytes = base3.data + (uint64_t)r * base3.row_bytes;
    const TernaryShape s = ternary_shape(base3.cols);
    for (uint64_t i = 0; i < ternary2_row_bytes(base3.cols); i++) out[i] = 0;
    int8_t trits[kTernaryBlockWeights];
    for (uint32_t b = 0; b <= s.nfull; b++) {  // the whole blocks, then the tail block
        const uint32_t count = b < s.nfull ? kTernaryBlockWeights : s.rest;
        ternary_unpack_block(bytes + b * kTernaryBlockBytes, count, b < s.nfull ? kTernaryBlockBytes : s.bytes, trits);
        for (uint32_t j = 0; j < count; j++) put_code(out, b * kTernaryBlockWeights + j, (uint32_t)(trits[j] + 1));
    }
}

}  // namespace bitlm
