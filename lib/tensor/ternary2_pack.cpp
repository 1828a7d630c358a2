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
    const uint32_t n = base3.cols;
    for (uint64_t i = 0; i < ternary2_row_bytes(n); i++) out[i] = 0;
    // Whole 160-weight blocks (digit k of byte j = weight 32k + j), then the tail at stride B.
    uint32_t base = 0;
    for (; base + kTernaryBlockWeights <= n; base += kTernaryBlockWeights, bytes += kTernaryBlockBytes)
        for (uint32_t k = 0; k < 5; k++)
            for (uint32_t j = 0; j < kTernaryBlockBytes; j++)
                put_code(out, base + kTernaryBlockBytes * k + j, (uint32_t)(ternary_trit(bytes[j], k) + 1));
    const uint32_t rest = n - base, stride = (rest + 4) / 5;
    for (uint32_t k = 0; k < 5; k++)
        for (uint32_t j = 0; j < stride; j++)
            if (stride * k + j < rest) put_code(out, base + stride * k + j, (uint32_t)(ternary_trit(bytes[j], k) + 1));
}

}  // namespace bitlm
