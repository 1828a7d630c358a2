/* cache_m7.c — turn on the Cortex-M7 instruction and data caches (STM32F7/H7, i.MX RT): without them
 * an M7 fetches weights from flash at a fraction of its speed. Follows the architected sequence:
 * invalidate, then enable, fenced. Boards opt in with -DBOARD_M7_CACHES (their .mk file); under QEMU
 * the maintenance operations are no-ops, so the code path is still exercised there. */
#include <stdint.h>

#include "regs.h"

void cm7_caches_enable(void);

void cm7_caches_enable(void) {
    /* Instruction cache: invalidate everything, then enable. */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    SCB_ICIALLU = 0;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    SCB_CCR |= SCB_CCR_IC;
    __asm__ volatile("dsb\n\tisb" ::: "memory");

    /* Data cache: its contents are undefined at reset, so invalidate every line by set/way first
     * (CCSIDR of the level-1 data cache gives the geometry), then enable. */
    SCB_CSSELR = 0; /* level 1, data */
    __asm__ volatile("dsb" ::: "memory");
    const uint32_t ccsidr = SCB_CCSIDR;
    const uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    const uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    const uint32_t set_shift = (ccsidr & 0x7u) + 4u;                 /* log2(line bytes) */
    const uint32_t way_shift = ways > 1 ? (uint32_t)__builtin_clz(ways - 1u) : 0u;
    for (uint32_t set = 0; set < sets; set++)
        for (uint32_t way = 0; way < ways; way++) SCB_DCISW = (set << set_shift) | (way << way_shift);
    __asm__ volatile("dsb" ::: "memory");
    SCB_CCR |= SCB_CCR_DC;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}
