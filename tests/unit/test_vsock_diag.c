/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of vsock_conn_info (vsock_socket.c) and vsock/vsock_diag.c: the
 * real engine and socket API, driven by a small scripted peer (packets in
 * through vsock_engine_rx, out through vsock_engine_next_tx), with the
 * clock moved by hand. Checks each snapshot field against what the peer
 * did, the table's rows and counter lines against the snapshots and the
 * stats, snprintf-style truncation, and the stall log's lines (captured
 * from bv_port_log) once per episode with their numbers. The device glue is
 * not linked: vsock_dev_stats is a stand-in with known numbers, and the
 * test calls vsock_diag_poll after each tick as vsock_poll does. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define CHECK_MAIN
#include "check.h"
#include "bv/config.h"
#include "bv/err.h"
#include "bv/port.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_diag.h"
#include "vsock/vsock_engine.h"

#define HOST   2u
#define GUEST  3u
#define WINDOW BV_VSOCK_BUF_ALLOC
#define LIMIT  BV_VSOCK_STALL_LOG_MS

_Static_assert(LIMIT > 0, "this test needs the stall log on");

/* ================================================================ the port's log, captured */

static char logbuf[1 << 16];
static size_t loglen;

void bv_port_log(const char *s, size_t n)
{
	if (loglen + n < sizeof(logbuf)) {
		memcpy(logbuf + loglen, s, n);
		loglen += n;
		logbuf[loglen] = 0;
	}
}

static void log_clear(void)
{
	loglen = 0;
	logbuf[0] = 0;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* ================================================================ the device glue's counters */

static const struct vsock_dev_stats fake_dev = {
	.rx_bufs = 1001, .tx_bufs = 1002, .events = 3, .rx_short = 4, .rx_bad_len = 5,
	.transport_resets = 6, .bad_used = 7, .ev_dropped = 8,
	.tx_free = 60, .tx_total = 64, .rx_posted = 30, .rx_total = 32,
	.kicks = { 11, 12, 13 }, .kicks_suppressed = { 21, 22, 23 },
};

void vsock_dev_stats(struct vsock_dev_stats *out)
{
	*out = fake_dev;
}

/* ================================================================ clock */

/* Never goes back, across tests too: the stall log looks once per new ms. */
static uint64_t now_ms = 1000;

static void tick(uint64_t ms)
{
	now_ms += ms;
	vsock_engine_tick(now_ms);
	vsock_diag_poll();
}

/* ================================================================ the scripted peer */

static struct vsock_rxbuf pool[64];
static struct vsock_rxbuf *pfree[64];
static int npfree;

struct peer {
	uint32_t port, gport;
	uint16_t type;
	uint32_t buf_alloc, fwd_cnt;   /* what it advertises */
	uint32_t rx;                   /* guest bytes it received */
	uint32_t g_fwd_cnt;            /* the guest's latest fwd_cnt */
	unsigned ops[8];               /* packets from the guest, by op */
	uint64_t req_at;               /* clock at the guest's latest CREDIT_REQUEST */
};

static void reclaim(void)
{
	struct vsock_rxbuf *b;
	while ((b = vsock_engine_rx_reclaim()) != NULL)
		pfree[npfree++] = b;
}

static void reset(int seqpacket)
{
	vsock_engine_init(GUEST, seqpacket ? 1u << VSOCK_F_SEQPACKET : 0);
	npfree = 0;
	for (int i = 0; i < 64; i++)
		pfree[npfree++] = &pool[i];
	tick(1);
}

static void input(struct peer *p, uint16_t op, uint32_t flags, const void *data, uint32_t len)
{
	reclaim();
	CHECK(npfree > 0);
	if (!npfree)
		return;
	struct vsock_rxbuf *b = pfree[--npfree];
	memset(&b->hdr, 0, sizeof(b->hdr));
	b->hdr.src_cid = HOST;
	b->hdr.dst_cid = GUEST;
	b->hdr.src_port = p->port;
	b->hdr.dst_port = p->gport;
	b->hdr.len = len;
	b->hdr.type = p->type;
	b->hdr.op = op;
	b->hdr.flags = flags;
	b->hdr.buf_alloc = p->buf_alloc;
	b->hdr.fwd_cnt = p->fwd_cnt;
	if (len)
		memcpy(b->data, data, len);
	if (!vsock_engine_rx(b, len))
		pfree[npfree++] = b;
}

static void send_data(struct peer *p, uint32_t n, uint32_t flags)
{
	static uint8_t zeros[VSOCK_MAX_PKT_PAYLOAD];
	input(p, VSOCK_OP_RW, flags, zeros, n);
}

/* Everything the guest has to send goes to the peer (which does not
 * consume unless told to). */
static void pump(struct peer *p)
{
	struct vsock_hdr h;
	struct vsock_txpkt pkt;
	while (vsock_engine_next_tx(&h, &pkt) >= 0) {
		vsock_engine_tx_done(pkt.token);
		if (h.dst_port != p->port)
			continue;
		p->ops[h.op & 7]++;
		p->g_fwd_cnt = h.fwd_cnt;
		if (h.op == VSOCK_OP_CREDIT_REQUEST)
			p->req_at = now_ms;
		if (h.op == VSOCK_OP_RW)
			p->rx += h.len;
	}
}

static struct vsock_conn_info info(int idx)
{
	struct vsock_conn_info ci;
	memset(&ci, 0xA5, sizeof(ci));
	CHECK_EQ(vsock_conn_info(idx, &ci), 0);
	return ci;
}

/* A listener on lport and an accepted connection from peer p. */
static int accept_from(struct peer *p, int lh)
{
	input(p, VSOCK_OP_REQUEST, 0, NULL, 0);
	pump(p);
	CHECK_EQ(p->ops[VSOCK_OP_RESPONSE], 1);
	int h = vsock_accept(lh, NULL, NULL);
	CHECK(h >= 0);
	return h;
}

/* ================================================================ the table, parsed */

#define MAXCOL 20
struct trow {
	int ncol;
	char col[MAXCOL][128];
};

/* The row of the table whose first column is idx; 0 if there is none. */
static int table_row(const char *table, int idx, struct trow *r)
{
	char want[16];
	snprintf(want, sizeof(want), "%d", idx);
	const char *line = table;
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		char buf[512];
		if (n < sizeof(buf)) {
			memcpy(buf, line, n);
			buf[n] = 0;
			memset(r, 0, sizeof(*r));
			for (char *tok = strtok(buf, " "); tok && r->ncol < MAXCOL; tok = strtok(NULL, " "))
				snprintf(r->col[r->ncol++], sizeof(r->col[0]), "%s", tok);
			if (r->ncol && !strcmp(r->col[0], want))
				return 1;
		}
		line += n + (end ? 1 : 0);
	}
	return 0;
}

static char table_text[1 << 16];

static const char *table_now(void)
{
	int n = vsock_diag_table(table_text, sizeof(table_text));
	CHECK(n > 0 && (size_t)n < sizeof(table_text));
	CHECK_EQ(strlen(table_text), (size_t)n);
	return table_text;
}

static unsigned long col_u(const struct trow *r, int k)
{
	char *end;
	unsigned long v = strtoul(r->col[k], &end, 10);
	CHECK(*end == 0 && end != r->col[k]);
	return v;
}

/* Columns: h state type local peer peer_buf_alloc peer_fwd_cnt tx_cnt credit
 * unsent buf_alloc fwd_cnt fwd_sent unread flags timers */
enum { C_H, C_STATE, C_TYPE, C_LOCAL, C_PEER, C_PBA, C_PFWD, C_TX, C_CREDIT, C_UNSENT, C_BA, C_FWD,
	C_FWDSENT, C_UNREAD, C_FLAGS, C_TIMERS, NCOLS };

static void check_row_matches(const char *table, int idx)
{
	struct vsock_conn_info ci = info(idx);
	struct trow r;
	CHECK(table_row(table, idx, &r));
	CHECK_EQ(r.ncol, NCOLS);
	if (r.ncol != NCOLS)
		return;
	CHECK(!strcmp(r.col[C_STATE], vsock_diag_state_name(ci.state)));
	CHECK(!strcmp(r.col[C_TYPE], ci.type == VSOCK_SEQPACKET ? "SEQPACKET" : "STREAM"));
	char want[32];
	snprintf(want, sizeof(want), "%u:%u", GUEST, ci.local_port);
	CHECK(!strcmp(r.col[C_LOCAL], want));
	if (ci.state == VSOCK_STATE_LISTEN) {
		for (int k = C_PEER; k <= C_UNREAD; k++)
			CHECK(!strcmp(r.col[k], "-"));
		return;
	}
	snprintf(want, sizeof(want), "%u:%u", ci.peer_cid, ci.peer_port);
	CHECK(!strcmp(r.col[C_PEER], want));
	CHECK_EQ(col_u(&r, C_PBA), ci.peer_buf_alloc);
	CHECK_EQ(col_u(&r, C_PFWD), ci.peer_fwd_cnt);
	CHECK_EQ(col_u(&r, C_TX), ci.tx_cnt);
	CHECK_EQ(col_u(&r, C_CREDIT), ci.credit);
	CHECK_EQ(col_u(&r, C_UNSENT), ci.unsent);
	CHECK_EQ(col_u(&r, C_BA), ci.buf_alloc);
	CHECK_EQ(col_u(&r, C_FWD), ci.fwd_cnt);
	CHECK_EQ(col_u(&r, C_FWDSENT), ci.fwd_cnt_sent);
	CHECK_EQ(col_u(&r, C_UNREAD), ci.unread);
}

static int has_token(const char *list, const char *tok)
{
	size_t n = strlen(tok);
	for (const char *p = list; (p = strstr(p, tok)) != NULL; p++)
		if ((p == list || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
			return 1;
	return 0;
}

static const char *flags_of(const char *table, int idx)
{
	static struct trow r;
	CHECK(table_row(table, idx, &r) && r.ncol == NCOLS);
	return r.ncol == NCOLS ? r.col[C_FLAGS] : "";
}

static const char *timers_of(const char *table, int idx)
{
	static struct trow r;
	CHECK(table_row(table, idx, &r) && r.ncol == NCOLS);
	return r.ncol == NCOLS ? r.col[C_TIMERS] : "";
}

/* ================================================================ tests */

static void test_bad_arguments(void)
{
	reset(0);
	struct vsock_conn_info ci;
	CHECK_EQ(vsock_conn_info(-1, &ci), BV_EINVAL);
	CHECK_EQ(vsock_conn_info(BV_VSOCK_MAX_CONNS, &ci), BV_EINVAL);
	CHECK_EQ(vsock_conn_info(0, NULL), BV_EINVAL);
	for (int i = 0; i < BV_VSOCK_MAX_CONNS; i++)
		CHECK_EQ(vsock_conn_info(i, &ci), BV_EBADF);   /* all free */
	CHECK(!strcmp(vsock_diag_state_name(0), "?") && !strcmp(vsock_diag_state_name(99), "?"));
}

/* A listener, a connection waiting in its accept queue, then accepted;
 * data both ways with every counter as the peer saw it. */
static void test_connection_life(void)
{
	reset(0);
	int lh = vsock_listen(1234, VSOCK_STREAM, 3);
	CHECK(lh >= 0);
	struct vsock_conn_info l = info(lh);
	CHECK(l.state == VSOCK_STATE_LISTEN && l.type == VSOCK_STREAM && l.owned == 1 && l.listener == -1);
	CHECK(l.local_cid == GUEST && l.local_port == 1234 && l.backlog == 3 && l.pending == 0);
	CHECK(l.timer == VSOCK_TIMER_NONE && !l.tx_stalled);

	struct peer p = { .port = 5000, .gport = 1234, .type = VSOCK_TYPE_STREAM, .buf_alloc = 8192 };
	input(&p, VSOCK_OP_REQUEST, 0, NULL, 0);
	int child = -1;
	for (int i = 0; i < BV_VSOCK_MAX_CONNS; i++)
		if (i != lh && vsock_conn_info(i, &l) == 0)
			child = i;
	CHECK(child >= 0);
	struct vsock_conn_info c = info(child);
	CHECK(c.state == VSOCK_STATE_ESTABLISHED && c.owned == 0 && c.listener == lh);
	CHECK(c.peer_cid == HOST && c.peer_port == 5000 && c.local_port == 1234);
	CHECK(c.peer_buf_alloc == 8192 && c.peer_fwd_cnt == 0 && c.buf_alloc == WINDOW);
	CHECK_EQ(info(lh).pending, 1);
	const char *t = table_now();
	char acc[32];
	snprintf(acc, sizeof(acc), "acceptq=%d", lh);
	CHECK(has_token(flags_of(t, child), acc));
	CHECK(has_token(flags_of(t, lh), "backlog=1/3"));

	pump(&p);
	int h = vsock_accept(lh, NULL, NULL);
	CHECK_EQ(h, child);
	c = info(h);
	CHECK(c.owned == 1 && c.listener == -1 && info(lh).pending == 0);

	/* peer -> guest: 1000 bytes; the app reads 600 (no update owed yet), then the rest */
	send_data(&p, 1000, 0);
	c = info(h);
	CHECK(c.rx_cnt == 1000 && c.unread == 1000 && c.fwd_cnt == 0 && c.rx_bufs == 1);
	char buf[1000];
	CHECK_EQ(vsock_recv(h, buf, 600), 600);
	pump(&p);
	c = info(h);
	CHECK(c.fwd_cnt == 600 && c.unread == 400 && c.fwd_cnt_sent == p.g_fwd_cnt);
	CHECK_EQ(vsock_recv(h, buf, 1000), 400);
	pump(&p);
	c = info(h);
	CHECK(c.fwd_cnt == 1000 && c.unread == 0 && c.rx_bufs == 0);
	CHECK(p.ops[VSOCK_OP_CREDIT_UPDATE] >= 1);
	CHECK_EQ(c.fwd_cnt_sent, p.g_fwd_cnt);
	CHECK_EQ(c.fwd_cnt_sent, 1000);

	/* guest -> peer: 20000 bytes against an 8192-byte window */
	static uint8_t big[20000];
	CHECK_EQ(vsock_send(h, big, sizeof(big)), (int)sizeof(big));
	c = info(h);
	CHECK(c.unsent == 20000 && c.tx_cnt == 0 && c.credit == 8192 && c.tx_bufs == 1);
	pump(&p);
	c = info(h);
	CHECK(c.tx_cnt == 8192 && p.rx == 8192 && c.credit == 0 && c.unsent == 20000 - 8192);
	CHECK_EQ(p.ops[VSOCK_OP_CREDIT_REQUEST], 1);   /* the engine asked at once */

	/* the table's row says the same, column by column */
	t = table_now();
	check_row_matches(t, h);
	check_row_matches(t, lh);
	CHECK(!strcmp(flags_of(t, h), "app,credreq"));
	CHECK(!strcmp(timers_of(t, lh), "-"));

	/* the peer consumes and says so: credit again, the rest goes out */
	p.fwd_cnt = p.rx;
	input(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	CHECK_EQ(info(h).credit, 8192);
	pump(&p);
	p.fwd_cnt = p.rx;
	input(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	pump(&p);
	c = info(h);
	CHECK(c.tx_cnt == 20000 && c.unsent == 0 && c.peer_fwd_cnt == 16384 && c.credit == 8192 - (20000 - 16384));
	check_row_matches(table_now(), h);

	/* the app closes: CLOSING in the background, the close timer runs */
	CHECK_EQ(vsock_close(h), 0);
	pump(&p);
	c = info(h);
	CHECK(c.state == VSOCK_STATE_CLOSING && c.owned == 0 && c.timer == VSOCK_TIMER_CLOSE);
	CHECK(c.shut_local == VSOCK_SHUTDOWN_BOTH && c.shut_sent == VSOCK_SHUTDOWN_BOTH);
	CHECK_EQ(c.timer_ms, BV_VSOCK_CLOSE_TIMEOUT_MS);
	tick(1500);
	CHECK_EQ(info(h).timer_ms, BV_VSOCK_CLOSE_TIMEOUT_MS - 1500);
	t = table_now();
	CHECK(!strcmp(flags_of(t, h), "shut=RS"));
	char want[32];
	snprintf(want, sizeof(want), "close=%ums", BV_VSOCK_CLOSE_TIMEOUT_MS - 1500);
	CHECK(!strcmp(timers_of(t, h), want));
	input(&p, VSOCK_OP_RST, 0, NULL, 0);
	struct vsock_conn_info gone;
	CHECK_EQ(vsock_conn_info(h, &gone), BV_EBADF);
}

/* CONNECTING with its timer; DONE with the error that ended it; a
 * SEQPACKET connection's unread messages. */
static void test_other_states(void)
{
	reset(1);
	int h = vsock_connect(HOST, 7000, VSOCK_STREAM);
	CHECK(h >= 0);
	struct vsock_conn_info c = info(h);
	CHECK(c.state == VSOCK_STATE_CONNECTING && c.outgoing == 1 && c.timer == VSOCK_TIMER_CONNECT);
	CHECK_EQ(c.timer_ms, BV_VSOCK_CONNECT_TIMEOUT_MS);
	struct peer p = { .port = 7000, .gport = c.local_port, .type = VSOCK_TYPE_STREAM, .buf_alloc = 4096 };
	pump(&p);
	CHECK_EQ(p.ops[VSOCK_OP_REQUEST], 1);
	tick(500);
	const char *t = table_now();
	char want[32];
	snprintf(want, sizeof(want), "connect=%ums", BV_VSOCK_CONNECT_TIMEOUT_MS - 500);
	CHECK(!strcmp(timers_of(t, h), want));
	CHECK(!strcmp(flags_of(t, h), "app,out"));
	CHECK(table_row(t, h, &(struct trow){ 0 }));
	input(&p, VSOCK_OP_RESPONSE, 0, NULL, 0);
	c = info(h);
	CHECK(c.state == VSOCK_STATE_ESTABLISHED && c.timer == VSOCK_TIMER_NONE && c.peer_buf_alloc == 4096);
	input(&p, VSOCK_OP_RST, 0, NULL, 0);
	c = info(h);
	CHECK(c.state == VSOCK_STATE_DONE && c.err == BV_ECONNRESET && c.owned == 1);
	t = table_now();
	CHECK(!strcmp(flags_of(t, h), "app,out,err=ECONNRESET"));
	check_row_matches(t, h);
	vsock_close(h);

	int lh = vsock_listen(1235, VSOCK_SEQPACKET, 0);
	struct peer q = { .port = 7100, .gport = 1235, .type = VSOCK_TYPE_SEQPACKET, .buf_alloc = 4096 };
	int sh = accept_from(&q, lh);
	send_data(&q, 100, 0);                 /* half a message: not counted */
	CHECK_EQ(info(sh).msgs_unread, 0);
	send_data(&q, 50, VSOCK_SEQ_EOM);
	send_data(&q, 10, VSOCK_SEQ_EOM | VSOCK_SEQ_EOR);
	c = info(sh);
	CHECK(c.type == VSOCK_SEQPACKET && c.msgs_unread == 2 && c.unread == 160);
	t = table_now();
	CHECK(!strcmp(flags_of(t, sh), "app,msgs=2"));
	check_row_matches(t, sh);
	check_row_matches(t, lh);
}

/* The counter lines carry vsock_engine_stats and vsock_dev_stats. */
static void test_counters_and_truncation(void)
{
	reset(0);
	int lh = vsock_listen(1234, VSOCK_STREAM, 0);
	struct peer p = { .port = 5000, .gport = 1234, .type = VSOCK_TYPE_STREAM, .buf_alloc = 65536 };
	int h = accept_from(&p, lh);
	send_data(&p, 300, 0);
	send_data(&p, 200, 0);                 /* merged into the buffer before */
	struct vsock_stats st;
	vsock_engine_stats(&st);
	const char *t = table_now();
	char want[160];
	snprintf(want, sizeof(want), "vsock: engine: rx_pkts=%u rx_bytes=500 tx_pkts=%u tx_bytes=0 rx_merged=1 ",
		 st.rx_pkts, st.tx_pkts);
	CHECK(strstr(t, want) != NULL);
	CHECK(strstr(t, "conns_in_use=2 conns_peak=2 ") != NULL);
	/* every packet was given back with its token, 0 for those without payload */
	CHECK(strstr(t, " tx_bad_token=0\n") != NULL);
	CHECK(strstr(t, "vsock: device: rx_bufs=1001 tx_bufs=1002 events=3 kicks=11/12/13 "
			"kicks_suppressed=21/22/23 tx_free=60/64 rx_posted=30/32\n") != NULL);
	CHECK(strstr(t, "vsock: device: rx_short=4 rx_bad_len=5 bad_used=7 ev_dropped=8 transport_resets=6\n") != NULL);
	snprintf(want, sizeof(want), "vsock: cid 3, 2 of %u entries in use, clock %llu ms, stall log after %u ms\n",
		 BV_VSOCK_MAX_CONNS, (unsigned long long)now_ms, LIMIT);
	CHECK(!strncmp(t, want, strlen(want)));
	CHECK_EQ(count(t, "\n"), 2 + 2 + 5);   /* header, names, 2 rows, 5 counter lines */
	CHECK_EQ(info(h).unread, 500);

	/* snprintf rules: the length of the whole; cut, NUL-terminated prefix */
	int full = vsock_diag_table(NULL, 0);
	CHECK_EQ(full, (int)strlen(t));
	static char small[4096];
	for (size_t size = 1; size < 300; size += 37) {
		memset(small, 'X', sizeof(small));
		CHECK_EQ(vsock_diag_table(small, size), full);
		CHECK_EQ(strlen(small), size - 1);
		CHECK(!strncmp(small, t, size - 1));
		CHECK(small[size] == 'X');   /* nothing written past size */
	}
	char *exact = malloc((size_t)full + 1);
	CHECK_EQ(vsock_diag_table(exact, (size_t)full), full);
	CHECK_EQ(strlen(exact), (size_t)full - 1);
	CHECK_EQ(vsock_diag_table(exact, (size_t)full + 1), full);
	CHECK(!strcmp(exact, t));
	free(exact);

	/* the log gets the same text */
	log_clear();
	vsock_diag_log();
	CHECK(!strcmp(logbuf, t));
}

/* Our data on the peer's full window: one line after LIMIT ms with the
 * credit numbers, nothing more while it lasts, a "stall over" line when
 * credit comes, and a line again for the next episode. */
static void test_tx_stall_log(void)
{
	reset(0);
	int lh = vsock_listen(1234, VSOCK_STREAM, 0);
	struct peer p = { .port = 5000, .gport = 1234, .type = VSOCK_TYPE_STREAM, .buf_alloc = 8192 };
	int h = accept_from(&p, lh);
	static uint8_t big[30000];
	CHECK_EQ(vsock_send(h, big, sizeof(big)), (int)sizeof(big));
	pump(&p);
	CHECK(info(h).credit == 0 && info(h).unsent == 30000 - 8192);
	log_clear();
	tick(1);                                   /* the engine sees the stall start */
	struct vsock_conn_info c = info(h);
	CHECK(c.tx_stalled && c.tx_stall_ms == 0 && c.credit_req_sent);
	CHECK_EQ(c.credit_req_ago_ms, 1);
	CHECK_EQ(c.credit_req_retry_ms, BV_VSOCK_CREDIT_RETRY_MS - 1);
	/* as vsock_poll does: tick, look, send; the engine asks again on its retry */
	for (uint64_t left = LIMIT - 1; left; left -= 1) {
		tick(1);
		pump(&p);
	}
	c = info(h);
	CHECK_EQ(c.tx_stall_ms, LIMIT - 1);
	CHECK_EQ(p.ops[VSOCK_OP_CREDIT_REQUEST], 1 + (LIMIT - 1) / BV_VSOCK_CREDIT_RETRY_MS);
	CHECK_EQ(c.credit_req_ago_ms, now_ms - p.req_at);
	CHECK_EQ(count(logbuf, "stall"), 0);
	const char *t = table_now();
	char want[300];
	snprintf(want, sizeof(want), "tx_stall=%ums", LIMIT - 1);
	CHECK(has_token(timers_of(t, h), want));
	tick(1);
	snprintf(want, sizeof(want),
		 "vsock: stall: guest port 1234 -> host port 5000: %u bytes waiting on zero credit for %u ms "
		 "(peer buf_alloc 8192, peer fwd_cnt 0, our tx_cnt 8192: 8192 in flight; "
		 "CREDIT_REQUEST sent %llu ms ago)\n", 30000 - 8192, LIMIT, (unsigned long long)(now_ms - p.req_at));
	CHECK(!strcmp(logbuf, want));
	if (strcmp(logbuf, want))
		printf("got:  %swant: %s", logbuf, want);
	for (int i = 0; i < 5; i++)
		tick(LIMIT);
	CHECK_EQ(count(logbuf, "stall"), 1);       /* once per episode */
	CHECK(info(h).tx_stall_ms == 6 * (uint64_t)LIMIT);

	/* credit: the stall is over */
	log_clear();
	p.fwd_cnt = 4096;
	input(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	tick(1);
	snprintf(want, sizeof(want),
		 "vsock: stall over: guest port 1234 <-> host port 5000: credit again after %u ms "
		 "(peer buf_alloc 8192, peer fwd_cnt 4096, our tx_cnt 8192)\n", 6 * LIMIT + 1);
	CHECK(!strcmp(logbuf, want));
	if (strcmp(logbuf, want))
		printf("got:  %swant: %s", logbuf, want);

	/* the next 4096 bytes leave, credit is gone again: a new episode */
	pump(&p);
	CHECK(info(h).tx_cnt == 12288 && info(h).credit == 0);
	log_clear();
	tick(1);
	tick(LIMIT);
	CHECK_EQ(count(logbuf, "vsock: stall: guest port 1234 -> host port 5000: "), 1);
	CHECK(strstr(logbuf, "(peer buf_alloc 8192, peer fwd_cnt 4096, our tx_cnt 12288: 8192 in flight; ") != NULL);

	/* the peer resets it while stalled: the episode ends with it, once */
	log_clear();
	input(&p, VSOCK_OP_RST, 0, NULL, 0);
	tick(1);
	snprintf(want, sizeof(want),
		 "vsock: stall over: guest port 1234 <-> host port 5000: connection DONE after %u ms\n", LIMIT + 1);
	CHECK(!strcmp(logbuf, want));
	if (strcmp(logbuf, want))
		printf("got:  %swant: %s", logbuf, want);
	vsock_close(h);
	tick(LIMIT);
	CHECK_EQ(count(logbuf, "stall"), 1);
}

/* The peer's data on our full window: the app does not read. The line
 * names our fwd_cnt and what we told the peer; it ends when the peer is
 * told of the space. */
static void test_rx_stall_log(void)
{
	reset(0);
	int lh = vsock_listen(1234, VSOCK_STREAM, 0);
	struct peer p = { .port = 5001, .gport = 1234, .type = VSOCK_TYPE_STREAM, .buf_alloc = 65536 };
	int h = accept_from(&p, lh);
	for (uint32_t sent = 0; sent < WINDOW; sent += VSOCK_MAX_PKT_PAYLOAD)
		send_data(&p, VSOCK_MAX_PKT_PAYLOAD, 0);
	CHECK_EQ(info(h).unread, WINDOW);
	log_clear();
	tick(1);
	const char *t = table_now();
	CHECK(has_token(timers_of(t, h), "rx_stall=0ms"));
	tick(LIMIT - 1);
	CHECK_EQ(count(logbuf, "stall"), 0);
	tick(1);
	char want[300];
	snprintf(want, sizeof(want),
		 "vsock: stall: host port 5001 -> guest port 1234: our window zero for %u ms (our buf_alloc %u, "
		 "our fwd_cnt 0, told the peer 0, our rx_cnt %u: %u unread by the app)\n", LIMIT, WINDOW, WINDOW, WINDOW);
	CHECK(!strcmp(logbuf, want));
	if (strcmp(logbuf, want))
		printf("got:  %swant: %s", logbuf, want);
	t = table_now();
	snprintf(want, sizeof(want), "rx_stall=%ums", LIMIT);
	CHECK(has_token(timers_of(t, h), want));

	/* A small read: nothing owed to the peer yet (as Linux), so its
	 * window stays shut and the line stays the only one. */
	char b[100];
	CHECK_EQ(vsock_recv(h, b, sizeof(b)), 100);
	pump(&p);
	struct vsock_conn_info c = info(h);
	CHECK(c.fwd_cnt == 100 && c.fwd_cnt_sent == 0);
	tick(LIMIT);
	CHECK_EQ(count(logbuf, "stall"), 1);
	check_row_matches(table_now(), h);

	/* Read it all: the CREDIT_UPDATE goes, the stall is over. */
	static uint8_t all[WINDOW];
	CHECK_EQ(vsock_recv(h, all, sizeof(all)), WINDOW - 100);
	log_clear();
	tick(1);                                   /* not told yet: still zero for the peer */
	CHECK_EQ(count(logbuf, "stall"), 0);
	pump(&p);
	CHECK_EQ(p.g_fwd_cnt, WINDOW);
	tick(1);
	snprintf(want, sizeof(want),
		 "vsock: stall over: host port 5001 <-> guest port 1234: window open again after %u ms "
		 "(our buf_alloc %u, our fwd_cnt %u, told the peer %u, our rx_cnt %u)\n",
		 2 * LIMIT + 2, WINDOW, WINDOW, WINDOW, WINDOW);
	CHECK(!strcmp(logbuf, want));
	if (strcmp(logbuf, want))
		printf("got:  %swant: %s", logbuf, want);
	CHECK(!has_token(timers_of(table_now(), h), "rx_stall"));
	vsock_close(h);

	/* A connection nobody accepted fills its window; the listener goes,
	 * and with it the connection: the stall ends as "gone". */
	struct peer q = { .port = 5002, .gport = 1234, .type = VSOCK_TYPE_STREAM, .buf_alloc = 65536 };
	input(&q, VSOCK_OP_REQUEST, 0, NULL, 0);
	pump(&q);
	for (uint32_t sent = 0; sent < WINDOW; sent += VSOCK_MAX_PKT_PAYLOAD)
		send_data(&q, VSOCK_MAX_PKT_PAYLOAD, 0);
	log_clear();
	tick(1);
	tick(LIMIT);
	CHECK_EQ(count(logbuf, "vsock: stall: host port 5002 -> guest port 1234: our window zero for "), 1);
	log_clear();
	vsock_close(lh);
	tick(3);
	snprintf(want, sizeof(want),
		 "vsock: stall over: host port 5002 <-> guest port 1234: connection gone after %u ms\n", LIMIT + 3);
	CHECK(!strcmp(logbuf, want));
	if (strcmp(logbuf, want))
		printf("got:  %swant: %s", logbuf, want);
	pump(&q);
	CHECK_EQ(q.ops[VSOCK_OP_RST], 1);
}

int main(void)
{
	test_bad_arguments();
	test_connection_life();
	test_other_states();
	test_counters_and_truncation();
	test_tx_stall_log();
	test_rx_stall_log();
	return check_report("test_vsock_diag");
}
