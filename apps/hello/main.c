/* SPDX-License-Identifier: BSD-2-Clause */
/* hello: proves the foundation on one architecture: console and printf,
 * boot information, the monotonic clock, and the exit status. */
#include <stdio.h>
#include <string.h>
#include "bv/arch.h"
#include "bv/exit.h"
#include "bv/time.h"

#define HELLO_DELAY_MS 300

int main(void)
{
	const struct bv_boot_info *bi = arch_boot_info();
	char buf[96];

	printf("hello from barevsock\n");
	printf("boot: fdt=%p cmdline=\"%s\" el=%d\n", bi->fdt,
	       bi->cmdline ? bi->cmdline : "", bi->el);

	/* The formatter is shared by every app: check it does what we rely on. */
	snprintf(buf, sizeof(buf), "%d|%u|%x|%5s|%-3d|%lu|%02x|%llx|%zu|%.3s|%05d", -42, 42u, 0xbeefu,
		 "ab", 7, (unsigned long)123456789, 0x7u, 0x1234567890abcdefull, (size_t)44,
		 "abcdef", -12);
	if (strcmp(buf, "-42|42|beef|   ab|7  |123456789|07|1234567890abcdef|44|abc|-0012") != 0) {
		printf("hello: snprintf produced \"%s\"\n", buf);
		return BV_EXIT_FAIL;
	}

	/* The harness checks that this delay took real time on the host. */
	uint64_t t0 = bv_now_us();
	bv_delay_us(HELLO_DELAY_MS * 1000);
	uint64_t t1 = bv_now_us();
	if (t1 < t0 + HELLO_DELAY_MS * 1000) {
		printf("hello: clock went from %lu to %lu us\n", (unsigned long)t0, (unsigned long)t1);
		return BV_EXIT_FAIL;
	}
	printf("clock: delayed %lu us\n", (unsigned long)(t1 - t0));
	printf("hello: ok\n");
	return BV_EXIT_OK;
}
