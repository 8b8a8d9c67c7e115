/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of drivers/virtq.c against a fake device in plain memory.
 * The fake consumes avail entries and writes used entries, and can forge bad
 * ones. Not covered here: transports (see tests/test_virtio_rng.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bv/err.h"
#include "drivers/virtq.h"

#define CHECK_MAIN
#include "tests/unit/check.h"

static struct virtq q;
static unsigned notifies;
static uint16_t dev_last_avail;

static void on_notify(struct virtq *vq, void *ctx) { (void)vq; (void)ctx; notifies++; }

/* Device side: take one avail chain, return its head and writable capacity. */
static int dev_take(uint16_t *head, uint32_t *cap, unsigned *segs)
{
	if (dev_last_avail == q.avail->idx)
		return 0;
	uint16_t h = q.avail->ring[dev_last_avail & (q.size - 1)];
	dev_last_avail++;
	uint32_t c = 0;
	unsigned n = 0;
	uint16_t i = h;
	for (;;) {
		n++;
		if (q.desc[i].flags & VIRTQ_DESC_F_WRITE)
			c += q.desc[i].len;
		if (!(q.desc[i].flags & VIRTQ_DESC_F_NEXT))
			break;
		i = q.desc[i].next;
	}
	*head = h; *cap = c; if (segs) *segs = n;
	return 1;
}

static void dev_put(uint32_t id, uint32_t len)
{
	q.used->ring[q.used->idx & (q.size - 1)] = (struct virtq_used_elem){ id, len };
	q.used->idx++;
}

static void reset(uint16_t size)
{
	CHECK(virtq_init(&q, 0, size) == BV_OK);
	virtq_set_notify(&q, on_notify, NULL);
	dev_last_avail = 0;
	notifies = 0;
}

static void test_init(void)
{
	CHECK(virtq_init(&q, 0, 0) == BV_EINVAL);
	CHECK(virtq_init(&q, 0, 3) == BV_EINVAL);
	CHECK(virtq_init(&q, 0, BV_VIRTQ_MAX_SIZE * 2) == BV_EINVAL);
	reset(BV_VIRTQ_MAX_SIZE);
	CHECK(((uintptr_t)q.desc & 4095) == 0);
	CHECK(((uintptr_t)q.used & 4095) == 0);
	CHECK((uint8_t *)q.used + 6 + 8 * q.size <= q.ring + sizeof(q.ring));
	CHECK(q.avail->flags == VIRTQ_AVAIL_F_NO_INTERRUPT);
	CHECK(virtq_num_free(&q) == BV_VIRTQ_MAX_SIZE);
}

/* > 65536 buffers through a small ring: both 16-bit indexes wrap. */
static void test_wrap(void)
{
	reset(8);
	static char buf[8][16];
	unsigned long got = 0, sent = 0;
	const unsigned long total = 70000 * 3 + 5;
	while (got < total) {
		while (sent < total) {
			struct virtq_seg s = virtq_seg(buf[sent % 8], 16);
			if (virtq_add(&q, &s, 0, 1, (void *)(uintptr_t)(sent + 1)) != BV_OK)
				break;
			sent++;
		}
		virtq_kick(&q);
		uint16_t h; uint32_t cap;
		while (dev_take(&h, &cap, NULL))
			dev_put(h, cap);
		void *tok; uint32_t len;
		while (virtq_pop_used(&q, &tok, &len) == 1) {
			if ((uintptr_t)tok != got + 1 || len != 16) {
				CHECK(!"token or length out of order");
				return;
			}
			got++;
		}
	}
	CHECK(got == total);
	CHECK(q.stats.added == total && q.stats.reaped == total);
	CHECK(virtq_num_free(&q) == 8);
	CHECK(q.stats.bad_id + q.stats.not_in_flight + q.stats.bad_len == 0);
}

static void test_full_ring(void)
{
	reset(4);
	static char b[4];
	struct virtq_seg s = virtq_seg(b, 4);
	for (int i = 0; i < 4; i++)
		CHECK(virtq_add(&q, &s, 1, 0, b + i) == BV_OK);
	CHECK(virtq_add(&q, &s, 1, 0, b) == BV_ENOBUFS);
	struct virtq_seg two[2] = { s, s };
	CHECK(virtq_add(&q, two, 1, 1, b) == BV_ENOBUFS);
	CHECK(virtq_add(&q, &s, 0, 0, b) == BV_EINVAL);
	CHECK(virtq_add(&q, &s, 1, 0, NULL) == BV_EINVAL);
	virtq_kick(&q);
	CHECK(notifies == 1);
	virtq_kick(&q);           /* nothing new: no second doorbell */
	CHECK(notifies == 1);
	uint16_t h; uint32_t cap;
	CHECK(dev_take(&h, &cap, NULL) == 1);
	dev_put(h, 0);
	void *tok; uint32_t len;
	CHECK(virtq_pop_used(&q, &tok, &len) == 1 && tok == b && len == 0);
	CHECK(virtq_pop_used(&q, &tok, &len) == 0);
	CHECK(virtq_add(&q, &s, 1, 0, b) == BV_OK);   /* recovered */
	CHECK(virtq_add(&q, &s, 1, 0, b) == BV_ENOBUFS);
	/* Device asks not to be notified. */
	q.used->flags = VIRTQ_USED_F_NO_NOTIFY;
	virtq_kick(&q);
	CHECK(notifies == 1 && q.stats.notifies_suppressed == 1);
}

static void test_chain(void)
{
	reset(16);
	static char hdr[44], pay[100], in1[64], in2[32];
	struct virtq_seg s[4] = { virtq_seg(hdr, 44), virtq_seg(pay, 100),
				  virtq_seg(in1, 64), virtq_seg(in2, 32) };
	CHECK(virtq_add(&q, s, 2, 2, hdr) == BV_OK);
	CHECK(virtq_num_free(&q) == 12);
	virtq_kick(&q);
	uint16_t h; uint32_t cap; unsigned n;
	CHECK(dev_take(&h, &cap, &n) == 1);
	CHECK(n == 4 && cap == 96);
	CHECK(q.desc[h].addr == (uintptr_t)hdr && !(q.desc[h].flags & VIRTQ_DESC_F_WRITE));
	dev_put(h, 96);
	void *tok; uint32_t len;
	CHECK(virtq_pop_used(&q, &tok, &len) == 1 && tok == hdr && len == 96);
	CHECK(virtq_num_free(&q) == 16);
	/* Many adds, one kick: the device sees them all at once. */
	for (int i = 0; i < 5; i++)
		CHECK(virtq_add(&q, s, 1, 1, hdr + i) == BV_OK);
	CHECK(q.avail->idx == 1);
	virtq_kick(&q);
	CHECK(q.avail->idx == 6 && notifies == 2);
}

static void test_bad_entries(void)
{
	reset(8);
	static char b[3][32];
	for (int i = 0; i < 3; i++) {
		struct virtq_seg s = virtq_seg(b[i], 32);
		CHECK(virtq_add(&q, &s, 0, 1, b[i]) == BV_OK);
	}
	virtq_kick(&q);
	uint16_t h[3]; uint32_t cap;
	for (int i = 0; i < 3; i++)
		CHECK(dev_take(&h[i], &cap, NULL) == 1);
	void *tok; uint32_t len;

	dev_put(1000, 4);                 /* out of range */
	dev_put(7, 4);                    /* in range, never a head in flight */
	dev_put(h[0], 33);                /* longer than the buffer */
	dev_put(h[1], 10);                /* good */
	/* The chain with the bad length comes back at once with len 0 (counted):
	 * its buffer is ours to reuse, never lost waiting for a completion that
	 * may not come. */
	CHECK(virtq_pop_used(&q, &tok, &len) == VIRTQ_POP_BADLEN && tok == b[0] && len == 0);
	CHECK(virtq_pop_used(&q, &tok, &len) == 1 && tok == b[1] && len == 10);
	CHECK(q.stats.bad_id == 1 && q.stats.not_in_flight == 1 && q.stats.bad_len == 1);
	dev_put(h[1], 10);                /* duplicated completion */
	dev_put(h[0], 32);                /* a late "proper" completion of the bad one */
	dev_put((uint32_t)q.free_head, 0); /* a free descriptor, not a chain head in flight */
	CHECK(virtq_pop_used(&q, &tok, &len) == 0);
	CHECK(q.stats.not_in_flight == 4);
	dev_put(h[2], 0);
	CHECK(virtq_pop_used(&q, &tok, &len) == 1 && tok == b[2] && len == 0);
	CHECK(virtq_num_free(&q) == 8);
	/* Still works afterwards. */
	struct virtq_seg s = virtq_seg(b[0], 32);
	CHECK(virtq_add(&q, &s, 0, 1, b[0]) == BV_OK);
	virtq_kick(&q);
	CHECK(dev_take(&h[0], &cap, NULL) == 1);
	dev_put(h[0], 5);
	CHECK(virtq_pop_used(&q, &tok, &len) == 1 && tok == b[0] && len == 5);
}

/* A used id naming the middle of an outstanding chain is not a head. */
static void test_mid_chain_id(void)
{
	reset(8);
	static char o[8], i1[8];
	struct virtq_seg s[2] = { virtq_seg(o, 8), virtq_seg(i1, 8) };
	CHECK(virtq_add(&q, s, 1, 1, o) == BV_OK);
	virtq_kick(&q);
	uint16_t h; uint32_t cap;
	CHECK(dev_take(&h, &cap, NULL) == 1);
	dev_put(q.desc[h].next, 8);
	void *tok; uint32_t len;
	CHECK(virtq_pop_used(&q, &tok, &len) == 0 && q.stats.not_in_flight == 1);
	CHECK(virtq_num_free(&q) == 6);
	dev_put(h, 8);
	CHECK(virtq_pop_used(&q, &tok, &len) == 1 && tok == o && len == 8);
	CHECK(virtq_num_free(&q) == 8);
}

/* A head freed and re-added in the same round is not the device's until the
 * next kick: repeating its previous completion must not return the new chain. */
static void test_unpublished(void)
{
	reset(8);
	static char a[16], b[16];
	struct virtq_seg s = virtq_seg(a, 16);
	CHECK(virtq_add(&q, &s, 0, 1, a) == BV_OK);
	virtq_kick(&q);
	uint16_t h; uint32_t cap;
	CHECK(dev_take(&h, &cap, NULL) == 1);
	dev_put(h, 16);
	dev_put(h, 16);                   /* the same entry twice */
	void *tok; uint32_t len;
	CHECK(virtq_pop_used(&q, &tok, &len) == 1 && tok == a);
	s = virtq_seg(b, 16);
	CHECK(virtq_add(&q, &s, 0, 1, b) == BV_OK);   /* lands on the freed head */
	CHECK(q.free_head != h && q.token[h] == b);
	CHECK(virtq_pop_used(&q, &tok, &len) == 0);
	CHECK(q.stats.not_in_flight == 1);
	/* once published, the device's completion of it counts */
	virtq_kick(&q);
	uint16_t h2;
	CHECK(dev_take(&h2, &cap, NULL) == 1 && h2 == h);
	dev_put(h2, 3);
	CHECK(virtq_pop_used(&q, &tok, &len) == 1 && tok == b && len == 3);
	CHECK(virtq_num_free(&q) == 8);
}

/* A chain with nothing device-writable (a TX packet) completes whatever len
 * the device reports: the spec warns devices get it wrong there, and holding
 * the chain would leak the buffer. The caller sees 0. */
static void test_readonly_len_ignored(void)
{
	reset(8);
	static char pkt[64];
	struct virtq_seg s = virtq_seg(pkt, sizeof(pkt));
	CHECK(virtq_add(&q, &s, 1, 0, pkt) == BV_OK);
	virtq_kick(&q);
	uint16_t h; uint32_t cap;
	CHECK(dev_take(&h, &cap, NULL) == 1 && cap == 0);
	dev_put(h, sizeof(pkt));          /* the bytes it read, as some devices report */
	void *tok; uint32_t len = 1234;
	CHECK(virtq_pop_used(&q, &tok, &len) == 1 && tok == pkt && len == 0);
	CHECK(q.stats.bad_len == 0 && virtq_num_free(&q) == 8);
}

int main(void)
{
	test_init();
	test_wrap();
	test_full_ring();
	test_chain();
	test_bad_entries();
	test_mid_chain_id();
	test_unpublished();
	test_readonly_len_ignored();
	return check_report("test_virtq");
}
