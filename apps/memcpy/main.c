/* SPDX-License-Identifier: BSD-2-Clause */
/* memcpy: the guest's own memcpy bandwidth under QEMU, a reference ceiling
 * for bench/ (no vsock transfer can move bytes faster than the guest copies
 * them). Copies a 1 MiB block MEMCPY_ROUNDS times with the image's memcpy,
 * timed with bv_port_now_us(), prints "memcpy: <MiB/s> MiB/s" and exits 0.
 *
 * Source and destination are 1 MiB + 4 KiB apart, an odd number of pages:
 * TCG's software TLB is direct-mapped by page number with a power-of-two
 * number of entries, so two buffers exactly 1 MiB apart (256 entries) evict
 * each other on every byte and copy ~14x slower than this. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "bv/arch.h"
#include "bv/exit.h"
#include "bv/time.h"

#define MEMCPY_BLOCK  (1u << 20)
#define MEMCPY_GAP    4096u       /* keeps src and dst pages from aliasing in the TLB */
#define MEMCPY_ROUNDS 64          /* 64 MiB in total */

static uint8_t area[2 * MEMCPY_BLOCK + MEMCPY_GAP] __attribute__((aligned(4096)));

int main(void)
{
	uint8_t *src = area, *dst = area + MEMCPY_BLOCK + MEMCPY_GAP;

	for (uint32_t i = 0; i < MEMCPY_BLOCK; i++)
		src[i] = (uint8_t)(i * 131u + 7u);
	memcpy(dst, src, MEMCPY_BLOCK);   /* warm up: page-table walks, TCG translation */

	uint32_t seen = 0;
	uint64_t t0 = bv_now_us();
	for (uint32_t r = 0; r < MEMCPY_ROUNDS; r++) {
		src[r] = (uint8_t)r;          /* every copy differs, so none is redundant */
		memcpy(dst, src, MEMCPY_BLOCK);
		__asm__ volatile("" ::: "memory");
		seen += dst[r];
	}
	uint64_t us = bv_now_us() - t0;

	if (memcmp(dst, src, MEMCPY_BLOCK) != 0 || seen != (MEMCPY_ROUNDS - 1) * MEMCPY_ROUNDS / 2) {
		printf("memcpy: copies do not match the source\n");
		return BV_EXIT_FAIL;
	}
	if (us == 0)
		us = 1;
	/* MiB/s with one decimal, in integers (no float formatting in every libc glue) */
	uint64_t tenths = (uint64_t)MEMCPY_ROUNDS * 10u * 1000000u / us;
	printf("memcpy: %lu.%lu MiB/s (%u x %u KiB in %lu us)\n", (unsigned long)(tenths / 10),
	       (unsigned long)(tenths % 10), MEMCPY_ROUNDS, MEMCPY_BLOCK >> 10, (unsigned long)us);
	return BV_EXIT_OK;
}
