/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the guest's split virtqueue (drivers/virtq.c) reaping
 * whatever a device writes into the used ring. The input drives both sides:
 * the driver adds chains (readable, writable or mixed), kicks and pops; the
 * "device" writes used entries with any id and len and moves used->idx by
 * any amount. Checked after every step (abort() on failure):
 *   - num_free never exceeds the queue size, and descriptors are conserved
 *     (free + held by outstanding chains == size);
 *   - a popped token is one we added, is returned at most once per add, and
 *     only after its chain was published by a kick;
 *   - a popped length never exceeds the chain's device-writable bytes.
 * Input: byte 0 picks the size (2^(1..7)); then one selector byte per step. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "drivers/virtq.h"
#include "bv/err.h"

#define MAXQ BV_VIRTQ_MAX_SIZE

static struct virtq q;
static uint8_t bufs[MAXQ][64];

struct slot {
	int live;          /* added and not yet popped */
	int published;     /* a kick happened after the add */
	unsigned ndesc;
	uint32_t wcap;     /* device-writable bytes */
};
static struct slot slots[MAXQ];
static unsigned held_desc;

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_virtq: invariant broken: %s\n", what);
	abort();
}

static void on_notify(struct virtq *vq, void *ctx)
{
	(void)vq;
	(void)ctx;
}

struct in {
	const uint8_t *p;
	size_t n;
};

static int take(struct in *in, uint8_t *b)
{
	if (!in->n)
		return 0;
	*b = *in->p++;
	in->n--;
	return 1;
}

static uint32_t take32(struct in *in)
{
	uint32_t v = 0;
	uint8_t b;
	for (int i = 0; i < 4 && take(in, &b); i++)
		v |= (uint32_t)b << (8 * i);
	return v;
}

static void check(void)
{
	if (virtq_num_free(&q) > q.size)
		fail("num_free above the queue size");
	if (virtq_num_free(&q) + held_desc != q.size)
		fail("descriptors leaked or double-freed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	uint8_t b;

	if (!take(&in, &b))
		return 0;
	uint16_t qsize = (uint16_t)(1u << (1 + b % 7));
	if (virtq_init(&q, 0, qsize) != BV_OK)
		fail("init of a valid size failed");
	virtq_set_notify(&q, on_notify, NULL);
	memset(slots, 0, sizeof(slots));
	held_desc = 0;

	while (take(&in, &b)) {
		switch (b % 6) {
		case 0: case 1: {   /* add a chain of 1..4 segments using a free slot */
			uint8_t spec = 0;
			take(&in, &spec);
			int k = -1;
			for (int i = 0; i < MAXQ; i++)
				if (!slots[i].live) { k = i; break; }
			if (k < 0)
				break;
			unsigned nseg = 1 + spec % 4, n_out = (spec >> 2) % (nseg + 1);
			struct virtq_seg seg[4];
			uint32_t wcap = 0;
			for (unsigned s = 0; s < nseg; s++) {
				uint32_t len = 1 + (uint32_t)((spec >> 4) + s * 7) % 16;
				seg[s] = virtq_seg(&bufs[k][s * 16], len);
				if (s >= n_out)
					wcap += len;
			}
			int rc = virtq_add(&q, seg, n_out, nseg - n_out, &bufs[k][0]);
			if (rc == BV_OK) {
				slots[k] = (struct slot){ 1, 0, nseg, wcap };
				held_desc += nseg;
			} else if (!(rc == BV_ENOBUFS || (rc == BV_EINVAL && nseg > qsize))) {
				fail("add of a valid chain failed other than ENOBUFS");
			}
			break;
		}
		case 2:   /* kick: everything added so far is now published */
			virtq_kick(&q);
			for (int i = 0; i < MAXQ; i++)
				if (slots[i].live)
					slots[i].published = 1;
			break;
		case 3: {   /* device writes one used entry, any id and len */
			uint32_t id = take32(&in), len = take32(&in);
			uint8_t mode = 0;
			take(&in, &mode);
			if (mode & 1)
				id %= qsize;   /* mostly plausible ids */
			if (mode & 2)
				len %= 80;
			q.used->ring[q.used->idx & (qsize - 1)] = (struct virtq_used_elem){ id, len };
			q.used->idx++;
			break;
		}
		case 4: {   /* device moves used->idx by anything */
			uint8_t d = 0;
			take(&in, &d);
			q.used->idx = (uint16_t)(q.used->idx + d);
			break;
		}
		case 5: {   /* driver reaps */
			void *tok;
			uint32_t len;
			for (int guard = 0; guard < 4 * MAXQ && virtq_pop_used(&q, &tok, &len); guard++) {
				uintptr_t off = (uintptr_t)tok - (uintptr_t)&bufs[0][0];
				if ((uintptr_t)tok < (uintptr_t)&bufs[0][0] || off % sizeof(bufs[0]) || off / sizeof(bufs[0]) >= MAXQ)
					fail("token is not one we added");
				struct slot *sl = &slots[off / sizeof(bufs[0])];
				if (!sl->live)
					fail("token returned twice");
				if (!sl->published)
					fail("chain returned before it was published");
				if (len > sl->wcap)
					fail("length beyond the chain's writable bytes");
				sl->live = 0;
				held_desc -= sl->ndesc;
			}
			break;
		}
		}
		check();
	}
	return 0;
}
