/* SPDX-License-Identifier: BSD-2-Clause */
/* Glue between picolibc (tinystdio, crt0 --crt0=hosted) and the arch layer
 * for aarch64 and arm: the three standard streams on the UART, _exit, and
 * running arch_init() before main(). Not here: files, a heap policy, time(). */
#include <stdio.h>
#include "bv/arch.h"
#include "libc-glue/picolibc/glue.h"

/* picolibc's integer printf (an arch.mk choice) prints only the low long of
 * a %llu argument; the apps print 64-bit counters and CIDs that way. */
#ifdef PICOLIBC_INTEGER_PRINTF_SCANF
_Static_assert(sizeof(long) == sizeof(long long),
	       "PICOLIBC_INTEGER_PRINTF_SCANF truncates %llu where long is narrower than long long");
#endif

static int bv_glue_put(char c, FILE *f)
{
	(void)f;
	/* No \n -> \r\n here: the test harness matches the raw bytes. */
	arch_putc(c);
	return (unsigned char)c;
}

static int bv_glue_get(FILE *f)
{
	(void)f;
	return arch_getc();
}

static FILE bv_glue_console = FDEV_SETUP_STREAM(bv_glue_put, bv_glue_get, NULL, _FDEV_SETUP_RW);

FILE *const stdin = &bv_glue_console;
FILE *const stdout = &bv_glue_console;
FILE *const stderr = &bv_glue_console;

/* crt0 --crt0=hosted runs .init_array after .data/.bss are set up and just
 * before main(): the earliest point where C with statics is safe. Priority
 * 101 puts us ahead of any constructor an app might have. */
__attribute__((constructor(101))) static void bv_glue_arch_init(void)
{
	arch_init();
}

/* exit() (and return from main) ends here after running atexit handlers. */
_Noreturn void _exit(int status)
{
	arch_exit(status);
}
