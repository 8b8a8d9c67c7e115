/* SPDX-License-Identifier: BSD-2-Clause */
/* The vsock protocol engine (see vsock_engine.h): connection state machine,
 * credit, and the packet buffers data lives in. Pure C: no device, no heap.
 * Non-goals: the socket API's argument checks (vsock_socket.c), virtqueues
 * (vsock_dev.c).
 *
 * Model (Linux net/vmw_vsock/virtio_transport_common.c is the reference for
 * behaviour; ../shared/docs/protocol-notes.md):
 *   - one static pool of BV_VSOCK_MAX_CONNS entries for listeners and
 *     connections;
 *   - received data stays in the RX buffers the device wrote it to, queued
 *     per connection, until the app has read it (a small packet is copied
 *     into the tail of the buffer before it instead of holding a buffer of
 *     its own, as Linux merges small skbs); a buffer goes back to the device
 *     when all of it was read, and its bytes then count as forwarded;
 *   - data to send is written once into TX buffers of the engine's pool and
 *     leaves as slices of them, as the peer's credit allows; a buffer is free
 *     again when its last slice came back from the device;
 *   - input updates state; packets are only *pulled* by next_tx, so
 *     per-connection control is a set of flags/conditions evaluated there,
 *     and RSTs that outlive their connection wait in a small queue.
 *
 * States: FREE -> LISTEN; FREE -> CONNECTING -> ESTABLISHED (outgoing);
 * FREE -> ESTABLISHED (child of a listener, not yet accepted, then accepted);
 * ESTABLISHED -> CLOSING (app closed: flush, SHUTDOWN, wait for RST) -> FREE;
 * any connected state -> DONE when it ends while the app still holds the
 * handle (err = why, 0 for an orderly end) -> FREE on vsock_close(). DONE
 * entries no longer match incoming packets. */
#include <string.h>
#include "bv/config.h"
#include "bv/err.h"
#include "vsock/vsock.h"
#include "vsock/vsock_conn.h"

#define RSTQ (2 * NCONN + 16)

struct conn vsock_conns[NCONN];
uint64_t vsock_cid;
int vsock_stream_ok, vsock_seq_ok;
struct vsock_stats vsock_st;
#define conns vsock_conns
#define st vsock_st

struct rst_ent {
	uint32_t peer_cid, peer_port, local_port;
	uint16_t type;
};
static struct rst_ent rstq[RSTQ];
static uint32_t rstq_head, rstq_len;

/* RX buffers the engine is done with, for the glue to post again. */
static struct vsock_rxbuf *rx_back[BV_VSOCK_RX_BUFS + 1];
static uint32_t rx_back_n;

/* The TX pool. Data first, whole cache lines each; bookkeeping apart. */
static uint8_t txdata[NTXBUF][TXSZ] __attribute__((aligned(VSOCK_BUF_ALIGN)));
struct txmeta {
	uint32_t len;            /* bytes committed */
	uint32_t sent;           /* bytes handed out in packets */
	uint16_t refs;           /* packets in flight */
	uint8_t queued;          /* on a connection's txq */
	uint8_t nmsg, msg_head;  /* SEQPACKET: message ends in this buffer, next to send */
	uint16_t eor;            /* bit k: message k ends a record */
	uint32_t msg_end[TXMSGS];
};
static struct txmeta txm[NTXBUF];
static uint16_t tx_free[NTXBUF];
static uint32_t tx_nfree;

static uint64_t now;
static int clock_seen;
static uint32_t next_port;
static int port_seeded;
static uint32_t accept_counter;
static unsigned ctl_rr, data_rr;

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* ------------------------------------------------------------------ pool */

struct conn *conn_alloc(void)
{
	for (int i = 0; i < NCONN; i++) {
		struct conn *c = &conns[i];
		if (c->state != C_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->listener = -1;
		c->tx_pinned = -1;
		st.conns_in_use++;
		if (st.conns_in_use > st.conns_peak)
			st.conns_peak = st.conns_in_use;
		return c;
	}
	return NULL;
}

void conn_unlink_listener(struct conn *c)
{
	if (c->listener >= 0) {
		conns[c->listener].pending--;
		c->listener = -1;
	}
}

void conn_free(struct conn *c)
{
	if (c->state == C_FREE)
		return;
	conn_rx_discard(c);
	conn_tx_discard(c);
	conn_unlink_listener(c);
	c->state = C_FREE;
	c->owned = 0;
	c->timer_on = 0;
	st.conns_in_use--;
}

static void queue_rst(uint32_t peer_cid, uint32_t peer_port, uint32_t local_port, uint16_t type)
{
	if (rstq_len == RSTQ) {
		/* The glue stops taking RX long before this (see
		 * vsock_engine_replies_backed_up): a last resort, counted; the
		 * peer's next packet on that flow is answered again. */
		st.rst_dropped++;
		return;
	}
	uint32_t slot = rstq_head + rstq_len;
	if (slot >= RSTQ)
		slot -= RSTQ;
	rstq[slot] = (struct rst_ent){ peer_cid, peer_port, local_port, type };
	rstq_len++;
}

/* RST for a packet that has no (valid) flow: addresses swapped; never for an RST. */
static void reply_rst(const struct vsock_hdr *h)
{
	if (vsock_le16(h->op) == VSOCK_OP_RST)
		return;
	queue_rst((uint32_t)vsock_le64(h->src_cid), vsock_le32(h->src_port),
		  vsock_le32(h->dst_port), vsock_le16(h->type));
}

void conn_end(struct conn *c, int err, int send_rst)
{
	if (send_rst)
		queue_rst(c->peer_cid, c->peer_port, c->local_port, c->type);
	if (c->owned) {
		c->state = C_DONE;
		c->err = err;
		c->ctl = 0;
		c->timer_on = 0;
		conn_tx_discard(c);
	} else {
		conn_free(c);
	}
}

void conn_arm_timer(struct conn *c, uint32_t dur)
{
	c->timer_on = 1;
	c->timer_dur = dur;
	c->timer_unstarted = !clock_seen;
	c->deadline = now + dur;
}

uint64_t conn_now_ms(void)
{
	return now;
}

static int port_in_use(uint32_t port)
{
	for (int i = 0; i < NCONN; i++)
		if (conns[i].state != C_FREE && conns[i].local_port == port)
			return 1;
	return 0;
}

/* Ephemeral ports: a counter over 1024..0xFFFFFFFE started from a value
 * mixed from the CID and the clock, skipping ports any entry uses, so a
 * (local, peer) pair is not reused while an old connection may linger. */
uint32_t conn_alloc_port(void)
{
	const uint32_t lo = 1024;
	if (!port_seeded) {
		uint32_t x = (uint32_t)vsock_cid * 2654435761u ^ (uint32_t)now * 40503u ^ 0x5bd1e995u;
		x ^= x >> 15;
		x *= 2246822519u;
		x ^= x >> 13;
		next_port = lo + (x & 0x3FFFFFFFu);   /* leaves lots of room before wrapping */
		port_seeded = 1;
	}
	for (;;) {
		uint32_t p = next_port;
		next_port = next_port >= 0xFFFFFFFEu ? lo : next_port + 1;
		if (!port_in_use(p))
			return p;   /* at most NCONN ports are taken: terminates */
	}
}

/* ------------------------------------------------------------------ credit */

/* The peer's window as it told us. Newest Linux caps it at its own
 * buf_alloc, so that a peer cannot make it queue more than it lets the peer
 * queue; our send queue is bounded by BV_VSOCK_CONN_TX_BUFS whatever the
 * window, so the cap would protect nothing here, and it makes a peer with
 * a larger buffer think we have credit while we think we have none: a peer
 * that only volunteers credit by its own view (as ours in host/ did) then
 * leaves us stalled. Deliberately not copied (docs/conformance.md). */
uint32_t conn_peer_credit(const struct conn *c)
{
	return vsock_peer_free(c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt);
}

static void space_update(struct conn *c, const struct vsock_hdr *h)
{
	c->peer_buf_alloc = vsock_le32(h->buf_alloc);
	c->peer_fwd_cnt = vsock_le32(h->fwd_cnt);
	if (conn_peer_credit(c) > 0) {
		c->credit_req_sent = 0;
		c->stall_since = 0;
	}
}

/* As newest Linux (virtio_transport_stream_do_dequeue): after a read that
 * forwarded bytes, announce them when the receive queue is now empty, or
 * when fewer than 64 KiB would remain of what the peer may send. SEQPACKET
 * (seqpacket_do_dequeue): after every message read, always. Either rule
 * alone makes a stall impossible: a peer at zero credit means unread bytes
 * here, and the read that takes the last of them announces the space. */
void conn_rx_credit(struct conn *c, int seq_msg_read)
{
	if (c->state != C_ESTABLISHED)
		return;
	if (seq_msg_read) {
		c->ctl |= CTL_CREDIT_UPDATE;
		return;
	}
	uint32_t delta = c->fwd_cnt - c->last_fwd_sent;
	if (delta == 0)
		return;
	if (conn_rx_unread(c) == 0 || BUF_ALLOC - min32(delta, BUF_ALLOC) < VSOCK_MAX_PKT_PAYLOAD)
		c->ctl |= CTL_CREDIT_UPDATE;
}

/* ------------------------------------------------------------------ RX data */

static void rx_give_back(struct vsock_rxbuf *b)
{
	/* Never more than the glue posted: each buffer is held at most once. */
	if (rx_back_n < sizeof(rx_back) / sizeof(rx_back[0]))
		rx_back[rx_back_n++] = b;
}

static struct vsock_rxbuf *rx_tail(const struct conn *c)
{
	return c->rxq_n ? c->rxq[(c->rxq_head + c->rxq_n - 1) % RXCAP] : NULL;
}

/* The head buffer is all read: it goes back to the device. */
static void rx_pop(struct conn *c)
{
	struct vsock_rxbuf *b = c->rxq[c->rxq_head];
	c->rx_off = 0;
	c->rxq_head = (uint16_t)((c->rxq_head + 1) % RXCAP);
	c->rxq_n--;
	rx_give_back(b);
}

uint32_t conn_rx_peek(const struct conn *c, const uint8_t **p, uint32_t *flags)
{
	*flags = 0;
	*p = NULL;
	uint32_t n = c->rxq_n ? vsock_le32(c->rxq[c->rxq_head]->hdr.len) - c->rx_off : 0;
	if (c->type == VSOCK_TYPE_SEQPACKET) {
		if (c->seq_n == 0)
			return 0;   /* only part of a message so far */
		uint32_t to_end = c->seq_end[c->seq_head] - c->rx_rd;
		if (n >= to_end) {
			n = to_end;
			*flags = VSOCK_MSG_EOM | (((c->seq_eor >> c->seq_head) & 1) ? VSOCK_MSG_EOR : 0);
		}
	}
	if (n)
		*p = c->rxq[c->rxq_head]->data + c->rx_off;
	return n;
}

void conn_rx_consume(struct conn *c, uint32_t n)
{
	const uint8_t *p;
	uint32_t flags, avail = conn_rx_peek(c, &p, &flags);
	if (n > avail)
		n = avail;
	/* Credit is per byte read, not per whole packet as in Linux: a packet
	 * that carried the end of one small message and the start of the next
	 * would otherwise hold back the credit the next one needs (and we copy
	 * small packets together, so that is common). */
	c->rx_rd += n;
	c->fwd_cnt += n;
	c->rx_off += n;
	if (c->rxq_n && c->rx_off == vsock_le32(c->rxq[c->rxq_head]->hdr.len))
		rx_pop(c);
	if ((flags & VSOCK_MSG_EOM) && n == avail) {
		c->seq_eor &= ~(1ull << c->seq_head);
		c->seq_head = (uint8_t)((c->seq_head + 1) % SEQMSGS);
		c->seq_n--;
	}
}

void conn_rx_discard(struct conn *c)
{
	while (c->rxq_n)
		rx_pop(c);
	c->fwd_cnt += conn_rx_unread(c);   /* dropped counts as consumed: credit keeps flowing */
	c->rx_rd = c->rx_cnt;
	c->seq_n = 0;
	c->seq_eor = 0;
}

/* RW on an established connection. Returns 1 if the buffer stays with us.
 * What counts against the window is the bytes really unread, not the credit
 * we last advertised: a peer may send on a stale view that our reads have
 * since made true (Linux virtio_transport_inc_rx_pkt checks buf_used the
 * same way). Only data that does not fit is an overflow; newest Linux resets
 * the connection then (ENOBUFS), so do we. */
static int on_data(struct conn *c, struct vsock_rxbuf *b, uint32_t len)
{
	uint32_t flags = vsock_le32(b->hdr.flags);
	int eom = c->type == VSOCK_TYPE_SEQPACKET && (flags & VSOCK_SEQ_EOM);
	if (len > BUF_ALLOC - conn_rx_unread(c) || (eom && c->seq_n == SEQMSGS)) {
		st.rx_overflow++;
		conn_end(c, BV_ENOBUFS, 1);
		return 0;
	}
	st.rx_bytes += len;
	if (c->shut_local & VSOCK_SHUTDOWN_RCV) {
		c->rx_cnt += len;
		c->rx_rd += len;
		c->fwd_cnt += len;   /* nobody will read it */
		conn_rx_credit(c, 0);
		return 0;
	}
	int kept = 0;
	if (len) {
		/* Copy into the tail of the last buffer when it fits: small
		 * packets then cost no buffer each (Linux merges small skbs). */
		struct vsock_rxbuf *t = rx_tail(c);
		uint32_t tl = t ? vsock_le32(t->hdr.len) : RXSZ;
		if (len <= RXSZ - tl) {
			memcpy(t->data + tl, b->data, len);
			t->hdr.len = vsock_le32(tl + len);
			st.rx_merged++;
		} else if (c->rxq_n == RXCAP) {
			st.rx_overflow++;   /* not reached by a peer within its credit */
			conn_end(c, BV_ENOBUFS, 1);
			return 0;
		} else {
			b->hdr.len = vsock_le32(len);
			c->rxq[(c->rxq_head + c->rxq_n) % RXCAP] = b;
			c->rxq_n++;
			kept = 1;
		}
		c->rx_cnt += len;
	}
	if (eom) {
		unsigned slot = (c->seq_head + c->seq_n) % SEQMSGS;
		c->seq_end[slot] = c->rx_cnt;
		if (flags & VSOCK_SEQ_EOR)
			c->seq_eor |= 1ull << slot;
		c->seq_n++;
	}
	return kept;
}

/* ------------------------------------------------------------------ TX data */

static void tx_release(uint16_t i)
{
	struct txmeta *m = &txm[i];
	if (m->queued || m->refs)
		return;
	tx_free[tx_nfree++] = i;
}

static struct txmeta *tx_last(const struct conn *c, uint16_t *idx)
{
	if (!c->txq_n)
		return NULL;
	*idx = c->txq[(c->txq_head + c->txq_n - 1) % TXCAP];
	return &txm[*idx];
}

/* The head buffer of a connection was sent in full: off its queue. */
static void tx_pop(struct conn *c)
{
	uint16_t i = c->txq[c->txq_head];
	c->txq_head = (uint16_t)((c->txq_head + 1) % TXCAP);
	c->txq_n--;
	txm[i].queued = 0;
	tx_release(i);
}

uint32_t conn_tx_room(const struct conn *c)
{
	uint16_t i;
	const struct txmeta *m = tx_last(c, &i);
	uint32_t room = 0;
	if (m && (c->type != VSOCK_TYPE_SEQPACKET || m->nmsg < TXMSGS))
		room = TXSZ - m->len;
	if (c->txq_n < TXCAP && tx_nfree)
		room = TXSZ > room ? TXSZ : room;
	return room;
}

uint32_t conn_tx_reserve(struct conn *c, uint32_t want, uint8_t **p)
{
	uint16_t i;
	struct txmeta *m = tx_last(c, &i);
	if (want == 0)
		want = 1;
	if (m && m->len + want <= TXSZ && (c->type != VSOCK_TYPE_SEQPACKET || m->nmsg < TXMSGS)) {
		c->tx_pinned = (int16_t)i;
		*p = txdata[i] + m->len;
		return TXSZ - m->len;
	}
	if (want > TXSZ || c->txq_n == TXCAP || tx_nfree == 0)
		return 0;
	i = tx_free[--tx_nfree];
	m = &txm[i];
	memset(m, 0, sizeof(*m));
	m->queued = 1;
	c->txq[(c->txq_head + c->txq_n) % TXCAP] = i;
	c->txq_n++;
	c->tx_pinned = (int16_t)i;
	*p = txdata[i];
	return TXSZ;
}

uint32_t conn_tx_commit(struct conn *c, uint32_t n, uint32_t flags)
{
	if (c->tx_pinned < 0)
		return 0;
	struct txmeta *m = &txm[c->tx_pinned];
	c->tx_pinned = -1;
	n = min32(n, TXSZ - m->len);
	m->len += n;
	c->tx_unsent += n;
	if (c->type == VSOCK_TYPE_SEQPACKET && m->nmsg < TXMSGS) {
		if (flags & VSOCK_MSG_EOR)
			m->eor |= (uint16_t)(1u << m->nmsg);
		m->msg_end[m->nmsg++] = m->len;
	}
	/* A fresh buffer reserved but left empty must not stay queued. */
	while (c->txq_n && txm[c->txq[c->txq_head]].sent == txm[c->txq[c->txq_head]].len &&
	       (c->txq_n > 1 || txm[c->txq[c->txq_head]].len == 0))
		tx_pop(c);
	return n;
}

void conn_tx_unpin(struct conn *c)
{
	uint16_t i;
	struct txmeta *m = tx_last(c, &i);
	c->tx_pinned = -1;
	if (m && m->len == 0) {
		/* reserved fresh and never written: not the connection's any more */
		c->txq_n--;
		m->queued = 0;
		tx_release(i);
	}
}

void conn_tx_discard(struct conn *c)
{
	c->tx_pinned = -1;
	while (c->txq_n)
		tx_pop(c);
	c->tx_unsent = 0;
}

/* ------------------------------------------------------------------ packets out */

static void fill_hdr(struct vsock_hdr *h, uint32_t dst_cid, uint32_t src_port, uint32_t dst_port,
		     uint16_t type, uint16_t op, uint32_t flags, uint32_t len,
		     uint32_t buf_alloc, uint32_t fwd_cnt)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = vsock_le64(vsock_cid);
	h->dst_cid = vsock_le64(dst_cid);
	h->src_port = vsock_le32(src_port);
	h->dst_port = vsock_le32(dst_port);
	h->len = vsock_le32(len);
	h->type = vsock_le16(type);
	h->op = vsock_le16(op);
	h->flags = vsock_le32(flags);
	h->buf_alloc = vsock_le32(buf_alloc);
	h->fwd_cnt = vsock_le32(fwd_cnt);
	st.tx_pkts++;
	if (op == VSOCK_OP_RST)
		st.rst_sent++;
}

static void conn_hdr(struct conn *c, struct vsock_hdr *h, uint16_t op, uint32_t flags, uint32_t len)
{
	fill_hdr(h, c->peer_cid, c->local_port, c->peer_port, c->type, op, flags, len,
		 BUF_ALLOC, c->fwd_cnt);
	c->last_fwd_sent = c->fwd_cnt;
}

/* Peer shut down both directions and nothing is left to do: we answer RST
 * (Linux does so when it has no unread data). While closing, unread data
 * does not matter (it was discarded). */
static int finish_ready(const struct conn *c)
{
	return (c->state == C_ESTABLISHED || c->state == C_CLOSING) &&
	       c->peer_shut == VSOCK_SHUTDOWN_BOTH && c->tx_unsent == 0 &&
	       (c->state == C_CLOSING || conn_rx_unread(c) == 0) && !(c->ctl & CTL_RESPONSE);
}

static uint32_t shutdown_due(const struct conn *c)
{
	if (c->state != C_ESTABLISHED && c->state != C_CLOSING)
		return 0;
	uint32_t want = c->shut_local;
	/* SEND goes after the pending data; a close announces both at once
	 * after the data (as Linux does), an explicit shutdown(RCV) goes now */
	if (c->tx_unsent)
		want &= c->state == C_CLOSING ? 0u : ~VSOCK_SHUTDOWN_SEND;
	return (want & ~c->shut_sent) ? (want | c->shut_sent) : 0;
}

/* Next control packet this connection owes: op (0 = none) and its flags. */
static int ctl_peek(const struct conn *c, uint32_t *flags)
{
	*flags = 0;
	switch (c->state) {
	case C_CONNECTING:
		return (c->ctl & CTL_REQUEST) ? VSOCK_OP_REQUEST : 0;
	case C_ESTABLISHED:
	case C_CLOSING:
		if (c->ctl & CTL_RESPONSE)
			return VSOCK_OP_RESPONSE;
		if (finish_ready(c))
			return VSOCK_OP_RST;
		if (c->ctl & CTL_CREDIT_UPDATE)
			return VSOCK_OP_CREDIT_UPDATE;
		if ((*flags = shutdown_due(c)) != 0)
			return VSOCK_OP_SHUTDOWN;
		if (c->tx_unsent && conn_peer_credit(c) == 0 && !c->credit_req_sent)
			return VSOCK_OP_CREDIT_REQUEST;
		return 0;
	default:
		return 0;
	}
}

static int data_ready(const struct conn *c)
{
	return (c->state == C_ESTABLISHED || c->state == C_CLOSING) &&
	       c->tx_unsent && !(c->ctl & CTL_RESPONSE) && conn_peer_credit(c) > 0;
}

static void emit_ctl(struct conn *c, int op, uint32_t flags, struct vsock_hdr *h)
{
	conn_hdr(c, h, (uint16_t)op, flags, 0);
	switch (op) {
	case VSOCK_OP_REQUEST:
		c->ctl &= (uint8_t)~CTL_REQUEST;
		break;
	case VSOCK_OP_RESPONSE:
		c->ctl &= (uint8_t)~CTL_RESPONSE;
		break;
	case VSOCK_OP_RST:
		conn_end(c, 0, 0);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		c->ctl &= (uint8_t)~CTL_CREDIT_UPDATE;
		st.credit_updates_sent++;
		break;
	case VSOCK_OP_SHUTDOWN:
		c->shut_sent = (uint8_t)flags;
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->credit_req_sent = 1;
		c->credit_req_at = now;
		st.credit_requests_sent++;
		break;
	}
}

/* One RW packet: a slice of the head TX buffer, as far as credit, the
 * committed bytes and (SEQPACKET) the next message end allow. */
static void emit_data(struct conn *c, struct vsock_hdr *h, struct vsock_txpkt *out)
{
	/* The head buffer may be fully sent yet still queued (the app was
	 * filling it); skip such buffers. */
	while (c->txq_n > 1 && txm[c->txq[c->txq_head]].sent == txm[c->txq[c->txq_head]].len)
		tx_pop(c);
	uint16_t i = c->txq[c->txq_head];
	struct txmeta *m = &txm[i];
	uint32_t n = min32(m->len - m->sent, conn_peer_credit(c));
	uint32_t flags = 0;
	if (c->type == VSOCK_TYPE_SEQPACKET && m->msg_head < m->nmsg) {
		uint32_t end = m->msg_end[m->msg_head];
		if (m->sent + n >= end) {
			n = end - m->sent;
			flags = VSOCK_SEQ_EOM;
			if (m->eor & (1u << m->msg_head))
				flags |= VSOCK_SEQ_EOR;
			m->msg_head++;
		}
	}
	out->data = txdata[i] + m->sent;
	out->len = n;
	out->token = (uint32_t)i + 1;
	m->sent += n;
	m->refs++;
	c->tx_unsent -= n;
	c->tx_cnt += n;
	st.tx_bytes += n;
	conn_hdr(c, h, VSOCK_OP_RW, flags, n);
	/* Done with it unless the app may still append (the last buffer). */
	if (m->sent == m->len && (c->txq_n > 1 || m->len == TXSZ || c->tx_pinned != (int16_t)i))
		tx_pop(c);
}

int vsock_engine_next_tx(struct vsock_hdr *hdr, struct vsock_txpkt *out)
{
	if (!hdr || !out)
		return BV_EINVAL;
	out->data = NULL;
	out->len = 0;
	out->token = 0;
	if (rstq_len) {
		struct rst_ent e = rstq[rstq_head];
		rstq_head = rstq_head + 1 == RSTQ ? 0 : rstq_head + 1;
		rstq_len--;
		fill_hdr(hdr, e.peer_cid, e.local_port, e.peer_port, e.type, VSOCK_OP_RST, 0, 0, 0, 0);
		return 0;
	}
	for (unsigned k = 0; k < NCONN; k++) {
		unsigned i = (ctl_rr + k) % NCONN;
		uint32_t flags;
		int op = ctl_peek(&conns[i], &flags);
		if (op) {
			emit_ctl(&conns[i], op, flags, hdr);
			ctl_rr = (i + 1) % NCONN;
			return 0;
		}
	}
	for (unsigned k = 0; k < NCONN; k++) {
		unsigned i = (data_rr + k) % NCONN;
		if (data_ready(&conns[i])) {
			data_rr = (i + 1) % NCONN;
			emit_data(&conns[i], hdr, out);
			return (int)out->len;
		}
	}
	return BV_EAGAIN;
}

void vsock_engine_tx_done(uint32_t token)
{
	if (token == 0)
		return;   /* a packet without payload: nothing to give back (vsock_engine.h) */
	if (token > NTXBUF || txm[token - 1].refs == 0) {
		st.tx_bad_token++;
		return;
	}
	txm[token - 1].refs--;
	tx_release((uint16_t)(token - 1));
}

int vsock_engine_tx_pending(void)
{
	if (rstq_len)
		return 1;
	for (int i = 0; i < NCONN; i++) {
		uint32_t flags;
		if (ctl_peek(&conns[i], &flags) || data_ready(&conns[i]))
			return 1;
	}
	return 0;
}

int vsock_engine_replies_backed_up(unsigned tx_ring_size)
{
	return rstq_len >= (tx_ring_size < RSTQ ? tx_ring_size : RSTQ);
}

/* ------------------------------------------------------------------ input */

static struct conn *find_connected(uint32_t peer_cid, uint32_t peer_port, uint32_t local_port)
{
	for (int i = 0; i < NCONN; i++) {
		struct conn *c = &conns[i];
		if ((c->state == C_CONNECTING || c->state == C_ESTABLISHED || c->state == C_CLOSING) &&
		    c->local_port == local_port && c->peer_port == peer_port && c->peer_cid == peer_cid)
			return c;
	}
	return NULL;
}

static struct conn *find_listener(uint32_t port)
{
	for (int i = 0; i < NCONN; i++)
		if (conns[i].state == C_LISTEN && conns[i].local_port == port)
			return &conns[i];
	return NULL;
}

static void on_request(struct conn *l, const struct vsock_hdr *h)
{
	/* Linux sk_acceptq_is_full: refuse once more than `backlog` wait. */
	if (l->pending > l->backlog) {
		st.conns_refused_backlog++;
		reply_rst(h);
		return;
	}
	struct conn *c = conn_alloc();
	if (!c) {
		st.conns_refused_full++;
		reply_rst(h);
		return;
	}
	l->pending++;
	c->state = C_ESTABLISHED;
	c->was_connected = 1;
	c->type = l->type;
	c->local_port = l->local_port;
	c->peer_cid = (uint32_t)vsock_le64(h->src_cid);
	c->peer_port = vsock_le32(h->src_port);
	c->listener = (int16_t)conn_idx(l);
	c->accept_seq = accept_counter++;
	c->ctl = CTL_RESPONSE;
	space_update(c, h);
}

static void on_rst_established(struct conn *c)
{
	/* An RST that answers a close handshake ends the connection in order. */
	int orderly = c->peer_shut == VSOCK_SHUTDOWN_BOTH || c->shut_sent == VSOCK_SHUTDOWN_BOTH;
	conn_end(c, orderly ? 0 : BV_ECONNRESET, 0);
}

/* Returns 1 if the buffer stays with the connection. */
static int input_connected(struct conn *c, struct vsock_rxbuf *b, uint32_t len)
{
	const struct vsock_hdr *h = &b->hdr;
	uint16_t op = vsock_le16(h->op);
	space_update(c, h);
	switch (c->state) {
	case C_CONNECTING:
		/* Linux recv_connecting: only RESPONSE, RST and INVALID are expected. */
		if (op == VSOCK_OP_RESPONSE) {
			c->state = C_ESTABLISHED;
			c->was_connected = 1;
			c->timer_on = 0;
		} else if (op == VSOCK_OP_RST) {
			conn_end(c, BV_ECONNREFUSED, 0);
		} else if (op != VSOCK_OP_INVALID) {
			conn_end(c, BV_EPROTO, 1);
		}
		return 0;
	case C_ESTABLISHED:
		switch (op) {
		case VSOCK_OP_RW:
			return on_data(c, b, len);
		case VSOCK_OP_CREDIT_REQUEST:
			c->ctl |= CTL_CREDIT_UPDATE;
			break;
		case VSOCK_OP_SHUTDOWN:
			c->peer_shut |= (uint8_t)(vsock_le32(h->flags) & VSOCK_SHUTDOWN_BOTH);
			break;
		case VSOCK_OP_RST:
			on_rst_established(c);
			break;
		default:
			/* CREDIT_UPDATE: credit already taken; stray REQUEST/RESPONSE,
			 * INVALID and unknown ops are ignored (Linux recv_connected). */
			break;
		}
		return 0;
	case C_CLOSING:
		switch (op) {
		case VSOCK_OP_RW:
			/* we shut down RCV: discard, but keep the books straight */
			st.rx_bytes += len;
			c->rx_cnt += len;
			c->fwd_cnt += len;
			break;
		case VSOCK_OP_CREDIT_REQUEST:
			c->ctl |= CTL_CREDIT_UPDATE;
			break;
		case VSOCK_OP_SHUTDOWN:
			c->peer_shut |= (uint8_t)(vsock_le32(h->flags) & VSOCK_SHUTDOWN_BOTH);
			break;
		case VSOCK_OP_RST:
			conn_free(c);
			break;
		default:
			break;
		}
		return 0;
	default:
		return 0;
	}
}

int vsock_engine_rx(struct vsock_rxbuf *b, uint32_t payload_len)
{
	st.rx_pkts++;
	if (!b) {
		st.rx_dropped_malformed++;
		return 0;
	}
	const struct vsock_hdr *hdr = &b->hdr;
	uint64_t src_cid = vsock_le64(hdr->src_cid);
	uint64_t dst_cid = vsock_le64(hdr->dst_cid);
	uint32_t len = vsock_le32(hdr->len);
	uint16_t type = vsock_le16(hdr->type);
	uint16_t op = vsock_le16(hdr->op);

	if (len > payload_len || len > RXSZ || (src_cid >> 32)) {
		st.rx_dropped_malformed++;
		return 0;
	}
	if (dst_cid != vsock_cid) {
		st.rx_dropped_badcid++;
		return 0;
	}
	if (src_cid == vsock_cid) {
		/* Our own CID as the source: not a peer that can exist. Linux's
		 * guest never answers such a packet (its TX path drops anything
		 * addressed to itself), so it is dropped without a word here. */
		st.rx_dropped_own_cid++;
		return 0;
	}
	if (type != VSOCK_TYPE_STREAM && type != VSOCK_TYPE_SEQPACKET) {
		st.rx_dropped_malformed++;
		reply_rst(hdr);   /* Linux: invalid type -> reset_no_sock */
		return 0;
	}
	if (op == VSOCK_OP_INVALID || op > VSOCK_OP_CREDIT_REQUEST)
		st.rx_unknown_op++;
	if (op == VSOCK_OP_RST)
		st.rst_rcvd++;

	uint32_t src_port = vsock_le32(hdr->src_port), dst_port = vsock_le32(hdr->dst_port);
	struct conn *c = find_connected((uint32_t)src_cid, src_port, dst_port);
	if (c) {
		if (c->type != type) {
			reply_rst(hdr);
			return 0;
		}
		return input_connected(c, b, len);
	}
	struct conn *l = find_listener(dst_port);
	if (l && l->type == type && op == VSOCK_OP_REQUEST) {
		on_request(l, hdr);
		return 0;
	}
	/* unknown flow, wrong type, or a listener asked anything but REQUEST */
	reply_rst(hdr);
	return 0;
}

struct vsock_rxbuf *vsock_engine_rx_reclaim(void)
{
	return rx_back_n ? rx_back[--rx_back_n] : NULL;
}

/* ------------------------------------------------------------------ engine */

void vsock_engine_init(uint64_t cid, uint64_t features)
{
	memset(conns, 0, sizeof(conns));
	memset(&st, 0, sizeof(st));
	rstq_head = rstq_len = 0;
	rx_back_n = 0;
	tx_nfree = 0;
	for (int i = NTXBUF - 1; i >= 0; i--)
		tx_free[tx_nfree++] = (uint16_t)i;
	memset(txm, 0, sizeof(txm));
	vsock_cid = cid;
	/* Spec 1.3: with none of the type bits, the device implies STREAM;
	 * NO_IMPLIED_STREAM means STREAM only if its own bit is there. */
	vsock_seq_ok = (features >> VSOCK_F_SEQPACKET) & 1;
	vsock_stream_ok = ((features >> VSOCK_F_STREAM) & 1) ||
			  !((features >> VSOCK_F_NO_IMPLIED_STREAM) & 1);
	now = 0;
	clock_seen = 0;
	port_seeded = 0;
	accept_counter = 0;
	ctl_rr = data_rr = 0;
}

/* When the CREDIT_REQUEST retry is due (UINT64_MAX: c is not waiting on an
 * answer to one). vsock_engine_tick acts on it; vsock_engine_next_deadline_ms
 * reports it, so a halted guest wakes for it. */
static uint64_t credit_retry_at(const struct conn *c)
{
	if (c->state != C_ESTABLISHED || !c->tx_unsent || !c->credit_req_sent || conn_peer_credit(c) != 0)
		return UINT64_MAX;
	return c->credit_req_at + BV_VSOCK_CREDIT_RETRY_MS;
}

void vsock_engine_tick(uint64_t now_ms)
{
	now = now_ms;
	clock_seen = 1;
	for (int i = 0; i < NCONN; i++) {
		struct conn *c = &conns[i];
		if (c->timer_on) {
			if (c->timer_unstarted) {
				c->timer_unstarted = 0;
				c->deadline = now + c->timer_dur;
			}
			if (now >= c->deadline) {
				c->timer_on = 0;
				if (c->state == C_CONNECTING)
					conn_end(c, BV_ETIMEDOUT, 0);   /* Linux sends nothing here */
				else if (c->state == C_CLOSING)
					conn_end(c, 0, 1);              /* not owned: RST and free */
			}
		}
		if (c->state == C_ESTABLISHED && c->tx_unsent && conn_peer_credit(c) == 0) {
			if (c->stall_since == 0)
				c->stall_since = now ? now : 1;
			/* Still no credit a while after our CREDIT_REQUEST (its answer
			 * may have said nothing new, or been lost): ask again, so a
			 * peer that only answers requests cannot leave us stuck. */
			if (now >= credit_retry_at(c))
				c->credit_req_sent = 0;
		}
	}
}

uint64_t vsock_engine_next_deadline_ms(void)
{
	uint64_t d = UINT64_MAX;
	for (int i = 0; i < NCONN; i++) {
		const struct conn *c = &conns[i];
		if (c->timer_on && !c->timer_unstarted && c->deadline < d)
			d = c->deadline;
		/* The CREDIT_REQUEST retry is a timer too: a halted guest must wake
		 * for it, or a peer that only answers requests leaves us stuck. */
		uint64_t retry = credit_retry_at(c);
		if (retry < d)
			d = retry;
	}
	return d;
}

void vsock_engine_transport_reset(uint64_t new_cid)
{
	for (int i = 0; i < NCONN; i++) {
		struct conn *c = &conns[i];
		if (c->state == C_CONNECTING || c->state == C_ESTABLISHED)
			conn_end(c, BV_ECONNRESET, 0);
		else if (c->state == C_CLOSING)
			conn_free(c);
	}
	rstq_head = rstq_len = 0;   /* addressed from the old CID */
	vsock_cid = new_cid;
}

void vsock_engine_stats(struct vsock_stats *out)
{
	if (!out)
		return;
	*out = st;
	out->tx_bufs_free = tx_nfree;
	out->tx_bufs_total = NTXBUF;
	uint32_t held = rx_back_n;   /* given back, not yet posted again by the glue */
	for (int i = 0; i < NCONN; i++)
		held += conns[i].rxq_n;
	out->rx_bufs_held = held;
}

uint64_t vsock_engine_now_ms(void)
{
	return now;
}

#ifdef BV_VSOCK_TEST_HOOKS
unsigned vsock_engine_test_rx_held(const struct vsock_rxbuf **out, unsigned max)
{
	unsigned n = 0;
	for (int i = 0; i < NCONN; i++)
		for (unsigned k = 0; k < conns[i].rxq_n; k++, n++)
			if (n < max)
				out[n] = conns[i].rxq[(conns[i].rxq_head + k) % RXCAP];
	for (uint32_t k = 0; k < rx_back_n; k++, n++)
		if (n < max)
			out[n] = rx_back[k];
	return n;
}

const char *vsock_engine_test_check(void)
{
	static uint8_t seen[NTXBUF];
	memset(seen, 0, sizeof(seen));
	for (uint32_t k = 0; k < tx_nfree; k++) {
		uint16_t i = tx_free[k];
		if (i >= NTXBUF || seen[i]++)
			return "a TX buffer is on the free list twice (or is no buffer)";
		if (txm[i].queued || txm[i].refs)
			return "a free TX buffer is queued or in flight";
	}
	for (int c = 0; c < NCONN; c++) {
		const struct conn *cn = &conns[c];
		uint32_t unsent = 0;
		if (cn->state == C_FREE && (cn->txq_n || cn->rxq_n))
			return "a free connection holds buffers";
		for (unsigned k = 0; k < cn->txq_n; k++) {
			uint16_t i = cn->txq[(cn->txq_head + k) % TXCAP];
			if (seen[i]++)
				return "a queued TX buffer is also free, or queued twice";
			if (!txm[i].queued)
				return "a TX buffer on a queue is not marked queued";
			unsent += txm[i].len - txm[i].sent;
		}
		if (unsent != cn->tx_unsent)
			return "a connection's unsent count disagrees with its TX buffers";
	}
	for (int i = 0; i < NTXBUF; i++)
		if (!seen[i] && (txm[i].queued || !txm[i].refs))
			return "a TX buffer is lost: not free, not queued, not in flight";
	return NULL;
}

void vsock_engine_test_set_counters(int h, uint32_t tx_cnt, uint32_t fwd_cnt)
{
	if (h < 0 || h >= NCONN || conns[h].state == C_FREE)
		return;
	struct conn *c = &conns[h];
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	uint32_t unadvertised = c->fwd_cnt - c->last_fwd_sent;
	c->tx_cnt = tx_cnt;
	c->peer_fwd_cnt = tx_cnt - in_flight;
	c->fwd_cnt = fwd_cnt;
	uint32_t unread = conn_rx_unread(c);
	c->rx_rd = fwd_cnt;
	c->rx_cnt = fwd_cnt + unread;
	c->last_fwd_sent = fwd_cnt - unadvertised;
}
#endif
