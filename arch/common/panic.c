/* SPDX-License-Identifier: BSD-2-Clause */
/* Panic reporting for the -kernel images, shared by every architecture:
 * print what went wrong on the console, then leave QEMU with a distinct
 * status so a test sees a failure instead of a hang. Not in the library. */
#include <stdarg.h>
#include <stdio.h>
#include "bv/arch.h"
#include "bv/exit.h"

_Noreturn void bv_panic(const char *fmt, ...)
{
	va_list ap;

	printf("\nPANIC: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	arch_exit(BV_EXIT_PANIC);
}
