// bytes.h — little-endian loads/stores and memory helpers for the freestanding core.
// The compiler turns the byte-wise forms into single loads; firmware provides memcpy/memset.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace bitlm {

inline uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
inline uint32_t load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
inline uint64_t load_u64(const uint8_t *p) { return (uint64_t)load_u32(p) | ((uint64_t)load_u32(p + 4) << 32); }
inline void store_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
inline void store_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
inline void store_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
// Bit casts between float and its IEEE binary32 pattern.
inline uint32_t float_bits(float value) {
    uint32_t bits;
    __builtin_memcpy(&bits, &value, sizeof bits);
    return bits;
}
inline float bits_float(uint32_t bits) {
    float value;
    __builtin_memcpy(&value, &bits, sizeof value);
    return value;
}
inline void copy_bytes(void *dst, const void *src, size_t n) { __builtin_memcpy(dst, src, n); }
inline void zero_bytes(void *dst, size_t n) { __builtin_memset(dst, 0, n); }

// a * b + c style size arithmetic that reports overflow instead of wrapping.
inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t *out) { return __builtin_mul_overflow(a, b, out); }
inline bool add_overflows(uint64_t a, uint64_t b, uint64_t *out) { return __builtin_add_overflow(a, b, out); }
inline uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "bitlm targets are little-endian");

}  // namespace bitlm
