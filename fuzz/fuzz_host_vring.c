/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the back end's descriptor-chain walker (host/vring.c)
 * on arbitrary descriptor tables and avail rings in a fake guest memory.
 * The input is the guest RAM (rings included) plus a few parameters; the
 * back end pops chains in either direction with and without a size bound,
 * reads and writes them, and pushes them back. Checked: every iov lies
 * inside guest RAM, the chain's total is the sum of its iovs and within the
 * bound, a chain never has more segments than the ring has entries, and
 * nothing crashes or trips a sanitizer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "host/vring.h"

#define RAM_GPA  0x40000000ull
#define RAM_SIZE 8192u

static uint8_t ram[RAM_SIZE] __attribute__((aligned(16)));
static struct vr_chain chain;
static uint8_t scratch[RAM_SIZE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	uint16_t num = (uint16_t)(1u << (data[0] % 8));          /* 1..128 entries */
	uint8_t mode = data[1];
	uint32_t bound = (uint32_t)data[2] * 64u;
	uint16_t base = data[3];
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + 4, size - 4 < RAM_SIZE ? size - 4 : RAM_SIZE);

	struct vr_mem mem = { .n = 1 };
	mem.r[0] = (struct vr_region){ .gpa = RAM_GPA, .uva = 0x7f0000000000ull, .size = RAM_SIZE, .hva = ram };
	/* Rings at fixed places in the fuzzed RAM: descriptors first, then
	 * avail, then used (16 * 128 + 4 + 2 * 128 < 4096). */
	struct vr_queue q;
	vr_init(&q, num, ram, ram + 16u * num, ram + 4096, base);

	for (int rounds = 0; rounds < 3 * 128; rounds++) {
		int want_write = (mode >> (rounds % 8)) & 1;
		int st = vr_pop(&q, &mem, want_write, (mode & 0x80) ? bound : 0, &chain);
		if (st == VR_EMPTY || st == VR_EBROKEN)
			break;
		if (chain.n > num)
			abort();
		uint64_t sum = 0;
		for (unsigned i = 0; i < chain.n; i++) {
			if (chain.iov[i].p < ram || chain.iov[i].p + chain.iov[i].len > ram + RAM_SIZE)
				abort();   /* outside guest RAM */
			sum += chain.iov[i].len;
		}
		if (st == VR_OK) {
			if (sum != chain.total || ((mode & 0x80) && bound && chain.total > bound))
				abort();
			if (want_write)
				vr_chain_write(&chain, 1, scratch, chain.total);
			else
				vr_chain_read(&chain, 1, scratch, chain.total);
		}
		if (rounds % 5 == 4 && st == VR_OK)
			vr_unpop(&q);
		else
			vr_push(&q, chain.head, st == VR_OK && want_write ? chain.total : 0);
		(void)vr_should_notify(&q);
	}
	return 0;
}
