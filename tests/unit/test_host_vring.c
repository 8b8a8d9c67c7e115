/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of host/vring.c, the device side of split rings, against a fake
 * guest: good chains, and every kind of bad chain a guest can post (loops,
 * addresses outside the memory table, wrong direction, oversize, indirect). */
#define CHECK_MAIN
#include "tests/unit/test_host_fakeguest.h"

static struct fg g;
static struct vr_chain ch;

static void test_translation(void)
{
	CHECK(vr_gpa(&g.mem, FG_GPA, FG_SIZE) == g.ram);
	CHECK(vr_gpa(&g.mem, FG_GPA + FG_SIZE - 1, 1) != NULL);
	CHECK(vr_gpa(&g.mem, FG_GPA + FG_SIZE - 1, 2) == NULL);    /* straddles the end */
	CHECK(vr_gpa(&g.mem, FG_GPA - 1, 1) == NULL);
	CHECK(vr_gpa(&g.mem, UINT64_MAX, 2) == NULL);               /* no wrap-around */
	CHECK(vr_gpa(&g.mem, FG_GPA + 16, UINT64_MAX) == NULL);
	CHECK(vr_uva(&g.mem, FG_UVA + 8, 8) == g.ram + 8);
	CHECK(vr_uva(&g.mem, FG_GPA, 8) == NULL);
}

static void test_good_chain_and_gather(void)
{
	struct fg_ring r;
	struct vr_queue q;
	fg_ring_init(&g, &r, 8);
	fg_attach(&r, &q);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_EMPTY);
	uint32_t lens[3] = { 10, 0, 30 };
	uint64_t gpas[3];
	uint16_t head = fg_post(&g, &r, 3, lens, 0, gpas);
	for (int i = 0; i < 10; i++)
		((uint8_t *)fg_ptr(&g, gpas[0]))[i] = (uint8_t)i;
	for (int i = 0; i < 30; i++)
		((uint8_t *)fg_ptr(&g, gpas[2]))[i] = (uint8_t)(10 + i);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_OK);
	CHECK_EQ(ch.head, head);
	CHECK_EQ(ch.n, 2);           /* the empty descriptor adds no segment */
	CHECK_EQ(ch.total, 40);
	uint8_t buf[40];
	CHECK_EQ(vr_chain_read(&ch, 5, buf, 20), 20);
	for (int i = 0; i < 20; i++)
		CHECK_EQ(buf[i], 5 + i);
	CHECK_EQ(vr_chain_read(&ch, 35, buf, 20), 5);  /* clipped at the end */
	vr_push(&q, ch.head, 7);
	uint32_t id, len;
	CHECK(fg_used(&r, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 7);
	/* unpop gives the same chain again */
	fg_post(&g, &r, 1, lens, VRING_DESC_F_WRITE, NULL);
	CHECK_EQ(vr_pop(&q, &g.mem, true, 0, &ch), VR_OK);
	uint16_t h2 = ch.head;
	vr_unpop(&q);
	CHECK_EQ(vr_pop(&q, &g.mem, true, 0, &ch), VR_OK);
	CHECK_EQ(ch.head, h2);
	const char msg[] = "0123456789";
	CHECK_EQ(vr_chain_write(&ch, 2, msg, 10), 8);
	/* notifications follow VRING_AVAIL_F_NO_INTERRUPT */
	vr_push(&q, ch.head, 10);
	CHECK(vr_should_notify(&q));
	CHECK(!vr_should_notify(&q));          /* nothing new pushed */
	r.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	vr_push(&q, ch.head, 10);
	CHECK(!vr_should_notify(&q));
}

/* Each bad chain is reported with its head so it can be returned. */
static void test_bad_chains(void)
{
	struct fg_ring r;
	struct vr_queue q;
	fg_ring_init(&g, &r, 8);
	fg_attach(&r, &q);
	uint64_t buf = fg_alloc(&g, 4096, 8);

	/* a loop: 0 -> 1 -> 0 */
	fg_desc(&r, 0, buf, 16, VRING_DESC_F_NEXT, 1);
	fg_desc(&r, 1, buf, 16, VRING_DESC_F_NEXT, 0);
	fg_publish(&r, 0);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_ELOOP);
	CHECK_EQ(ch.head, 0);
	vr_push(&q, ch.head, 0);

	/* self loop */
	fg_desc(&r, 2, buf, 16, VRING_DESC_F_NEXT, 2);
	fg_publish(&r, 2);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_ELOOP);
	vr_push(&q, ch.head, 0);

	/* address outside the memory table, and straddling its end */
	fg_desc(&r, 3, 0x1000, 16, 0, 0);
	fg_publish(&r, 3);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_EADDR);
	CHECK_EQ(ch.head, 3);
	vr_push(&q, ch.head, 0);
	fg_desc(&r, 3, FG_GPA + FG_SIZE - 8, 16, 0, 0);
	fg_publish(&r, 3);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_EADDR);
	vr_push(&q, ch.head, 0);
	fg_desc(&r, 3, UINT64_MAX - 4, 16, 0, 0);
	fg_publish(&r, 3);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_EADDR);
	vr_push(&q, ch.head, 0);

	/* next out of range */
	fg_desc(&r, 4, buf, 16, VRING_DESC_F_NEXT, 200);
	fg_publish(&r, 4);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_ENEXT);
	vr_push(&q, ch.head, 0);

	/* indirect (never negotiated) */
	fg_desc(&r, 5, buf, 16, VRING_DESC_F_INDIRECT, 0);
	fg_publish(&r, 5);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_EINDIRECT);
	vr_push(&q, ch.head, 0);

	/* writable descriptor in a device-readable (TX) chain, and the reverse */
	fg_desc(&r, 6, buf, 16, VRING_DESC_F_NEXT, 7);
	fg_desc(&r, 7, buf, 16, VRING_DESC_F_WRITE, 0);
	fg_publish(&r, 6);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_EDIR);
	vr_push(&q, ch.head, 0);
	fg_publish(&r, 6);
	CHECK_EQ(vr_pop(&q, &g.mem, true, 0, &ch), VR_EDIR);
	vr_push(&q, ch.head, 0);

	/* larger than allowed */
	fg_desc(&r, 0, buf, 4000, 0, 0);
	fg_publish(&r, 0);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 100, &ch), VR_ESIZE);
	vr_push(&q, ch.head, 0);

	/* every bad chain came back on the used ring */
	uint32_t id, len;
	int n = 0;
	while (fg_used(&r, &id, &len))
		n++;
	CHECK_EQ(n, 10);
	CHECK(!q.broken);

	/* a head index beyond the ring cannot be returned: the ring is broken */
	r.avail->ring[r.avail->idx % r.num] = 9;
	r.avail->idx++;
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_EBROKEN);
	CHECK(q.broken);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_EBROKEN);
}

static void test_avail_index_runaway(void)
{
	struct fg_ring r;
	struct vr_queue q;
	fg_ring_init(&g, &r, 4);
	fg_attach(&r, &q);
	r.avail->idx = 5;   /* more entries than the ring holds */
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_EBROKEN);
	CHECK(q.broken);
}


/* VIRTIO_RING_F_EVENT_IDX: an empty pop asks for a kick at the next entry
 * (avail_event = last_avail), and the device calls only when the driver's
 * used_event lies in the entries pushed since its last call. */
static void test_event_idx(void)
{
	struct fg_ring r;
	struct vr_queue q;
	fg_ring_init(&g, &r, 8);
	fg_attach(&r, &q);
	q.event_idx = true;
	volatile uint16_t *avail_event = (volatile uint16_t *)((uint8_t *)r.used + 4 + 8 * 8);
	volatile uint16_t *used_event = (volatile uint16_t *)((uint8_t *)r.avail + 4 + 2 * 8);
	*avail_event = 0xdead;
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_EMPTY);
	CHECK_EQ(*avail_event, 0);
	uint32_t lens[1] = { 16 };
	for (int i = 0; i < 3; i++)
		fg_post(&g, &r, 1, lens, 0, NULL);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_OK);
		vr_push_deferred(&q, ch.head, 0);
	}
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_EMPTY);
	CHECK_EQ(*avail_event, 3);          /* kick me when entry 3 comes */
	vr_publish(&q);
	CHECK_EQ(r.used->idx, 3);           /* one index store for the batch */
	*used_event = 5;                    /* the driver wants a call after entry 5 */
	CHECK(!vr_should_notify(&q));       /* 3 pushed: not yet */
	for (int i = 0; i < 3; i++) {
		fg_post(&g, &r, 1, lens, 0, NULL);
		CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_OK);
		vr_push_deferred(&q, ch.head, 0);
	}
	vr_publish(&q);
	CHECK(vr_should_notify(&q));        /* entry 5 went by: call */
	CHECK(!vr_should_notify(&q));       /* nothing new since */
	/* used_event far behind (a driver that does not care): no call */
	*used_event = 0;
	fg_post(&g, &r, 1, lens, 0, NULL);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_OK);
	vr_push(&q, ch.head, 0);
	CHECK(!vr_should_notify(&q));
	/* the driver's flag means nothing with EVENT_IDX: used_event rules */
	r.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	*used_event = 7;
	fg_post(&g, &r, 1, lens, 0, NULL);
	CHECK_EQ(vr_pop(&q, &g.mem, false, 0, &ch), VR_OK);
	vr_push(&q, ch.head, 0);
	CHECK(vr_should_notify(&q));
}

int main(void)
{
	fg_init(&g);
	test_translation();
	test_good_chain_and_gather();
	test_bad_chains();
	test_avail_index_runaway();
	test_event_idx();
	free(g.ram);
	return check_report("test_host_vring");
}
