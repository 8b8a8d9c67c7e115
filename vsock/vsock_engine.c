/* SPDX-License-Identifier: BSD-2-Clause */
/* vsock protocol engine and socket API (see vsock_engine.h, vsock.h).
 *
 * Model (Linux net/vmw_vsock/virtio_transport_common.c is the reference for
 * behaviour; docs: ../shared/docs/protocol-notes.md):
 *   - one static pool of BV_VSOCK_MAX_CONNS entries for listeners and
 *     connections, each with a receive ring (RXBUF, = the buf_alloc we
 *     advertise) and a send ring (TXBUF);
 *   - input() updates state; outgoing packets are only *pulled* by next_tx(),
 *     so per-connection control is a set of flags/conditions evaluated there,
 *     and RSTs that outlive their connection wait in a small queue;
 *   - SEQPACKET boundaries are one bit per ring byte (set on a message's last
 *     byte), so any number of messages fits whatever the bytes allow.
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
#include "vsock/vsock_engine.h"

#define NCONN   BV_VSOCK_MAX_CONNS
#define RXBUF   ((uint32_t)BV_VSOCK_RXBUF_SIZE)
#define TXBUF   ((uint32_t)BV_VSOCK_TXBUF_SIZE)
#define RSTQ    (2 * NCONN + 16)

_Static_assert(NCONN > 0 && NCONN < 32768, "BV_VSOCK_MAX_CONNS must fit a handle");
_Static_assert(BV_VSOCK_RXBUF_SIZE > 0 && BV_VSOCK_RXBUF_SIZE <= 0x40000000, "RXBUF size");
_Static_assert(BV_VSOCK_TXBUF_SIZE > 0 && BV_VSOCK_TXBUF_SIZE <= 0x40000000, "TXBUF size");

/* bv:state-enum (docs/states.dot is checked against this list) */
enum cstate { C_FREE = 0, C_LISTEN, C_CONNECTING, C_ESTABLISHED, C_CLOSING, C_DONE };

/* Control packets a connection owes (conditions computed in ctl_peek). */
#define CTL_REQUEST        1u
#define CTL_RESPONSE       2u
#define CTL_CREDIT_UPDATE  4u

struct conn {
	uint8_t state;
	uint8_t type;            /* VSOCK_TYPE_* */
	uint8_t owned;           /* the app holds the handle */
	uint8_t ctl;             /* CTL_* */
	uint8_t shut_local;      /* VSOCK_SHUTDOWN_* the app asked for */
	uint8_t shut_sent;       /* ... and already announced */
	uint8_t peer_shut;       /* ... the peer announced (sticky) */
	uint8_t credit_req_sent; /* one CREDIT_REQUEST per zero-credit episode */
	uint8_t was_connected;
	uint8_t timer_on;
	uint8_t timer_unstarted; /* armed before the clock was first ticked */
	uint8_t outgoing;        /* made by vsock_connect: it binds its local port */
	int16_t listener;        /* parent listener while waiting in its accept queue, else -1 */
	uint16_t backlog;        /* listener: most connections waiting for accept, minus one (as Linux) */
	uint16_t pending;        /* listener: connections waiting for accept now */
	int err;                 /* why a DONE connection ended (0 = orderly) */
	uint32_t accept_seq;
	uint32_t local_port, peer_cid, peer_port;
	uint64_t deadline;
	uint32_t timer_dur;
	/* credit, peer side: what it told us; and what we sent */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* credit, our side */
	uint32_t rx_cnt;         /* bytes received */
	uint32_t fwd_cnt;        /* bytes the app consumed (or we discarded) */
	uint32_t last_fwd_sent;  /* fwd_cnt carried by our latest packet */
	uint32_t rx_partial;     /* SEQPACKET: bytes of the message still arriving */
	uint32_t rx_head, rx_used;
	uint32_t tx_head, tx_used;
};

static struct conn conns[NCONN];
static uint8_t rxbufs[NCONN][RXBUF];
static uint8_t txbufs[NCONN][TXBUF];
static uint8_t rx_eom[NCONN][(RXBUF + 7) / 8];
static uint8_t tx_eom[NCONN][(TXBUF + 7) / 8];
/* SEQPACKET: the message ending at this byte is also the end of a record (EOR). */
static uint8_t rx_eor[NCONN][(RXBUF + 7) / 8];
static uint8_t tx_eor[NCONN][(TXBUF + 7) / 8];

struct rst_ent {
	uint32_t peer_cid, peer_port, local_port;
	uint16_t type;
};
static struct rst_ent rstq[RSTQ];
static uint32_t rstq_head, rstq_len;

static uint64_t local_cid;
static int seq_ok, stream_ok;
static uint64_t now;
static int clock_seen;
static uint32_t next_port;
static int port_seeded;
static uint32_t accept_counter;
static unsigned ctl_rr, data_rr;
static struct vsock_stats st;

/* ------------------------------------------------------------------ helpers */

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static int idx(const struct conn *c) { return (int)(c - conns); }

static void ring_write(uint8_t *ring, uint32_t size, uint32_t pos, const uint8_t *src, uint32_t n)
{
	if (n == 0)
		return;
	uint32_t first = min32(n, size - pos);
	memcpy(ring + pos, src, first);
	if (n > first)
		memcpy(ring, src + first, n - first);
}

static void ring_read(const uint8_t *ring, uint32_t size, uint32_t pos, uint8_t *dst, uint32_t n)
{
	if (n == 0)
		return;
	uint32_t first = min32(n, size - pos);
	memcpy(dst, ring + pos, first);
	if (n > first)
		memcpy(dst + first, ring, n - first);
}

static uint32_t ring_add(uint32_t pos, uint32_t n, uint32_t size)
{
	/* pos < size, n <= size: one subtraction wraps */
	pos += n;
	return pos >= size ? pos - size : pos;
}

static void bit_set(uint8_t *bm, uint32_t i) { bm[i >> 3] |= (uint8_t)(1u << (i & 7)); }
static void bit_clr(uint8_t *bm, uint32_t i) { bm[i >> 3] &= (uint8_t)~(1u << (i & 7)); }

/* Length of the first message in ring[start .. start+n) (up to and including
 * the byte whose bit is set), or 0 if no boundary lies in that range. */
static uint32_t find_eom(const uint8_t *bm, uint32_t size, uint32_t start, uint32_t n)
{
	uint32_t i = 0, pos = start;
	while (i < n) {
		if ((pos & 7) == 0 && pos + 8 <= size && n - i >= 8 && bm[pos >> 3] == 0) {
			i += 8;
			pos = ring_add(pos, 8, size);
			continue;
		}
		if (bm[pos >> 3] & (1u << (pos & 7)))
			return i + 1;
		i++;
		pos = ring_add(pos, 1, size);
	}
	return 0;
}

static uint32_t peer_credit(const struct conn *c)
{
	return vsock_peer_free(c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt);
}

static void space_update(struct conn *c, const struct vsock_hdr *h)
{
	c->peer_buf_alloc = vsock_le32(h->buf_alloc);
	c->peer_fwd_cnt = vsock_le32(h->fwd_cnt);
	if (peer_credit(c) > 0)
		c->credit_req_sent = 0;
}

static void arm_timer(struct conn *c, uint32_t dur)
{
	c->timer_on = 1;
	c->timer_dur = dur;
	c->timer_unstarted = !clock_seen;
	c->deadline = now + dur;
}

static struct conn *conn_alloc(void)
{
	for (int i = 0; i < NCONN; i++) {
		struct conn *c = &conns[i];
		if (c->state != C_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		memset(rx_eom[i], 0, sizeof(rx_eom[i]));
		memset(tx_eom[i], 0, sizeof(tx_eom[i]));
		memset(rx_eor[i], 0, sizeof(rx_eor[i]));
		memset(tx_eor[i], 0, sizeof(tx_eor[i]));
		c->listener = -1;
		st.conns_in_use++;
		if (st.conns_in_use > st.conns_peak)
			st.conns_peak = st.conns_in_use;
		return c;
	}
	return NULL;
}

static void unlink_listener(struct conn *c)
{
	if (c->listener >= 0) {
		conns[c->listener].pending--;
		c->listener = -1;
	}
}

static void conn_free(struct conn *c)
{
	if (c->state == C_FREE)
		return;
	unlink_listener(c);
	c->state = C_FREE;
	c->owned = 0;
	c->timer_on = 0;
	st.conns_in_use--;
}

static void queue_rst(uint32_t peer_cid, uint32_t peer_port, uint32_t local_port, uint16_t type)
{
	if (rstq_len == RSTQ) {
		/* The glue stops taking RX work long before this (see
		 * vsock_engine_replies_queued), so this is a last resort: the
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

static void discard_tx(struct conn *c)
{
	c->tx_used = 0;
	c->tx_head = 0;
	memset(tx_eom[idx(c)], 0, sizeof(tx_eom[0]));
	memset(tx_eor[idx(c)], 0, sizeof(tx_eor[0]));
}

/* Drop everything unread; it counts as consumed so credit keeps flowing. */
static void discard_rx(struct conn *c)
{
	c->fwd_cnt += c->rx_used;
	c->rx_used = 0;
	c->rx_head = 0;
	c->rx_partial = 0;
	memset(rx_eom[idx(c)], 0, sizeof(rx_eom[0]));
	memset(rx_eor[idx(c)], 0, sizeof(rx_eor[0]));
}

/* The connection is over. With send_rst, an RST goes out for it. The entry
 * lingers as DONE while the app holds the handle (received data stays
 * readable), otherwise it is freed now. */
static void conn_end(struct conn *c, int err, int send_rst)
{
	if (send_rst)
		queue_rst(c->peer_cid, c->peer_port, c->local_port, c->type);
	if (c->owned) {
		c->state = C_DONE;
		c->err = err;
		c->ctl = 0;
		c->timer_on = 0;
		discard_tx(c);
	} else {
		conn_free(c);
	}
}

/* After the app consumed data, volunteer a CREDIT_UPDATE as newest Linux
 * does (virtio_transport_stream_do_dequeue): when the receive queue is now
 * empty, or when fewer than 64 KiB would remain of what the peer may send
 * (buf_alloc - consumed-but-unannounced < 64 KiB; with buf_alloc <= 64 KiB
 * that is after every read). SEQPACKET: after every message read, always
 * (virtio_transport_seqpacket_do_dequeue). Either rule alone makes a stall
 * impossible: a peer at zero credit means unread bytes here, and the read
 * that takes the last of them (or the last message) announces the space. */
static void maybe_credit_update(struct conn *c, int seq_msg_read)
{
	if (c->state != C_ESTABLISHED)
		return;
	if (seq_msg_read) {
		c->ctl |= CTL_CREDIT_UPDATE;
		return;
	}
	uint32_t consumed = c->fwd_cnt - c->last_fwd_sent;
	if (consumed == 0)
		return;
	if (c->rx_used == 0 || RXBUF - min32(consumed, RXBUF) < VSOCK_MAX_PKT_PAYLOAD)
		c->ctl |= CTL_CREDIT_UPDATE;
}

/* Peer shut down both directions and nothing is left to do: we answer RST
 * (Linux does so when it has no unread data). While closing, unread data
 * does not matter (it was discarded). */
static int finish_ready(const struct conn *c)
{
	return (c->state == C_ESTABLISHED || c->state == C_CLOSING) &&
	       c->peer_shut == VSOCK_SHUTDOWN_BOTH && c->tx_used == 0 &&
	       (c->state == C_CLOSING || c->rx_used == 0) && !(c->ctl & CTL_RESPONSE);
}

static uint32_t shutdown_due(const struct conn *c)
{
	if (c->state != C_ESTABLISHED && c->state != C_CLOSING)
		return 0;
	uint32_t want = c->shut_local;
	/* SEND goes after the pending data; a close announces both at once
	 * after the data (as Linux does), an explicit shutdown(RCV) goes now */
	if (c->tx_used)
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
		if (c->tx_used && peer_credit(c) == 0 && !c->credit_req_sent)
			return VSOCK_OP_CREDIT_REQUEST;
		return 0;
	default:
		return 0;
	}
}

static int data_ready(const struct conn *c)
{
	return (c->state == C_ESTABLISHED || c->state == C_CLOSING) &&
	       c->tx_used && !(c->ctl & CTL_RESPONSE) && peer_credit(c) > 0;
}

static void fill_hdr(struct vsock_hdr *h, uint32_t dst_cid, uint32_t src_port, uint32_t dst_port,
		     uint16_t type, uint16_t op, uint32_t flags, uint32_t len,
		     uint32_t buf_alloc, uint32_t fwd_cnt)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = vsock_le64(local_cid);
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
		 RXBUF, c->fwd_cnt);
	c->last_fwd_sent = c->fwd_cnt;
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
	c->listener = (int16_t)idx(l);
	c->accept_seq = accept_counter++;
	c->ctl = CTL_RESPONSE;
	space_update(c, h);
}

/* RW on an established connection. What counts is the bytes we really
 * hold, not the credit we last advertised: a peer may send on a stale view
 * that our reads have since made true (Linux virtio_transport_inc_rx_pkt
 * checks buf_used the same way). Only data that does not fit is an
 * overflow; newest Linux resets the connection then (ENOBUFS), so do we. */
static void on_data(struct conn *c, const struct vsock_hdr *h, const uint8_t *p, uint32_t len)
{
	if (len > RXBUF - c->rx_used) {
		st.rx_overflow++;
		conn_end(c, BV_ENOBUFS, 1);
		return;
	}
	st.rx_bytes += len;
	c->rx_cnt += len;
	if (c->shut_local & VSOCK_SHUTDOWN_RCV) {
		c->fwd_cnt += len;   /* nobody will read it */
		maybe_credit_update(c, 0);
		return;
	}
	int i = idx(c);
	uint32_t tail = ring_add(c->rx_head, c->rx_used, RXBUF);
	ring_write(rxbufs[i], RXBUF, tail, p, len);
	c->rx_used += len;
	if (c->type == VSOCK_TYPE_SEQPACKET) {
		c->rx_partial += len;
		uint32_t f = vsock_le32(h->flags);
		if ((f & VSOCK_SEQ_EOM) && c->rx_partial) {
			uint32_t last = ring_add(c->rx_head, c->rx_used - 1, RXBUF);
			bit_set(rx_eom[i], last);
			if (f & VSOCK_SEQ_EOR)
				bit_set(rx_eor[i], last);
			c->rx_partial = 0;
		}
	}
}

static void on_rst_established(struct conn *c)
{
	/* An RST that answers a close handshake ends the connection in order. */
	int orderly = c->peer_shut == VSOCK_SHUTDOWN_BOTH || c->shut_sent == VSOCK_SHUTDOWN_BOTH;
	conn_end(c, orderly ? 0 : BV_ECONNRESET, 0);
}

static void input_connected(struct conn *c, const struct vsock_hdr *h, const uint8_t *p, uint32_t len)
{
	uint16_t op = vsock_le16(h->op);
	switch (c->state) {
	case C_CONNECTING:
		/* Linux recv_connecting: only RESPONSE, RST and INVALID are expected. */
		space_update(c, h);
		if (op == VSOCK_OP_RESPONSE) {
			c->state = C_ESTABLISHED;
			c->was_connected = 1;
			c->timer_on = 0;
		} else if (op == VSOCK_OP_RST) {
			conn_end(c, BV_ECONNREFUSED, 0);
		} else if (op != VSOCK_OP_INVALID) {
			conn_end(c, BV_EPROTO, 1);
		}
		return;
	case C_ESTABLISHED:
		space_update(c, h);
		switch (op) {
		case VSOCK_OP_RW:
			on_data(c, h, p, len);
			break;
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
		return;
	case C_CLOSING:
		space_update(c, h);
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
		return;
	default:
		return;
	}
}

void vsock_engine_input(const struct vsock_hdr *hdr, const uint8_t *payload, uint32_t payload_len)
{
	st.rx_pkts++;
	if (!hdr) {
		st.rx_dropped_malformed++;
		return;
	}
	uint64_t src_cid = vsock_le64(hdr->src_cid);
	uint64_t dst_cid = vsock_le64(hdr->dst_cid);
	uint32_t len = vsock_le32(hdr->len);
	uint16_t type = vsock_le16(hdr->type);
	uint16_t op = vsock_le16(hdr->op);

	if (len > payload_len || len > VSOCK_MAX_PKT_PAYLOAD || (len && !payload) || (src_cid >> 32)) {
		st.rx_dropped_malformed++;
		return;
	}
	if (dst_cid != local_cid) {
		st.rx_dropped_badcid++;
		return;
	}
	if (src_cid == local_cid) {
		/* Our own CID as the source: not a peer that can exist. Linux's
		 * guest never answers such a packet (its TX path drops anything
		 * addressed to itself), so it is dropped without a word here. */
		st.rx_dropped_own_cid++;
		return;
	}
	if (type != VSOCK_TYPE_STREAM && type != VSOCK_TYPE_SEQPACKET) {
		st.rx_dropped_malformed++;
		reply_rst(hdr);   /* Linux: invalid type -> reset_no_sock */
		return;
	}
	if (op == VSOCK_OP_INVALID || op > VSOCK_OP_CREDIT_REQUEST)
		st.rx_unknown_op++;
	if (op == VSOCK_OP_RST)
		st.rst_rcvd++;

	uint32_t src_port = vsock_le32(hdr->src_port), dst_port = vsock_le32(hdr->dst_port);
	struct conn *c = find_connected((uint32_t)src_cid, src_port, dst_port);
	if (c) {
		if (c->type != type)
			reply_rst(hdr);
		else
			input_connected(c, hdr, payload, len);
		return;
	}
	struct conn *l = find_listener(dst_port);
	if (l && l->type == type && op == VSOCK_OP_REQUEST) {
		on_request(l, hdr);
		return;
	}
	/* unknown flow, wrong type, or a listener asked anything but REQUEST */
	reply_rst(hdr);
}

/* ------------------------------------------------------------------ output */

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
		st.credit_requests_sent++;
		break;
	}
}

static uint32_t emit_data(struct conn *c, struct vsock_hdr *h, uint8_t *buf, uint32_t cap)
{
	int i = idx(c);
	uint32_t n = min32(min32(c->tx_used, peer_credit(c)), min32(cap, VSOCK_MAX_PKT_PAYLOAD));
	uint32_t flags = 0;
	if (c->type == VSOCK_TYPE_SEQPACKET) {
		uint32_t msg = find_eom(tx_eom[i], TXBUF, c->tx_head, c->tx_used);
		if (msg && msg <= n) {
			uint32_t last = ring_add(c->tx_head, msg - 1, TXBUF);
			n = msg;
			flags = VSOCK_SEQ_EOM;
			if (tx_eor[i][last >> 3] & (1u << (last & 7)))
				flags |= VSOCK_SEQ_EOR;
			bit_clr(tx_eom[i], last);
			bit_clr(tx_eor[i], last);
		}
	}
	ring_read(txbufs[i], TXBUF, c->tx_head, buf, n);
	c->tx_head = ring_add(c->tx_head, n, TXBUF);
	c->tx_used -= n;
	conn_hdr(c, h, VSOCK_OP_RW, flags, n);
	c->tx_cnt += n;
	st.tx_bytes += n;
	return n;
}

int vsock_engine_next_tx(struct vsock_hdr *hdr, uint8_t *buf, uint32_t cap)
{
	if (!hdr)
		return BV_EINVAL;
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
	if (!buf || !cap)
		return BV_EAGAIN;
	for (unsigned k = 0; k < NCONN; k++) {
		unsigned i = (data_rr + k) % NCONN;
		if (data_ready(&conns[i])) {
			data_rr = (i + 1) % NCONN;
			return (int)emit_data(&conns[i], hdr, buf, cap);
		}
	}
	return BV_EAGAIN;
}

int vsock_engine_replies_backed_up(unsigned tx_ring_size)
{
	return rstq_len >= (tx_ring_size < RSTQ ? tx_ring_size : RSTQ);
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

/* ------------------------------------------------------------------ engine */

void vsock_engine_init(uint64_t cid, uint64_t features)
{
	memset(conns, 0, sizeof(conns));
	memset(&st, 0, sizeof(st));
	rstq_head = rstq_len = 0;
	local_cid = cid;
	/* Spec 1.3: with none of the type bits, the device implies STREAM;
	 * NO_IMPLIED_STREAM means STREAM only if its own bit is there. */
	seq_ok = (features >> VSOCK_F_SEQPACKET) & 1;
	stream_ok = ((features >> VSOCK_F_STREAM) & 1) || !((features >> VSOCK_F_NO_IMPLIED_STREAM) & 1);
	now = 0;
	clock_seen = 0;
	port_seeded = 0;
	accept_counter = 0;
	ctl_rr = data_rr = 0;
}

void vsock_engine_tick(uint64_t now_ms)
{
	now = now_ms;
	clock_seen = 1;
	for (int i = 0; i < NCONN; i++) {
		struct conn *c = &conns[i];
		if (!c->timer_on)
			continue;
		if (c->timer_unstarted) {
			c->timer_unstarted = 0;
			c->deadline = now + c->timer_dur;
		}
		if (now < c->deadline)
			continue;
		c->timer_on = 0;
		if (c->state == C_CONNECTING)
			conn_end(c, BV_ETIMEDOUT, 0);   /* Linux sends nothing here */
		else if (c->state == C_CLOSING)
			conn_end(c, 0, 1);              /* not owned: RST and free */
	}
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
	local_cid = new_cid;
}

void vsock_engine_stats(struct vsock_stats *out)
{
	if (out)
		*out = st;
}

uint64_t vsock_engine_now_ms(void)
{
	return now;
}

#ifdef BV_VSOCK_TEST_HOOKS
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
	c->rx_cnt = fwd_cnt + c->rx_used;
	c->last_fwd_sent = fwd_cnt - unadvertised;
}
#endif

/* ------------------------------------------------------------------ socket API */

static struct conn *handle(int h)
{
	if (h < 0 || h >= NCONN)
		return NULL;
	struct conn *c = &conns[h];
	return (c->state != C_FREE && c->owned) ? c : NULL;
}

static int valid_type(int type)
{
	return type == VSOCK_STREAM || type == VSOCK_SEQPACKET;
}

/* BV_ENOTSUP when the device did not negotiate this socket type. */
static int type_offered(int type)
{
	return (type == VSOCK_SEQPACKET ? seq_ok : stream_ok) ? 0 : BV_ENOTSUP;
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
static uint32_t alloc_port(void)
{
	const uint32_t lo = 1024;
	if (!port_seeded) {
		uint32_t x = (uint32_t)local_cid * 2654435761u ^ (uint32_t)now * 40503u ^ 0x5bd1e995u;
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

int vsock_listen(uint32_t port, int type, int backlog)
{
	if (!valid_type(type) || port == VSOCK_PORT_ANY)
		return BV_EINVAL;
	if (type_offered(type))
		return BV_ENOTSUP;
	if (backlog <= 0)
		backlog = BV_VSOCK_BACKLOG;
	for (int i = 0; i < NCONN; i++) {
		const struct conn *c = &conns[i];
		if (c->local_port != port)
			continue;
		/* children of a listener share its port; they do not bind it */
		if (c->state == C_LISTEN || (c->state != C_FREE && c->outgoing))
			return BV_EADDRINUSE;
	}
	struct conn *c = conn_alloc();
	if (!c)
		return BV_ENOBUFS;
	c->state = C_LISTEN;
	c->type = (uint8_t)type;
	c->local_port = port;
	c->backlog = (uint16_t)(backlog < NCONN ? backlog : NCONN);
	c->owned = 1;
	return idx(c);
}

int vsock_accept(int lh, uint32_t *peer_cid, uint32_t *peer_port)
{
	struct conn *l = handle(lh);
	if (!l)
		return BV_EBADF;
	if (l->state != C_LISTEN)
		return BV_EINVAL;
	struct conn *best = NULL;
	for (int i = 0; i < NCONN; i++) {
		struct conn *c = &conns[i];
		if (c->state == C_FREE || c->owned || c->listener != lh)
			continue;
		if (!best || (int32_t)(c->accept_seq - best->accept_seq) < 0)
			best = c;
	}
	if (!best)
		return BV_EAGAIN;
	best->owned = 1;
	unlink_listener(best);
	if (peer_cid)
		*peer_cid = best->peer_cid;
	if (peer_port)
		*peer_port = best->peer_port;
	return idx(best);
}

int vsock_connect(uint32_t cid, uint32_t port, int type)
{
	if (!valid_type(type) || cid == VSOCK_CID_ANY || cid == local_cid || port == VSOCK_PORT_ANY)
		return BV_EINVAL;
	if (type_offered(type))
		return BV_ENOTSUP;
	struct conn *c = conn_alloc();
	if (!c)
		return BV_ENOBUFS;
	c->local_port = alloc_port();
	c->state = C_CONNECTING;
	c->type = (uint8_t)type;
	c->peer_cid = cid;
	c->peer_port = port;
	c->owned = 1;
	c->outgoing = 1;
	c->ctl = CTL_REQUEST;
	arm_timer(c, BV_VSOCK_CONNECT_TIMEOUT_MS);
	return idx(c);
}

/* Common state checks of send/recv: 0 to proceed, or the error to return. */
static int io_state(const struct conn *c)
{
	switch (c->state) {
	case C_LISTEN:
	case C_CONNECTING:
		return BV_ENOTCONN;
	default:
		return 0;
	}
}

int vsock_sendmsg(int h, const void *buf, uint32_t len, uint32_t flags)
{
	struct conn *c = handle(h);
	if (!c)
		return BV_EBADF;
	int e = io_state(c);
	if (e)
		return e;
	if (c->state == C_DONE)
		return c->err ? c->err : BV_EPIPE;
	if ((c->shut_local & VSOCK_SHUTDOWN_SEND) || (c->peer_shut & VSOCK_SHUTDOWN_RCV))
		return BV_EPIPE;
	if (len == 0)
		return 0;
	if (!buf)
		return BV_EINVAL;
	int i = idx(c);
	uint32_t room = TXBUF - c->tx_used;
	uint32_t n = len;
	if (c->type == VSOCK_TYPE_SEQPACKET) {
		if (len > TXBUF || len > c->peer_buf_alloc)
			return BV_EMSGSIZE;
		if (len > room)
			return BV_EAGAIN;
	} else {
		if (room == 0)
			return BV_EAGAIN;
		n = min32(len, room);
	}
	uint32_t tail = ring_add(c->tx_head, c->tx_used, TXBUF);
	ring_write(txbufs[i], TXBUF, tail, buf, n);
	c->tx_used += n;
	if (c->type == VSOCK_TYPE_SEQPACKET) {
		uint32_t last = ring_add(tail, n - 1, TXBUF);
		bit_set(tx_eom[i], last);
		if (flags & VSOCK_MSG_EOR)
			bit_set(tx_eor[i], last);
	}
	return (int)n;
}

int vsock_send(int h, const void *buf, uint32_t len)
{
	return vsock_sendmsg(h, buf, len, 0);
}

int vsock_recvmsg(int h, void *buf, uint32_t len, uint32_t *flags)
{
	struct conn *c = handle(h);
	if (flags)
		*flags = 0;
	if (!c)
		return BV_EBADF;
	int e = io_state(c);
	if (e)
		return e;
	if (c->shut_local & VSOCK_SHUTDOWN_RCV)
		return 0;
	if (len && !buf)
		return BV_EINVAL;
	int i = idx(c);
	if (c->rx_used) {
		uint32_t take, consume;
		if (c->type == VSOCK_TYPE_SEQPACKET) {
			uint32_t msg = find_eom(rx_eom[i], RXBUF, c->rx_head, c->rx_used);
			if (msg == 0)
				goto nothing;   /* only part of a message so far */
			uint32_t last = ring_add(c->rx_head, msg - 1, RXBUF);
			uint32_t mf = (rx_eor[i][last >> 3] & (1u << (last & 7))) ? VSOCK_MSG_EOR : 0;
			bit_clr(rx_eom[i], last);
			bit_clr(rx_eor[i], last);
			take = min32(len, msg);
			consume = msg;
			if (take < msg)
				mf |= VSOCK_MSG_TRUNC;
			if (flags)
				*flags = mf;
		} else {
			take = consume = min32(len, c->rx_used);
		}
		ring_read(rxbufs[i], RXBUF, c->rx_head, buf, take);
		c->rx_head = ring_add(c->rx_head, consume, RXBUF);
		c->rx_used -= consume;
		c->fwd_cnt += consume;
		maybe_credit_update(c, c->type == VSOCK_TYPE_SEQPACKET);
		return (int)take;
	}
nothing:
	if (c->state == C_DONE)
		return c->err;   /* 0 after an orderly end */
	if (c->peer_shut & VSOCK_SHUTDOWN_SEND)
		return 0;
	return BV_EAGAIN;
}

int vsock_recv(int h, void *buf, uint32_t len)
{
	return vsock_recvmsg(h, buf, len, NULL);
}

int vsock_shutdown(int h, int how)
{
	struct conn *c = handle(h);
	if (!c)
		return BV_EBADF;
	if (how < (int)VSOCK_SHUTDOWN_RCV || how > (int)VSOCK_SHUTDOWN_BOTH)
		return BV_EINVAL;
	if (c->state == C_DONE)
		return 0;
	if (c->state != C_ESTABLISHED)
		return BV_ENOTCONN;
	c->shut_local |= (uint8_t)how;
	if (how & VSOCK_SHUTDOWN_RCV) {
		discard_rx(c);
		maybe_credit_update(c, 0);
	}
	return 0;
}

int vsock_close(int h)
{
	struct conn *c = handle(h);
	if (!c)
		return BV_EBADF;
	switch (c->state) {
	case C_LISTEN:
		for (int i = 0; i < NCONN; i++) {
			struct conn *ch = &conns[i];
			if (ch->state != C_FREE && !ch->owned && ch->listener == h)
				conn_end(ch, BV_ECONNRESET, 1);   /* not owned: RST and free */
		}
		conn_free(c);
		return 0;
	case C_CONNECTING:
		/* if the REQUEST went out, the peer may have accepted: tell it */
		c->owned = 0;
		conn_end(c, 0, !(c->ctl & CTL_REQUEST));
		return 0;
	case C_ESTABLISHED:
		c->owned = 0;
		if (c->peer_shut == VSOCK_SHUTDOWN_BOTH) {
			conn_end(c, 0, 1);   /* peer is gone both ways: RST directly */
			return 0;
		}
		discard_rx(c);
		c->state = C_CLOSING;
		c->shut_local = VSOCK_SHUTDOWN_BOTH;
		c->ctl &= (uint8_t)~CTL_CREDIT_UPDATE;
		arm_timer(c, BV_VSOCK_CLOSE_TIMEOUT_MS);
		return 0;
	default:   /* DONE */
		conn_free(c);
		return 0;
	}
}

int vsock_events(int h)
{
	struct conn *c = handle(h);
	if (!c)
		return BV_EBADF;
	int ev = 0;
	switch (c->state) {
	case C_LISTEN:
		for (int i = 0; i < NCONN; i++)
			if (conns[i].state != C_FREE && !conns[i].owned && conns[i].listener == h) {
				ev |= VSOCK_EV_ACCEPT;
				break;
			}
		break;
	case C_ESTABLISHED:
		ev |= VSOCK_EV_CONNECTED;
		if ((c->shut_local & VSOCK_SHUTDOWN_RCV) || (c->peer_shut & VSOCK_SHUTDOWN_SEND))
			ev |= VSOCK_EV_READABLE;
		else if (c->rx_used && (c->type == VSOCK_TYPE_STREAM ||
					find_eom(rx_eom[h], RXBUF, c->rx_head, c->rx_used)))
			ev |= VSOCK_EV_READABLE;
		if (!(c->shut_local & VSOCK_SHUTDOWN_SEND) && !(c->peer_shut & VSOCK_SHUTDOWN_RCV) &&
		    c->tx_used < TXBUF)
			ev |= VSOCK_EV_WRITABLE;
		if (c->peer_shut == VSOCK_SHUTDOWN_BOTH)
			ev |= VSOCK_EV_HUP;
		break;
	case C_DONE:
		ev |= VSOCK_EV_READABLE | VSOCK_EV_HUP;
		if (c->was_connected)
			ev |= VSOCK_EV_CONNECTED;
		if (c->err)
			ev |= VSOCK_EV_ERROR;
		break;
	default:
		break;
	}
	return ev;
}

int vsock_error(int h)
{
	struct conn *c = handle(h);
	if (!c)
		return BV_EBADF;
	return c->state == C_DONE ? c->err : 0;
}

uint64_t vsock_local_cid(void)
{
	return local_cid;
}
