/* SPDX-License-Identifier: BSD-2-Clause */
/* vsock device glue: the only vsock code that touches virtio. It keeps the
 * RX and event queues stocked, hands every received packet to the engine
 * (which keeps the buffer while the data in it is unread), sends what the
 * engine's pull interface gives it and drives the engine's clock, all from
 * vsock_poll(), which does a bounded amount of work per call and kicks each
 * queue at most once. Not here: protocol rules (vsock_engine.c) or the
 * socket API (vsock_socket.c). */
#include <string.h>
#include "bv/config.h"
#include "bv/err.h"
#include "bv/log.h"
#include "bv/time.h"
#include "drivers/virtio.h"
#include "vsock/vsock.h"
#include "vsock/vsock_buf.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_diag.h"
#include "vsock/vsock_engine.h"

#define VSOCK_CFG_GUEST_CID 0      /* le64 in device config space */

/* A TX packet's header gets a slot of its own (its payload is a slice of
 * an engine TX buffer, the chain's second descriptor), on its own cache
 * line so the port's cache maintenance of it touches nothing else. */
struct vsock_txslot {
	struct vsock_hdr hdr;
	uint32_t token;          /* the engine's, for vsock_engine_tx_done */
} __attribute__((aligned(BV_DMA_ALIGN)));

struct vsock_evbuf {
	struct vsock_event ev;
} __attribute__((aligned(BV_DMA_ALIGN)));

static struct virtio_dev *vdev;
static struct virtq rxq, txq, evq;
static struct vsock_rxbuf rxbufs[BV_VSOCK_RX_BUFS];
static struct vsock_txslot txslots[BV_VSOCK_TX_PKTS];
static struct vsock_evbuf evbufs[BV_VSOCK_EVENT_BUFS];
static struct vsock_txslot *slot_free[BV_VSOCK_TX_PKTS];
static unsigned slot_nfree, slot_total, rx_total;
static struct vsock_dev_stats dstats;
/* vsock_wait's state: */
static uint64_t wait_quiet_since;   /* when it last saw the device give anything back */
static uint64_t wait_seen;          /* completions counted then */
#ifndef BV_VSOCK_BUSY_POLL
static uint64_t wait_kicked;        /* when the watchdog last rang the doorbells */
static uint32_t wait_spin_us;       /* the polling window now */
#endif

static int post_rx(struct vsock_rxbuf *b)
{
	/* A completion the device forges for this buffer without writing it
	 * (a stale or repeated used entry) then reads as a header addressed to
	 * CID 0 and is dropped, instead of replaying the packet that was here. */
	memset(&b->hdr, 0, sizeof(b->hdr));
	struct virtq_seg s = virtq_seg(b, VSOCK_RXBUF_BYTES);
	return virtq_add(&rxq, &s, 0, 1, b);
}

static int post_event(struct vsock_event *e)
{
	struct virtq_seg s = virtq_seg(e, sizeof(*e));
	return virtq_add(&evq, &s, 0, 1, e);
}

static uint64_t read_cid(void)
{
	return virtio_cfg_read64(vdev, VSOCK_CFG_GUEST_CID);
}

int vsock_dev_attach(struct virtio_dev *d)
{
	struct virtq *qs[3] = { &rxq, &txq, &evq };   /* VSOCK_VQ_RX, _TX, _EVENT */

	vdev = NULL;
	if (!d || !d->ops || d->device_id != VIRTIO_ID_VSOCK) {
		bv_logf("vsock: device %u at %s is not a virtio-vsock device\n",
			d ? (unsigned)d->device_id : 0u, d ? d->where : "(none)");
		return BV_ENODEV;
	}
	vdev = d;
	/* The type bits we understand; never bit 3 or above (DGRAM and
	 * multi-device proposals that no spec release carries). */
	const uint64_t wanted = (1ull << VSOCK_F_STREAM) | (1ull << VSOCK_F_SEQPACKET) |
				(1ull << VSOCK_F_NO_IMPLIED_STREAM);
#ifndef BV_VSOCK_BUSY_POLL
	wait_spin_us = BV_VSOCK_WAIT_SPIN_US;
	vdev->irq.wanted = 1;   /* vsock_wait halts until it */
#endif
	int rc = virtio_init(vdev, wanted | 1ull << VIRTIO_RING_F_EVENT_IDX, 0, qs, 3);
	if (rc < 0) {
		bv_logf("vsock: device init failed: %s\n", bv_strerror(rc));
		vdev = NULL;
		return rc;
	}
	uint64_t vfeat = vdev->features & wanted;
	int seqpacket = (vfeat >> VSOCK_F_SEQPACKET) & 1;
	int stream = ((vfeat >> VSOCK_F_STREAM) & 1) || !((vfeat >> VSOCK_F_NO_IMPLIED_STREAM) & 1);
	uint64_t cid = read_cid();
	vsock_engine_init(cid, vfeat);

	/* The device can only deliver into buffers we have posted, and only
	 * looks after a kick. */
	rx_total = 0;
	for (unsigned i = 0; i < BV_VSOCK_RX_BUFS && virtq_num_free(&rxq); i++) {
		if (post_rx(&rxbufs[i]) < 0)
			break;
		rx_total++;
	}
	for (unsigned i = 0; i < BV_VSOCK_EVENT_BUFS && virtq_num_free(&evq); i++)
		if (post_event(&evbufs[i].ev) < 0)
			break;
	virtq_kick(&rxq);
	virtq_kick(&evq);
	/* Two descriptors a packet (header, payload): never more slots than
	 * the ring can take at once. */
	slot_nfree = 0;
	for (unsigned i = 0; i < BV_VSOCK_TX_PKTS && i < txq.size / 2u; i++)
		slot_free[slot_nfree++] = &txslots[i];
	slot_total = slot_nfree;

	bv_logf("vsock: cid %llu on %s at %s, queues %u/%u/%u, seqpacket %s, stream %s, irq %s, event_idx %s\n",
	       (unsigned long long)cid, virtio_transport_name(vdev->transport), vdev->where,
	       rxq.size, txq.size, evq.size, seqpacket ? "on" : "off", stream ? "on" : "off",
	       vdev->irq.mode == VIRTIO_IRQ_MSIX ? "msi-x" : vdev->irq.mode == VIRTIO_IRQ_LINE ? "line" : "none",
	       rxq.event_idx ? "on" : "off");
	return BV_OK;
}

static int poll_events(void);

/* Received packets go to the engine, which keeps a buffer while its data is
 * unread; the others go straight back on the ring, and so does every
 * buffer the engine has finished with. A used entry the device got wrong
 * (shorter than a header, or longer than the buffer: virtq completes it
 * with len 0) costs that packet only: the buffer is reposted. */
static int poll_rx(void)
{
	void *tok;
	uint32_t len;
	int n = 0, r;

	/* While our RSTs fill the TX ring, take no more RX: each packet may
	 * queue another (Linux stops RX on queued replies the same way). */
	while (n < BV_VSOCK_POLL_BUDGET && !vsock_engine_replies_backed_up(txq.size / 2u) &&
	       (r = virtq_pop_used(&rxq, &tok, &len)) != 0) {
		struct vsock_rxbuf *b = tok;
		n++;
		dstats.rx_bufs++;
		if (r == VIRTQ_POP_BADLEN) {
			dstats.rx_bad_len++;
		} else if (len < VSOCK_HDR_SIZE) {
			dstats.rx_short++;
		} else {
			/* A packet for a CID other than ours may be the first after a
			 * TRANSPORT_RESET whose event we have not seen yet: take the
			 * events first, so the engine judges it by the new CID. */
			if (vsock_le64(b->hdr.dst_cid) != vsock_local_cid())
				poll_events();
			if (vsock_engine_rx(b, len - VSOCK_HDR_SIZE))
				continue;   /* the engine holds it */
		}
		post_rx(b);   /* cannot fail: it just came off this ring */
	}
	struct vsock_rxbuf *b;
	while ((b = vsock_engine_rx_reclaim()) != NULL)
		post_rx(b);   /* ours, and off the ring since the device used it */
	virtq_kick(&rxq);   /* no-op when nothing was added */
	return n;
}

static int poll_events(void)
{
	void *tok;
	uint32_t len;
	int n = 0;

	int r;
	while ((r = virtq_pop_used(&evq, &tok, &len)) != 0) {
		struct vsock_event *e = tok;
		n++;
		dstats.events++;
		if (r != VIRTQ_POP_BADLEN && len >= sizeof(*e) &&
		    vsock_le32(e->id) == VSOCK_EVENT_TRANSPORT_RESET) {
			/* After migration the CID may have changed: read it again. */
			dstats.transport_resets++;
			vsock_engine_transport_reset(read_cid());
		} else {
			dstats.ev_dropped++;
		}
		post_event(e);
	}
	if (n)
		virtq_kick(&evq);
	return n;
}

static int poll_tx(void)
{
	void *tok;
	uint32_t len;
	int reaped = 0, sent = 0;

	while (virtq_pop_used(&txq, &tok, &len)) {
		struct vsock_txslot *t = tok;
		vsock_engine_tx_done(t->token);
		slot_free[slot_nfree++] = t;
		dstats.tx_bufs++;
		reaped++;
	}
	/* Fill the ring as far as it goes, then one kick for the batch. */
	while (slot_nfree && virtq_num_free(&txq) >= 2) {
		struct vsock_txslot *t = slot_free[slot_nfree - 1];
		struct vsock_txpkt pkt;
		int n = vsock_engine_next_tx(&t->hdr, &pkt);
		if (n < 0)
			break;
		struct virtq_seg s[2] = { virtq_seg(&t->hdr, VSOCK_HDR_SIZE), virtq_seg(pkt.data, pkt.len) };
		t->token = pkt.token;
		if (virtq_add(&txq, s, pkt.len ? 2 : 1, 0, t) < 0) {
			vsock_engine_tx_done(pkt.token);   /* not reached: two descriptors are free */
			break;
		}
		slot_nfree--;
		sent++;
	}
	virtq_kick(&txq);
	return reaped + sent;
}

int vsock_poll(void)
{
	if (!vdev)
		return BV_ENODEV;
	/* Events first: a TRANSPORT_RESET changes the CID the packets behind it
	 * are addressed to. */
	int work = poll_events();
	work += poll_rx();
	vsock_engine_tick(bv_now_ms());
	vsock_diag_poll();   /* the stall log: one look per millisecond */
	return work + poll_tx();
}

/* ---- vsock_wait: halt until the device or a timer needs us ---- */

/* Something vsock_poll() would act on right now. RX waits while our
 * replies back up (poll_rx takes none then): the TX completion that ends
 * that is what to wait for. */
static int work_ready(void)
{
	if (virtq_has_used(&evq) || virtq_has_used(&txq))
		return 1;
	if (virtq_has_used(&rxq) && !vsock_engine_replies_backed_up(txq.size / 2u))
		return 1;
	return slot_nfree && virtq_num_free(&txq) >= 2 && vsock_engine_tx_pending();
}

/* The RX buffers the application finished with go back to the device
 * before we sleep: with all of them held it could deliver nothing. */
static void rx_refill(void)
{
	struct vsock_rxbuf *b;
	while ((b = vsock_engine_rx_reclaim()) != NULL)
		post_rx(b);
	virtq_kick(&rxq);   /* no-op when nothing was added */
}

#ifndef BV_VSOCK_BUSY_POLL
/* Ask for an interrupt on every queue where the device may still complete
 * something we wait for; 1 if an entry arrived before the request was
 * visible (then do not halt). TX only while buffers are out: its completions
 * matter then (a blocked sender, the buffer pool), not otherwise. */
static int irqs_on(void)
{
	int pending = virtq_irq_enable(&rxq);
	pending |= virtq_irq_enable(&evq);
	if (slot_nfree != slot_total)
		pending |= virtq_irq_enable(&txq);
	return pending;
}

static void irqs_off(void)
{
	virtq_irq_disable(&rxq);
	virtq_irq_disable(&evq);
	if (txq.irq_on)
		virtq_irq_disable(&txq);
}

/* A device whose avail_event (or NO_NOTIFY) went stale never looks at the
 * ring again unless told; a doorbell it did not need is harmless. */
static void watchdog(uint64_t now)
{
	uint64_t since = wait_kicked > wait_quiet_since ? wait_kicked : wait_quiet_since;
	if (now - since < BV_VSOCK_KICK_WATCHDOG_MS * 1000ull)
		return;
	wait_kicked = now;
	virtq_kick_force(&rxq);
	if (slot_nfree != slot_total)
		virtq_kick_force(&txq);
	dstats.forced_kicks++;
}
#endif

int vsock_wait(uint32_t timeout_ms)
{
	if (!vdev)
		return BV_ENODEV;
	uint64_t now = bv_now_us();
	uint64_t end = timeout_ms == VSOCK_WAIT_FOREVER ? UINT64_MAX : now + timeout_ms * 1000ull;
	uint64_t seen = dstats.rx_bufs + dstats.tx_bufs + dstats.events;
	if (seen != wait_seen) {
		wait_seen = seen;
		wait_quiet_since = now;
	}
	rx_refill();
	for (;;) {
		if (work_ready())
			return 1;
		uint64_t due = vsock_engine_next_deadline_ms();
		uint64_t stall_due = vsock_diag_next_deadline_ms();
		if (stall_due < due)
			due = stall_due;
		uint64_t due_us = due >= UINT64_MAX / 1000 ? UINT64_MAX : due * 1000;
		now = bv_now_us();
		if (due_us <= now)
			return 1;
		if (now >= end)
			return 0;
#ifdef BV_VSOCK_BUSY_POLL
		bv_port_relax();
#else
		/* Right after the device gave us something, the next piece (a
		 * reply, more data) usually follows within microseconds: poll
		 * a little before paying for a halt and an interrupt. */
		if (now - wait_quiet_since < wait_spin_us) {
			bv_port_relax();
			continue;
		}
		int irq = vdev->irq.mode != VIRTIO_IRQ_NONE;
		uint64_t wake = now + (irq ? BV_VSOCK_WAIT_MAX_HALT_MS : BV_VSOCK_WAIT_POLL_MS) * 1000ull;
		if (due_us < wake)
			wake = due_us;
		if (end < wake)
			wake = end;
		if (irq && irqs_on()) {
			irqs_off();
			return 1;
		}
		dstats.halts++;
		bv_port_idle(wake);
		if (irq)
			irqs_off();
		uint64_t woke = bv_now_us();
		if (work_ready()) {
			/* Work came this soon after halting: polling a little
			 * longer would have caught it without the wake-up. */
			if (woke - now < BV_VSOCK_WAIT_SPIN_MAX_US) {
				wait_spin_us *= 2;
				if (wait_spin_us > BV_VSOCK_WAIT_SPIN_MAX_US)
					wait_spin_us = BV_VSOCK_WAIT_SPIN_MAX_US;
			} else {
				wait_spin_us = BV_VSOCK_WAIT_SPIN_US;
			}
			return 1;
		}
		if (woke - now >= BV_VSOCK_WAIT_SPIN_MAX_US)
			wait_spin_us = BV_VSOCK_WAIT_SPIN_US;
		watchdog(woke);
#endif
	}
}

void vsock_dev_stats(struct vsock_dev_stats *out)
{
	*out = dstats;
	out->bad_used = 0;
	const struct virtq *qs[3] = { &rxq, &txq, &evq };
	for (int i = 0; i < 3; i++) {
		out->bad_used += qs[i]->stats.bad_id + qs[i]->stats.not_in_flight + qs[i]->stats.bad_len;
		out->kicks[i] = qs[i]->stats.kicks;
		out->kicks_suppressed[i] = qs[i]->stats.notifies_suppressed;
	}
	out->tx_free = slot_nfree;
	out->tx_total = slot_total;
	out->rx_posted = vdev ? (uint32_t)(rxq.size - virtq_num_free(&rxq)) : 0;
	out->rx_total = rx_total;
	if (vdev) {
		out->irqs = vdev->irq.count;
		out->irqs_spurious = vdev->irq.spurious;
		out->irq_mode = vdev->irq.mode;
		out->event_idx = rxq.event_idx;
	}
}

#ifdef BV_VSOCK_TEST_HOOKS
/* Count, per object of an array, the chains of q outstanding with the
 * device (added or published) whose token is that object. */
static void count_outstanding(const struct virtq *q, const void *base, size_t stride, unsigned n,
			      uint8_t *count)
{
	for (unsigned i = 0; i < q->size; i++) {
		if (!q->in_flight[i])
			continue;
		uintptr_t off = (uintptr_t)q->token[i] - (uintptr_t)base;
		if ((uintptr_t)q->token[i] >= (uintptr_t)base && off % stride == 0 && off / stride < n)
			count[off / stride]++;
	}
}

const char *vsock_dev_test_books(void)
{
	static uint8_t rx[BV_VSOCK_RX_BUFS], slot[BV_VSOCK_TX_PKTS], ev[BV_VSOCK_EVENT_BUFS];
	static const struct vsock_rxbuf *held[BV_VSOCK_RX_BUFS + 1];
	if (!vdev)
		return NULL;
	memset(rx, 0, sizeof(rx));
	memset(slot, 0, sizeof(slot));
	memset(ev, 0, sizeof(ev));
	count_outstanding(&rxq, rxbufs, sizeof(rxbufs[0]), rx_total, rx);
	unsigned nh = vsock_engine_test_rx_held(held, BV_VSOCK_RX_BUFS + 1);
	if (nh > rx_total)
		return "the engine holds more RX buffers than there are";
	for (unsigned k = 0; k < nh; k++) {
		uintptr_t off = (uintptr_t)held[k] - (uintptr_t)rxbufs;
		if ((uintptr_t)held[k] < (uintptr_t)rxbufs || off % sizeof(rxbufs[0]) || off / sizeof(rxbufs[0]) >= rx_total)
			return "the engine holds something that is not one of our RX buffers";
		rx[off / sizeof(rxbufs[0])]++;
	}
	for (unsigned i = 0; i < rx_total; i++)
		if (rx[i] != 1)
			return rx[i] ? "an RX buffer is in two places" : "an RX buffer is lost";
	count_outstanding(&txq, txslots, sizeof(txslots[0]), slot_total, slot);
	for (unsigned k = 0; k < slot_nfree; k++)
		slot[slot_free[k] - txslots]++;
	for (unsigned i = 0; i < slot_total; i++)
		if (slot[i] != 1)
			return slot[i] ? "a TX slot is in two places" : "a TX slot is lost";
	unsigned nev = BV_VSOCK_EVENT_BUFS < evq.size ? BV_VSOCK_EVENT_BUFS : evq.size;
	count_outstanding(&evq, evbufs, sizeof(evbufs[0]), nev, ev);
	for (unsigned i = 0; i < nev; i++)
		if (ev[i] != 1)
			return "an event buffer is not posted exactly once";
	return vsock_engine_test_check();
}

const struct virtq *vsock_dev_test_queue(unsigned qi)
{
	return qi == VSOCK_VQ_RX ? &rxq : qi == VSOCK_VQ_TX ? &txq : &evq;
}

unsigned vsock_dev_test_tx_free(const void **out, unsigned max)
{
	for (unsigned i = 0; i < slot_nfree && i < max; i++)
		out[i] = slot_free[i];
	return slot_nfree;
}
#endif
