/* SPDX-License-Identifier: BSD-2-Clause */
/* Ring handling of the host back end. A TX chain is checked (shape, hdr.len)
 * before its packet reaches the connection engine, and always goes back to the
 * used ring; an RX buffer too small for a header goes back empty. Used
 * entries are published once per pump (one used->idx store), and the guest
 * is signalled at most once per queue and pump, only if it asked to be
 * (NO_INTERRUPT clear, or with EVENT_IDX its used_event reached).
 * Non-goals: indirect descriptors, the event queue. */
#include "host/ring.h"

#include <sys/eventfd.h>

static void tx_process(struct bvh_engine *e)
{
	struct vhu_dev *d = e->dev;
	if (!vhu_vq_ready(d, VSOCK_VQ_TX))
		return;
	struct vr_queue *q = &d->vq[VSOCK_VQ_TX].q;
	for (;;) {
		int r = vr_pop(q, &d->mem, false, VSOCK_HDR_SIZE + VSOCK_MAX_PKT_PAYLOAD, &e->chain);
		if (r == VR_EMPTY)
			break;
		if (r == VR_EBROKEN) {
			bvh_bad(e, BVH_BAD_RING, "TX queue");
			break;
		}
		uint16_t head = e->chain.head;
		if (r != VR_OK) {
			bvh_bad(e, BVH_BAD_CHAIN, vr_strstatus(r));
		} else if (e->chain.total < VSOCK_HDR_SIZE) {
			bvh_bad(e, BVH_BAD_SHORT, "TX");
		} else {
			struct vsock_hdr h;
			vr_chain_read(&e->chain, 0, &h, sizeof(h));
			bool have_payload = false;
			if (e->pcap) {
				/* as it crossed the ring: the header verbatim, the payload bytes that are there */
				uint32_t n = e->chain.total - VSOCK_HDR_SIZE;
				n = h.len < n ? h.len : n;
				n = n < VSOCK_MAX_PKT_PAYLOAD ? n : VSOCK_MAX_PKT_PAYLOAD;
				if (n)
					vr_chain_read(&e->chain, VSOCK_HDR_SIZE, e->scratch, n);
				bvpcap_packet(e->pcap, &h, e->scratch, n);
				have_payload = true;   /* read once: the engine sees what the capture shows */
			}
			if (h.len > e->chain.total - VSOCK_HDR_SIZE || h.len > VSOCK_MAX_PKT_PAYLOAD) {
				bvh_bad(e, BVH_BAD_LEN, "TX");
				bvh_conn_bad_len(e, &h);
			} else {
				if (h.op == VSOCK_OP_RW && h.len && !have_payload)
					vr_chain_read(&e->chain, VSOCK_HDR_SIZE, e->scratch, h.len);
				e->st.tx_pkts++;
				bvh_conn_packet(e, &h, e->scratch);
			}
		}
		vr_push_deferred(q, head, 0);
	}
}

/* Pop an RX chain usable for one packet; bad ones go straight back. */
static int rx_pop(struct bvh_engine *e, struct vr_queue *q)
{
	for (;;) {
		int r = vr_pop(q, &e->dev->mem, true, 0, &e->chain);
		if (r == VR_EMPTY)
			return -1;
		if (r == VR_EBROKEN) {
			bvh_bad(e, BVH_BAD_RING, "RX queue");
			return -1;
		}
		if (r == VR_OK && e->chain.total >= VSOCK_HDR_SIZE)
			return 0;
		if (r == VR_OK)
			bvh_bad(e, BVH_BAD_SHORT, "RX buffer");
		else
			bvh_bad(e, BVH_BAD_CHAIN, vr_strstatus(r));
		vr_push_deferred(q, e->chain.head, 0);
	}
}

/* One packet into the RX chain just popped, and its used entry. */
static void rx_put(struct bvh_engine *e, struct vr_queue *q, const struct vsock_hdr *h, const uint8_t *payload)
{
	vr_chain_write(&e->chain, 0, h, VSOCK_HDR_SIZE);
	if (h->len)
		vr_chain_write(&e->chain, VSOCK_HDR_SIZE, payload, h->len);
	if (e->pcap)
		bvpcap_packet(e->pcap, h, payload, h->len);
	vr_push_deferred(q, e->chain.head, VSOCK_HDR_SIZE + h->len);
	e->st.rx_pkts++;
}

static void rx_fill(struct bvh_engine *e)
{
	struct vhu_dev *d = e->dev;
	if (!vhu_vq_ready(d, VSOCK_VQ_RX))
		return;
	struct vr_queue *q = &d->vq[VSOCK_VQ_RX].q;
	const struct vsock_hdr *o;
	while ((o = bvh_orphan_next(e))) {
		if (rx_pop(e, q) < 0)
			return;
		rx_put(e, q, o, NULL);
		bvh_orphan_done(e);
	}
	bool progress = true;
	while (progress) {
		progress = false;
		unsigned n = e->nactive;
		for (unsigned k = 0; k < n && k < e->nactive; k++) {
			struct bvh_conn *c = e->active[(e->rr + k) % e->nactive];
			if (!bvh_conn_wants(c))
				continue;
			if (rx_pop(e, q) < 0)
				return;
			struct vsock_hdr h;
			const uint8_t *payload;
			if (!bvh_conn_produce(e, c, e->chain.total - VSOCK_HDR_SIZE, &h, &payload)) {
				vr_unpop(q);
				continue;
			}
			rx_put(e, q, &h, payload);
			progress = true;
		}
		e->rr++;
	}
}

/* Publish the queue's used entries of this pump with one index store, then
 * call the guest if it wants to hear of them. */
static void notify(struct bvh_engine *e, int i)
{
	struct vhu_vq *v = &e->dev->vq[i];
	if (!v->ready)
		return;
	if (v->q.pushed)
		vr_publish(&v->q);
	if (vr_should_notify(&v->q) && v->call_fd >= 0) {
		eventfd_write(v->call_fd, 1);
		e->st.calls++;
	}
}

void bvh_pump(struct bvh_engine *e)
{
	tx_process(e);
	rx_fill(e);
	bvh_conns_reap(e);
	notify(e, VSOCK_VQ_TX);
	notify(e, VSOCK_VQ_RX);
}
