/* console_semihosting.c — console sink over semihosting: works on every QEMU board here and on real
 * boards under a debug probe. Under QEMU the bytes go to stderr, or to a -chardev given to
 * -semihosting-config (the examples' `make run` routes them to stdout). */
#include "console.h"
#include "semihosting.h"

void console_write(const void *bytes, size_t n) { semihosting_write(bytes, n); }
