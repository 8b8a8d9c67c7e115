/* SPDX-License-Identifier: BSD-2-Clause */
/* x86_64 C runtime start: what picolibc's crt0 does on Arm, here by hand.
 * start.S has zeroed .bss and set up a stack; .data is already in place
 * because the image is loaded where it runs. */
#include <stdlib.h>
#include "bv/arch.h"
#include "bv/exit.h"

int main(void);

_Noreturn void bv_crt_start(void);

_Noreturn void bv_crt_start(void)
{
	arch_init();
	exit(main());
}

_Noreturn void exit(int status)
{
	arch_exit(status);
}

_Noreturn void abort(void)
{
	bv_panic("abort() called");
}
