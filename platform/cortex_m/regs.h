/* regs.h — the few Cortex-M system registers the board glue touches (System Control Block, SysTick),
 * by architectural address, so platform/cortex_m/ needs no vendor CMSIS headers.
 * Every address here is fixed by the ARMv6-M / ARMv7-M / ARMv8-M architecture, not by a vendor. */
#ifndef BITLM_CORTEX_M_REGS_H
#define BITLM_CORTEX_M_REGS_H

#include <stdint.h>

#define CM_REG(addr) (*(volatile uint32_t *)(addr))

/* ---- System Control Block --------------------------------------------------------------------- */
#define SCB_ICSR   CM_REG(0xE000ED04u)   /* interrupt control and state */
#define SCB_VTOR   CM_REG(0xE000ED08u)   /* vector table offset (v7-M, v8-M; optional on v6-M) */
#define SCB_CCR    CM_REG(0xE000ED14u)   /* configuration and control */
#define SCB_SHCSR  CM_REG(0xE000ED24u)   /* system handler control and state */
#define SCB_CFSR   CM_REG(0xE000ED28u)   /* configurable fault status (v7-M+) */
#define SCB_HFSR   CM_REG(0xE000ED2Cu)   /* HardFault status (v7-M+) */
#define SCB_MMFAR  CM_REG(0xE000ED34u)   /* MemManage fault address (v7-M+) */
#define SCB_BFAR   CM_REG(0xE000ED38u)   /* BusFault address (v7-M+) */
#define SCB_CPACR  CM_REG(0xE000ED88u)   /* coprocessor access control: CP10/CP11 = FPU (and MVE) */

#define SCB_ICSR_PENDSTSET (1u << 26)    /* SysTick exception is pending */
#define SCB_CPACR_CP10_CP11_FULL (0xFu << 20)
#define SCB_CCR_IC (1u << 17)            /* instruction cache enable (Cortex-M7) */
#define SCB_CCR_DC (1u << 16)            /* data cache enable (Cortex-M7) */

/* Cache maintenance (Cortex-M7; v7-M architected, write-only operations) */
#define SCB_CLIDR  CM_REG(0xE000ED78u)
#define SCB_CCSIDR CM_REG(0xE000ED80u)
#define SCB_CSSELR CM_REG(0xE000ED84u)
#define SCB_ICIALLU CM_REG(0xE000EF50u)  /* invalidate all instruction cache to PoU */
#define SCB_DCISW  CM_REG(0xE000EF60u)   /* invalidate data cache line by set/way */

/* ---- SysTick: 24-bit down-counter ------------------------------------------------------------- */
#define SYST_CSR   CM_REG(0xE000E010u)   /* control and status */
#define SYST_RVR   CM_REG(0xE000E014u)   /* reload value */
#define SYST_CVR   CM_REG(0xE000E018u)   /* current value (any write clears it) */

#define SYST_CSR_ENABLE    (1u << 0)
#define SYST_CSR_TICKINT   (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)     /* 1 = the processor clock */
#define SYST_MAX_RELOAD    0x00FFFFFFu

/* ---- which architecture this translation unit is built for ------------------------------------- */
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
    defined(__ARM_ARCH_8_1M_MAIN__)
#define CM_HAS_FAULT_STATUS 1            /* CFSR/HFSR/MMFAR/BFAR exist (not on ARMv6-M / v8-M Baseline) */
#else
#define CM_HAS_FAULT_STATUS 0
#endif
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__) || defined(__ARM_ARCH_8M_BASE__)
#define CM_HAS_STACK_LIMIT 1             /* ARMv8-M: MSPLIM faults on stack overflow */
#else
#define CM_HAS_STACK_LIMIT 0
#endif

#endif /* BITLM_CORTEX_M_REGS_H */
