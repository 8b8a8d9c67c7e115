/* SPDX-License-Identifier: BSD-2-Clause */
/* Connection engine of the host back end: what each guest packet means for
 * the host end of its connection, the packets owed back, credit both ways,
 * deadlines and counters. The guest is not trusted: a misbehaving flow is
 * reset without disturbing the others. No sockets and no rings here (see
 * uds.c and ring.c). Non-goals: DGRAM, host-initiated SEQPACKET, migration. */
#define _GNU_SOURCE
#include "host/conn.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const bad_names[BVH_BAD_MAX] = {
	[BVH_BAD_RING] = "corrupted ring (queue stopped)",
	[BVH_BAD_CHAIN] = "invalid descriptor chain",
	[BVH_BAD_SHORT] = "buffer too small for a header",
	[BVH_BAD_LEN] = "hdr.len exceeds the buffer or 64 KiB",
	[BVH_BAD_SRC_CID] = "wrong src_cid",
	[BVH_BAD_DST_CID] = "dst_cid is not the host",
	[BVH_BAD_TYPE] = "unknown or unnegotiated socket type",
	[BVH_BAD_OP] = "unknown op",
	[BVH_BAD_CREDIT] = "data beyond the granted credit",
	[BVH_BAD_STATE] = "packet not valid in the connection state",
};

const char *bvh_bad_name(int kind) { return kind >= 0 && kind < BVH_BAD_MAX ? bad_names[kind] : "?"; }

uint64_t bvh_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Said once per kind so a hostile guest cannot flood the log. */
void bvh_bad(struct bvh_engine *e, enum bvh_bad kind, const char *detail)
{
	if (e->st.bad[kind]++ == 0)
		BVH_LOG(e, "guest error: %s (%s); further ones are only counted\n", bad_names[kind], detail);
}

uint32_t bvh_conn_peer_credit(const struct bvh_conn *c)
{
	return vsock_peer_free(c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt);
}

struct bvh_conn *bvh_conn_new(struct bvh_engine *e)
{
	if (e->nactive >= e->o.max_conns)
		return NULL;
	unsigned s;
	for (s = 0; s < e->nslots && e->slot[s]; s++)
		;
	if (s == e->nslots)
		return NULL;
	struct bvh_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->slot = s;
	c->gen = ++e->gen;
	c->fd = -1;
	c->writable = true;
	c->type = VSOCK_TYPE_STREAM;
	e->slot[s] = c;
	e->active[e->nactive++] = c;
	return c;
}

static void close_host(struct bvh_engine *e, struct bvh_conn *c)
{
	if (c->host_open)
		bvh_host_close(e, c);
	c->host_open = false;
	c->readable = c->writable = false;
}

static void conn_free(struct bvh_engine *e, struct bvh_conn *c)
{
	close_host(e, c);
	e->slot[c->slot] = NULL;
	for (unsigned i = 0; i < e->nactive; i++) {
		if (e->active[i] == c) {
			e->active[i] = e->active[--e->nactive];
			break;
		}
	}
	free(c->in);
	free(c->out);
	free(c->msg);
	free(c);
}

void bvh_conn_reset(struct bvh_engine *e, struct bvh_conn *c, const char *why)
{
	BVH_VLOG(e, "reset host port %u <-> guest port %u: %s\n", c->host_port, c->guest_port, why);
	e->st.resets++;
	close_host(e, c);
	bool guest_knows = c->st != CS_HANDSHAKE && (c->st != CS_REQUEST || c->request_sent);
	c->send_request = c->send_response = c->send_credit_update = c->send_credit_request = false;
	c->send_rst = guest_knows;
	c->st = CS_DEAD;
	c->deadline = 0;
}

struct bvh_conn *bvh_conn_lookup(struct bvh_engine *e, uint32_t host_port, uint32_t guest_port)
{
	for (unsigned i = 0; i < e->nactive; i++) {
		struct bvh_conn *c = e->active[i];
		if (c->st != CS_HANDSHAKE && c->host_port == host_port && c->guest_port == guest_port &&
		    !(c->st == CS_DEAD && !c->send_rst))
			return c;
	}
	return NULL;
}

uint32_t bvh_conn_alloc_host_port(struct bvh_engine *e, uint32_t guest_port)
{
	for (;;) {
		uint32_t p = e->next_host_port++;
		if (e->next_host_port == VSOCK_PORT_ANY || e->next_host_port < (1u << 30))
			e->next_host_port = 1u << 30;
		if (!bvh_conn_lookup(e, p, guest_port))
			return p;
	}
}

static void orphan_rst(struct bvh_engine *e, const struct vsock_hdr *h)
{
	if (h->op == VSOCK_OP_RST)
		return;   /* never answer an RST */
	BVH_VLOG(e, "no connection for op %u from guest port %u to host port %u: RST\n", h->op, h->src_port,
		 h->dst_port);
	const unsigned cap = sizeof(e->orphan) / sizeof(e->orphan[0]);
	if (e->orphan_len == cap) {
		e->st.orphan_drop++;
		return;
	}
	struct vsock_hdr *r = &e->orphan[(e->orphan_head + e->orphan_len++) % cap];
	memset(r, 0, sizeof(*r));
	r->src_cid = vsock_le64(VSOCK_CID_HOST);
	r->dst_cid = vsock_le64(e->o.guest_cid);
	r->src_port = h->dst_port;
	r->dst_port = h->src_port;
	r->type = (h->type == VSOCK_TYPE_SEQPACKET) ? h->type : vsock_le16(VSOCK_TYPE_STREAM);
	r->op = vsock_le16(VSOCK_OP_RST);
	e->st.orphan_rst++;
}

const struct vsock_hdr *bvh_orphan_next(const struct bvh_engine *e)
{
	return e->orphan_len ? &e->orphan[e->orphan_head] : NULL;
}

void bvh_orphan_done(struct bvh_engine *e)
{
	e->orphan_head = (e->orphan_head + 1) % (sizeof(e->orphan) / sizeof(e->orphan[0]));
	e->orphan_len--;
}

bool bvh_type_ok(const struct bvh_engine *e, uint16_t type)
{
	uint64_t f = e->dev->features;
	if (type == VSOCK_TYPE_SEQPACKET)
		return f & (1ull << VSOCK_F_SEQPACKET);
	/* spec 1.3: STREAM is implied unless NO_IMPLIED_STREAM was negotiated without it */
	return type == VSOCK_TYPE_STREAM &&
	       ((f & (1ull << VSOCK_F_STREAM)) || !(f & (1ull << VSOCK_F_NO_IMPLIED_STREAM)));
}

uint32_t bvh_conn_pending(const struct bvh_conn *c, const uint8_t **p)
{
	*p = c->in + c->in_off;
	if (c->type == VSOCK_TYPE_SEQPACKET)
		return c->nmsg ? c->msg[0] : 0;
	return c->in_len;
}

void bvh_conn_delivered(struct bvh_engine *e, struct bvh_conn *c, uint32_t n)
{
	if (c->type == VSOCK_TYPE_SEQPACKET)
		memmove(c->msg, c->msg + 1, (--c->nmsg) * sizeof(*c->msg));
	c->in_off += n;
	c->in_len -= n;
	c->fwd_cnt += n;
	e->st.tx_bytes += n;
}

void bvh_conn_flush(struct bvh_engine *e, struct bvh_conn *c)
{
	if (c->host_open && c->writable) {
		bvh_host_deliver(e, c);
		if (c->st == CS_DEAD)
			return;   /* the host end failed and the connection was reset */
	}
	if (c->in_len == 0)
		c->in_off = 0;
	/* Volunteer credit once a quarter of the buffer is free again, or when
	 * everything drained, so a guest that waits for updates never stalls. */
	uint32_t freed = c->fwd_cnt - c->last_fwd_sent;
	if (freed >= e->o.buf_alloc / 4 && c->st == CS_EST)
		c->send_credit_update = true;
	if (c->host_open && (c->guest_shut & VSOCK_SHUTDOWN_SEND) && c->in_len == 0 && !c->wr_shut) {
		bvh_host_end_of_data(e, c);
		c->wr_shut = true;
	}
	if (c->st == CS_EST && c->in_len == 0) {
		if (c->guest_shut == VSOCK_SHUTDOWN_BOTH)
			bvh_conn_reset(e, c, "guest closed");   /* the RST acknowledges its close */
		else if (c->wr_shut && c->host_eof && c->out_len == 0 && (c->shut_sent & VSOCK_SHUTDOWN_SEND))
			bvh_conn_reset(e, c, "both directions finished");
	}
}

uint8_t *bvh_conn_stage_buf(struct bvh_engine *e, struct bvh_conn *c, uint32_t cap)
{
	if (!c->out || cap > c->out_cap) {
		uint32_t n = cap > 65536 ? cap : 65536;
		uint8_t *b = realloc(c->out, n);
		if (!b) {
			bvh_conn_reset(e, c, "out of memory");
			return NULL;
		}
		c->out = b;
		c->out_cap = n;
	}
	return c->out;
}

void bvh_conn_staged(struct bvh_conn *c, uint32_t n, bool eom)
{
	c->out_off = 0;
	c->out_len = n;
	c->out_eom = eom;
}

/* Guest -> host connection request to port dst_port. */
static void guest_connect(struct bvh_engine *e, const struct vsock_hdr *h)
{
	struct bvh_conn *c = bvh_conn_new(e);
	if (c) {
		c->type = h->type;
		c->host_port = h->dst_port;
		c->guest_port = h->src_port;
		if (!bvh_host_open(e, c)) {
			conn_free(e, c);
			c = NULL;
		}
	} else {
		BVH_VLOG(e, "guest port %u -> host port %u refused: too many connections\n", h->src_port,
			 h->dst_port);
	}
	if (!c) {
		e->st.refused_guest++;
		orphan_rst(e, h);
		return;
	}
	c->host_open = true;
	c->st = CS_EST;
	c->send_response = true;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	e->st.conns_guest++;
}

static void handle_rw(struct bvh_engine *e, struct bvh_conn *c, const struct vsock_hdr *h, const uint8_t *p)
{
	if (c->st != CS_EST || (c->guest_shut & VSOCK_SHUTDOWN_SEND)) {
		bvh_bad(e, BVH_BAD_STATE, "RW outside an open send direction");
		bvh_conn_reset(e, c, "RW in a wrong state");
		return;
	}
	uint32_t len = h->len;
	if (len > e->o.buf_alloc - c->in_len) {
		bvh_bad(e, BVH_BAD_CREDIT, "RW larger than the free credit");
		bvh_conn_reset(e, c, "credit overrun");
		return;
	}
	if (!c->in && !(c->in = malloc(e->o.buf_alloc))) {
		bvh_conn_reset(e, c, "out of memory");
		return;
	}
	if (c->in_off + c->in_len + len > e->o.buf_alloc) {
		memmove(c->in, c->in + c->in_off, c->in_len);
		c->in_off = 0;
	}
	memcpy(c->in + c->in_off + c->in_len, p, len);
	c->in_len += len;
	if (c->type == VSOCK_TYPE_SEQPACKET) {
		c->in_partial += len;
		if (h->flags & VSOCK_SEQ_EOM) {
			if (c->nmsg == c->msg_cap) {
				unsigned cap = c->msg_cap ? c->msg_cap * 2 : 16;
				uint32_t *m = realloc(c->msg, cap * sizeof(*m));
				if (!m) {
					bvh_conn_reset(e, c, "out of memory");
					return;
				}
				c->msg = m;
				c->msg_cap = cap;
			}
			c->msg[c->nmsg++] = c->in_partial;
			c->in_partial = 0;
		}
	}
	bvh_conn_flush(e, c);
}

void bvh_conn_bad_len(struct bvh_engine *e, const struct vsock_hdr *h)
{
	struct bvh_conn *c = h->src_cid == e->o.guest_cid ? bvh_conn_lookup(e, h->dst_port, h->src_port) : NULL;
	if (c && c->st != CS_DEAD)
		bvh_conn_reset(e, c, "bad hdr.len");
}

void bvh_conn_packet(struct bvh_engine *e, const struct vsock_hdr *h, const uint8_t *payload)
{
	if (h->src_cid != e->o.guest_cid) {
		bvh_bad(e, BVH_BAD_SRC_CID, "dropped");
		return;
	}
	if (h->dst_cid != VSOCK_CID_HOST) {
		bvh_bad(e, BVH_BAD_DST_CID, "answered with RST");
		orphan_rst(e, h);
		return;
	}
	struct bvh_conn *c = bvh_conn_lookup(e, h->dst_port, h->src_port);
	if (!bvh_type_ok(e, h->type) || (c && c->type != h->type)) {
		bvh_bad(e, BVH_BAD_TYPE, "connection reset");
		if (c)
			bvh_conn_reset(e, c, "bad type");
		else
			orphan_rst(e, h);
		return;
	}
	if (h->op == VSOCK_OP_INVALID || h->op > VSOCK_OP_CREDIT_REQUEST) {
		bvh_bad(e, BVH_BAD_OP, "connection reset");
		if (c)
			bvh_conn_reset(e, c, "bad op");
		else
			orphan_rst(e, h);
		return;
	}
	if (!c) {
		if (h->op == VSOCK_OP_REQUEST)
			guest_connect(e, h);
		else
			orphan_rst(e, h);
		return;
	}
	if (c->st == CS_DEAD) {
		if (h->op == VSOCK_OP_RST)
			c->send_rst = false;   /* both sides reset: nothing more to say */
		return;
	}
	if (h->buf_alloc != c->peer_buf_alloc || h->fwd_cnt != c->peer_fwd_cnt)
		c->credit_request_sent = false;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VSOCK_OP_REQUEST:
		break;    /* stray request on a live flow: ignore, as Linux does */
	case VSOCK_OP_RESPONSE:
		if (c->st == CS_REQUEST && c->request_sent) {
			if (!bvh_host_connected(e, c)) {
				bvh_conn_reset(e, c, "host client went away before OK");
				return;
			}
			c->st = CS_EST;
			c->deadline = 0;
			e->st.conns_host++;
			BVH_VLOG(e, "host port %u connected to guest port %u\n", c->host_port, c->guest_port);
		} else if (c->st != CS_EST) {
			bvh_bad(e, BVH_BAD_STATE, "unexpected RESPONSE");
			bvh_conn_reset(e, c, "unexpected RESPONSE");
		}
		break;
	case VSOCK_OP_RST:
		if (c->st == CS_REQUEST) {
			e->st.refused_host++;
			BVH_VLOG(e, "guest refused port %u\n", c->guest_port);
		} else {
			bvh_conn_flush(e, c);   /* best effort: keep what already arrived */
		}
		c->send_rst = false;
		conn_free(e, c);
		break;
	case VSOCK_OP_SHUTDOWN:
		if (c->st != CS_EST && c->st != CS_CLOSING)
			break;
		c->guest_shut |= h->flags & VSOCK_SHUTDOWN_BOTH;
		if ((c->guest_shut & VSOCK_SHUTDOWN_RCV) && c->host_open) {
			/* the guest will read no more: drop what we staged, stop the host writer */
			c->out_len = c->out_off = 0;
			bvh_host_stop_reading(e, c);
		}
		if (c->st == CS_CLOSING && c->guest_shut == VSOCK_SHUTDOWN_BOTH) {
			bvh_conn_reset(e, c, "both sides closed");
			break;
		}
		bvh_conn_flush(e, c);
		break;
	case VSOCK_OP_RW:
		handle_rw(e, c, h, payload);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->send_credit_update = true;
		break;
	}
}

static void fill_hdr(struct bvh_engine *e, struct bvh_conn *c, struct vsock_hdr *h, uint16_t op, uint32_t flags,
		     uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = vsock_le64(VSOCK_CID_HOST);
	h->dst_cid = vsock_le64(e->o.guest_cid);
	h->src_port = vsock_le32(c->host_port);
	h->dst_port = vsock_le32(c->guest_port);
	h->len = vsock_le32(len);
	h->type = vsock_le16(c->type);
	h->op = vsock_le16(op);
	h->flags = vsock_le32(flags);
	h->buf_alloc = vsock_le32(e->o.buf_alloc);
	h->fwd_cnt = vsock_le32(c->fwd_cnt);
	c->last_fwd_sent = c->fwd_cnt;
	c->send_credit_update = false;
}

static bool can_send_data(const struct bvh_conn *c)
{
	return c->st == CS_EST && !(c->guest_shut & VSOCK_SHUTDOWN_RCV) && !(c->shut_sent & VSOCK_SHUTDOWN_SEND) &&
	       c->host_open;
}

bool bvh_conn_wants(const struct bvh_conn *c)
{
	if (c->send_rst || c->send_request || c->send_response || c->send_credit_update || c->send_credit_request)
		return true;
	if (c->st != CS_EST)
		return false;
	if (can_send_data(c) && (c->out_len || (c->readable && !c->host_eof)))
		return true;   /* may turn out to be nothing (credit 0, EAGAIN) */
	return c->host_eof && c->out_len == 0 && !(c->shut_sent & VSOCK_SHUTDOWN_SEND);
}

bool bvh_conn_produce(struct bvh_engine *e, struct bvh_conn *c, uint32_t space, struct vsock_hdr *h,
		      const uint8_t **payload)
{
	*payload = NULL;
	if (c->send_rst) {
		fill_hdr(e, c, h, VSOCK_OP_RST, 0, 0);
		c->send_rst = false;
		return true;
	}
	if (c->send_request) {
		fill_hdr(e, c, h, VSOCK_OP_REQUEST, 0, 0);
		c->send_request = false;
		c->request_sent = true;
		return true;
	}
	if (c->send_response) {
		fill_hdr(e, c, h, VSOCK_OP_RESPONSE, 0, 0);
		c->send_response = false;
		return true;
	}
	if (c->st == CS_EST && can_send_data(c)) {
		if (!c->out_len && c->readable && !c->host_eof && bvh_conn_peer_credit(c))
			bvh_host_stage(e, c);
		if (c->st == CS_DEAD)
			return bvh_conn_produce(e, c, space, h, payload);
		uint32_t credit = bvh_conn_peer_credit(c);
		if (c->out_len && credit && space) {
			uint32_t n = c->out_len;
			if (n > credit)
				n = credit;
			if (n > space)
				n = space;
			if (n > VSOCK_MAX_PKT_PAYLOAD)
				n = VSOCK_MAX_PKT_PAYLOAD;
			uint32_t flags = 0;
			if (c->type == VSOCK_TYPE_SEQPACKET && n == c->out_len && c->out_eom)
				flags = VSOCK_SEQ_EOM;
			fill_hdr(e, c, h, VSOCK_OP_RW, flags, n);
			*payload = c->out + c->out_off;
			c->out_off += n;
			c->out_len -= n;
			c->tx_cnt += n;
			e->st.rx_bytes += n;
			return true;
		}
		if (c->out_len && !credit && !c->credit_request_sent) {
			c->credit_request_sent = true;
			c->send_credit_request = true;
		}
	}
	if (c->st == CS_EST && c->host_eof && c->out_len == 0 && !(c->shut_sent & VSOCK_SHUTDOWN_SEND)) {
		/* The host end closed entirely (HUP without our own SHUT_WR): tell the guest both. */
		uint32_t flags = VSOCK_SHUTDOWN_SEND | (c->hup && !c->wr_shut ? VSOCK_SHUTDOWN_RCV : 0);
		c->shut_sent |= flags;
		fill_hdr(e, c, h, VSOCK_OP_SHUTDOWN, c->shut_sent, 0);
		if (c->shut_sent == VSOCK_SHUTDOWN_BOTH) {
			c->st = CS_CLOSING;
			c->deadline = bvh_now_ms() + e->o.close_timeout_ms;
		} else if (c->wr_shut && c->in_len == 0) {
			/* both directions are finished: our RST follows this SHUTDOWN */
			bvh_conn_reset(e, c, "both directions finished");
		}
		return true;
	}
	if (c->send_credit_request) {
		fill_hdr(e, c, h, VSOCK_OP_CREDIT_REQUEST, 0, 0);
		c->send_credit_request = false;
		return true;
	}
	if (c->send_credit_update) {
		fill_hdr(e, c, h, VSOCK_OP_CREDIT_UPDATE, 0, 0);
		return true;
	}
	return false;
}

void bvh_conns_reap(struct bvh_engine *e)
{
	for (unsigned i = 0; i < e->nactive;) {
		struct bvh_conn *c = e->active[i];
		if (c->st == CS_DEAD && !c->send_rst)
			conn_free(e, c);   /* swaps the last one into i */
		else
			i++;
	}
}

/* A connection whose data has waited on zero credit for stall_log_ms is
 * logged once, with the numbers that explain it, and once more when it moves:
 * a receiver that never volunteers credit is the classic vsock stall. */
static void stall_check(struct bvh_engine *e, struct bvh_conn *c, uint64_t now)
{
	uint32_t waiting = 0;
	if (e->o.stall_log_ms && can_send_data(c) && bvh_conn_peer_credit(c) == 0)
		waiting = c->out_len + bvh_host_queued(e, c);
	/* Data that moved since the last look is no stall, even if credit ran out again. */
	if (!waiting || (c->stall_since && c->tx_cnt != c->stall_tx_cnt)) {
		if (c->stall_logged)
			BVH_LOG(e, "stall over: host port %u <-> guest port %u: credit again after %llu ms "
				"(peer buf_alloc %u, peer fwd_cnt %u, our tx_cnt %u)\n", c->host_port, c->guest_port,
				(unsigned long long)(now - c->stall_since), c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt);
		c->stall_since = 0;
		c->stall_logged = false;
		if (!waiting)
			return;
	}
	if (!c->stall_since) {
		c->stall_since = now;
		c->stall_tx_cnt = c->tx_cnt;
		return;
	}
	if (c->stall_logged || now - c->stall_since < e->o.stall_log_ms)
		return;
	c->stall_logged = true;
	e->st.stalls++;
	BVH_LOG(e, "stall: host port %u -> guest port %u: %u bytes waiting on zero credit for %llu ms "
		"(peer buf_alloc %u, peer fwd_cnt %u, our tx_cnt %u: %u in flight; CREDIT_REQUEST %s)\n",
		c->host_port, c->guest_port, waiting, (unsigned long long)(now - c->stall_since), c->peer_buf_alloc,
		c->peer_fwd_cnt, c->tx_cnt, c->tx_cnt - c->peer_fwd_cnt, c->credit_request_sent ? "sent" : "not sent");
}

void bvh_timers(struct bvh_engine *e)
{
	uint64_t now = bvh_now_ms();
	for (unsigned i = 0; i < e->nactive; i++) {
		struct bvh_conn *c = e->active[i];
		stall_check(e, c, now);
		if (!c->deadline || now < c->deadline)
			continue;
		c->deadline = 0;
		switch (c->st) {
		case CS_HANDSHAKE:
			bvh_conn_reset(e, c, "no CONNECT line in time");
			break;
		case CS_REQUEST:
			e->st.refused_host++;
			bvh_conn_reset(e, c, "the guest did not answer the REQUEST in time");
			break;
		case CS_CLOSING:
			bvh_conn_reset(e, c, "the guest did not finish closing in time");
			break;
		default:
			break;
		}
	}
}

void bvh_reset_all(struct bvh_engine *e, const char *why)
{
	if (e->nactive)
		BVH_LOG(e, "dropping %u connection(s): %s\n", e->nactive, why);
	while (e->nactive) {
		struct bvh_conn *c = e->active[0];
		/* give what the guest already sent a last chance to reach the host end */
		if (c->host_open && c->st == CS_EST)
			bvh_conn_flush(e, c);
		if (e->nactive && e->active[0] == c)
			conn_free(e, c);
	}
	e->orphan_len = 0;
}

int bvh_conns_init(struct bvh_engine *e, const struct bvh_opts *o, struct vhu_dev *dev)
{
	memset(e, 0, sizeof(*e));
	e->o = *o;
	e->dev = dev;
	e->epfd = e->listen_fd = -1;
	e->next_host_port = 1u << 30;
	e->nslots = o->max_conns;
	e->slot = calloc(e->nslots, sizeof(*e->slot));
	e->active = calloc(e->nslots, sizeof(*e->active));
	return e->slot && e->active ? 0 : -1;
}

void bvh_conns_fini(struct bvh_engine *e)
{
	bvh_reset_all(e, "shutting down");
	free(e->slot);
	free(e->active);
	e->slot = e->active = NULL;
}

void bvh_dump_stats(const struct bvh_engine *e, FILE *f)
{
	const struct bvh_stats *s = &e->st;
	fprintf(f, "bv-vhost-vsock: stats: conns %u active, %llu host-initiated, %llu guest-initiated, "
		"%llu/%llu refused (host/guest), %llu resets, %llu stalled; guest tx %llu pkts %llu bytes, "
		"guest rx %llu pkts %llu bytes; orphan RST %llu (dropped %llu); calls %llu; "
		"kicks rx %llu tx %llu event %llu\n",
		e->nactive, (unsigned long long)s->conns_host, (unsigned long long)s->conns_guest,
		(unsigned long long)s->refused_host, (unsigned long long)s->refused_guest,
		(unsigned long long)s->resets, (unsigned long long)s->stalls, (unsigned long long)s->tx_pkts, (unsigned long long)s->tx_bytes,
		(unsigned long long)s->rx_pkts, (unsigned long long)s->rx_bytes,
		(unsigned long long)s->orphan_rst, (unsigned long long)s->orphan_drop, (unsigned long long)s->calls,
		(unsigned long long)s->kicks[0], (unsigned long long)s->kicks[1], (unsigned long long)s->kicks[2]);
	for (int k = 0; k < BVH_BAD_MAX; k++)
		if (s->bad[k])
			fprintf(f, "bv-vhost-vsock: stats: guest error \"%s\": %llu\n", bad_names[k],
				(unsigned long long)s->bad[k]);
}
