/* SPDX-License-Identifier: BSD-2-Clause */
/* Connection engine of the host backend: guest packets in (TX ring), guest
 * packets out (RX ring), one Unix socket per connection. The guest is not
 * trusted: every header is checked, every bad descriptor goes back to the
 * used ring, and a misbehaving flow is reset without disturbing the others.
 * Non-goals: DGRAM, host-initiated SEQPACKET, the event queue, migration. */
#define _GNU_SOURCE
#include "host/bridge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum cstate {
	CS_HANDSHAKE,   /* host client connected, waiting for its CONNECT line */
	CS_REQUEST,     /* host-initiated: REQUEST queued or sent, waiting for RESPONSE */
	CS_EST,
	CS_CLOSING,     /* we sent SHUTDOWN(both): waiting for the guest's RST */
	CS_DEAD,        /* Unix side closed; an RST may still be queued, then freed */
};

struct bvh_conn {
	unsigned slot;
	uint32_t gen;
	int fd;
	enum cstate st;
	uint16_t type;
	bool host_initiated;
	uint32_t host_port, guest_port;
	uint64_t deadline;          /* 0 = none */

	/* packets owed to the guest */
	bool send_request, request_sent, send_response, send_rst, send_credit_update,
	     send_credit_request, credit_request_sent;
	uint32_t shut_sent;         /* SHUTDOWN bits told to the guest */

	/* guest -> Unix: bytes the guest sent that the Unix side has not taken */
	uint8_t *in;
	uint32_t in_off, in_len, in_partial; /* in_partial: seqpacket bytes of an unfinished message */
	uint32_t *msg;              /* seqpacket: lengths of complete queued messages */
	unsigned nmsg, msg_cap;
	uint32_t fwd_cnt, last_fwd_sent;
	uint32_t guest_shut;        /* SHUTDOWN bits the guest told us */
	bool wr_shut;               /* we did shutdown(SHUT_WR) on the Unix socket */

	/* Unix -> guest: bytes read from the Unix side not yet in RX buffers */
	uint8_t *out;
	uint32_t out_off, out_len, out_cap;
	bool out_eom;               /* seqpacket: the staged bytes end a message */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;

	bool readable, writable, host_eof, hup;
	char line[40];
	unsigned line_len;
};

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

#define LOG(e, ...) fprintf(stderr, "bv-vhost-vsock: " __VA_ARGS__)
#define VLOG(e, ...) do { if ((e)->o.verbose) LOG(e, __VA_ARGS__); } while (0)

/* Count a guest error; say it once per kind so a hostile guest cannot flood the log. */
static void bad(struct bvh_engine *e, enum bvh_bad kind, const char *detail)
{
	if (e->st.bad[kind]++ == 0)
		LOG(e, "guest error: %s (%s); further ones are only counted\n", bad_names[kind], detail);
}

/* ------------------------------------------------------------ sockets --- */

static int fill_sun(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -1;
	strcpy(sa->sun_path, path);
	return 0;
}

int bvh_unix_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	if (fill_sun(&sa, path) < 0) {
		snprintf(err, errlen, "%s: path is longer than %zu bytes; use a shorter path",
			 path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	struct stat stt;
	if (lstat(path, &stt) == 0) {
		if (!S_ISSOCK(stt.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; not removing it, pick another path", path);
			return -1;
		}
		/* Remove it only if it is stale: a live listener means another backend. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			snprintf(err, errlen, "%s: another process is listening there; stop it or pick another path", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		if (unlink(path) < 0) {
			snprintf(err, errlen, "cannot remove stale socket %s: %s", path, strerror(errno));
			return -1;
		}
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------- connections --- */

static uint32_t peer_credit(const struct bvh_conn *c)
{
	return vsock_peer_free(c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt);
}

static struct bvh_conn *conn_new(struct bvh_engine *e, int fd)
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
	c->fd = fd;
	c->writable = true;
	c->type = VSOCK_TYPE_STREAM;
	e->slot[s] = c;
	e->active[e->nactive++] = c;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.u64 = BVH_TAG(BVH_K_CONN, c->gen, s) };
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		LOG(e, "epoll_ctl: %s\n", strerror(errno));
	return c;
}

static void close_unix(struct bvh_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);   /* also leaves the epoll set */
	c->fd = -1;
	c->readable = c->writable = false;
}

static void conn_free(struct bvh_engine *e, struct bvh_conn *c)
{
	close_unix(c);
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

/* End a connection abruptly: the Unix side is closed, the guest gets an RST
 * if it knows about the connection. The struct goes once the RST is out. */
static void conn_reset(struct bvh_engine *e, struct bvh_conn *c, const char *why)
{
	VLOG(e, "reset host port %u <-> guest port %u: %s\n", c->host_port, c->guest_port, why);
	e->st.resets++;
	close_unix(c);
	bool guest_knows = c->st != CS_HANDSHAKE && (c->st != CS_REQUEST || c->request_sent);
	c->send_request = c->send_response = c->send_credit_update = c->send_credit_request = false;
	c->send_rst = guest_knows;
	c->st = CS_DEAD;
	c->deadline = 0;
}

static struct bvh_conn *lookup(struct bvh_engine *e, uint32_t host_port, uint32_t guest_port)
{
	for (unsigned i = 0; i < e->nactive; i++) {
		struct bvh_conn *c = e->active[i];
		if (c->st != CS_HANDSHAKE && c->host_port == host_port && c->guest_port == guest_port &&
		    !(c->st == CS_DEAD && !c->send_rst))
			return c;
	}
	return NULL;
}

static void orphan_rst(struct bvh_engine *e, const struct vsock_hdr *h)
{
	if (h->op == VSOCK_OP_RST)
		return;   /* never answer an RST */
	VLOG(e, "no connection for op %u from guest port %u to host port %u: RST\n", h->op, h->src_port,
	     h->dst_port);
	if (e->orphan_len == sizeof(e->orphan) / sizeof(e->orphan[0])) {
		e->st.orphan_drop++;
		return;
	}
	struct vsock_hdr *r = &e->orphan[(e->orphan_head + e->orphan_len++) % (sizeof(e->orphan) / sizeof(e->orphan[0]))];
	memset(r, 0, sizeof(*r));
	r->src_cid = vsock_le64(VSOCK_CID_HOST);
	r->dst_cid = vsock_le64(e->o.guest_cid);
	r->src_port = h->dst_port;
	r->dst_port = h->src_port;
	r->type = (h->type == VSOCK_TYPE_SEQPACKET) ? h->type : vsock_le16(VSOCK_TYPE_STREAM);
	r->op = vsock_le16(VSOCK_OP_RST);
	e->st.orphan_rst++;
}

static bool seqpacket_ok(const struct bvh_engine *e)
{
	return e->dev->features & (1ull << VSOCK_F_SEQPACKET);
}

/* Write what the guest sent to the Unix socket; grant credit as it drains. */
static void flush_to_unix(struct bvh_engine *e, struct bvh_conn *c)
{
	while (c->fd >= 0 && c->writable) {
		uint32_t n;
		if (c->type == VSOCK_TYPE_SEQPACKET) {
			if (!c->nmsg)
				break;
			n = c->msg[0];
		} else {
			n = c->in_len;
			if (!n)
				break;
		}
		ssize_t w = send(c->fd, c->in + c->in_off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->writable = false;
				break;
			}
			if (errno == EINTR)
				continue;
			conn_reset(e, c, errno == EMSGSIZE ? "seqpacket message larger than the Unix socket allows"
							   : "the Unix peer stopped reading");
			return;
		}
		if (c->type == VSOCK_TYPE_SEQPACKET) {
			if ((uint32_t)w != n) {
				conn_reset(e, c, "short write of a seqpacket message");
				return;
			}
			memmove(c->msg, c->msg + 1, (--c->nmsg) * sizeof(*c->msg));
		}
		c->in_off += (uint32_t)w;
		c->in_len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
		e->st.tx_bytes += (uint64_t)w;
	}
	if (c->in_len == 0)
		c->in_off = 0;
	/* Volunteer credit once a quarter of the buffer is free again, or when
	 * everything drained, so a guest that waits for updates never stalls. */
	uint32_t freed = c->fwd_cnt - c->last_fwd_sent;
	if (freed >= e->o.buf_alloc / 4 && c->st == CS_EST)
		c->send_credit_update = true;
	if (c->fd >= 0 && (c->guest_shut & VSOCK_SHUTDOWN_SEND) && c->in_len == 0 && !c->wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = true;
	}
	if (c->st == CS_EST && c->in_len == 0) {
		if (c->guest_shut == VSOCK_SHUTDOWN_BOTH)
			conn_reset(e, c, "guest closed");   /* the RST acknowledges its close */
		else if (c->wr_shut && c->host_eof && c->out_len == 0 && (c->shut_sent & VSOCK_SHUTDOWN_SEND))
			conn_reset(e, c, "both directions finished");
	}
}

/* Guest -> host connection request to port dst_port. */
static void guest_connect(struct bvh_engine *e, const struct vsock_hdr *h)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	snprintf(path, sizeof(path), "%s_%u", e->o.uds_path, h->dst_port);
	struct sockaddr_un sa;
	int stype = h->type == VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM;
	int fd = -1;
	const char *why = NULL;
	if (fill_sun(&sa, path) < 0)
		why = "path too long";
	else if ((fd = socket(AF_UNIX, stype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		why = strerror(errno);
	else if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		why = strerror(errno);   /* AF_UNIX never returns EINPROGRESS; EAGAIN = backlog full */
	struct bvh_conn *c = NULL;
	if (!why && !(c = conn_new(e, fd)))
		why = "too many connections";
	if (why) {
		VLOG(e, "guest port %u -> %s refused: %s\n", h->src_port, path, why);
		if (fd >= 0)
			close(fd);
		e->st.refused_guest++;
		orphan_rst(e, h);
		return;
	}
	c->type = h->type;
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->st = CS_EST;
	c->send_response = true;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	e->st.conns_guest++;
	VLOG(e, "guest port %u connected to %s\n", h->src_port, path);
}

static void handle_rw(struct bvh_engine *e, struct bvh_conn *c, const struct vsock_hdr *h, const uint8_t *p)
{
	if (c->st != CS_EST || (c->guest_shut & VSOCK_SHUTDOWN_SEND)) {
		bad(e, BVH_BAD_STATE, "RW outside an open send direction");
		conn_reset(e, c, "RW in a wrong state");
		return;
	}
	uint32_t len = h->len;
	if (len > e->o.buf_alloc - c->in_len) {
		bad(e, BVH_BAD_CREDIT, "RW larger than the free credit");
		conn_reset(e, c, "credit overrun");
		return;
	}
	if (!c->in && !(c->in = malloc(e->o.buf_alloc))) {
		conn_reset(e, c, "out of memory");
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
					conn_reset(e, c, "out of memory");
					return;
				}
				c->msg = m;
				c->msg_cap = cap;
			}
			c->msg[c->nmsg++] = c->in_partial;
			c->in_partial = 0;
		}
	}
	flush_to_unix(e, c);
}

/* One validated guest TX packet. */
static void handle_pkt(struct bvh_engine *e, const struct vsock_hdr *h, const uint8_t *payload)
{
	if (h->src_cid != e->o.guest_cid) {
		bad(e, BVH_BAD_SRC_CID, "dropped");
		return;
	}
	if (h->dst_cid != VSOCK_CID_HOST) {
		bad(e, BVH_BAD_DST_CID, "answered with RST");
		orphan_rst(e, h);
		return;
	}
	struct bvh_conn *c = lookup(e, h->dst_port, h->src_port);
	bool type_ok = h->type == VSOCK_TYPE_STREAM || (h->type == VSOCK_TYPE_SEQPACKET && seqpacket_ok(e));
	if (!type_ok || (c && c->type != h->type)) {
		bad(e, BVH_BAD_TYPE, "connection reset");
		if (c)
			conn_reset(e, c, "bad type");
		else
			orphan_rst(e, h);
		return;
	}
	if (h->op == VSOCK_OP_INVALID || h->op > VSOCK_OP_CREDIT_REQUEST) {
		bad(e, BVH_BAD_OP, "connection reset");
		if (c)
			conn_reset(e, c, "bad op");
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
			char ok[24];
			int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
			if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
				conn_reset(e, c, "host client went away before OK");
				return;
			}
			c->st = CS_EST;
			c->deadline = 0;
			e->st.conns_host++;
			VLOG(e, "host port %u connected to guest port %u\n", c->host_port, c->guest_port);
		} else if (c->st != CS_EST) {
			bad(e, BVH_BAD_STATE, "unexpected RESPONSE");
			conn_reset(e, c, "unexpected RESPONSE");
		}
		break;
	case VSOCK_OP_RST:
		if (c->st == CS_REQUEST) {
			e->st.refused_host++;
			VLOG(e, "guest refused port %u\n", c->guest_port);
		} else {
			flush_to_unix(e, c);   /* best effort: keep what already arrived */
		}
		c->send_rst = false;
		conn_free(e, c);
		break;
	case VSOCK_OP_SHUTDOWN:
		if (c->st != CS_EST && c->st != CS_CLOSING)
			break;
		c->guest_shut |= h->flags & VSOCK_SHUTDOWN_BOTH;
		if ((c->guest_shut & VSOCK_SHUTDOWN_RCV) && c->fd >= 0) {
			/* the guest will read no more: drop what we staged, stop the Unix writer */
			c->out_len = c->out_off = 0;
			shutdown(c->fd, SHUT_RD);
		}
		if (c->st == CS_CLOSING && c->guest_shut == VSOCK_SHUTDOWN_BOTH) {
			conn_reset(e, c, "both sides closed");
			break;
		}
		flush_to_unix(e, c);
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

/* ------------------------------------------------------------ TX ring --- */

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
			bad(e, BVH_BAD_RING, "TX queue");
			break;
		}
		uint16_t head = e->chain.head;
		if (r != VR_OK) {
			bad(e, BVH_BAD_CHAIN, vr_strstatus(r));
		} else if (e->chain.total < VSOCK_HDR_SIZE) {
			bad(e, BVH_BAD_SHORT, "TX");
		} else {
			struct vsock_hdr h;
			vr_chain_read(&e->chain, 0, &h, sizeof(h));
			if (h.len > e->chain.total - VSOCK_HDR_SIZE || h.len > VSOCK_MAX_PKT_PAYLOAD) {
				bad(e, BVH_BAD_LEN, "TX");
				struct bvh_conn *c = h.src_cid == e->o.guest_cid ? lookup(e, h.dst_port, h.src_port) : NULL;
				if (c && c->st != CS_DEAD)
					conn_reset(e, c, "bad hdr.len");
			} else {
				if (h.op == VSOCK_OP_RW && h.len)
					vr_chain_read(&e->chain, VSOCK_HDR_SIZE, e->scratch, h.len);
				e->st.tx_pkts++;
				handle_pkt(e, &h, e->scratch);
			}
		}
		vr_push(q, head, 0);
	}
}

/* ------------------------------------------------------------ RX ring --- */

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

/* Read from the Unix side into the staging buffer (only when it is empty). */
static void stage_from_unix(struct bvh_engine *e, struct bvh_conn *c)
{
	uint32_t credit = peer_credit(c);
	if (c->type == VSOCK_TYPE_SEQPACKET) {
		ssize_t m = recv(c->fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		if (m < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				c->readable = false;
			else
				conn_reset(e, c, "Unix read error");
			return;
		}
		/* A whole message must fit the guest's buffer (Linux refuses larger). */
		if ((uint64_t)m > c->peer_buf_alloc) {
			conn_reset(e, c, "seqpacket message larger than the guest's buffer");
			return;
		}
		if ((uint32_t)m > credit && m > 0)
			return;  /* wait for credit: send fragments only when all fit */
		if ((uint32_t)m > c->out_cap || !c->out) {
			uint32_t cap = m > 65536 ? (uint32_t)m : 65536;
			uint8_t *b = realloc(c->out, cap);
			if (!b) {
				conn_reset(e, c, "out of memory");
				return;
			}
			c->out = b;
			c->out_cap = cap;
		}
		ssize_t n = recv(c->fd, c->out, c->out_cap, MSG_DONTWAIT);
		if (n == 0) {
			c->host_eof = true;   /* a zero-length message is read as EOF too */
			c->readable = false;
		} else if (n > 0) {
			c->out_off = 0;
			c->out_len = (uint32_t)n;
			c->out_eom = true;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->readable = false;
		} else {
			conn_reset(e, c, "Unix read error");
		}
		return;
	}
	if (!c->out) {
		c->out_cap = 65536;
		if (!(c->out = malloc(c->out_cap))) {
			conn_reset(e, c, "out of memory");
			return;
		}
	}
	uint32_t want = credit < c->out_cap ? credit : c->out_cap;
	ssize_t n = recv(c->fd, c->out, want, MSG_DONTWAIT);
	if (n > 0) {
		c->out_off = 0;
		c->out_len = (uint32_t)n;
	} else if (n == 0) {
		c->host_eof = true;
		c->readable = false;
	} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->readable = false;
	} else if (errno != EINTR) {
		conn_reset(e, c, "Unix read error");
	}
}

static bool can_send_data(const struct bvh_conn *c)
{
	return c->st == CS_EST && !(c->guest_shut & VSOCK_SHUTDOWN_RCV) && !(c->shut_sent & VSOCK_SHUTDOWN_SEND) &&
	       c->fd >= 0;
}

static bool conn_wants(const struct bvh_conn *c)
{
	if (c->send_rst || c->send_request || c->send_response || c->send_credit_update || c->send_credit_request)
		return true;
	if (c->st != CS_EST)
		return false;
	if (can_send_data(c) && (c->out_len || (c->readable && !c->host_eof)))
		return true;   /* may turn out to be nothing (credit 0, EAGAIN): then unpop */
	return c->host_eof && c->out_len == 0 && !(c->shut_sent & VSOCK_SHUTDOWN_SEND);
}

/* Build the next packet for c into the chain; returns bytes written (0 = none). */
static uint32_t produce(struct bvh_engine *e, struct bvh_conn *c, const struct vr_chain *ch)
{
	struct vsock_hdr h;
	uint32_t space = ch->total - VSOCK_HDR_SIZE;
	if (c->send_rst) {
		fill_hdr(e, c, &h, VSOCK_OP_RST, 0, 0);
		c->send_rst = false;
		goto ctl;
	}
	if (c->send_request) {
		fill_hdr(e, c, &h, VSOCK_OP_REQUEST, 0, 0);
		c->send_request = false;
		c->request_sent = true;
		goto ctl;
	}
	if (c->send_response) {
		fill_hdr(e, c, &h, VSOCK_OP_RESPONSE, 0, 0);
		c->send_response = false;
		goto ctl;
	}
	if (c->st == CS_EST && can_send_data(c)) {
		if (!c->out_len && c->readable && !c->host_eof && peer_credit(c))
			stage_from_unix(e, c);
		if (c->st == CS_DEAD)
			return produce(e, c, ch);
		uint32_t credit = peer_credit(c);
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
			fill_hdr(e, c, &h, VSOCK_OP_RW, flags, n);
			vr_chain_write(ch, 0, &h, sizeof(h));
			vr_chain_write(ch, VSOCK_HDR_SIZE, c->out + c->out_off, n);
			c->out_off += n;
			c->out_len -= n;
			c->tx_cnt += n;
			e->st.rx_bytes += n;
			return VSOCK_HDR_SIZE + n;
		}
		if (c->out_len && !credit && !c->credit_request_sent) {
			c->credit_request_sent = true;
			c->send_credit_request = true;
		}
	}
	if (c->st == CS_EST && c->host_eof && c->out_len == 0 && !(c->shut_sent & VSOCK_SHUTDOWN_SEND)) {
		/* The Unix peer closed entirely (HUP without our own SHUT_WR): tell the guest both. */
		uint32_t flags = VSOCK_SHUTDOWN_SEND | (c->hup && !c->wr_shut ? VSOCK_SHUTDOWN_RCV : 0);
		c->shut_sent |= flags;
		fill_hdr(e, c, &h, VSOCK_OP_SHUTDOWN, c->shut_sent, 0);
		if (c->shut_sent == VSOCK_SHUTDOWN_BOTH) {
			c->st = CS_CLOSING;
			c->deadline = bvh_now_ms() + e->o.close_timeout_ms;
		} else if (c->wr_shut && c->in_len == 0) {
			/* both directions are finished: our RST follows this SHUTDOWN */
			vr_chain_write(ch, 0, &h, sizeof(h));
			conn_reset(e, c, "both directions finished");
			return VSOCK_HDR_SIZE;
		}
		goto ctl;
	}
	if (c->send_credit_request) {
		fill_hdr(e, c, &h, VSOCK_OP_CREDIT_REQUEST, 0, 0);
		c->send_credit_request = false;
		goto ctl;
	}
	if (c->send_credit_update) {
		fill_hdr(e, c, &h, VSOCK_OP_CREDIT_UPDATE, 0, 0);
		goto ctl;
	}
	return 0;
ctl:
	vr_chain_write(ch, 0, &h, sizeof(h));
	return VSOCK_HDR_SIZE;
}

static void reap(struct bvh_engine *e)
{
	for (unsigned i = 0; i < e->nactive;) {
		struct bvh_conn *c = e->active[i];
		if (c->st == CS_DEAD && !c->send_rst)
			conn_free(e, c);   /* swaps the last one into i */
		else
			i++;
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
			bad(e, BVH_BAD_RING, "RX queue");
			return -1;
		}
		if (r == VR_OK && e->chain.total >= VSOCK_HDR_SIZE)
			return 0;
		if (r == VR_OK)
			bad(e, BVH_BAD_SHORT, "RX buffer");
		else
			bad(e, BVH_BAD_CHAIN, vr_strstatus(r));
		vr_push(q, e->chain.head, 0);
	}
}

static void rx_fill(struct bvh_engine *e)
{
	struct vhu_dev *d = e->dev;
	if (!vhu_vq_ready(d, VSOCK_VQ_RX))
		return;
	struct vr_queue *q = &d->vq[VSOCK_VQ_RX].q;
	const unsigned ocap = sizeof(e->orphan) / sizeof(e->orphan[0]);
	while (e->orphan_len) {
		if (rx_pop(e, q) < 0)
			return;
		vr_chain_write(&e->chain, 0, &e->orphan[e->orphan_head], VSOCK_HDR_SIZE);
		vr_push(q, e->chain.head, VSOCK_HDR_SIZE);
		e->orphan_head = (e->orphan_head + 1) % ocap;
		e->orphan_len--;
		e->st.rx_pkts++;
	}
	bool progress = true;
	while (progress) {
		progress = false;
		unsigned n = e->nactive;
		for (unsigned k = 0; k < n && k < e->nactive; k++) {
			struct bvh_conn *c = e->active[(e->rr + k) % e->nactive];
			if (!conn_wants(c))
				continue;
			if (rx_pop(e, q) < 0)
				return;
			uint32_t len = produce(e, c, &e->chain);
			if (!len) {
				vr_unpop(q);
				continue;
			}
			vr_push(q, e->chain.head, len);
			e->st.rx_pkts++;
			progress = true;
		}
		e->rr++;
	}
}

static void notify(struct bvh_engine *e, int i)
{
	struct vhu_vq *v = &e->dev->vq[i];
	if (v->ready && vr_should_notify(&v->q) && v->call_fd >= 0)
		eventfd_write(v->call_fd, 1);
}

void bvh_pump(struct bvh_engine *e)
{
	tx_process(e);
	rx_fill(e);
	reap(e);
	notify(e, VSOCK_VQ_TX);
	notify(e, VSOCK_VQ_RX);
}

/* ------------------------------------------------- host-side events --- */

/* Parse "CONNECT <port>\n" (a trailing \r is tolerated). */
static int parse_connect(const char *s, uint32_t *port)
{
	if (strncmp(s, "CONNECT ", 8))
		return -1;
	s += 8;
	while (*s == ' ')
		s++;
	uint64_t v = 0;
	int digits = 0;
	while (*s >= '0' && *s <= '9' && digits < 11) {
		v = v * 10 + (uint64_t)(*s++ - '0');
		digits++;
	}
	if (*s == '\r')
		s++;
	if (!digits || *s != '\n' || v >= VSOCK_PORT_ANY)
		return -1;
	*port = (uint32_t)v;
	return 0;
}

static uint32_t alloc_host_port(struct bvh_engine *e, uint32_t guest_port)
{
	for (;;) {
		uint32_t p = e->next_host_port++;
		if (e->next_host_port == VSOCK_PORT_ANY || e->next_host_port < (1u << 30))
			e->next_host_port = 1u << 30;
		if (!lookup(e, p, guest_port))
			return p;
	}
}

static void handshake(struct bvh_engine *e, struct bvh_conn *c)
{
	ssize_t n = recv(c->fd, c->line + c->line_len, sizeof(c->line) - 1 - c->line_len, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			c->readable = false;
		else
			conn_reset(e, c, "host client error");
		return;
	}
	if (n == 0) {
		conn_reset(e, c, "host client left before CONNECT");
		return;
	}
	char *nl = memchr(c->line + c->line_len, '\n', (size_t)n);
	size_t take = nl ? (size_t)(nl - (c->line + c->line_len)) + 1 : (size_t)n;
	/* consume exactly the line: bytes after it are stream data for the guest */
	if (recv(c->fd, c->line + c->line_len, take, MSG_DONTWAIT) != (ssize_t)take) {
		conn_reset(e, c, "host client read error");
		return;
	}
	c->line_len += (unsigned)take;
	c->line[c->line_len] = 0;
	if (!nl) {
		if (c->line_len >= sizeof(c->line) - 1)
			conn_reset(e, c, "CONNECT line too long");
		return;
	}
	uint32_t port;
	if (parse_connect(c->line, &port) < 0) {
		LOG(e, "host client sent a malformed line (want \"CONNECT <port>\\n\"); closing it\n");
		conn_reset(e, c, "bad CONNECT line");
		return;
	}
	c->guest_port = port;
	c->host_port = alloc_host_port(e, port);
	c->host_initiated = true;
	c->st = CS_REQUEST;
	c->send_request = true;
	c->readable = true;   /* there may be data queued behind the line; read it once established */
	c->deadline = bvh_now_ms() + e->o.connect_timeout_ms;
}

static void accept_host(struct bvh_engine *e)
{
	for (;;) {
		int fd = accept4(e->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && !e->accept_err++)
				LOG(e, "accept on %s: %s (further errors only counted)\n", e->o.uds_path,
				    strerror(errno));
			return;
		}
		struct bvh_conn *c = conn_new(e, fd);
		if (!c) {
			LOG(e, "too many connections (%u); refusing a host client\n", e->o.max_conns);
			close(fd);
			continue;
		}
		c->st = CS_HANDSHAKE;
		c->deadline = bvh_now_ms() + e->o.connect_timeout_ms;
		c->readable = true;
		handshake(e, c);
	}
}

void bvh_event(struct bvh_engine *e, uint64_t tag, uint32_t events)
{
	if (BVH_TAG_KIND(tag) == BVH_K_LISTEN) {
		accept_host(e);
		return;
	}
	unsigned s = BVH_TAG_SLOT(tag);
	struct bvh_conn *c = s < e->nslots ? e->slot[s] : NULL;
	if (!c || c->gen != BVH_TAG_GEN(tag) || c->fd < 0)
		return;   /* stale: the connection went earlier in this batch */
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if (events & EPOLLHUP)
		c->hup = true;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		c->writable = true;
	if (c->st == CS_HANDSHAKE) {
		if (c->readable)
			handshake(e, c);
		return;
	}
	if (c->st == CS_REQUEST && (events & (EPOLLHUP | EPOLLERR))) {
		/* the host program gave up before the guest answered */
		conn_reset(e, c, "host client left while connecting");
		return;
	}
	if (c->writable)
		flush_to_unix(e, c);
}

void bvh_timers(struct bvh_engine *e)
{
	uint64_t now = bvh_now_ms();
	for (unsigned i = 0; i < e->nactive; i++) {
		struct bvh_conn *c = e->active[i];
		if (!c->deadline || now < c->deadline)
			continue;
		c->deadline = 0;
		switch (c->st) {
		case CS_HANDSHAKE:
			conn_reset(e, c, "no CONNECT line in time");
			break;
		case CS_REQUEST:
			e->st.refused_host++;
			conn_reset(e, c, "the guest did not answer the REQUEST in time");
			break;
		case CS_CLOSING:
			conn_reset(e, c, "the guest did not finish closing in time");
			break;
		default:
			break;
		}
	}
}

void bvh_reset_all(struct bvh_engine *e, const char *why)
{
	if (e->nactive)
		LOG(e, "dropping %u connection(s): %s\n", e->nactive, why);
	while (e->nactive) {
		struct bvh_conn *c = e->active[0];
		/* give what the guest already sent a last chance to reach the Unix side */
		if (c->fd >= 0 && c->st == CS_EST)
			flush_to_unix(e, c);
		if (e->nactive && e->active[0] == c)
			conn_free(e, c);
	}
	e->orphan_len = 0;
}

int bvh_init(struct bvh_engine *e, const struct bvh_opts *o, struct vhu_dev *dev, int epfd, char *err,
	     size_t errlen)
{
	memset(e, 0, sizeof(*e));
	e->o = *o;
	e->dev = dev;
	e->epfd = epfd;
	e->next_host_port = 1u << 30;
	e->nslots = o->max_conns;
	e->slot = calloc(e->nslots, sizeof(*e->slot));
	e->active = calloc(e->nslots, sizeof(*e->active));
	if (!e->slot || !e->active) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	e->listen_fd = bvh_unix_listen(o->uds_path, err, errlen);
	if (e->listen_fd < 0)
		return -1;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = BVH_TAG(BVH_K_LISTEN, 0, 0) };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, e->listen_fd, &ev) < 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void bvh_fini(struct bvh_engine *e)
{
	bvh_reset_all(e, "shutting down");
	if (e->listen_fd >= 0) {
		close(e->listen_fd);
		unlink(e->o.uds_path);
	}
	free(e->slot);
	free(e->active);
}

void bvh_dump_stats(const struct bvh_engine *e, FILE *f)
{
	const struct bvh_stats *s = &e->st;
	fprintf(f, "bv-vhost-vsock: stats: conns %u active, %llu host-initiated, %llu guest-initiated, "
		"%llu/%llu refused (host/guest), %llu resets; guest tx %llu pkts %llu bytes, "
		"guest rx %llu pkts %llu bytes; orphan RST %llu (dropped %llu)\n",
		e->nactive, (unsigned long long)s->conns_host, (unsigned long long)s->conns_guest,
		(unsigned long long)s->refused_host, (unsigned long long)s->refused_guest,
		(unsigned long long)s->resets, (unsigned long long)s->tx_pkts, (unsigned long long)s->tx_bytes,
		(unsigned long long)s->rx_pkts, (unsigned long long)s->rx_bytes,
		(unsigned long long)s->orphan_rst, (unsigned long long)s->orphan_drop);
	for (int k = 0; k < BVH_BAD_MAX; k++)
		if (s->bad[k])
			fprintf(f, "bv-vhost-vsock: stats: guest error \"%s\": %llu\n", bad_names[k],
				(unsigned long long)s->bad[k]);
}
