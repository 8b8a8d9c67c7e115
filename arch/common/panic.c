/* SPDX-License-Identifier: BSD-2-Clause */
/* Panic and invariant reporting, shared by every architecture: print what
 * went wrong on the console, then leave QEMU with a distinct status so a test
 * sees a failure instead of a hang. */
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

_Noreturn void bv_invariant_failed(const char *what, const char *file, int line)
{
	printf("\nINVARIANT FAILED: %s at %s:%d\n", what, file, line);
	arch_exit(BV_EXIT_INVARIANT);
}
