/* semihosting.h — Arm semihosting calls (BKPT 0xAB) used by the firmware examples: console output on
 * the debugger's/QEMU's terminal and exiting with a real status code. Needs a host that services
 * semihosting (QEMU -semihosting-config enable=on, or a debug probe with semihosting enabled); on a
 * bare board without one, BKPT becomes a HardFault. */
#ifndef BITLM_SEMIHOSTING_H
#define BITLM_SEMIHOSTING_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes n bytes to the host's console (binary-safe: every byte value, NUL included). */
void semihosting_write(const void *bytes, size_t n);

/* Ends the program with `code` as the emulator's/debugger's exit status (SYS_EXIT_EXTENDED). */
__attribute__((noreturn)) void semihosting_exit(int code);

#ifdef __cplusplus
}
#endif
#endif /* BITLM_SEMIHOSTING_H */
