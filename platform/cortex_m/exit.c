/* exit.c — fw_exit(): the single way firmware ends, so every path (main returning, faults, errors)
 * reports its status the same way. */
#include "exit.h"
#include "semihosting.h"

void fw_exit(int status) { semihosting_exit(status); }
