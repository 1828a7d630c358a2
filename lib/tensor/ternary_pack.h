// ternary_pack.h — base-3 packing of ternary weights: five trits per byte, 1.6 bits per weight.
//
// Byte encoding: trits t0..t4 in {-1,0,+1} become digits d = t+1 in {0,1,2};
//   v = d0*81 + d1*27 + d2*9 + d3*3 + d4   (0..242),   byte q = ceil(v * 256 / 243).
// Digit k is recovered with one 8-bit multiply and a shift, no division (SIMD-friendly):
//   d_k = ((uint8_t)(q * 3^k) * 3) >> 8.
//
// Layout of a row of n weights: exactly ceil(n/5) bytes. Whole blocks of 160 weights take 32 bytes,
// where digit k of byte j holds weight 32k+j of the block (so digit plane k is 32 consecutive
// weights: one vector load of activations). The last r = n % 160 weights form a tail block of
// B = ceil(r/5) bytes with the same interleave at stride B (digit k of byte j = tail weight Bk+j);
// unused tail positions hold digit 1 (weight 0).
#pragma once
#include <stdint.h>

namespace bitlm {

constexpr uint32_t kTernaryBlockWeights = 160;
constexpr uint32_t kTernaryBlockBytes = 32;

// Bytes of a packed row of n weights: ceil(n/5).
inline uint64_t ternary_packed_bytes(uint64_t n) { return (n + 4) / 5; }

// Digit k (0..4) of a packed byte, as a trit in {-1,0,+1}. Any byte value decodes to valid trits.
inline int32_t ternary_trit(uint8_t q, uint32_t k) {
    static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    const uint8_t t = (uint8_t)(q * kPow3[k]);
    return (int32_t)(((uint32_t)t * 3u) >> 8) - 1;
}

// Encode five trits (t[0] is digit 0, the most significant).
uint8_t ternary_encode5(const int8_t t[5]);

// Byte index and digit of weight i (< n) in a packed row of n weights.
void ternary_locate(uint32_t n, uint32_t i, uint32_t *byte_index, uint32_t *digit);

// A row of n weights as the kernels walk it: whole 160-weight blocks, then the tail block.
struct TernaryShape {
    uint32_t nfull;  // whole blocks
    uint32_t base;   // first tail weight (160 * nfull)
    uint32_t rest;   // tail weights (n % 160)
    uint32_t bytes;  // tail bytes B = ceil(rest / 5)
};
// Not inline, like every helper the ISA-specific kernel files share: an inline copy compiled with
// AVX-512 flags could be the one the linker keeps for the AVX2 table too.
TernaryShape ternary_shape(uint32_t n);

// The activations of the tail block's five digit planes, zero-padded to 32 lanes:
// planes[k][j] = x[base + B*k + j] where B*k + j < rest, else 0. With them the tail is one more
// block for a SIMD kernel (zero activations cancel whatever digits the padding lanes hold).
void ternary_tail_planes(const TernaryShape &s, const int8_t *x, int8_t planes[5][32]);

// Pack n trits (each -1, 0 or +1) into ceil(n/5) bytes; unpack the reverse. Values outside
// {-1,0,+1} are clamped by sign.
void ternary_pack_row(const int8_t *trits, uint32_t n, uint8_t *out);
void ternary_unpack_row(const uint8_t *in, uint32_t n, int8_t *trits);
// One interleaved block of `count` weights in `bytes` bytes (digit k of byte j = weight bytes*k + j)
// into trits[0, count): a whole block is count 160 in 32 bytes, the tail block s.rest in s.bytes.
void ternary_unpack_block(const uint8_t *in, uint32_t count, uint32_t bytes, int8_t *trits);

}  // namespace bitlm
