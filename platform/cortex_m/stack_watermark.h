/* stack_watermark.h — measured stack use: the reset handler fills the unused stack with a pattern,
 * and stack_watermark_peak() later finds how deep the stack ever went (the high-water mark), to set
 * beside the build's static -fstack-usage estimate. */
#ifndef BITLM_STACK_WATERMARK_H
#define BITLM_STACK_WATERMARK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void stack_watermark_paint(void);      /* called once, by Reset_Handler, before main() */
size_t stack_watermark_peak(void);     /* deepest stack use so far, in bytes */
size_t stack_watermark_reserved(void); /* size of the .stack reservation, in bytes */

#ifdef __cplusplus
}
#endif
#endif /* BITLM_STACK_WATERMARK_H */
