/* systick_counter.c — extends the 24-bit SysTick down-counter to 64 bits: the interrupt counts
 * wraps, and a read combines the wrap count with the current value without tearing. */
#include "systick_counter.h"

#include "regs.h"

static volatile uint32_t wraps; /* completed 2^24-tick periods */

void SysTick_Handler(void);
void SysTick_Handler(void) { wraps++; }

void systick_counter_start(void) {
    SYST_CSR = 0;
    wraps = 0;
    SYST_RVR = SYST_MAX_RELOAD;
    SYST_CVR = 0; /* any write clears the counter; it reloads on the next tick */
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
}

uint64_t systick_counter_read(void) {
    /* With interrupts masked the wrap count cannot change under us. A wrap that happened but is not
     * yet serviced shows as a pending SysTick: then the value is re-read (it is past the wrap) and
     * the wrap counted here. */
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    uint32_t w = wraps;
    uint32_t v = SYST_CVR;
    if (SCB_ICSR & SCB_ICSR_PENDSTSET) {
        v = SYST_CVR;
        w++;
    }
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
    return (uint64_t)w * (SYST_MAX_RELOAD + 1ull) + (SYST_MAX_RELOAD - v);
}
