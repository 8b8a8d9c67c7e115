/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the vsock device glue (vsock/vsock_dev.c) with the real
 * engine, socket API, virtqueues, virtio core and virtio-mmio transport,
 * against a hostile device (tests/unit/fake_virtio.c) that does whatever the
 * input says: it takes RX, TX and event chains and completes them late, out
 * of order, twice, with forged heads, with any header and payload, and with
 * used lengths that are right, short, beyond the buffer or absurd. An app
 * on the socket API accepts, reads and writes on both the copying and the
 * zero-copy calls, splices, and closes. After every step it checks that no
 * buffer was lost or doubled (vsock_dev_test_books: each RX buffer posted
 * or held by the engine, each TX slot free or in flight, each event buffer
 * posted, the engine's TX buffers in order), and that the guest never
 * emits a malformed packet. A leak that crashes nothing is found here.
 * Non-goals: protocol correctness in depth (fuzz_vsock_engine does that).
 *
 * Input: actions, one selector byte each (value % 16) and their own bytes:
 *   0-3 device completes an RX chain   4-5 device completes TX chains
 *   6 device: an event                 7 device: a forged used entry
 *   8-10 guest vsock_poll, clock       11-13 app step    14 app close   15 tick
 * Build and run: make fuzz-build; build/fuzz/fuzz_vsock_dev fuzz/corpus/fuzz_vsock_dev
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/unit/check.h"
#include "tests/unit/fake_virtio.h"
#include "bv/config.h"
#include "bv/err.h"
#include "bv/port.h"
#include "drivers/virtio.h"
#include "drivers/virtio_mmio.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_engine.h"

int check_failures;
unsigned long check_count;

#define FAIL(...) do { fprintf(stderr, "fuzz_vsock_dev: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#define ASSERT(c, ...) do { if (!(c)) FAIL(__VA_ARGS__); } while (0)

#define GUEST_CID 3u
#define MMIO_BASE ((uintptr_t)0x7e0000200000ull)
#define NAPPS     8
#define HELD      64

static const uint8_t *in_p;
static size_t in_n;
static uint8_t rd8(void) { if (!in_n) return 0; in_n--; return *in_p++; }
static uint16_t rd16(void) { uint16_t lo = rd8(); return (uint16_t)(lo | (uint16_t)rd8() << 8); }
static uint32_t rd32(void) { uint32_t lo = rd16(); return lo | (uint32_t)rd16() << 16; }

static struct fv_dev dev;
static struct virtio_dev vd;
static uint64_t clock_us;

/* The clock is the fuzzer's too: timers fire when the input says. */
uint64_t bv_port_now_us(void) { return clock_us; }

/* Chains the device took and has not completed, per queue. */
static struct fv_chain held[3][HELD];
static unsigned nheld[3];

/* Publish a used entry, unless the ring already holds a full ring's worth the
 * guest has not read: a device that writes past that overwrites its own
 * completions (the guest never sees them, and no driver can get them back),
 * which is the device losing buffers, not the guest. */
static int push(unsigned qi, uint16_t head, uint32_t len)
{
	const struct virtq *q = vsock_dev_test_queue(qi);
	if ((uint16_t)(*(volatile uint16_t *)&q->used->idx - q->last_used) >= q->size)
		return 0;
	fv_push(&dev, qi, head, len);
	return 1;
}

/* Complete a chain the device took; if the ring has no room, keep holding it. */
static void complete(unsigned qi, const struct fv_chain *c, uint32_t len)
{
	if (!push(qi, c->head, len) && nheld[qi] < HELD)
		held[qi][nheld[qi]++] = *c;
}

static void take_all(unsigned qi)
{
	while (nheld[qi] < HELD && fv_pop(&dev, qi, &held[qi][nheld[qi]]))
		nheld[qi]++;
}

static struct fv_chain *pick(unsigned qi, uint8_t b)
{
	take_all(qi);
	if (!nheld[qi])
		return NULL;
	unsigned k = b % nheld[qi];
	static struct fv_chain c;
	c = held[qi][k];
	held[qi][k] = held[qi][--nheld[qi]];
	return &c;
}

/* ---- the device ---- */

static void dev_rx(void)
{
	struct fv_chain *c = pick(VSOCK_VQ_RX, rd8());
	uint8_t mode = rd8(), kind = rd8();
	uint16_t len = rd16();
	struct vsock_hdr h;
	memset(&h, 0, sizeof(h));
	h.src_cid = kind & 0x80 ? rd32() : VSOCK_CID_HOST;
	h.dst_cid = kind & 0x40 ? rd8() : GUEST_CID;
	h.src_port = 5000u + (kind & 7);
	h.dst_port = (uint32_t[]){ 1234, 1235, 1236, 1299, 7, 1234, 1234, 1236 }[(kind >> 3) & 7];
	h.type = mode & 0x40 ? (uint16_t)(mode & 3) : VSOCK_TYPE_STREAM + ((mode >> 5) & 1);
	h.op = (uint16_t)(1 + rd8() % 8);
	h.flags = rd8();
	h.buf_alloc = rd8() < 200 ? 1u << 18 : rd32();
	h.fwd_cnt = rd32();
	h.len = len;
	if (!c)
		return;
	uint32_t cap = c->writable;
	uint32_t room = cap > VSOCK_HDR_SIZE ? cap - VSOCK_HDR_SIZE : 0;
	uint32_t plen = len < room ? len : room;
	fv_write(&dev, c, 0, &h, VSOCK_HDR_SIZE);
	static uint8_t data[65536];
	for (uint32_t i = 0; i < plen && i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31u + len);
	if (plen)
		fv_write(&dev, c, VSOCK_HDR_SIZE, data, plen);
	uint32_t used;
	switch (mode % 8) {
	case 0: used = 0; break;                               /* nothing */
	case 1: used = VSOCK_HDR_SIZE - 1; break;              /* short */
	case 2: used = cap + 1 + (mode >> 3); break;           /* beyond the buffer */
	case 3: used = 0xFFFFFFFFu; break;
	default: used = VSOCK_HDR_SIZE + plen; break;          /* what it wrote */
	}
	complete(VSOCK_VQ_RX, c, used);
}

static void dev_tx(void)
{
	uint8_t n = rd8(), mode = rd8();
	take_all(VSOCK_VQ_TX);
	for (unsigned k = 0; k < (n & 15) && nheld[VSOCK_VQ_TX]; k++) {
		struct fv_chain *c = pick(VSOCK_VQ_TX, (uint8_t)(n + k * mode));
		struct vsock_hdr h;
		ASSERT(c->writable == 0, "a TX chain with device-writable parts");
		ASSERT(fv_read(&dev, c, 0, &h, VSOCK_HDR_SIZE) == VSOCK_HDR_SIZE, "a TX chain shorter than a header");
		ASSERT(h.src_cid == vsock_local_cid() || h.op == VSOCK_OP_RST,
		       "TX from CID %llu, ours is %llu", (unsigned long long)h.src_cid,
		       (unsigned long long)vsock_local_cid());
		ASSERT(h.len == c->readable - VSOCK_HDR_SIZE, "hdr.len %u, chain carries %u", h.len,
		       c->readable - VSOCK_HDR_SIZE);
		ASSERT(h.op >= VSOCK_OP_REQUEST && h.op <= VSOCK_OP_CREDIT_REQUEST, "emitted op %u", h.op);
		complete(VSOCK_VQ_TX, c, mode & 1 ? rd32() : 0);   /* any len: means nothing */
		if (mode & 2)
			push(VSOCK_VQ_TX, c->head, 0);                /* and a second time */
	}
}

static void dev_event(void)
{
	struct fv_chain *c = pick(VSOCK_VQ_EVENT, rd8());
	uint8_t mode = rd8();
	if (!c)
		return;
	uint32_t id = mode & 1 ? rd32() : VSOCK_EVENT_TRANSPORT_RESET;
	fv_write(&dev, c, 0, &id, sizeof(id));
	if (mode & 2) {
		uint64_t cid = GUEST_CID + (mode >> 4);
		fv_set_config(&dev, 0, &cid, sizeof(cid));
	}
	complete(VSOCK_VQ_EVENT, c, (mode & 4) ? rd8() : 4);
}

static void dev_forge(void)
{
	uint8_t qi = rd8() % 3;
	push(qi, rd16(), rd32());
}

/* ---- the app ---- */

static int lh[2];
static int app[NAPPS];

static void app_step(void)
{
	uint8_t b = rd8();
	for (int l = 0; l < 2; l++)
		for (int i = 0; i < NAPPS; i++)
			if (app[i] < 0 && lh[l] >= 0) {
				int h = vsock_accept(lh[l], NULL, NULL);
				if (h >= 0)
					app[i] = h;
			}
	int i = b % NAPPS;
	if (app[i] < 0)
		return;
	int h = app[i], r;
	static uint8_t buf[70000];
	const void *p;
	void *w;
	uint32_t fl, n = rd16();
	switch ((b >> 3) % 6) {
	case 0:
		r = vsock_recv(h, buf, n % sizeof(buf));
		break;
	case 1:
		r = vsock_recv_borrow(h, &p, &fl);
		if (r > 0)
			vsock_recv_release(h, n % ((uint32_t)r + 1));
		break;
	case 2:
		r = vsock_send(h, buf, n % sizeof(buf));
		break;
	case 3:
		r = vsock_send_reserve(h, n % 70000, &w);
		if (r > 0) {
			memset(w, 0x5a, n % ((uint32_t)r + 1));
			r = vsock_send_commit(h, n % ((uint32_t)r + 1), n & 1 ? VSOCK_MSG_EOR : 0);
		}
		break;
	case 4:
		r = vsock_splice(h, h, n);
		break;
	default:
		r = vsock_shutdown(h, 1 + n % 3);
		break;
	}
	if (r < 0 && r != BV_EAGAIN && (b & 0x80)) {
		vsock_close(h);
		app[i] = -1;
	}
}

static void app_close(void)
{
	uint8_t b = rd8();
	int i = b % NAPPS;
	if (app[i] >= 0) {
		ASSERT(vsock_close(app[i]) == 0, "close failed");
		app[i] = -1;
	}
}

static void check_books(const char *after)
{
	const char *why = vsock_dev_test_books();
	if (why)
		FAIL("after %s: %s", after, why);
	ASSERT(!check_failures, "the fake device's checks failed after %s", after);
}

/* Right after a poll that left no used entry unread: every chain the guest
 * still counts as the device's must really be with the device (taken and
 * held, or published and not yet taken). A chain the guest keeps after the
 * device finished with it (the used-length leak of issue 11) breaks this.
 * (Forged completions can only make the device's count the larger.) */
static void check_device_has_them(void)
{
	for (unsigned qi = 0; qi < 3; qi++) {
		const struct virtq *q = vsock_dev_test_queue(qi);
		if (*(volatile uint16_t *)&q->used->idx != q->last_used)
			continue;
		unsigned guest = 0;
		for (unsigned i = 0; i < q->size; i++)
			guest += q->in_flight[i] != 0;
		unsigned untaken = (uint16_t)(q->avail->idx - dev.q[qi].last_avail);
		ASSERT(guest <= nheld[qi] + untaken,
		       "queue %u: the guest counts %u chains with the device, the device has %u (+%u untaken)",
		       qi, guest, nheld[qi], untaken);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	in_p = data;
	in_n = size;
	clock_us = 1;
	memset(nheld, 0, sizeof(nheld));
	fv_dma_setup(0, 0);
	struct fv_config c = {
		.transport = FV_MMIO_V2, .device_id = VIRTIO_ID_VSOCK, .nqueues = 3,
		.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VSOCK_F_SEQPACKET) | rd8(),
		.queue_max = { 128, 128, 8 }, .cfg_len = 8,
	};
	uint64_t cid = GUEST_CID;
	memcpy(c.cfg, &cid, sizeof(cid));
	fv_init(&dev, &c, MMIO_BASE);
	ASSERT(virtio_mmio_attach(&vd, MMIO_BASE) == BV_OK, "attach failed");
	ASSERT(vsock_dev_attach(&vd) == BV_OK, "vsock attach failed");
	lh[0] = vsock_listen(1234, VSOCK_STREAM, 4);
	lh[1] = vsock_listen(1235, VSOCK_SEQPACKET, 4);
	for (int i = 0; i < NAPPS; i++)
		app[i] = -1;
	check_books("attach");

	for (unsigned steps = 0; in_n && steps < 2048; steps++) {
		uint8_t a = rd8() % 16;
		if (a < 4)
			dev_rx();
		else if (a < 6)
			dev_tx();
		else if (a == 6)
			dev_event();
		else if (a == 7)
			dev_forge();
		else if (a < 11) {
			vsock_poll();
			check_device_has_them();
		}
		else if (a < 14)
			app_step();
		else if (a == 14)
			app_close();
		else
			clock_us += 1000u * rd16();
		check_books("a step");
	}
	/* The device completes everything it holds; the app closes (listeners
	 * too: what waits for accept is reset); time runs out: every buffer
	 * must be back where it started. */
	for (int i = 0; i < NAPPS; i++)
		if (app[i] >= 0)
			vsock_close(app[i]);
	vsock_close(lh[0]);
	vsock_close(lh[1]);
	for (int round = 0; round < 64; round++) {
		for (unsigned qi = 0; qi < 3; qi++) {
			take_all(qi);
			while (nheld[qi] && push(qi, held[qi][nheld[qi] - 1].head, 0))   /* RX: nothing written, dropped as short */
				nheld[qi]--;
		}
		clock_us += 1000000;
		vsock_poll();
		check_books("the wind-down");
	}
	struct vsock_dev_stats ds;
	struct vsock_stats es;
	vsock_dev_stats(&ds);
	vsock_engine_stats(&es);
	ASSERT(es.rx_bufs_held == 0, "%u RX buffers still held with every connection gone", es.rx_bufs_held);
	ASSERT(es.tx_bufs_free == es.tx_bufs_total, "%u of %u TX buffers free at the end", es.tx_bufs_free,
	       es.tx_bufs_total);
	ASSERT(ds.rx_posted == ds.rx_total, "%u of %u RX buffers posted at the end", ds.rx_posted, ds.rx_total);
	ASSERT(ds.tx_free == ds.tx_total, "%u of %u TX slots free at the end", ds.tx_free, ds.tx_total);
	fv_fini(&dev);
	return 0;
}
