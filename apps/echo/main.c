/* SPDX-License-Identifier: BSD-2-Clause */
/* echo: the vsock echo server. Listens on port 1234 (STREAM) and, when the
 * device offers SEQPACKET, on 1235 (SEQPACKET, message boundaries and record
 * ends kept); serves many connections at once, echoes every byte, and closes
 * a connection once its peer has half-closed and everything is echoed back.
 * Data moves with vsock_splice: each byte is copied once, from the RX buffer
 * the device wrote it to into the TX buffer it leaves from.
 * One summary line per connection; a pool line whenever the stack is idle
 * again, so tests can check nothing leaked. A connection to port 1290
 * (STREAM; when the pool has 16 entries or more) gets the connection table
 * (vsock_diag.h) as text, then the guest closes it. Never exits. */
#include <stdio.h>
#include <string.h>
#include "bv/arch.h"
#include "bv/config.h"
#include "bv/err.h"
#include "bv/exit.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_diag.h"
#include "discover/discover.h"  /* vsock_dev_init */
#include "vsock/vsock_engine.h"

#define ECHO_PORT       1234
#define ECHO_SEQ_PORT   1235
#define ECHO_CONNS      BV_VSOCK_MAX_CONNS
#define ECHO_DIAG_PORT  1290
#define ECHO_DIAG_MIN_CONNS 16

struct echo_conn {
	int h;                       /* -1: slot free */
	int type;
	uint32_t peer_cid, peer_port;
	uint64_t bytes;
};

static struct echo_conn conns[ECHO_CONNS];
static unsigned nopen;

static void echo_finish(struct echo_conn *c, const char *why)
{
	printf("echo: conn %d from %u:%u closed, %llu bytes echoed, %s\n", c->h,
	       (unsigned)c->peer_cid, (unsigned)c->peer_port, (unsigned long long)c->bytes, why);
	vsock_close(c->h);
	c->h = -1;
	nopen--;
}

static void echo_accept(int lh, int type)
{
	for (;;) {
		struct echo_conn *c = NULL;
		for (unsigned i = 0; i < ECHO_CONNS && !c; i++)
			if (conns[i].h < 0)
				c = &conns[i];
		if (!c)
			return;   /* table full: the rest waits in the listener's backlog */
		int h = vsock_accept(lh, &c->peer_cid, &c->peer_port);
		if (h < 0)
			return;
		c->h = h;
		c->type = type;
		c->bytes = 0;
		nopen++;
	}
}

/* Move one connection forward as far as it will go without waiting. The
 * received bytes go from their RX buffer straight into TX room (one copy),
 * messages whole and with their record ends. */
static int echo_serve(struct echo_conn *c)
{
	int moved = 0;

	for (;;) {
		int n = vsock_splice(c->h, c->h, UINT32_MAX);
		if (n == BV_EAGAIN)
			return moved;   /* nothing more now, or no send room yet */
		if (n == 0) {
			/* Peer half-closed and all its data is echoed: our close sends
			 * SHUTDOWN after the queued bytes. */
			echo_finish(c, "peer done");
			return 1;
		}
		if (n < 0) {
			echo_finish(c, bv_strerror(n));
			return 1;
		}
		c->bytes += (uint32_t)n;
		moved = 1;
	}
}

/* The diagnostics port: one client at a time (the next waits in the
 * backlog) gets the table as it was when it was accepted. The table of 64
 * connections is about 15 KB; one that does not fit says so at its end. */
static char diag_text[24 * 1024];
static struct {
	int h;                       /* -1: nobody being served */
	uint32_t off, len;
} diag = { .h = -1 };

static void diag_serve(int dh)
{
	if (diag.h < 0) {
		uint32_t peer_cid, peer_port;
		int h = vsock_accept(dh, &peer_cid, &peer_port);
		if (h < 0)
			return;
		int n = vsock_diag_table(diag_text, sizeof(diag_text));
		if ((size_t)n >= sizeof(diag_text)) {
			const char note[] = "\n... cut short: the table is longer than echo's buffer\n";
			memcpy(diag_text + sizeof(diag_text) - sizeof(note), note, sizeof(note));
			n = (int)sizeof(diag_text) - 1;
		}
		diag.h = h;
		diag.off = 0;
		diag.len = (uint32_t)n;
		printf("echo: diagnostics for %u:%u: %u bytes\n", (unsigned)peer_cid, (unsigned)peer_port,
		       (unsigned)diag.len);
	}
	while (diag.off < diag.len) {
		int n = vsock_send(diag.h, diag_text + diag.off, diag.len - diag.off);
		if (n == BV_EAGAIN)
			return;   /* the send buffer is full: more on a later round */
		if (n < 0)
			break;    /* the client went away: nothing to finish */
		diag.off += (uint32_t)n;
	}
	vsock_close(diag.h);   /* sends the rest, then SHUTDOWN */
	diag.h = -1;
}

int main(void)
{
	int rc = vsock_dev_init();
	if (rc < 0)
		return BV_EXIT_FAIL;

	/* Backlog as deep as our table: a burst of clients all get answered. */
	/* Either type may be missing (the device negotiates them); not both. */
	int lh = vsock_listen(ECHO_PORT, VSOCK_STREAM, ECHO_CONNS);
	int sh = vsock_listen(ECHO_SEQ_PORT, VSOCK_SEQPACKET, ECHO_CONNS);
	if ((lh < 0 && lh != BV_ENOTSUP) || (sh < 0 && sh != BV_ENOTSUP) || (lh < 0 && sh < 0)) {
		printf("echo: listen failed: stream %s, seqpacket %s\n",
		       lh < 0 ? bv_strerror(lh) : "ok", sh < 0 ? bv_strerror(sh) : "ok");
		return BV_EXIT_FAIL;
	}
	for (unsigned i = 0; i < ECHO_CONNS; i++)
		conns[i].h = -1;
	/* The diagnostics listener takes a pool entry: only when the pool has
	 * room to spare (not the 4 entries of the small profile). Without
	 * STREAM there is none either; nothing else changes. */
	int dh = BV_VSOCK_MAX_CONNS >= ECHO_DIAG_MIN_CONNS ? vsock_listen(ECHO_DIAG_PORT, VSOCK_STREAM, 4)
							   : BV_ENOTSUP;

	struct vsock_stats st;
	struct vsock_dev_stats ds;
	vsock_engine_stats(&st);
	vsock_dev_stats(&ds);
	const uint32_t baseline = st.conns_in_use;   /* the listeners */
	uint64_t resets = ds.transport_resets;
	int busy = 0;   /* something happened since the last pool line */
	if (lh >= 0)
		printf("echo: listening on port %d (cid %llu)%s%s\n", ECHO_PORT,
		       (unsigned long long)vsock_local_cid(), sh >= 0 ? ", seqpacket on port 1235" : "",
		       dh >= 0 ? ", diagnostics on port 1290" : "");
	else
		printf("echo: listening on port %d for seqpacket only (cid %llu): the device offers no stream\n",
		       ECHO_SEQ_PORT, (unsigned long long)vsock_local_cid());

	for (;;) {
		int work = vsock_poll();
		if (lh >= 0 && (vsock_events(lh) & VSOCK_EV_ACCEPT))
			echo_accept(lh, VSOCK_STREAM);
		if (sh >= 0 && (vsock_events(sh) & VSOCK_EV_ACCEPT))
			echo_accept(sh, VSOCK_SEQPACKET);
		if (dh >= 0 && (diag.h >= 0 || (vsock_events(dh) & VSOCK_EV_ACCEPT)))
			diag_serve(dh);
		for (unsigned i = 0; i < ECHO_CONNS; i++)
			if (conns[i].h >= 0)
				work += echo_serve(&conns[i]);
		/* Report the pools once they are back where they started (no
		 * connection beyond the listeners, nothing queued to send, every TX
		 * buffer back from the device): a leak shows as a missing line (or
		 * a number off its baseline). */
		vsock_engine_stats(&st);
		vsock_dev_stats(&ds);
		if (ds.transport_resets != resets) {
			/* Every connection was reset; the listeners stay, maybe on a new CID. */
			resets = ds.transport_resets;
			printf("echo: transport reset %llu, cid now %llu, still listening on port %d\n",
			       (unsigned long long)resets, (unsigned long long)vsock_local_cid(), ECHO_PORT);
		}
		if (nopen || diag.h >= 0 || st.conns_in_use != baseline || vsock_engine_tx_pending() ||
		    ds.tx_free != ds.tx_total || st.tx_bufs_free != st.tx_bufs_total || st.rx_bufs_held) {
			busy = 1;
		} else if (busy) {
			printf("echo: idle, conns_in_use %u (baseline %u), peak %u, refused %u, "
			       "rst sent %u rcvd %u, malformed %u, bad used %llu, "
			       "tx bufs free %u/%u, rx bufs posted %u/%u, transport resets %llu, "
			       "tx slots free %u/%u, halts %llu, irqs %llu (spurious %llu), forced kicks %llu\n",
			       (unsigned)st.conns_in_use, (unsigned)baseline, (unsigned)st.conns_peak,
			       (unsigned)(st.conns_refused_full + st.conns_refused_backlog), (unsigned)st.rst_sent,
			       (unsigned)st.rst_rcvd, (unsigned)st.rx_dropped_malformed,
			       (unsigned long long)ds.bad_used, (unsigned)st.tx_bufs_free, (unsigned)st.tx_bufs_total,
			       (unsigned)ds.rx_posted, (unsigned)ds.rx_total,
			       (unsigned long long)ds.transport_resets, (unsigned)ds.tx_free, (unsigned)ds.tx_total,
			       (unsigned long long)ds.halts, (unsigned long long)ds.irqs,
			       (unsigned long long)ds.irqs_spurious, (unsigned long long)ds.forced_kicks);
			busy = 0;
		}
		if (!work)
			vsock_wait(VSOCK_WAIT_FOREVER);   /* halt until the device or a timer needs us */
	}
}
