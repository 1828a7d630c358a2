/* faults.c — what happens when the firmware faults: print the fault status and the stacked
 * registers, then exit with FW_EXIT_FAULT so a test (or a person) sees a failure at once instead of
 * a hang. The separate MemManage/BusFault/UsageFault handlers are left disabled, so every fault
 * escalates to HardFault and this one handler reports it (CFSR says which kind it was). */
#include <stdint.h>

#include "console.h"
#include "exit.h"
#include "regs.h"

void fault_entry(void);
void Default_Handler(void);
__attribute__((noreturn, used)) void fault_report(const uint32_t *frame, uint32_t exc_return);

static void put_reg(const char *name, uint32_t value) {
    console_puts(name);
    console_puts("=0x");
    console_put_hex(value, 8);
}

/* Finds the exception frame (MSP or PSP, by EXC_RETURN bit 2) and passes it to fault_report.
 * Naked and ARMv6-M-compatible (movs/tst/mrs only), so the same code serves every core. */
__attribute__((naked)) void fault_entry(void) {
    __asm__ volatile(
        "movs r0, #4\n\t"
        "mov r1, lr\n\t"
        "tst r0, r1\n\t"
        "beq 1f\n\t"
        "mrs r0, psp\n\t"
        "b 2f\n"
        "1:\n\t"
        "mrs r0, msp\n"
        "2:\n\t"
        "ldr r2, =fault_report\n\t"
        "bx r2\n\t"
        ".ltorg");
}

void fault_report(const uint32_t *frame, uint32_t exc_return) {
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    console_puts("\nfirmware fault: exception ");
    console_put_dec(ipsr & 0x1FFu);
    console_puts(ipsr == 3 ? " (HardFault)" : ipsr == 2 ? " (NMI)" : "");
    console_puts("\n  ");
    /* Exception frame: r0 r1 r2 r3 r12 lr pc xpsr */
    put_reg("pc", frame[6]);
    console_puts(" ");
    put_reg("lr", frame[5]);
    console_puts(" ");
    put_reg("xpsr", frame[7]);
    console_puts(" ");
    put_reg("exc_return", exc_return);
#if CM_HAS_FAULT_STATUS
    /* CFSR: MemManage [7:0], BusFault [15:8], UsageFault [31:16]; HFSR bit 30 = escalated (FORCED). */
    const uint32_t cfsr = SCB_CFSR;
    console_puts("\n  ");
    put_reg("cfsr", cfsr);
    console_puts(" ");
    put_reg("hfsr", SCB_HFSR);
    if (cfsr & (1u << 7)) { console_puts(" "); put_reg("mmfar", SCB_MMFAR); }
    if (cfsr & (1u << 15)) { console_puts(" "); put_reg("bfar", SCB_BFAR); }
    if (cfsr & (1u << 16)) console_puts("  [undefined instruction]");
    if (cfsr & (1u << 20)) console_puts("  [stack overflow: MSPLIM]");
    if (cfsr & (1u << 25)) console_puts("  [divide by zero]");
#endif
    console_puts("\n");
    fw_exit(FW_EXIT_FAULT);
}

void Default_Handler(void) {
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    console_puts("\nfirmware: unexpected exception ");
    console_put_dec(ipsr & 0x1FFu);
    console_puts("\n");
    fw_exit(FW_EXIT_UNEXPECTED_IRQ);
}
