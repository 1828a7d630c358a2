/* memory.c — memcpy, memmove and memset for firmware that links no C library: the only C functions
 * libbitlm.a needs (GCC's freestanding contract lets it emit calls to them anywhere). Word-at-a-time
 * when both pointers allow it, bytes otherwise. Built with -fno-tree-loop-distribute-patterns (see
 * firmware-examples/common.mk) so GCC does not turn these loops back into calls to themselves.
 * A firmware that already has a C library (newlib, picolibc, vendor) should use its versions instead. */
#include <stddef.h>
#include <stdint.h>

/* Word accesses through a may_alias type: these functions copy objects of any type. */
typedef uint32_t __attribute__((may_alias)) word_t;

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);

void *memcpy(void *dst, const void *src, size_t n) {
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    if ((((uintptr_t)d | (uintptr_t)s) & 3u) == 0) {
        for (; n >= 4; n -= 4, d += 4, s += 4) *(word_t *)(void *)d = *(const word_t *)(const void *)s;
    }
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    if (d <= s || d >= s + n) return memcpy(dst, src, n); /* forward copy is safe */
    while (n--) d[n] = s[n];                              /* overlap with dst above src: backwards */
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    uint8_t *d = (uint8_t *)dst;
    const uint8_t b = (uint8_t)c;
    for (; n && ((uintptr_t)d & 3u); n--) *d++ = b;
    const uint32_t w = 0x01010101u * b;
    for (; n >= 4; n -= 4, d += 4) *(word_t *)(void *)d = w;
    while (n--) *d++ = b;
    return dst;
}
