/* SPDX-License-Identifier: BSD-2-Clause */
/* panic: deliberately trips bv_panic() so the tests can check that a dead
 * guest reports itself and exits with BV_EXIT_PANIC instead of hanging. */
#include <stdio.h>
#include "bv/exit.h"

int main(void)
{
	printf("panic app: about to panic\n");
	bv_panic("deliberate panic, code %d", 1234);
}
