/* semihosting.c — the three semihosting operations the firmware needs: open the console (":tt"),
 * write to it, and exit with a status. Operation numbers and argument blocks are those of the Arm
 * semihosting specification (v2); QEMU services them when started with -semihosting-config enable=on. */
#include "semihosting.h"

#include <stdint.h>

enum {
    SYS_OPEN = 0x01,
    SYS_WRITE = 0x05,
    SYS_EXIT = 0x18,
    SYS_EXIT_EXTENDED = 0x20,
    ADP_STOPPED_APPLICATION_EXIT = 0x20026, /* "the application exited", with a status sub-code */
    OPEN_MODE_W = 4                          /* fopen mode "w" */
};

/* One semihosting call: operation in r0, pointer to the argument block in r1, result in r0.
 * The "memory" clobber makes the compiler store the argument block before the trap. */
static intptr_t semihosting_call(uintptr_t op, const void *args) {
    register uintptr_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = args;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return (intptr_t)r0;
}

/* The console handle, opened on first use. Plain SYS_WRITE0/WRITEC would stop at a NUL byte or
 * cost one trap per byte; SYS_WRITE on ":tt" writes any bytes in one trap. */
static intptr_t console_handle = -1;

void semihosting_write(const void *bytes, size_t n) {
    if (console_handle < 0) {
        static const char tt[] = ":tt";
        const uintptr_t open_args[3] = {(uintptr_t)tt, OPEN_MODE_W, sizeof tt - 1};
        console_handle = semihosting_call(SYS_OPEN, open_args);
        if (console_handle < 0) return; /* no console: output is dropped, the exit status still works */
    }
    const uintptr_t write_args[3] = {(uintptr_t)console_handle, (uintptr_t)bytes, n};
    (void)semihosting_call(SYS_WRITE, write_args); /* returns the count NOT written; nothing to retry on */
}

void semihosting_exit(int code) {
    /* SYS_EXIT on 32-bit Arm passes only a reason (QEMU maps it to 0 or 1); SYS_EXIT_EXTENDED
     * carries the status itself, so `echo $?` after QEMU shows the firmware's code. */
    const uintptr_t exit_args[2] = {ADP_STOPPED_APPLICATION_EXIT, (uintptr_t)(intptr_t)code};
    (void)semihosting_call(SYS_EXIT_EXTENDED, exit_args);
    /* Only reached if the host ignored the request (no debugger): try the plain form, then park. */
    (void)semihosting_call(SYS_EXIT, (const void *)(uintptr_t)ADP_STOPPED_APPLICATION_EXIT);
    for (;;) __asm__ volatile("wfi");
}
