/* SPDX-License-Identifier: BSD-2-Clause */
/* hold: the guest of the conformance suite (tests/conformance). Servers whose
 * replies never mask credit behaviour, on the ports tests/conformance/
 * guest_linux.py serves in the Linux guest, with the same behaviour:
 *   1234/1235 echo (STREAM/SEQPACKET), 1236/1237 sink (reads, never writes),
 *   1238/1239 hold (accepts, never reads), 1240 a STREAM listener that never
 *   accepts (its backlog fills), 1298/1297 dial (accept, close, then connect
 *   to host port 5000 STREAM / 5001 SEQPACKET, say "dialed!\n", then sink),
 *   1299 release (accept, close, close every held connection and re-create
 *   the 1240 listener). SEQPACKET ports exist only when the device offers it.
 * Non-goals: throughput, anything a test does not compare. Never exits. */
#include <stdio.h>
#include <string.h>
#include "bv/arch.h"
#include "bv/config.h"
#include "bv/err.h"
#include "bv/exit.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "discover/discover.h"  /* vsock_dev_init */

enum role { R_ECHO, R_SINK, R_HOLD, R_NOACCEPT, R_DIAL_TRIGGER, R_RELEASE, R_DIAL };

static const struct lport {
	uint32_t port;
	int type;
	enum role role;
	uint32_t dial_port;   /* R_DIAL_TRIGGER: where to connect */
} lports[] = {
	{ 1234, VSOCK_STREAM, R_ECHO, 0 },
	{ 1235, VSOCK_SEQPACKET, R_ECHO, 0 },
	{ 1236, VSOCK_STREAM, R_SINK, 0 },
	{ 1237, VSOCK_SEQPACKET, R_SINK, 0 },
	{ 1238, VSOCK_STREAM, R_HOLD, 0 },
	{ 1239, VSOCK_SEQPACKET, R_HOLD, 0 },
	{ 1240, VSOCK_STREAM, R_NOACCEPT, 0 },
	{ 1297, VSOCK_SEQPACKET, R_DIAL_TRIGGER, 5001 },
	{ 1298, VSOCK_STREAM, R_DIAL_TRIGGER, 5000 },
	{ 1299, VSOCK_STREAM, R_RELEASE, 0 },
};
#define NLPORTS (sizeof(lports) / sizeof(lports[0]))

struct hconn {
	int h;                 /* -1: free */
	enum role role;
	int type;
	int said;              /* R_DIAL: greeting queued */
};

/* As tests/conformance/guest_linux.py's listen(): Linux takes one more
 * than this many waiting connections, and so does vsock_listen. */
#define HOLD_BACKLOG 8

static int lh[NLPORTS];
static struct hconn conns[BV_VSOCK_MAX_CONNS];

static struct hconn *slot(void)
{
	for (unsigned i = 0; i < BV_VSOCK_MAX_CONNS; i++)
		if (conns[i].h < 0)
			return &conns[i];
	return NULL;
}

static void drop(struct hconn *c)
{
	vsock_close(c->h);
	c->h = -1;
}

static void open_listener(unsigned i)
{
	lh[i] = vsock_listen(lports[i].port, lports[i].type, HOLD_BACKLOG);
	if (lh[i] < 0 && !(lh[i] == BV_ENOTSUP && lports[i].type == VSOCK_SEQPACKET))
		printf("hold: listen on %u failed: %s\n", (unsigned)lports[i].port, bv_strerror(lh[i]));
}

static void release_all(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < BV_VSOCK_MAX_CONNS; i++)
		if (conns[i].h >= 0 && conns[i].role == R_HOLD) {
			drop(&conns[i]);
			n++;
		}
	for (unsigned i = 0; i < NLPORTS; i++)
		if (lports[i].role == R_NOACCEPT && lh[i] >= 0) {
			vsock_close(lh[i]);
			open_listener(i);
		}
	printf("hold: released %u held connection(s)\n", n);
}

static void dial(uint32_t port, int type)
{
	struct hconn *c = slot();
	if (!c) {
		printf("hold: no slot to dial %u\n", (unsigned)port);
		return;
	}
	int h = vsock_connect(VSOCK_CID_HOST, port, type);
	if (h < 0) {
		printf("hold: dial %u failed: %s\n", (unsigned)port, bv_strerror(h));
		return;
	}
	c->h = h;
	c->role = R_DIAL;
	c->type = type;
	c->said = 0;
}

static void accept_on(unsigned i)
{
	for (;;) {
		struct hconn *c = slot();
		if (!c)
			return;   /* the rest waits in the backlog */
		int h = vsock_accept(lh[i], NULL, NULL);
		if (h < 0)
			return;
		switch (lports[i].role) {
		case R_DIAL_TRIGGER:
			vsock_close(h);
			dial(lports[i].dial_port, lports[i].type);
			continue;
		case R_RELEASE:
			vsock_close(h);
			release_all();
			continue;
		default:
			c->h = h;
			c->role = lports[i].role;
			c->type = lports[i].type;
		}
	}
}

/* Read everything there is, where it lies; 1 if something happened. */
static int sink(struct hconn *c)
{
	int moved = 0;
	for (;;) {
		const void *p;
		uint32_t flags;
		int n = vsock_recv_borrow(c->h, &p, &flags);
		if (n == BV_EAGAIN)
			return moved;
		if (n < 0 || (n == 0 && !(flags & VSOCK_MSG_EOM))) {
			drop(c);   /* peer done (0) or failed */
			return 1;
		}
		vsock_recv_release(c->h, (uint32_t)n);
		moved = 1;
	}
}

/* Messages whole, with their record ends, as the Linux echo's recvmsg/sendmsg. */
static int echo(struct hconn *c)
{
	int moved = 0;
	for (;;) {
		int n = vsock_splice(c->h, c->h, UINT32_MAX);
		if (n == BV_EAGAIN)
			return moved;
		if (n <= 0) {
			drop(c);   /* peer done (0) or failed: close as the Linux echo does */
			return 1;
		}
		moved = 1;
	}
}

static int serve(struct hconn *c)
{
	int ev = vsock_events(c->h);
	switch (c->role) {
	case R_ECHO:
		return echo(c);
	case R_SINK:
		return sink(c);
	case R_HOLD:
		if (ev & VSOCK_EV_ERROR) {   /* reset: nothing of it is left to hold */
			drop(c);
			return 1;
		}
		return 0;
	case R_DIAL:
		if (!(ev & VSOCK_EV_CONNECTED)) {
			if (ev & VSOCK_EV_ERROR) {
				printf("hold: dial failed: %s\n", bv_strerror(vsock_error(c->h)));
				drop(c);
				return 1;
			}
			return 0;
		}
		if (!c->said) {
			static const char hi[] = "dialed!\n";
			int n = vsock_send(c->h, hi, sizeof(hi) - 1);
			if (n == BV_EAGAIN)
				return 0;
			c->said = 1;
			if (n < 0) {
				drop(c);
				return 1;
			}
		}
		return sink(c);
	default:
		return 0;
	}
}

int main(void)
{
	int rc = vsock_dev_init();
	if (rc < 0)
		return BV_EXIT_FAIL;
	for (unsigned i = 0; i < BV_VSOCK_MAX_CONNS; i++)
		conns[i].h = -1;
	for (unsigned i = 0; i < NLPORTS; i++)
		open_listener(i);
	printf("hold: ready, cid %llu\n", (unsigned long long)vsock_local_cid());
	uint64_t cid = vsock_local_cid();
	for (;;) {
		int work = vsock_poll();
		for (unsigned i = 0; i < NLPORTS; i++)
			if (lh[i] >= 0 && lports[i].role != R_NOACCEPT && (vsock_events(lh[i]) & VSOCK_EV_ACCEPT))
				accept_on(i);
		for (unsigned i = 0; i < BV_VSOCK_MAX_CONNS; i++)
			if (conns[i].h >= 0)
				work += serve(&conns[i]);
		if (vsock_local_cid() != cid) {
			cid = vsock_local_cid();
			printf("hold: cid now %llu\n", (unsigned long long)cid);
		}
		if (!work)
			bv_port_relax();
	}
}
