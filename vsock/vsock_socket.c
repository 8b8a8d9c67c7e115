/* SPDX-License-Identifier: BSD-2-Clause */
/* The socket API of vsock.h: handles, argument and state checks, and the
 * copying calls built on the zero-copy ones. Everything that touches the
 * wire or the buffers is the engine's (vsock_engine.c, through vsock_conn.h).
 * Non-goals: blocking calls (nothing here waits; see vsock_poll/vsock_wait). */
#include <string.h>
#include "bv/config.h"
#include "bv/err.h"
#include "vsock/vsock.h"
#include "vsock/vsock_conn.h"

#define conns vsock_conns

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
	return (type == VSOCK_SEQPACKET ? vsock_seq_ok : vsock_stream_ok) ? 0 : BV_ENOTSUP;
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
	return conn_idx(c);
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
	conn_unlink_listener(best);
	if (peer_cid)
		*peer_cid = best->peer_cid;
	if (peer_port)
		*peer_port = best->peer_port;
	return conn_idx(best);
}

int vsock_connect(uint32_t cid, uint32_t port, int type)
{
	if (!valid_type(type) || cid == VSOCK_CID_ANY || cid == vsock_cid || port == VSOCK_PORT_ANY)
		return BV_EINVAL;
	if (type_offered(type))
		return BV_ENOTSUP;
	struct conn *c = conn_alloc();
	if (!c)
		return BV_ENOBUFS;
	c->local_port = conn_alloc_port();
	c->state = C_CONNECTING;
	c->type = (uint8_t)type;
	c->peer_cid = cid;
	c->peer_port = port;
	c->owned = 1;
	c->outgoing = 1;
	c->ctl = CTL_REQUEST;
	conn_arm_timer(c, BV_VSOCK_CONNECT_TIMEOUT_MS);
	return conn_idx(c);
}

/* ------------------------------------------------------------------ sending */

/* Checks shared by every sending call: 0 to go on, or the error. */
static int send_state(const struct conn *c)
{
	if (c->state == C_LISTEN || c->state == C_CONNECTING)
		return BV_ENOTCONN;
	if (c->state == C_DONE)
		return c->err ? c->err : BV_EPIPE;
	if ((c->shut_local & VSOCK_SHUTDOWN_SEND) || (c->peer_shut & VSOCK_SHUTDOWN_RCV))
		return BV_EPIPE;
	return 0;
}

/* Linux virtio_transport_seqpacket_enqueue: a message larger than either
 * window can never be sent. Ours is also bounded by one TX buffer. */
static int seq_too_big(const struct conn *c, uint32_t len)
{
	uint32_t win = c->peer_buf_alloc < BUF_ALLOC ? c->peer_buf_alloc : BUF_ALLOC;
	return len > TXSZ || len > win;
}

int vsock_send_reserve(int h, uint32_t want, void **buf)
{
	struct conn *c = handle(h);
	if (!c)
		return BV_EBADF;
	int e = send_state(c);
	if (e)
		return e;
	if (!buf)
		return BV_EINVAL;
	if (c->type == VSOCK_TYPE_SEQPACKET ? seq_too_big(c, want) : want > TXSZ)
		return BV_EMSGSIZE;
	uint8_t *p;
	uint32_t room = conn_tx_reserve(c, want, &p);
	if (room == 0)
		return BV_EAGAIN;
	*buf = p;
	return (int)room;
}

int vsock_send_commit(int h, uint32_t n, uint32_t flags)
{
	struct conn *c = handle(h);
	if (!c)
		return BV_EBADF;
	if (c->tx_pinned < 0)
		return BV_EINVAL;   /* no reserve to commit */
	int e = send_state(c);
	if (e || n == 0) {
		conn_tx_unpin(c);
		return e;
	}
	return (int)conn_tx_commit(c, n, flags);
}

int vsock_sendmsg(int h, const void *buf, uint32_t len, uint32_t flags)
{
	struct conn *c = handle(h);
	if (!c)
		return BV_EBADF;
	int e = send_state(c);
	if (e)
		return e;
	if (len == 0)
		return 0;   /* Linux cannot send an empty message either */
	if (!buf)
		return BV_EINVAL;
	const uint8_t *src = buf;
	uint8_t *p;
	if (c->type == VSOCK_TYPE_SEQPACKET) {
		if (seq_too_big(c, len))
			return BV_EMSGSIZE;
		if (conn_tx_reserve(c, len, &p) < len)
			return BV_EAGAIN;
		memcpy(p, src, len);
		conn_tx_commit(c, len, flags);
		return (int)len;
	}
	uint32_t done = 0;
	while (done < len) {
		uint32_t room = conn_tx_reserve(c, 1, &p);
		if (room == 0)
			break;
		uint32_t n = len - done < room ? len - done : room;
		memcpy(p, src + done, n);
		conn_tx_commit(c, n, 0);
		done += n;
	}
	return done ? (int)done : BV_EAGAIN;
}

int vsock_send(int h, const void *buf, uint32_t len)
{
	return vsock_sendmsg(h, buf, len, 0);
}

/* ------------------------------------------------------------------ receiving */

/* What a read returns when nothing is there: 0 at end of stream, the
 * error of a failed connection, else BV_EAGAIN. */
static int recv_nothing(const struct conn *c)
{
	if (c->state == C_DONE)
		return c->err;   /* 0 after an orderly end */
	if (c->peer_shut & VSOCK_SHUTDOWN_SEND)
		return 0;
	return BV_EAGAIN;
}

static int recv_state(const struct conn *c)
{
	if (c->state == C_LISTEN || c->state == C_CONNECTING)
		return BV_ENOTCONN;
	return 0;
}

int vsock_recv_borrow(int h, const void **data, uint32_t *flags)
{
	struct conn *c = handle(h);
	uint32_t f = 0;
	if (flags)
		*flags = 0;
	if (!c)
		return BV_EBADF;
	int e = recv_state(c);
	if (e)
		return e;
	if (!data)
		return BV_EINVAL;
	*data = NULL;
	if (c->shut_local & VSOCK_SHUTDOWN_RCV)
		return 0;
	const uint8_t *p;
	uint32_t n = conn_rx_peek(c, &p, &f);
	if (flags)
		*flags = f;
	if (n || (f & VSOCK_MSG_EOM)) {
		*data = p;
		return (int)n;
	}
	return recv_nothing(c);
}

int vsock_recv_msglen(int h)
{
	struct conn *c = handle(h);
	if (!c)
		return BV_EBADF;
	if (c->type != VSOCK_TYPE_SEQPACKET || c->state == C_LISTEN)
		return BV_EINVAL;
	if (c->seq_n == 0)
		return recv_nothing(c) ? recv_nothing(c) : BV_EAGAIN;
	return (int)(c->seq_end[c->seq_head] - c->rx_rd);
}

int vsock_recv_release(int h, uint32_t n)
{
	struct conn *c = handle(h);
	if (!c)
		return BV_EBADF;
	const uint8_t *p;
	uint32_t f;
	uint32_t avail = conn_rx_peek(c, &p, &f);
	if (n > avail)
		return BV_EINVAL;
	conn_rx_consume(c, n);
	conn_rx_credit(c, (f & VSOCK_MSG_EOM) && n == avail);
	return 0;
}

int vsock_recvmsg(int h, void *buf, uint32_t len, uint32_t *flags)
{
	struct conn *c = handle(h);
	if (flags)
		*flags = 0;
	if (!c)
		return BV_EBADF;
	int e = recv_state(c);
	if (e)
		return e;
	if (c->shut_local & VSOCK_SHUTDOWN_RCV)
		return 0;
	if (len && !buf)
		return BV_EINVAL;
	uint8_t *dst = buf;
	uint32_t got = 0, f;
	const uint8_t *p;
	if (c->type == VSOCK_TYPE_SEQPACKET) {
		if (c->seq_n == 0)
			return recv_nothing(c);
		/* One whole message; what does not fit len is dropped (TRUNC). */
		uint32_t mf = 0;
		do {
			uint32_t n = conn_rx_peek(c, &p, &f);
			uint32_t take = len - got < n ? len - got : n;
			if (take)
				memcpy(dst + got, p, take);
			if (take < n)
				mf |= VSOCK_MSG_TRUNC;
			got += take;
			conn_rx_consume(c, n);
		} while (!(f & VSOCK_MSG_EOM));
		if (f & VSOCK_MSG_EOR)
			mf |= VSOCK_MSG_EOR;
		if (flags)
			*flags = mf;
		conn_rx_credit(c, 1);
		return (int)got;
	}
	while (got < len) {
		uint32_t n = conn_rx_peek(c, &p, &f);
		if (n == 0)
			break;
		if (n > len - got)
			n = len - got;
		memcpy(dst + got, p, n);
		conn_rx_consume(c, n);
		got += n;
	}
	if (got == 0)
		return len ? recv_nothing(c) : 0;
	conn_rx_credit(c, 0);
	return (int)got;
}

int vsock_recv(int h, void *buf, uint32_t len)
{
	return vsock_recvmsg(h, buf, len, NULL);
}

/* ------------------------------------------------------------------ splice */

int vsock_splice(int from, int to, uint32_t max)
{
	struct conn *a = handle(from), *b = handle(to);
	if (!a || !b)
		return BV_EBADF;
	if (a->type != b->type)
		return BV_EINVAL;
	int e = recv_state(a);
	if (e)
		return e;
	if (a->shut_local & VSOCK_SHUTDOWN_RCV)
		return 0;
	if ((e = send_state(b)) != 0)
		return e;
	const uint8_t *p;
	uint32_t f, moved = 0;
	uint8_t *d;
	if (a->type == VSOCK_TYPE_SEQPACKET) {
		/* whole messages, each into room reserved for all of it */
		while (a->seq_n && moved < max) {
			uint32_t len = a->seq_end[a->seq_head] - a->rx_rd;
			if (seq_too_big(b, len))
				return moved ? (int)moved : BV_EMSGSIZE;
			if (conn_tx_reserve(b, len, &d) < len)
				break;
			uint32_t got = 0;
			do {
				uint32_t n = conn_rx_peek(a, &p, &f);
				memcpy(d + got, p, n);
				got += n;
				conn_rx_consume(a, n);
			} while (!(f & VSOCK_MSG_EOM));
			if (len)
				conn_tx_commit(b, len, f & VSOCK_MSG_EOR);
			else
				conn_tx_unpin(b);   /* an empty message: Linux cannot send one either */
			conn_rx_credit(a, 1);
			moved += len;
		}
	} else {
		uint32_t n;
		while (moved < max && (n = conn_rx_peek(a, &p, &f)) != 0) {
			uint32_t room = conn_tx_reserve(b, 1, &d);
			if (room == 0)
				break;
			n = n < room ? n : room;
			n = n < max - moved ? n : max - moved;
			memcpy(d, p, n);
			conn_tx_commit(b, n, 0);
			conn_rx_consume(a, n);
			moved += n;
		}
		if (moved)
			conn_rx_credit(a, 0);
	}
	if (moved)
		return (int)moved;
	if (a->type == VSOCK_TYPE_STREAM ? conn_rx_unread(a) : a->seq_n)
		return BV_EAGAIN;   /* data waits for room */
	return recv_nothing(a);
}

/* ------------------------------------------------------------------ the rest */

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
		conn_rx_discard(c);
		conn_rx_credit(c, 0);
	}
	return 0;
}

int vsock_close(int h)
{
	struct conn *c = handle(h);
	if (!c)
		return BV_EBADF;
	conn_tx_unpin(c);
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
		conn_rx_discard(c);
		c->state = C_CLOSING;
		c->shut_local = VSOCK_SHUTDOWN_BOTH;
		c->ctl &= (uint8_t)~CTL_CREDIT_UPDATE;
		conn_arm_timer(c, BV_VSOCK_CLOSE_TIMEOUT_MS);
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
		else if (c->type == VSOCK_TYPE_STREAM ? conn_rx_unread(c) > 0 : c->seq_n > 0)
			ev |= VSOCK_EV_READABLE;
		if (!(c->shut_local & VSOCK_SHUTDOWN_SEND) && !(c->peer_shut & VSOCK_SHUTDOWN_RCV) &&
		    conn_tx_room(c) > 0)
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
	return vsock_cid;
}

/* ------------------------------------------------------------------ looking inside */

_Static_assert((int)VSOCK_STATE_LISTEN == (int)C_LISTEN && (int)VSOCK_STATE_CONNECTING == (int)C_CONNECTING &&
	       (int)VSOCK_STATE_ESTABLISHED == (int)C_ESTABLISHED && (int)VSOCK_STATE_CLOSING == (int)C_CLOSING &&
	       (int)VSOCK_STATE_DONE == (int)C_DONE, "vsock.h's VSOCK_STATE_* are the engine's states");

static uint64_t ms_until(uint64_t t, uint64_t now)
{
	return t > now ? t - now : 0;
}

int vsock_conn_info(int index, struct vsock_conn_info *out)
{
	if (index < 0 || index >= NCONN || !out)
		return BV_EINVAL;
	const struct conn *c = &conns[index];
	if (c->state == C_FREE)
		return BV_EBADF;
	uint64_t now = conn_now_ms();
	memset(out, 0, sizeof(*out));
	out->state = c->state;
	out->type = c->type == VSOCK_TYPE_SEQPACKET ? VSOCK_SEQPACKET : VSOCK_STREAM;
	out->owned = c->owned;
	out->outgoing = c->outgoing;
	out->listener = c->listener;
	out->err = c->state == C_DONE ? c->err : 0;
	out->backlog = c->backlog;
	out->pending = c->pending;
	out->shut_local = c->shut_local;
	out->shut_sent = c->shut_sent;
	out->peer_shut = c->peer_shut;
	out->local_cid = vsock_cid;
	out->local_port = c->local_port;
	out->now_ms = now;
	if (c->state == C_LISTEN)
		return 0;   /* no peer, no counters */
	out->peer_cid = c->peer_cid;
	out->peer_port = c->peer_port;
	out->peer_buf_alloc = c->peer_buf_alloc;
	out->peer_fwd_cnt = c->peer_fwd_cnt;
	out->tx_cnt = c->tx_cnt;
	out->credit = conn_peer_credit(c);
	out->unsent = c->tx_unsent;
	out->tx_bufs = c->txq_n;
	out->buf_alloc = BUF_ALLOC;
	out->rx_cnt = c->rx_cnt;
	out->fwd_cnt = c->fwd_cnt;
	out->fwd_cnt_sent = c->last_fwd_sent;
	out->unread = conn_rx_unread(c);
	out->msgs_unread = c->type == VSOCK_TYPE_SEQPACKET ? c->seq_n : 0;
	out->rx_bufs = c->rxq_n;
	if (c->timer_on) {
		out->timer = c->state == C_CONNECTING ? VSOCK_TIMER_CONNECT : VSOCK_TIMER_CLOSE;
		/* armed before the clock first ticked: it starts at that tick */
		out->timer_ms = c->timer_unstarted ? c->timer_dur : ms_until(c->deadline, now);
	}
	/* The engine's own view of a stall (vsock_engine_tick): its stall_since
	 * goes stale once the state or the data moves on, so test all of it. */
	out->tx_stalled = c->state == C_ESTABLISHED && c->stall_since && c->tx_unsent && out->credit == 0;
	if (out->tx_stalled)
		out->tx_stall_ms = now - (c->stall_since < now ? c->stall_since : now);
	out->credit_req_sent = (c->state == C_ESTABLISHED || c->state == C_CLOSING) && c->credit_req_sent;
	if (out->tx_stalled && out->credit_req_sent)
		out->credit_req_retry_ms = ms_until(c->credit_req_at + BV_VSOCK_CREDIT_RETRY_MS, now);
	/* credit_req_at is 0 until the first one (one sent at clock 0 reads as none) */
	out->credit_req_ago_ms = c->credit_req_at ? now - (c->credit_req_at < now ? c->credit_req_at : now)
						  : UINT64_MAX;
	return 0;
}
