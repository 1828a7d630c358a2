/* stack_watermark.c — stack high-water mark by painting: every word of the .stack reservation below
 * the current stack pointer gets a pattern at reset; the deepest overwritten word is the peak. */
#include "stack_watermark.h"

#include <stdint.h>

extern uint32_t __stack_limit[], __stack_top[]; /* sections.ld */

#define PAINT 0xA5C3E1F7u /* unlikely as data: not a small integer, float, pointer or pattern fill */

void stack_watermark_paint(void) {
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    /* Leave a margin below sp: this function's own frame and the calls it makes live there. */
    for (uint32_t *p = __stack_limit; p < sp - 16; p++) *(volatile uint32_t *)p = PAINT;
}

size_t stack_watermark_peak(void) {
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *(volatile const uint32_t *)p == PAINT) p++;
    return (size_t)((const uint8_t *)__stack_top - (const uint8_t *)p);
}

size_t stack_watermark_reserved(void) {
    return (size_t)((const uint8_t *)__stack_top - (const uint8_t *)__stack_limit);
}
