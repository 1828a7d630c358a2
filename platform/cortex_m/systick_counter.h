/* systick_counter.h — a 64-bit count of SysTick ticks (the processor clock), for the examples' cost
 * figures. On a real part a tick is a CPU cycle. Under QEMU with -icount shift=0 every instruction
 * takes 1 ns of virtual time and SysTick runs at the board's modelled clock (25 MHz on mps2-an386:
 * one tick per 40 instructions), so instructions = ticks * 1e9 / clock_hz. */
#ifndef BITLM_SYSTICK_COUNTER_H
#define BITLM_SYSTICK_COUNTER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void systick_counter_start(void);     /* starts counting from 0; enables the SysTick interrupt */
uint64_t systick_counter_read(void);  /* ticks since start (monotonic) */

/* Instructions under QEMU -icount shift=0 for `ticks` of a SysTick clocked at clock_hz. */
static inline uint64_t systick_ticks_to_qemu_insns(uint64_t ticks, uint32_t clock_hz) {
    return ticks * 1000000000ull / clock_hz;
}

#ifdef __cplusplus
}
#endif
#endif /* BITLM_SYSTICK_COUNTER_H */
