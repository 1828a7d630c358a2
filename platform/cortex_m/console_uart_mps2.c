/* console_uart_mps2.c — console sink over UART0 of the Arm MPS2 FPGA images (an385/an386/an500: a
 * CMSDK APB UART at 0x40004000). Under `qemu-system-arm -nographic` (or -serial stdio) it prints to
 * stdout. A real part needs its own UART driver in place of this file; the interface is console.h. */
#include "console.h"

#include <stdint.h>

#ifndef MPS2_UART0_BASE
#define MPS2_UART0_BASE 0x40004000u
#endif

/* CMSDK APB UART registers */
#define UART_DATA    (*(volatile uint32_t *)(MPS2_UART0_BASE + 0x00u))
#define UART_STATE   (*(volatile uint32_t *)(MPS2_UART0_BASE + 0x04u))
#define UART_CTRL    (*(volatile uint32_t *)(MPS2_UART0_BASE + 0x08u))
#define UART_BAUDDIV (*(volatile uint32_t *)(MPS2_UART0_BASE + 0x10u))
#define UART_STATE_TX_FULL (1u << 0)
#define UART_CTRL_TX_EN    (1u << 0)

void console_write(const void *bytes, size_t n) {
    static int ready;
    if (!ready) {
        UART_BAUDDIV = 16;            /* the smallest divisor the CMSDK UART accepts */
        UART_CTRL = UART_CTRL_TX_EN;
        ready = 1;
    }
    const uint8_t *p = (const uint8_t *)bytes;
    for (size_t i = 0; i < n; i++) {
        while (UART_STATE & UART_STATE_TX_FULL) {
        }
        UART_DATA = p[i];
    }
}
