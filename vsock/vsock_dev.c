/* SPDX-License-Identifier: BSD-2-Clause */
/* vsock device glue: the only vsock code that touches virtio. It keeps the
 * RX and event queues stocked, hands every received packet to the engine,
 * fills TX from the engine's pull interface and drives the engine's clock,
 * all from vsock_poll(), which does a bounded amount of work per call.
 * Not here: protocol rules (vsock_engine.c) or the socket API. */
#include <string.h>
#include "bv/config.h"
#include "bv/err.h"
#include "bv/log.h"
#include "bv/time.h"
#include "drivers/virtio.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_engine.h"

#define VSOCK_CFG_GUEST_CID 0      /* le64 in device config space */

/* One packet buffer: header and payload contiguous, so each is one
 * descriptor. Each starts and ends on a cache line (BV_DMA_ALIGN), so the
 * port's cache maintenance of one never touches its neighbour. */
struct vsock_rxbuf {
	struct vsock_hdr hdr;
	uint8_t data[BV_VSOCK_RX_PKT_SIZE];
} __attribute__((packed, aligned(BV_DMA_ALIGN)));

struct vsock_txbuf {
	struct vsock_hdr hdr;
	uint8_t data[BV_VSOCK_TX_PKT_SIZE];
} __attribute__((packed, aligned(BV_DMA_ALIGN)));

struct vsock_evbuf {
	struct vsock_event ev;
} __attribute__((aligned(BV_DMA_ALIGN)));

static struct virtio_dev *vdev;
static struct virtq rxq, txq, evq;
static struct vsock_rxbuf rxbufs[BV_VSOCK_RX_BUFS];
static struct vsock_txbuf txbufs[BV_VSOCK_TX_BUFS];
static struct vsock_evbuf evbufs[BV_VSOCK_EVENT_BUFS];
static struct vsock_txbuf *tx_free[BV_VSOCK_TX_BUFS];
static unsigned tx_nfree, tx_total, rx_total;
static struct vsock_dev_stats dstats;

static int post_rx(struct vsock_rxbuf *b)
{
	/* A completion the device forges for this buffer without writing it
	 * (a stale or repeated used entry) then reads as a header addressed to
	 * CID 0 and is dropped, instead of replaying the packet that was here. */
	memset(&b->hdr, 0, sizeof(b->hdr));
	struct virtq_seg s = virtq_seg(b, VSOCK_HDR_SIZE + sizeof(b->data));
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
	int rc = virtio_init(vdev, wanted, 0, qs, 3);
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
	tx_nfree = 0;
	for (unsigned i = 0; i < BV_VSOCK_TX_BUFS && i < txq.size; i++)
		tx_free[tx_nfree++] = &txbufs[i];
	tx_total = tx_nfree;

	bv_logf("vsock: cid %llu on %s at %s, queues %u/%u/%u, seqpacket %s, stream %s\n",
	       (unsigned long long)cid, virtio_transport_name(vdev->transport), vdev->where,
	       rxq.size, txq.size, evq.size, seqpacket ? "on" : "off", stream ? "on" : "off");
	return BV_OK;
}

static int poll_events(void);

/* Received packets: the engine copies what it keeps, so each buffer goes
 * straight back on the ring. A used entry the device got wrong (shorter
 * than a header, or longer than the buffer: virtq completes it with len 0)
 * costs that packet only: the buffer is reposted with a zeroed header. */
static int poll_rx(void)
{
	void *tok;
	uint32_t len;
	int n = 0;

	/* While our RSTs fill the TX ring, take no more RX: each packet may
	 * queue another (Linux stops RX on queued replies the same way). */
	int r;
	while (n < BV_VSOCK_POLL_BUDGET && !vsock_engine_replies_backed_up(txq.size) &&
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
			vsock_engine_input(&b->hdr, b->data, len - VSOCK_HDR_SIZE);
		}
		post_rx(b);   /* cannot fail: it just came off this ring */
	}
	if (n)
		virtq_kick(&rxq);
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
		tx_free[tx_nfree++] = tok;
		dstats.tx_bufs++;
		reaped++;
	}
	while (tx_nfree && virtq_num_free(&txq)) {
		struct vsock_txbuf *b = tx_free[tx_nfree - 1];
		int n = vsock_engine_next_tx(&b->hdr, b->data, sizeof(b->data));
		if (n < 0)
			break;
		struct virtq_seg s = virtq_seg(b, VSOCK_HDR_SIZE + (uint32_t)n);
		if (virtq_add(&txq, &s, 1, 0, b) < 0)
			break;   /* not reached: one descriptor and num_free > 0 */
		tx_nfree--;
		sent++;
	}
	if (sent)
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
	return work + poll_tx();
}

void vsock_dev_stats(struct vsock_dev_stats *out)
{
	*out = dstats;
	out->bad_used = 0;
	const struct virtq *qs[3] = { &rxq, &txq, &evq };
	for (int i = 0; i < 3; i++)
		out->bad_used += qs[i]->stats.bad_id + qs[i]->stats.not_in_flight + qs[i]->stats.bad_len;
	out->tx_free = tx_nfree;
	out->tx_total = tx_total;
	out->rx_posted = vdev ? (uint32_t)(rxq.size - virtq_num_free(&rxq)) : 0;
	out->rx_total = rx_total;
}

#ifdef BV_VSOCK_TEST_HOOKS
unsigned vsock_dev_test_tx_free(const void **out, unsigned max)
{
	for (unsigned i = 0; i < tx_nfree && i < max; i++)
		out[i] = tx_free[i];
	return tx_nfree;
}
#endif
