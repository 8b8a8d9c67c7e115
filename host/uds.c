/* SPDX-License-Identifier: BSD-2-Clause */
/* Unix-socket side of the host back end: the listener host programs connect
 * to, the CONNECT/OK handshake, one non-blocking socket per connection in the
 * epoll set, and the bvh_host_* hooks that move bytes between those sockets
 * and the connection engine. Non-goals: host-initiated SEQPACKET, abstract
 * socket names, several guests per listener. */
#define _GNU_SOURCE
#include "host/uds.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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

/* The connection's socket joins the epoll set, edge-triggered. */
static void attach_fd(struct bvh_engine *e, struct bvh_conn *c, int fd)
{
	c->fd = fd;
	c->host_open = true;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.u64 = BVH_TAG(BVH_K_CONN, c->gen, c->slot) };
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		BVH_LOG(e, "epoll_ctl: %s\n", strerror(errno));
}

/* ------------------------------------------------ hooks for conn.c --- */

bool bvh_host_open(struct bvh_engine *e, struct bvh_conn *c)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	snprintf(path, sizeof(path), "%s_%u", e->o.uds_path, c->host_port);
	struct sockaddr_un sa;
	int stype = c->type == VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM;
	int fd = -1;
	const char *why = NULL;
	if (fill_sun(&sa, path) < 0)
		why = "path too long";
	else if ((fd = socket(AF_UNIX, stype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		why = strerror(errno);
	else if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		why = strerror(errno);   /* AF_UNIX never returns EINPROGRESS; EAGAIN = backlog full */
	if (why) {
		BVH_VLOG(e, "guest port %u -> %s refused: %s\n", c->guest_port, path, why);
		if (fd >= 0)
			close(fd);
		return false;
	}
	attach_fd(e, c, fd);
	BVH_VLOG(e, "guest port %u connected to %s\n", c->guest_port, path);
	return true;
}

bool bvh_host_connected(struct bvh_engine *e, struct bvh_conn *c)
{
	(void)e;
	char ok[24];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
	return send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n;
}

void bvh_host_deliver(struct bvh_engine *e, struct bvh_conn *c)
{
	while (c->fd >= 0 && c->writable) {
		const uint8_t *p;
		uint32_t n = bvh_conn_pending(c, &p);
		if (!n)
			break;
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->writable = false;
				break;
			}
			if (errno == EINTR)
				continue;
			bvh_conn_reset(e, c, errno == EMSGSIZE ? "seqpacket message larger than the Unix socket allows"
							       : "the Unix peer stopped reading");
			return;
		}
		if (c->type == VSOCK_TYPE_SEQPACKET && (uint32_t)w != n) {
			bvh_conn_reset(e, c, "short write of a seqpacket message");
			return;
		}
		bvh_conn_delivered(e, c, (uint32_t)w);
	}
}

void bvh_host_stage(struct bvh_engine *e, struct bvh_conn *c)
{
	uint32_t credit = bvh_conn_peer_credit(c);
	if (c->type == VSOCK_TYPE_SEQPACKET) {
		ssize_t m = recv(c->fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		if (m < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				c->readable = false;
			else
				bvh_conn_reset(e, c, "Unix read error");
			return;
		}
		/* A whole message must fit the guest's buffer (Linux refuses larger). */
		if ((uint64_t)m > c->peer_buf_alloc) {
			bvh_conn_reset(e, c, "seqpacket message larger than the guest's buffer");
			return;
		}
		if ((uint32_t)m > credit && m > 0)
			return;  /* wait for credit: send fragments only when all fit */
		uint8_t *b = bvh_conn_stage_buf(e, c, (uint32_t)m);
		if (!b)
			return;
		ssize_t n = recv(c->fd, b, c->out_cap, MSG_DONTWAIT);
		if (n == 0) {
			c->host_eof = true;   /* a zero-length message is read as EOF too */
			c->readable = false;
		} else if (n > 0) {
			bvh_conn_staged(c, (uint32_t)n, true);
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->readable = false;
		} else {
			bvh_conn_reset(e, c, "Unix read error");
		}
		return;
	}
	uint8_t *b = bvh_conn_stage_buf(e, c, 65536);
	if (!b)
		return;
	uint32_t want = credit < c->out_cap ? credit : c->out_cap;
	ssize_t n = recv(c->fd, b, want, MSG_DONTWAIT);
	if (n > 0) {
		bvh_conn_staged(c, (uint32_t)n, false);
	} else if (n == 0) {
		c->host_eof = true;
		c->readable = false;
	} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->readable = false;
	} else if (errno != EINTR) {
		bvh_conn_reset(e, c, "Unix read error");
	}
}

void bvh_host_end_of_data(struct bvh_engine *e, struct bvh_conn *c)
{
	(void)e;
	shutdown(c->fd, SHUT_WR);
}

void bvh_host_stop_reading(struct bvh_engine *e, struct bvh_conn *c)
{
	(void)e;
	shutdown(c->fd, SHUT_RD);
}

uint32_t bvh_host_queued(const struct bvh_engine *e, const struct bvh_conn *c)
{
	(void)e;
	int n = 0;
	if (c->fd < 0 || ioctl(c->fd, FIONREAD, &n) < 0 || n < 0)
		return 0;
	return (uint32_t)n;
}

void bvh_host_close(struct bvh_engine *e, struct bvh_conn *c)
{
	(void)e;
	if (c->fd >= 0)
		close(c->fd);   /* also leaves the epoll set */
	c->fd = -1;
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

static void handshake(struct bvh_engine *e, struct bvh_conn *c)
{
	ssize_t n = recv(c->fd, c->line + c->line_len, sizeof(c->line) - 1 - c->line_len, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			c->readable = false;
		else
			bvh_conn_reset(e, c, "host client error");
		return;
	}
	if (n == 0) {
		bvh_conn_reset(e, c, "host client left before CONNECT");
		return;
	}
	char *nl = memchr(c->line + c->line_len, '\n', (size_t)n);
	size_t take = nl ? (size_t)(nl - (c->line + c->line_len)) + 1 : (size_t)n;
	/* consume exactly the line: bytes after it are stream data for the guest */
	if (recv(c->fd, c->line + c->line_len, take, MSG_DONTWAIT) != (ssize_t)take) {
		bvh_conn_reset(e, c, "host client read error");
		return;
	}
	c->line_len += (unsigned)take;
	c->line[c->line_len] = 0;
	if (!nl) {
		if (c->line_len >= sizeof(c->line) - 1)
			bvh_conn_reset(e, c, "CONNECT line too long");
		return;
	}
	uint32_t port;
	if (parse_connect(c->line, &port) < 0) {
		BVH_LOG(e, "host client sent a malformed line (want \"CONNECT <port>\\n\"); closing it\n");
		bvh_conn_reset(e, c, "bad CONNECT line");
		return;
	}
	if (!bvh_type_ok(e, VSOCK_TYPE_STREAM)) {
		BVH_LOG(e, "host client wants a stream, but the guest did not negotiate STREAM; closing it\n");
		bvh_conn_reset(e, c, "STREAM not negotiated");
		return;
	}
	c->guest_port = port;
	c->host_port = bvh_conn_alloc_host_port(e, port);
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
				BVH_LOG(e, "accept on %s: %s (further errors only counted)\n", e->o.uds_path,
					strerror(errno));
			return;
		}
		struct bvh_conn *c = bvh_conn_new(e);
		if (!c) {
			BVH_LOG(e, "too many connections (%u); refusing a host client\n", e->o.max_conns);
			close(fd);
			continue;
		}
		attach_fd(e, c, fd);
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
		bvh_conn_reset(e, c, "host client left while connecting");
		return;
	}
	if (c->writable)
		bvh_conn_flush(e, c);
}

int bvh_init(struct bvh_engine *e, const struct bvh_opts *o, struct vhu_dev *dev, int epfd, char *err,
	     size_t errlen)
{
	if (bvh_conns_init(e, o, dev) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	e->epfd = epfd;
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
	bvh_conns_fini(e);
	if (e->listen_fd >= 0) {
		close(e->listen_fd);
		unlink(e->o.uds_path);
	}
}
