/* SPDX-License-Identifier: BSD-2-Clause */
/* The stdlib.h subset barevsock uses on x86_64. There is no heap: no malloc. */
#ifndef BV_X86_STDLIB_H
#define BV_X86_STDLIB_H

#include <stddef.h>

_Noreturn void exit(int status);
_Noreturn void abort(void);
unsigned long strtoul(const char *s, char **end, int base);

#endif
