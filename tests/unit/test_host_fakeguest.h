/* SPDX-License-Identifier: BSD-2-Clause */
/* Test-only fake guest for the host backend's unit tests: one malloc'd RAM
 * region standing in for guest memory, and a driver-side view of split rings
 * placed in it. Non-goal: being a real driver (no notifications, no features). */
#ifndef TEST_HOST_FAKEGUEST_H
#define TEST_HOST_FAKEGUEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/vring.h"
#include "tests/unit/check.h"

#define FG_GPA  0x100000ull          /* guest-physical base of the fake RAM */
#define FG_UVA  0x7f0000000000ull    /* the "front end" virtual address of it */
#define FG_SIZE (4u << 20)

struct fg_ring {
	uint16_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vr_desc *desc;
	struct vr_avail *avail;
	struct vr_used *used;
	uint16_t next_desc;          /* simple bump allocator, wraps */
	uint16_t used_seen;
	uint64_t data_gpa;           /* bump allocator for buffers */
};

struct fg {
	uint8_t *ram;
	struct vr_mem mem;
	uint64_t brk;                /* next free gpa */
};

static inline void *fg_ptr(struct fg *g, uint64_t gpa) { return g->ram + (gpa - FG_GPA); }

static inline uint64_t fg_alloc(struct fg *g, uint64_t size, uint64_t align)
{
	g->brk = (g->brk + align - 1) & ~(align - 1);
	uint64_t a = g->brk;
	g->brk += size;
	if (g->brk > FG_GPA + FG_SIZE) {
		fprintf(stderr, "fake guest RAM exhausted\n");
		exit(2);
	}
	return a;
}

static inline void fg_init(struct fg *g)
{
	g->ram = calloc(1, FG_SIZE);
	g->brk = FG_GPA;
	g->mem.n = 1;
	g->mem.r[0].gpa = FG_GPA;
	g->mem.r[0].uva = FG_UVA;
	g->mem.r[0].size = FG_SIZE;
	g->mem.r[0].hva = g->ram;
}

static inline void fg_ring_init(struct fg *g, struct fg_ring *r, uint16_t num)
{
	memset(r, 0, sizeof(*r));
	r->num = num;
	r->desc_gpa = fg_alloc(g, 16ull * num, 16);
	r->avail_gpa = fg_alloc(g, 6ull + 2ull * num, 2);
	r->used_gpa = fg_alloc(g, 6ull + 8ull * num, 4);
	r->desc = fg_ptr(g, r->desc_gpa);
	r->avail = fg_ptr(g, r->avail_gpa);
	r->used = fg_ptr(g, r->used_gpa);
}

/* Attach the device-side queue to the fake ring. */
static inline void fg_attach(struct fg_ring *r, struct vr_queue *q)
{
	vr_init(q, r->num, r->desc, r->avail, r->used, 0);
}

/* Write descriptor i. */
static inline void fg_desc(struct fg_ring *r, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	r->desc[i].addr = addr;
	r->desc[i].len = len;
	r->desc[i].flags = flags;
	r->desc[i].next = next;
}

static inline void fg_publish(struct fg_ring *r, uint16_t head)
{
	r->avail->ring[r->avail->idx % r->num] = head;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	r->avail->idx++;
}

/* Post one buffer as a chain of `n` descriptors of the given lengths. */
static inline uint16_t fg_post(struct fg *g, struct fg_ring *r, int n, const uint32_t *lens, uint16_t flags,
			       uint64_t *gpas)
{
	uint16_t head = r->next_desc;
	for (int k = 0; k < n; k++) {
		uint16_t i = (uint16_t)((head + k) % r->num);
		uint64_t a = fg_alloc(g, lens[k], 8);
		if (gpas)
			gpas[k] = a;
		fg_desc(r, i, a, lens[k], (uint16_t)(flags | (k + 1 < n ? VRING_DESC_F_NEXT : 0)),
			(uint16_t)((i + 1) % r->num));
	}
	r->next_desc = (uint16_t)((head + n) % r->num);
	fg_publish(r, head);
	return head;
}

/* Next used entry the device returned; 0 if none. */
static inline int fg_used(struct fg_ring *r, uint32_t *id, uint32_t *len)
{
	if (r->used->idx == r->used_seen)
		return 0;
	struct vr_used_elem *e = &r->used->ring[r->used_seen % r->num];
	*id = e->id;
	*len = e->len;
	r->used_seen++;
	return 1;
}

#endif
