/* console_format.c — decimal and hex formatting for the console, so firmware prints numbers without
 * a C library (no printf). Output is built right-to-left in a small stack buffer. */
#include "console.h"

void console_puts(const char *text) {
    size_t n = 0;
    while (text[n]) n++;
    console_write(text, n);
}

void console_put_dec(uint64_t value) {
    char buf[20]; /* 2^64 - 1 has 20 digits */
    unsigned i = sizeof buf;
    do {
        /* 64-bit division comes from libgcc (__aeabi_uldivmod), which every firmware links anyway */
        buf[--i] = (char)('0' + (unsigned)(value % 10u));
        value /= 10u;
    } while (value && i);
    console_write(buf + i, sizeof buf - i);
}

void console_put_hex(uint64_t value, unsigned digits) {
    static const char hex[] = "0123456789abcdef";
    char buf[16];
    if (digits > sizeof buf) digits = sizeof buf;
    for (unsigned i = 0; i < digits; i++) buf[digits - 1 - i] = hex[(value >> (4 * i)) & 0xFu];
    console_write(buf, digits);
}
