// ternary_pack.cpp — pack and unpack rows of ternary weights, five base-3 digits per byte, in the
// block-interleaved layout of ternary_pack.h (160-weight blocks of 32 bytes, then a tail block).
#include "tensor/ternary_pack.h"

#include "core/bytes.h"

namespace bitlm {

namespace {

// A trit (any int8; clamped by sign) as a base-3 digit 0, 1 or 2.
inline uint32_t digit_of(int8_t t) { return t > 0 ? 2u : (t < 0 ? 0u : 1u); }

// Five digits (d[0] most significant) -> byte. ceil(v*256/243) makes the multiply-shift decode of
// ternary_trit exact for all 243 values (tested exhaustively).
inline uint8_t encode_digits(const uint32_t d[5]) {
    const uint32_t v = (((d[0] * 3u + d[1]) * 3u + d[2]) * 3u + d[3]) * 3u + d[4];
    return (uint8_t)((v * 256u + 242u) / 243u);
}

// One interleaved block of `count` weights in `bytes` bytes: digit k of byte j = weight bytes*k + j;
// positions at or past `count` get digit 1 (weight 0). Whole blocks use bytes = 32, count = 160.
void pack_block(const int8_t *trits, uint32_t count, uint32_t bytes, uint8_t *out) {
    for (uint32_t j = 0; j < bytes; j++) {
        uint32_t d[5];
        for (uint32_t k = 0; k < 5; k++) {
            const uint32_t i = bytes * k + j;
            d[k] = i < count ? digit_of(trits[i]) : 1u;
        }
        out[j] = encode_digits(d);
    }
}

}  // namespace

void ternary_unpack_block(const uint8_t *in, uint32_t count, uint32_t bytes, int8_t *trits) {
    for (uint32_t j = 0; j < bytes; j++) {
        for (uint32_t k = 0; k < 5; k++) {
            const uint32_t i = bytes * k + j;
            if (i < count) trits[i] = (int8_t)ternary_trit(in[j], k);
        }
    }
}

uint8_t ternary_encode5(const int8_t t[5]) {
    const uint32_t d[5] = {digit_of(t[0]), digit_of(t[1]), digit_of(t[2]), digit_of(t[3]), digit_of(t[4])};
    return encode_digits(d);
}

TernaryShape ternary_shape(uint32_t n) {
    TernaryShape s;
    s.nfull = n / kTernaryBlockWeights;
    s.base = s.nfull * kTernaryBlockWeights;
    s.rest = n - s.base;
    s.bytes = (s.rest + 4) / 5;
    return s;
}

// Zero everything, then copy each plane's run: the GEMV kernels call this once per row range (per
// 64-row task), where a test per element cost ~4% of a decode step.
void ternary_tail_planes(const TernaryShape &s, const int8_t *x, int8_t planes[5][32]) {
    zero_bytes(planes, 5 * 32);
    for (uint32_t k = 0; k < 5 && s.bytes * k < s.rest; k++) {
        const uint32_t left = s.rest - s.bytes * k;
        copy_bytes(planes[k], x + s.base + s.bytes * k, left < s.bytes ? left : s.bytes);
    }
}

// Precondition i < n (positions past n would name padding digits of the tail, or bytes past the row).
void ternary_locate(uint32_t n, uint32_t i, uint32_t *byte_index, uint32_t *digit) {
    const TernaryShape s = ternary_shape(n);
    if (i < s.base) {
        const uint32_t w = i % kTernaryBlockWeights;
        *byte_index = i / kTernaryBlockWeights * kTernaryBlockBytes + w % kTernaryBlockBytes;
        *digit = w / kTernaryBlockBytes;
    } else {  // the tail block: B = s.bytes bytes, digit k of byte j is tail weight B*k + j
        const uint32_t t = i - s.base;
        *byte_index = s.nfull * kTernaryBlockBytes + t % s.bytes;
        *digit = t / s.bytes;
    }
}

void ternary_pack_row(const int8_t *trits, uint32_t n, uint8_t *out) {
    const TernaryShape s = ternary_shape(n);
    for (uint32_t b = 0; b < s.nfull; b++)
        pack_block(trits + b * kTernaryBlockWeights, kTernaryBlockWeights, kTernaryBlockBytes,
                   out + b * kTernaryBlockBytes);
    if (s.rest != 0) pack_block(trits + s.base, s.rest, s.bytes, out + s.nfull * kTernaryBlockBytes);
}

void ternary_unpack_row(const uint8_t *in, uint32_t n, int8_t *trits) {
    const TernaryShape s = ternary_shape(n);
    for (uint32_t b = 0; b < s.nfull; b++)
        ternary_unpack_block(in + b * kTernaryBlockBytes, kTernaryBlockWeights, kTernaryBlockBytes,
                             trits + b * kTernaryBlockWeights);
    if (s.rest != 0) ternary_unpack_block(in + s.nfull * kTernaryBlockBytes, s.rest, s.bytes, trits + s.base);
}

}  // namespace bitlm
