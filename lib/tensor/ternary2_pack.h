// ternary2_pack.h — the in-RAM 2-bit copy of ternary weights (DType::Ternary2), for desktop CPUs whose
// kernels decode it faster than base 3 (bitlm_repack; never stored in an artifact).
//
// Code c = w + 1 in {0, 1, 2}, two bits. A row is blocks of 128 weights in 32 bytes: bits 2k..2k+1 of
// byte j hold weight 32k + j of the block, so code plane k is 32 consecutive weights (one vector of
// activations), taken out with a shift and a mask. The last block is zero-padded (code 0): kernels
// read it against zero activations past the row, so the padding adds nothing.
//
// Why: the AVX2 base-3 GEMV spends ~8 vector ops per 32 weights recovering trits (compute-bound at
// ~40 G weights/s a core here); from two bits it is ~4 (shift, and, maddubs, add). 25% more bytes per
// weight than base 3, so it pays where decode is compute-bound rather than DRAM-bound (the AVX-512
// VNNI kernels read base 3 at the DRAM's rate and do not use it).
#pragma once
#include <stdint.h>
#include "tensor/weights.h"

namespace bitlm {

constexpr uint32_t kTernary2BlockWeights = 128;
constexpr uint32_t kTernary2BlockBytes = 32;

inline uint64_t ternary2_row_bytes(uint64_t cols) {
    return (cols + kTernary2BlockWeights - 1) / kTernary2BlockWeights * kTernary2BlockBytes;
}

// Code of weight i in a Ternary2 row: w + 1.
inline uint32_t ternary2_code(const uint8_t *row, uint32_t i) {
    const uint32_t block = i / kTernary2BlockWeights, in = i % kTernary2BlockWeights;
    return (row[block * kTernary2BlockBytes + in % 32] >> (2 * (in / 32))) & 3u;
}

// Row r of a base-3 tensor (DType::Ternary) as a Ternary2 row of ternary2_row_bytes(cols) bytes.
void ternary2_repack_row(const WeightView &base3, uint32_t r, uint8_t *out);

}  // namespace bitlm
