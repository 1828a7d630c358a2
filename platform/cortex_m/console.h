/* console.h — the firmware examples' text output: raw bytes plus the few number formats the examples
 * print (decimal, fixed-width hex). The byte sink is chosen at link time: console_semihosting.c
 * (every QEMU board, or a debug probe) or console_uart_mps2.c (UART0 of the MPS2 boards). */
#ifndef BITLM_CONSOLE_H
#define BITLM_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The sink: writes n bytes unchanged (no newline translation), blocking until accepted. */
void console_write(const void *bytes, size_t n);

/* Helpers over console_write (console_format.c). */
void console_puts(const char *text);                 /* no newline added */
void console_put_dec(uint64_t value);                /* unsigned decimal */
void console_put_hex(uint64_t value, unsigned digits); /* lower-case, zero-padded to `digits` */

#ifdef __cplusplus
}
#endif
#endif /* BITLM_CONSOLE_H */
