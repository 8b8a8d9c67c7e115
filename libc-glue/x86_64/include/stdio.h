/* SPDX-License-Identifier: BSD-2-Clause */
/* The stdio.h subset barevsock uses on x86_64: formatted output to the
 * console and into buffers. No FILE streams, no input, no floating point. */
#ifndef BV_X86_STDIO_H
#define BV_X86_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
int putchar(int c);
int puts(const char *s);

#endif
