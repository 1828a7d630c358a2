/* exit.h — how firmware ends: the exit statuses the examples, their tests and their READMEs agree on,
 * and fw_exit(), which hands the status to QEMU or the debugger (semihosting SYS_EXIT_EXTENDED). */
#ifndef BITLM_EXIT_H
#define BITLM_EXIT_H

#ifdef __cplusplus
extern "C" {
#endif

enum fw_exit_status {
    FW_EXIT_OK = 0,
    FW_EXIT_LIBRARY_ERROR = 1,  /* a bitlm_* call returned an error status (message printed) */
    FW_EXIT_CONFIG_ERROR = 2,   /* the build does not fit the model: arena too small, prompt too long */
    FW_EXIT_FAULT = 3,          /* HardFault (or any fault escalated to it); registers printed */
    FW_EXIT_UNEXPECTED_IRQ = 4  /* an exception nobody installed a handler for */
};

/* Ends the program with `status` as QEMU's exit code. On a board with no debugger attached the
 * semihosting trap itself faults and the core locks up, which on bare metal is what "exit" means. */
__attribute__((noreturn)) void fw_exit(int status);

#ifdef __cplusplus
}
#endif
#endif /* BITLM_EXIT_H */
