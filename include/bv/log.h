/* SPDX-License-Identifier: BSD-2-Clause */
/* The library's own small formatter, so it needs no printf: bv_logf()
 * formats one message and hands it to bv_port_log() (bv/port.h);
 * bv_snprintf() formats into a buffer. Supported: %d %i %u %x %X %c %s %p %%,
 * flags '-' and '0', a decimal width, length modifiers l, ll, z. No floating
 * point, no precision, no '*'. An unsupported conversion prints as "%?". */
#ifndef BV_LOG_H
#define BV_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* Longest piece bv_logf hands bv_port_log at once; longer messages arrive
 * in several calls. */
#define BV_LOG_CHUNK 128

void bv_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bv_vlogf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Like snprintf: writes at most size-1 characters and a NUL (when size > 0),
 * returns the length the whole output would have had. */
int bv_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int bv_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

#endif
