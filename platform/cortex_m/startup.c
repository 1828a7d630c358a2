/* startup.c — the vector table and the reset handler shared by every Cortex-M board of the firmware
 * examples: enable the FPU (hard-float parts), turn on the Cortex-M7 caches where a board asks,
 * copy .data from flash, zero .bss, paint the stack for the high-water mark, then call main() and
 * exit with its status. Addresses come from the linker script (sections.ld + boards/<board>.ld). */
#include <stdint.h>

#include "exit.h"
#include "regs.h"
#include "stack_watermark.h"

/* ---- symbols of sections.ld ---------------------------------------------------------------------- */
extern uint32_t __data_load[], __data_start[], __data_end[]; /* .data: image in flash, home in RAM */
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];              /* the .stack reservation */

int main(void);
void Reset_Handler(void);
void fault_entry(void);       /* faults.c: HardFault and every fault that escalates to it */
void Default_Handler(void);   /* faults.c: any exception nobody installed */
void SysTick_Handler(void);
void cm7_caches_enable(void); /* cache_m7.c */

/* ---- vector table --------------------------------------------------------------------------------- */
/* 16 architectural entries, then external interrupts. Nothing here enables an interrupt, so every
 * IRQ slot goes to Default_Handler (which reports it); 32 slots cover the nRF51 and keep VTOR's
 * alignment rule (table size rounded up to a power of two, at least 128 bytes) simple. */
#define N_IRQ_SLOTS 32
typedef void (*vector_fn)(void);
__attribute__((section(".vectors"), used)) const uintptr_t vector_table[16 + N_IRQ_SLOTS] = {
    [0] = (uintptr_t)__stack_top,        /* initial MSP */
    [1] = (uintptr_t)Reset_Handler,
    [2] = (uintptr_t)fault_entry,        /* NMI: nothing raises it here; treat as a fault */
    [3] = (uintptr_t)fault_entry,        /* HardFault */
    [4] = (uintptr_t)fault_entry,        /* MemManage (escalates to HardFault unless enabled) */
    [5] = (uintptr_t)fault_entry,        /* BusFault */
    [6] = (uintptr_t)fault_entry,        /* UsageFault */
    [7] = (uintptr_t)fault_entry,        /* SecureFault (ARMv8-M with Security Extension) */
    [11] = (uintptr_t)Default_Handler,   /* SVCall */
    [12] = (uintptr_t)Default_Handler,   /* DebugMonitor */
    [14] = (uintptr_t)Default_Handler,   /* PendSV */
    [15] = (uintptr_t)SysTick_Handler,
    [16 ... 16 + N_IRQ_SLOTS - 1] = (uintptr_t)Default_Handler,
};

/* SysTick: systick_counter.c overrides this when a firmware links it; otherwise it is unexpected. */
__attribute__((weak)) void SysTick_Handler(void) { Default_Handler(); }

/* ---- reset ---------------------------------------------------------------------------------------- */
void Reset_Handler(void) {
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* Full access to CP10/CP11 before any floating-point (or MVE) instruction runs: the compiler may
     * use FP registers anywhere, even in the copy loops below, so this comes first, fenced. */
    SCB_CPACR |= SCB_CPACR_CP10_CP11_FULL;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
#if CM_HAS_STACK_LIMIT
    /* ARMv8-M: a push below the reservation raises a fault instead of corrupting .data/.bss. */
    __asm__ volatile("msr msplim, %0" ::"r"(__stack_limit));
#endif
#if CM_HAS_FAULT_STATUS
    SCB_CCR |= (1u << 4); /* DIV_0_TRP: integer division by zero faults (as on the host) */
#endif
#ifdef BOARD_M7_CACHES
    cm7_caches_enable();
#endif
    for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
    for (uint32_t *dst = __bss_start; dst < __bss_end;) *dst++ = 0;
    stack_watermark_paint();
    fw_exit(main());
}
