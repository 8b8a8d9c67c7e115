/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of vsock/vsock_engine.c: a scripted peer (the "host") feeds
 * packets through engine_input(), drains the guest's packets through
 * vsock_engine_next_tx(), keeps its own credit books and checks every
 * payload byte against a pattern. The app side is the vsock.h API.
 * Not covered here: virtqueues and the device (vsock/vsock_dev.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bv/config.h"
#include "bv/err.h"
#include "vsock/vsock.h"
#include "vsock/vsock_engine.h"

static int failures;
static unsigned long checks;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

#define HOST 2u
#define NCONN BV_VSOCK_MAX_CONNS
#define RXBUF BV_VSOCK_BUF_ALLOC        /* our window: the buf_alloc we advertise */
#define TXBUF (BV_VSOCK_CONN_TX_BUFS * BV_VSOCK_TX_BUF_SIZE)   /* one connection's send buffer */
#define TXPKT BV_VSOCK_TX_BUF_SIZE        /* the largest packet we send */
#define ST VSOCK_TYPE_STREAM
#define SP VSOCK_TYPE_SEQPACKET

static uint64_t guest_cid = 3;

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint8_t pat(uint32_t seed, uint64_t off) { return (uint8_t)(off * 131u + seed * 7u + (off >> 9)); }

/* ---- the scripted peer ---- */
struct peer {
	uint32_t hport, gport;
	uint16_t type;
	int h;                    /* guest handle of this connection */
	uint32_t buf_alloc;       /* what the peer advertises */
	uint32_t fwd_cnt;         /* guest bytes the peer's app consumed */
	uint32_t rx_cnt;          /* guest bytes the peer received */
	uint32_t tx_cnt;          /* bytes the peer sent */
	uint32_t g_buf_alloc, g_fwd_cnt;  /* the guest's latest advertisement */
	int auto_consume;
	int check_pattern;
	uint32_t seed_in;         /* pattern of guest->peer data */
	uint64_t in_off;
	uint32_t seed_out;        /* pattern of peer->guest data */
	uint64_t out_off;
	unsigned n_op[16];        /* packets received from the guest, by op */
	uint32_t last_flags;
	uint32_t last_len;
};

#define MAXPEERS 256
static struct peer *peers[MAXPEERS];
static int npeers;

static void peer_init(struct peer *p, uint32_t hport, uint32_t gport, uint16_t type)
{
	memset(p, 0, sizeof(*p));
	p->hport = hport;
	p->gport = gport;
	p->type = type;
	p->h = -1;
	p->buf_alloc = 256 * 1024;
	p->seed_in = 1;
	p->seed_out = 2;
	if (npeers < MAXPEERS)
		peers[npeers++] = p;
}

static struct vsock_hdr hdr_for(const struct peer *p, uint16_t op, uint32_t flags, uint32_t len)
{
	struct vsock_hdr h;
	memset(&h, 0, sizeof(h));
	h.src_cid = HOST;
	h.dst_cid = guest_cid;
	h.src_port = p->hport;
	h.dst_port = p->gport;
	h.len = len;
	h.type = p->type;
	h.op = op;
	h.flags = flags;
	h.buf_alloc = p->buf_alloc;
	h.fwd_cnt = p->fwd_cnt;
	return h;
}

/* ---- playing the device's RX side: our own pool of RX buffers ---- */
#define TBUFS 256
static struct vsock_rxbuf tbufs[TBUFS];
static struct vsock_rxbuf *tfree[TBUFS];
static int ntfree;

static void tbuf_reset(void)
{
	ntfree = 0;
	for (int i = 0; i < TBUFS; i++)
		tfree[ntfree++] = &tbufs[i];
}

static void tbuf_reclaim(void)
{
	struct vsock_rxbuf *b;
	while ((b = vsock_engine_rx_reclaim()) != NULL) {
		CHECK(b >= tbufs && b < tbufs + TBUFS && ntfree < TBUFS);
		if (ntfree < TBUFS)
			tfree[ntfree++] = b;
	}
}

/* Deliver one packet as the device would: header and payload_len bytes in
 * a posted buffer (more than a buffer holds is cut, as a device would). */
static void engine_input(const struct vsock_hdr *h, const void *data, uint32_t payload_len)
{
	tbuf_reclaim();
	CHECK(ntfree > 0);
	if (ntfree == 0)
		return;
	struct vsock_rxbuf *b = tfree[--ntfree];
	memset(&b->hdr, 0, sizeof(b->hdr));
	if (h)
		b->hdr = *h;
	if (payload_len > BV_VSOCK_RX_BUF_SIZE)
		payload_len = BV_VSOCK_RX_BUF_SIZE;
	if (data && payload_len)
		memcpy(b->data, data, payload_len);
	if (!vsock_engine_rx(b, payload_len))
		tfree[ntfree++] = b;
	tbuf_reclaim();
}

/* RX buffers the engine holds now (as the test sees it). */
static int tbufs_held(void)
{
	tbuf_reclaim();
	return TBUFS - ntfree;
}

static void p_pkt(struct peer *p, uint16_t op, uint32_t flags, const void *data, uint32_t len)
{
	struct vsock_hdr h = hdr_for(p, op, flags, len);
	engine_input(&h, data, len);
	if (op == VSOCK_OP_RW)
		p->tx_cnt += len;
}

static uint32_t p_credit(const struct peer *p)
{
	return vsock_peer_free(p->g_buf_alloc, p->g_fwd_cnt, p->tx_cnt);
}

static void p_send_pattern(struct peer *p, uint32_t n, uint32_t flags)
{
	static uint8_t b[VSOCK_MAX_PKT_PAYLOAD];
	for (uint32_t i = 0; i < n; i++)
		b[i] = pat(p->seed_out, p->out_off + i);
	p->out_off += n;
	p_pkt(p, VSOCK_OP_RW, flags, b, n);
}

/* ---- draining the guest ---- */
#define MAXLOG 8192
static struct vsock_hdr logh[MAXLOG];
static int nlog;
static unsigned unmatched;
static struct vsock_hdr out;
static uint8_t outbuf[VSOCK_MAX_PKT_PAYLOAD];
static uint8_t lastdata[VSOCK_MAX_PKT_PAYLOAD];

static void deliver(const struct vsock_hdr *h, const uint8_t *data, uint32_t len)
{
	for (int i = 0; i < npeers; i++) {
		struct peer *p = peers[i];
		if (h->src_port != p->gport || h->dst_port != p->hport || h->dst_cid != HOST)
			continue;
		p->g_buf_alloc = h->buf_alloc;
		p->g_fwd_cnt = h->fwd_cnt;
		p->n_op[h->op & 15]++;
		p->last_flags = h->flags;
		p->last_len = len;
		if (h->op != VSOCK_OP_RST)
			CHECK(h->type == p->type);
		if (h->op == VSOCK_OP_RW) {
			uint32_t room = p->buf_alloc - (p->rx_cnt - p->fwd_cnt);
			CHECK(len <= room);   /* never beyond the credit we granted */
			if (p->check_pattern)
				for (uint32_t j = 0; j < len; j++)
					if (data[j] != pat(p->seed_in, p->in_off + j)) {
						CHECK(!"payload pattern mismatch");
						break;
					}
			p->in_off += len;
			p->rx_cnt += len;
			if (p->auto_consume)
				p->fwd_cnt += len;
		}
		return;
	}
	unmatched++;
}

/* One packet from the engine, its payload copied out and handed back. */
static int next_tx(struct vsock_hdr *h, uint8_t *buf)
{
	struct vsock_txpkt pkt;
	int r = vsock_engine_next_tx(h, &pkt);
	if (r >= 0) {
		CHECK((uint32_t)r == pkt.len && (pkt.len == 0 || pkt.data));
		if (buf && pkt.len)
			memcpy(buf, pkt.data, pkt.len);
		vsock_engine_tx_done(pkt.token);
	}
	return r;
}

/* Drain everything the guest has to say; returns the number of packets,
 * which are also in logh[0..nlog). */
static int pump(void)
{
	int n = 0;
	nlog = 0;
	unmatched = 0;
	for (;;) {
		int pending = vsock_engine_tx_pending();
		memset(&out, 0xA5, sizeof(out));
		int r = next_tx(&out, outbuf);
		if (r == BV_EAGAIN) {
			CHECK(!pending);
			break;
		}
		CHECK(pending);
		CHECK(r >= 0 && (uint32_t)r <= TXPKT && out.len == (uint32_t)r);
		CHECK(out.src_cid == guest_cid);
		CHECK(out.op >= VSOCK_OP_REQUEST && out.op <= VSOCK_OP_CREDIT_REQUEST);
		if (out.op != VSOCK_OP_RW)
			CHECK(r == 0);
		if (out.op != VSOCK_OP_RST)
			CHECK(out.buf_alloc == RXBUF);
		if (nlog < MAXLOG)
			logh[nlog++] = out;
		if (r > 0)
			memcpy(lastdata, outbuf, (size_t)r);
		deliver(&out, outbuf, (uint32_t)r);
		if (++n > 1000000) {
			CHECK(!"guest never stops transmitting");
			break;
		}
	}
	return n;
}

static int count_op(uint16_t op)
{
	int n = 0;
	for (int i = 0; i < nlog; i++)
		n += logh[i].op == op;
	return n;
}

static int nothing_pending(void)
{
	struct vsock_hdr h;
	return !vsock_engine_tx_pending() && next_tx(&h, NULL) == BV_EAGAIN;
}

static struct vsock_stats stats(void)
{
	struct vsock_stats s;
	vsock_engine_stats(&s);
	return s;
}

static void reset_engine(int seqpacket_ok)
{
	guest_cid = 3;
	vsock_engine_init(guest_cid, seqpacket_ok ? 1u << VSOCK_F_SEQPACKET : 0);
	tbuf_reset();
	npeers = 0;
	nlog = 0;
}

/* ---- app helpers ---- */
static int app_send_pattern(int h, uint32_t seed, uint64_t *off, uint32_t n)
{
	static uint8_t b[1 << 19];
	if (n > sizeof(b))
		n = sizeof(b);
	for (uint32_t i = 0; i < n; i++)
		b[i] = pat(seed, *off + i);
	int r = vsock_send(h, b, n);
	if (r > 0)
		*off += (uint32_t)r;
	return r;
}

static int app_read_check(int h, uint32_t seed, uint64_t *off, uint32_t n)
{
	static uint8_t b[1 << 19];
	if (n > sizeof(b))
		n = sizeof(b);
	int r = vsock_recv(h, b, n);
	for (int i = 0; i < r; i++)
		if (b[i] != pat(seed, *off + (uint64_t)i)) {
			CHECK(!"app read pattern mismatch");
			break;
		}
	if (r > 0)
		*off += (uint32_t)r;
	return r;
}

/* Peer connects to guest listener lh; returns the accepted handle. */
static int serve(struct peer *p, int lh)
{
	p_pkt(p, VSOCK_OP_REQUEST, 0, NULL, 0);
	pump();
	CHECK(p->n_op[VSOCK_OP_RESPONSE] == 1);
	CHECK(p->g_buf_alloc == RXBUF);
	uint32_t cid = 0, port = 0;
	int h = vsock_accept(lh, &cid, &port);
	CHECK(h >= 0);
	CHECK(cid == HOST && port == p->hport);
	p->h = h;
	return h;
}

/* Guest connects to the peer at hport; the peer answers RESPONSE. */
static int dial(struct peer *p, uint32_t hport)
{
	int h = vsock_connect(HOST, hport, p->type == SP ? VSOCK_SEQPACKET : VSOCK_STREAM);
	CHECK(h >= 0);
	CHECK(vsock_send(h, "x", 1) == BV_ENOTCONN);
	pump();
	CHECK(nlog == 1 && logh[0].op == VSOCK_OP_REQUEST);
	p->hport = hport;
	p->gport = logh[0].src_port;
	p->g_buf_alloc = logh[0].buf_alloc;
	p->g_fwd_cnt = logh[0].fwd_cnt;
	CHECK(logh[0].dst_cid == HOST && logh[0].dst_port == hport && logh[0].type == p->type);
	CHECK(p->gport > 1023 && p->gport != VSOCK_PORT_ANY);
	p_pkt(p, VSOCK_OP_RESPONSE, 0, NULL, 0);
	CHECK(vsock_events(h) & VSOCK_EV_CONNECTED);
	p->h = h;
	return h;
}

static int is_rst_to(const struct vsock_hdr *h, uint32_t dst_port, uint32_t src_port)
{
	return h->op == VSOCK_OP_RST && h->dst_port == dst_port && h->src_port == src_port &&
	       h->dst_cid == HOST && h->src_cid == guest_cid && h->len == 0;
}

/* ================================================================== tests */

/* Bad length, bad type, bad CIDs: dropped and counted; bad type answered RST. */
static void test_malformed(void)
{
	reset_engine(0);
	static uint8_t junk[70000];
	int lh = vsock_listen(1000, VSOCK_STREAM, 0);
	CHECK(lh >= 0);
	struct peer p;
	peer_init(&p, 5000, 1000, ST);
	unsigned fed = 0;

	struct vsock_hdr h = hdr_for(&p, VSOCK_OP_REQUEST, 0, 10);
	engine_input(&h, junk, 5);                     /* len > payload_len */
	fed++;
	CHECK(stats().rx_dropped_malformed == 1);
	CHECK(nothing_pending());
	CHECK(vsock_accept(lh, NULL, NULL) == BV_EAGAIN);

	h = hdr_for(&p, VSOCK_OP_RW, 0, 65537);
	engine_input(&h, junk, 65537);                 /* len > 64 KiB */
	fed++;
	CHECK(stats().rx_dropped_malformed == 2);

	h = hdr_for(&p, VSOCK_OP_REQUEST, 0, 0);
	h.src_cid = HOST | (1ull << 32);                     /* CID above 32 bits */
	engine_input(&h, NULL, 0);
	fed++;
	CHECK(stats().rx_dropped_malformed == 3);
	CHECK(nothing_pending());

	h = hdr_for(&p, VSOCK_OP_RW, 0, 5);
	engine_input(&h, junk, 4);                     /* len beyond the bytes written */
	fed++;
	CHECK(stats().rx_dropped_malformed == 4);

	h = hdr_for(&p, VSOCK_OP_REQUEST, 0, 0);
	h.type = 3;                                          /* no such type: RST like Linux */
	engine_input(&h, NULL, 0);
	fed++;
	CHECK(stats().rx_dropped_malformed == 5);
	CHECK(pump() == 1);
	CHECK(is_rst_to(&logh[0], 5000, 1000) && logh[0].type == 3);
	CHECK(vsock_accept(lh, NULL, NULL) == BV_EAGAIN);

	h = hdr_for(&p, VSOCK_OP_RST, 0, 0);
	h.type = 0;                                          /* bad type, but an RST: no answer */
	engine_input(&h, NULL, 0);
	fed++;
	CHECK(stats().rx_dropped_malformed == 6);
	CHECK(nothing_pending());

	h = hdr_for(&p, VSOCK_OP_REQUEST, 0, 0);
	h.dst_cid = 4;                                       /* not ours */
	engine_input(&h, NULL, 0);
	h.dst_cid = guest_cid | (1ull << 32);
	engine_input(&h, NULL, 0);
	fed += 2;
	CHECK(stats().rx_dropped_badcid == 2);
	CHECK(nothing_pending());
	CHECK(vsock_accept(lh, NULL, NULL) == BV_EAGAIN);

	CHECK(vsock_engine_rx(NULL, 0) == 0);
	fed++;
	CHECK(stats().rx_dropped_malformed == 7);

	/* trailing bytes beyond hdr.len are ignored, the packet is fine */
	h = hdr_for(&p, VSOCK_OP_REQUEST, 0, 0);
	engine_input(&h, junk, 100);
	fed++;
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_RESPONSE);
	int c = vsock_accept(lh, NULL, NULL);
	CHECK(c >= 0);
	struct vsock_stats s = stats();
	CHECK(s.rx_pkts == fed);
	CHECK(s.rx_dropped_malformed == 7 && s.rx_dropped_badcid == 2);
	CHECK(s.conns_in_use == 2);
	CHECK(s.rst_sent == 1);
}

/* Every op to a flow nobody has gets RST with addresses swapped, except RST. */
static void test_unknown_flow(void)
{
	reset_engine(0);
	static const uint16_t ops[] = { VSOCK_OP_INVALID, VSOCK_OP_REQUEST, VSOCK_OP_RESPONSE,
		VSOCK_OP_SHUTDOWN, VSOCK_OP_RW, VSOCK_OP_CREDIT_UPDATE, VSOCK_OP_CREDIT_REQUEST, 8, 0xFFFF };
	const unsigned nops = sizeof(ops) / sizeof(ops[0]);
	for (unsigned i = 0; i < nops; i++) {
		struct peer p;
		peer_init(&p, 7000 + i, 999, ST);
		p_pkt(&p, ops[i], ops[i] == VSOCK_OP_SHUTDOWN ? 3 : 0, "abc", ops[i] == VSOCK_OP_RW ? 3 : 0);
		CHECK(pump() == 1);
		CHECK(is_rst_to(&logh[0], 7000 + i, 999) && logh[0].type == ST);
		npeers = 0;
	}
	struct peer p;
	peer_init(&p, 7100, 999, ST);
	p_pkt(&p, VSOCK_OP_RST, 0, NULL, 0);
	CHECK(nothing_pending());
	struct vsock_stats s = stats();
	CHECK(s.rx_unknown_op == 3);
	CHECK(s.rst_sent == nops && s.rst_rcvd == 1);

	/* A live connection does not cover other peers on the same guest port. */
	struct peer a, other;
	peer_init(&a, 4000, 0, ST);
	int h = dial(&a, 4000);
	peer_init(&other, 4001, a.gport, ST);
	p_pkt(&other, VSOCK_OP_RW, 0, "zz", 2);
	CHECK(pump() == 1 && is_rst_to(&logh[0], 4001, a.gport));
	struct vsock_hdr hh = hdr_for(&a, VSOCK_OP_RW, 0, 2);
	hh.src_cid = 7;   /* right ports, other CID */
	engine_input(&hh, (const uint8_t *)"zz", 2);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_RST && logh[0].dst_cid == 7);
	CHECK(vsock_events(h) == (VSOCK_EV_CONNECTED | VSOCK_EV_WRITABLE));
}

/* Each op into a LISTEN socket (Linux recv_listen). */
static void test_listen_ops(void)
{
	reset_engine(0);
	int lh = vsock_listen(100, VSOCK_STREAM, 0);
	CHECK(lh >= 0);
	CHECK(vsock_events(lh) == 0);
	static const uint16_t ops[] = { VSOCK_OP_INVALID, VSOCK_OP_RESPONSE, VSOCK_OP_SHUTDOWN,
		VSOCK_OP_RW, VSOCK_OP_CREDIT_UPDATE, VSOCK_OP_CREDIT_REQUEST, 9 };
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct peer p;
		npeers = 0;
		peer_init(&p, 3000, 100, ST);
		p_pkt(&p, ops[i], 0, "data", ops[i] == VSOCK_OP_RW ? 4 : 0);
		CHECK(pump() == 1 && is_rst_to(&logh[0], 3000, 100));
		CHECK(vsock_accept(lh, NULL, NULL) == BV_EAGAIN);
		CHECK(stats().conns_in_use == 1);
	}
	struct peer p;
	npeers = 0;
	peer_init(&p, 3000, 100, ST);
	p_pkt(&p, VSOCK_OP_RST, 0, NULL, 0);
	CHECK(nothing_pending());

	/* wrong type for this listener */
	struct peer q;
	peer_init(&q, 3001, 100, SP);
	p_pkt(&q, VSOCK_OP_REQUEST, 0, NULL, 0);
	CHECK(pump() == 1 && is_rst_to(&logh[0], 3001, 100) && logh[0].type == SP);

	/* REQUEST: RESPONSE carrying our credit, then accept */
	p.buf_alloc = 5000;
	p_pkt(&p, VSOCK_OP_REQUEST, 0, NULL, 0);
	CHECK(vsock_events(lh) == VSOCK_EV_ACCEPT);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_RESPONSE);
	CHECK(logh[0].src_port == 100 && logh[0].dst_port == 3000 && logh[0].dst_cid == HOST);
	CHECK(logh[0].buf_alloc == RXBUF && logh[0].fwd_cnt == 0 && logh[0].type == ST);
	uint32_t cid = 0, port = 0;
	int h = vsock_accept(lh, &cid, &port);
	CHECK(h >= 0 && h != lh && cid == HOST && port == 3000);
	CHECK(vsock_events(lh) == 0);
	CHECK(vsock_accept(lh, NULL, NULL) == BV_EAGAIN);
	/* the credit of the REQUEST is the peer's: we may send 5000 bytes */
	static uint8_t big[8000];
	CHECK(vsock_send(h, big, sizeof(big)) == (int)sizeof(big));
	pump();
	CHECK(p.rx_cnt == 5000);
	/* a second REQUEST on the same tuple belongs to the connection: ignored */
	p_pkt(&p, VSOCK_OP_REQUEST, 0, NULL, 0);
	CHECK(nothing_pending());
	CHECK(stats().conns_in_use == 2);
	CHECK(vsock_error(h) == 0);
}

/* Each op into a CONNECTING socket (Linux recv_connecting). */
static void test_connecting_ops(void)
{
	static const uint16_t ops[] = { VSOCK_OP_RESPONSE, VSOCK_OP_RST, VSOCK_OP_INVALID,
		VSOCK_OP_REQUEST, VSOCK_OP_SHUTDOWN, VSOCK_OP_RW, VSOCK_OP_CREDIT_UPDATE,
		VSOCK_OP_CREDIT_REQUEST, 9 };
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		reset_engine(0);
		int h = vsock_connect(HOST, 9000, VSOCK_STREAM);
		CHECK(h >= 0);
		CHECK(vsock_events(h) == 0);
		CHECK(vsock_send(h, "a", 1) == BV_ENOTCONN);
		char b[8];
		CHECK(vsock_recv(h, b, sizeof(b)) == BV_ENOTCONN);
		CHECK(vsock_shutdown(h, VSOCK_SHUTDOWN_SEND) == BV_ENOTCONN);
		CHECK(pump() == 1 && logh[0].op == VSOCK_OP_REQUEST);
		CHECK(logh[0].dst_cid == HOST && logh[0].dst_port == 9000 && logh[0].src_cid == guest_cid);
		CHECK(logh[0].buf_alloc == RXBUF && logh[0].fwd_cnt == 0 && logh[0].type == ST);
		struct peer p;
		peer_init(&p, 9000, logh[0].src_port, ST);
		p_pkt(&p, ops[i], 0, "xy", ops[i] == VSOCK_OP_RW ? 2 : 0);
		switch (ops[i]) {
		case VSOCK_OP_RESPONSE:
			CHECK(nothing_pending());
			CHECK(vsock_events(h) == (VSOCK_EV_CONNECTED | VSOCK_EV_WRITABLE));
			CHECK(vsock_send(h, "hi", 2) == 2);
			CHECK(pump() == 1 && logh[0].op == VSOCK_OP_RW && p.rx_cnt == 2);
			break;
		case VSOCK_OP_RST:
			CHECK(nothing_pending());            /* never answer an RST */
			CHECK(vsock_error(h) == BV_ECONNREFUSED);
			CHECK(vsock_events(h) == (VSOCK_EV_READABLE | VSOCK_EV_HUP | VSOCK_EV_ERROR));
			CHECK(vsock_send(h, "a", 1) == BV_ECONNREFUSED);
			CHECK(vsock_recv(h, b, sizeof(b)) == BV_ECONNREFUSED);
			break;
		case VSOCK_OP_INVALID:
			CHECK(nothing_pending());
			CHECK(vsock_error(h) == 0);
			CHECK(vsock_send(h, "a", 1) == BV_ENOTCONN);
			p_pkt(&p, VSOCK_OP_RESPONSE, 0, NULL, 0);
			CHECK(vsock_events(h) & VSOCK_EV_CONNECTED);
			break;
		default:
			CHECK(pump() == 1 && is_rst_to(&logh[0], 9000, p.gport));
			CHECK(vsock_error(h) == BV_EPROTO);
			CHECK(vsock_events(h) & VSOCK_EV_ERROR);
			/* the flow is gone: a late RESPONSE gets an RST */
			p_pkt(&p, VSOCK_OP_RESPONSE, 0, NULL, 0);
			CHECK(pump() == 1 && is_rst_to(&logh[0], 9000, p.gport));
			break;
		}
		CHECK(stats().conns_in_use == 1);
		CHECK(vsock_close(h) == 0);
		if (ops[i] != VSOCK_OP_RESPONSE && ops[i] != VSOCK_OP_INVALID) {
			CHECK(stats().conns_in_use == 0);
			CHECK(nothing_pending());
		}
		CHECK(vsock_events(h) == BV_EBADF);
	}
}

/* Each op into an ESTABLISHED socket (Linux recv_connected). */
static void test_established_ops(void)
{
	reset_engine(0);
	int lh = vsock_listen(200, VSOCK_STREAM, 0);
	struct peer p;
	peer_init(&p, 3300, 200, ST);
	int h = serve(&p, lh);
	char b[64];

	/* stray REQUEST, RESPONSE, INVALID, unknown: ignored */
	p_pkt(&p, VSOCK_OP_REQUEST, 0, NULL, 0);
	p_pkt(&p, VSOCK_OP_RESPONSE, 0, NULL, 0);
	p_pkt(&p, 9, 0, NULL, 0);
	CHECK(nothing_pending());
	CHECK(vsock_error(h) == 0 && (vsock_events(h) & VSOCK_EV_CONNECTED));

	/* RW: data */
	CHECK(vsock_recv(h, b, sizeof(b)) == BV_EAGAIN);
	CHECK(!(vsock_events(h) & VSOCK_EV_READABLE));
	p_pkt(&p, VSOCK_OP_RW, 0, "hello", 5);
	CHECK(vsock_events(h) & VSOCK_EV_READABLE);
	CHECK(vsock_recv(h, b, 3) == 3 && memcmp(b, "hel", 3) == 0);
	CHECK(vsock_recv(h, b, sizeof(b)) == 2 && memcmp(b, "lo", 2) == 0);
	/* buf_alloc is below 64 KiB, so any read announces the space (Linux's
	 * rule); the two reads before this pump share one packet */
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE && logh[0].fwd_cnt == 5);

	/* CREDIT_REQUEST: answered with our fwd_cnt */
	p_pkt(&p, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE && logh[0].fwd_cnt == 5);
	CHECK(stats().credit_updates_sent == 2);

	/* INVALID carrying credit (vhost-device-vsock does that) opens the window */
	p.buf_alloc = 0;
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	CHECK(vsock_send(h, "data", 4) == 4);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_REQUEST);
	p.buf_alloc = 1000;
	p_pkt(&p, VSOCK_OP_INVALID, 0, NULL, 0);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_RW && p.rx_cnt == 4 && memcmp(lastdata, "data", 4) == 0);

	/* SHUTDOWN(SEND) from the peer: EOF after the data, we may still send */
	p_pkt(&p, VSOCK_OP_RW, 0, "end", 3);
	p_pkt(&p, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND, NULL, 0);
	CHECK(nothing_pending());
	CHECK(vsock_recv(h, b, sizeof(b)) == 3);
	CHECK(vsock_recv(h, b, sizeof(b)) == 0);
	CHECK(vsock_events(h) & VSOCK_EV_READABLE);
	CHECK(!(vsock_events(h) & VSOCK_EV_HUP));
	CHECK(vsock_send(h, "more", 4) == 4);
	/* reading "end" drained the queue: its update first, then the data */
	CHECK(pump() == 2 && logh[0].op == VSOCK_OP_CREDIT_UPDATE && logh[0].fwd_cnt == 8 &&
	      logh[1].op == VSOCK_OP_RW);

	/* SHUTDOWN(RCV) from the peer: no more sending */
	p_pkt(&p, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV, NULL, 0);
	CHECK(vsock_send(h, "x", 1) == BV_EPIPE);
	CHECK(!(vsock_events(h) & VSOCK_EV_WRITABLE));

	/* second connection: RST from the peer resets it, data first */
	struct peer q;
	peer_init(&q, 3301, 200, ST);
	int h2 = serve(&q, lh);
	p_pkt(&q, VSOCK_OP_RW, 0, "tail", 4);
	/* a packet of the wrong type on the flow: RST, connection untouched */
	q.type = SP;
	p_pkt(&q, VSOCK_OP_RW, 0, "zz", 2);
	q.type = ST;
	CHECK(pump() == 1 && is_rst_to(&logh[0], 3301, 200) && logh[0].type == SP);
	CHECK(vsock_error(h2) == 0);
	p_pkt(&q, VSOCK_OP_RST, 0, NULL, 0);
	CHECK(nothing_pending());
	CHECK(vsock_error(h2) == BV_ECONNRESET);
	CHECK(vsock_events(h2) == (VSOCK_EV_READABLE | VSOCK_EV_HUP | VSOCK_EV_ERROR | VSOCK_EV_CONNECTED));
	CHECK(vsock_recv(h2, b, sizeof(b)) == 4 && memcmp(b, "tail", 4) == 0);
	CHECK(vsock_recv(h2, b, sizeof(b)) == BV_ECONNRESET);
	CHECK(vsock_send(h2, "x", 1) == BV_ECONNRESET);
	/* the reset flow is unknown now */
	p_pkt(&q, VSOCK_OP_RW, 0, "x", 1);
	CHECK(pump() == 1 && is_rst_to(&logh[0], 3301, 200));
	CHECK(vsock_close(h2) == 0);
	CHECK(stats().conns_in_use == 2);
	CHECK(stats().rx_unknown_op == 2);   /* op 9 and INVALID */
}

/* After vsock_close(): flush, SHUTDOWN(3), then each op, and the timeout. */
static void test_closing_ops(void)
{
	static const uint16_t ops[] = { VSOCK_OP_RST, VSOCK_OP_SHUTDOWN, VSOCK_OP_RW, VSOCK_OP_REQUEST,
		VSOCK_OP_RESPONSE, VSOCK_OP_INVALID, VSOCK_OP_CREDIT_UPDATE, VSOCK_OP_CREDIT_REQUEST, 9 };
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		reset_engine(0);
		vsock_engine_tick(1000);
		struct peer p;
		peer_init(&p, 4400, 0, ST);
		p.check_pattern = 1;
		int h = dial(&p, 4400);
		uint64_t off = 0;
		CHECK(app_send_pattern(h, p.seed_in, &off, 3000) == 3000);
		p_send_pattern(&p, 100, 0);           /* unread data is discarded by close */
		CHECK(vsock_close(h) == 0);
		CHECK(vsock_send(h, "x", 1) == BV_EBADF);
		CHECK(vsock_close(h) == BV_EBADF);
		CHECK(pump() == 2);
		CHECK(logh[0].op == VSOCK_OP_RW && logh[0].len == 3000);
		CHECK(logh[1].op == VSOCK_OP_SHUTDOWN && logh[1].flags == VSOCK_SHUTDOWN_BOTH);
		CHECK(logh[1].fwd_cnt == 100);
		CHECK(stats().conns_in_use == 1);
		switch (ops[i]) {
		case VSOCK_OP_RST:
			p_pkt(&p, VSOCK_OP_RST, 0, NULL, 0);
			CHECK(nothing_pending());
			CHECK(stats().conns_in_use == 0);
			break;
		case VSOCK_OP_SHUTDOWN:
			p_pkt(&p, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND, NULL, 0);
			CHECK(nothing_pending());
			CHECK(stats().conns_in_use == 1);
			p_pkt(&p, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV, NULL, 0);   /* now both */
			CHECK(pump() == 1 && is_rst_to(&logh[0], 4400, p.gport));
			CHECK(stats().conns_in_use == 0);
			break;
		case VSOCK_OP_CREDIT_REQUEST:
			p_pkt(&p, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
			CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE);
			break;
		case VSOCK_OP_RW:
			p_send_pattern(&p, 50, 0);        /* discarded, but no RST */
			CHECK(nothing_pending());
			break;
		default:
			p_pkt(&p, ops[i], 0, NULL, 0);
			CHECK(nothing_pending());
			break;
		}
		if (ops[i] != VSOCK_OP_RST && ops[i] != VSOCK_OP_SHUTDOWN) {
			/* no RST from the peer: the close timeout sends ours */
			CHECK(stats().conns_in_use == 1);
			vsock_engine_tick(1000 + BV_VSOCK_CLOSE_TIMEOUT_MS - 1);
			CHECK(nothing_pending());
			vsock_engine_tick(1000 + BV_VSOCK_CLOSE_TIMEOUT_MS);
			CHECK(stats().conns_in_use == 0);
			CHECK(pump() == 1 && is_rst_to(&logh[0], 4400, p.gport));
		}
		CHECK(p.rx_cnt == 3000);
	}

	/* close with data waiting for credit: SHUTDOWN only after the last byte */
	reset_engine(0);
	struct peer p;
	peer_init(&p, 4500, 0, ST);
	p.check_pattern = 1;
	p.buf_alloc = 1000;
	int h = dial(&p, 4500);
	uint64_t off = 0;
	CHECK(app_send_pattern(h, p.seed_in, &off, 2500) == 2500);
	CHECK(vsock_close(h) == 0);
	pump();
	CHECK(p.rx_cnt == 1000 && count_op(VSOCK_OP_SHUTDOWN) == 0 && count_op(VSOCK_OP_CREDIT_REQUEST) == 1);
	p.fwd_cnt = p.rx_cnt;
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	pump();
	CHECK(p.rx_cnt == 2000 && count_op(VSOCK_OP_SHUTDOWN) == 0);
	p.fwd_cnt = p.rx_cnt;
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	pump();
	CHECK(p.rx_cnt == 2500 && nlog == 2 && logh[1].op == VSOCK_OP_SHUTDOWN && logh[1].flags == 3);
	/* the peer closes too: SHUTDOWN(3) -> we answer RST and are gone */
	p_pkt(&p, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_BOTH, NULL, 0);
	CHECK(pump() == 1 && is_rst_to(&logh[0], 4500, p.gport));
	CHECK(stats().conns_in_use == 0);
}

/* Thousands of RSTs: never answered; a connection is reset once. */
static void test_rst_storm(void)
{
	reset_engine(0);
	int lh = vsock_listen(300, VSOCK_STREAM, 0);
	struct peer a, b;
	peer_init(&a, 5100, 300, ST);
	peer_init(&b, 5101, 300, ST);
	int ha = serve(&a, lh), hb = serve(&b, lh);
	int hc = vsock_connect(HOST, 5200, VSOCK_STREAM);
	pump();
	for (uint32_t i = 0; i < 5000; i++) {
		struct peer x;
		peer_init(&x, 10000 + i, (i & 1) ? 300 : 20000 + i, (i % 3) ? ST : SP);
		p_pkt(&x, VSOCK_OP_RST, 0, NULL, 0);   /* to the listener and to nothing */
		npeers = 2;
	}
	CHECK(nothing_pending());
	CHECK(vsock_error(ha) == 0 && vsock_error(hb) == 0 && vsock_error(hc) == 0);
	for (int i = 0; i < 100; i++)
		p_pkt(&a, VSOCK_OP_RST, 0, NULL, 0);
	CHECK(nothing_pending());
	CHECK(vsock_error(ha) == BV_ECONNRESET);
	CHECK(vsock_error(hb) == 0);
	p_pkt(&b, VSOCK_OP_RW, 0, "ok", 2);
	char buf[4];
	CHECK(vsock_recv(hb, buf, sizeof(buf)) == 2);
	struct vsock_stats s = stats();
	CHECK(s.rst_sent == 0 && s.rst_rcvd == 5100);
}

/* CREDIT_REQUEST storm: each is answered, bursts coalesce, no amplification. */
static void test_credit_request_storm(void)
{
	reset_engine(0);
	int lh = vsock_listen(301, VSOCK_STREAM, 0);
	struct peer p;
	peer_init(&p, 5300, 301, ST);
	serve(&p, lh);
	for (int i = 0; i < 1000; i++) {
		p_pkt(&p, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
		CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE);
	}
	for (int i = 0; i < 10000; i++)
		p_pkt(&p, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE);
	CHECK(stats().credit_updates_sent == 1001);

	/* while data flows in, storms interleave without breaking the stream */
	uint64_t got = 0;
	p.seed_out = 77;
	for (int i = 0; i < 200; i++) {
		uint32_t n = min32(p_credit(&p), 1000);
		if (n)
			p_send_pattern(&p, n, 0);
		p_pkt(&p, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
		p_pkt(&p, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
		app_read_check(p.h, 77, &got, 700);
		pump();
		CHECK(count_op(VSOCK_OP_CREDIT_UPDATE) == 1 && nlog == 1);
		/* fwd_cnt counts whole buffers read (as Linux counts whole
		 * packets): it trails the reads by less than one buffer */
		CHECK((uint32_t)got - p.g_fwd_cnt < BV_VSOCK_RX_BUF_SIZE);
	}
	CHECK(got > 100000);
	CHECK(stats().rst_sent == 0);
}

/* Peer streams to the guest nonstop; the app reads in odd sizes. The guest
 * must volunteer CREDIT_UPDATEs so the peer never runs dry for good. */
static void test_receive_only(void)
{
	static const uint32_t sizes[] = { 1, 3, 100, 4096, 5000, 777, 16384, 2, 65536 };
	for (int variant = 0; variant < 3; variant++) {
		reset_engine(0);
		int lh = vsock_listen(400, VSOCK_STREAM, 0);
		struct peer p;
		peer_init(&p, 5400, 400, ST);
		p.seed_out = 40 + (uint32_t)variant;
		int h = serve(&p, lh);
		const uint64_t total = variant == 1 ? (256u << 10) : (4u << 20);
		uint64_t sent = 0, got = 0;
		unsigned it = 0, idle = 0;
		while (got < total) {
			uint64_t moved = 0;
			for (;;) {
				uint32_t n = min32(p_credit(&p), 4096);
				if ((uint64_t)n > total - sent)
					n = (uint32_t)(total - sent);
				if (!n)
					break;
				p_send_pattern(&p, n, 0);
				sent += n;
				moved += n;
			}
			for (int k = 0; k < (variant == 1 ? 64 : 1); k++) {
				uint32_t want = variant == 0 ? sizes[it % 9] : variant == 1 ? 1 : 65536;
				int r = app_read_check(h, p.seed_out, &got, want);
				CHECK(r > 0 || r == BV_EAGAIN);
				if (r > 0)
					moved += (uint64_t)r;
			}
			pump();
			CHECK(count_op(VSOCK_OP_RW) == 0 && count_op(VSOCK_OP_RST) == 0);
			CHECK(nlog == count_op(VSOCK_OP_CREDIT_UPDATE));
			if (!moved) {
				if (++idle > 2) {
					CHECK(!"receive flow stalled");
					break;
				}
			} else {
				idle = 0;
			}
			it++;
		}
		CHECK(got == total && sent == total);
		struct vsock_stats s = stats();
		CHECK(s.credit_updates_sent > 0);
		CHECK(s.rx_bytes == total && s.rst_sent == 0 && s.rx_dropped_malformed == 0);
		/* updates coalesce: never more than one per round of reads */
		CHECK(s.credit_updates_sent <= it);
	}
}

/* Guest sends only: credit respected, one CREDIT_REQUEST at zero, resume;
 * packets as large as credit and one TX buffer allow, never across two. */
static void test_send_only(void)
{
	reset_engine(0);
	struct peer p;
	peer_init(&p, 5500, 0, ST);
	p.check_pattern = 1;
	p.seed_in = 55;
	p.buf_alloc = 10000;
	int h = dial(&p, 5500);
	uint64_t off = 0;
	/* the send buffer is BV_VSOCK_CONN_TX_BUFS TX buffers */
	CHECK(app_send_pattern(h, 55, &off, TXBUF + 5000) == (int)TXBUF);
	CHECK(vsock_send(h, "x", 1) == BV_EAGAIN);
	CHECK(!(vsock_events(h) & VSOCK_EV_WRITABLE));
	pump();
	CHECK(p.rx_cnt == 10000);
	CHECK(nlog == 2 && logh[0].op == VSOCK_OP_RW && logh[0].len == 10000);
	CHECK(logh[1].op == VSOCK_OP_CREDIT_REQUEST);
	CHECK(pump() == 0);                      /* asked once, then quiet */

	p.fwd_cnt += 6000;
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	pump();
	CHECK(p.rx_cnt == 16000);
	CHECK(nlog == 2 && logh[0].len == 6000 && logh[1].op == VSOCK_OP_CREDIT_REQUEST);
	CHECK(stats().credit_requests_sent == 2);

	/* a wide window: the rest of each TX buffer leaves in one packet */
	p.buf_alloc = 1 << 20;
	p.auto_consume = 1;
	p.fwd_cnt = p.rx_cnt;
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	pump();
	CHECK(nlog == 4 && logh[0].len == TXPKT - 16000);
	for (int i = 1; i < 4; i++)
		CHECK(logh[i].op == VSOCK_OP_RW && logh[i].len == TXPKT);
	CHECK(vsock_events(h) & VSOCK_EV_WRITABLE);
	CHECK(stats().tx_bufs_free == stats().tx_bufs_total);
	while (off < 1000000) {
		int r = app_send_pattern(h, 55, &off, (uint32_t)min32(1000000 - (uint32_t)off, 70000));
		CHECK(r > 0);
		pump();
		/* (the guest may run into zero credit between two of the peer's
		 * updates: a CREDIT_REQUEST is fine there) */
		for (int i = 0; i < nlog; i++)
			CHECK((logh[i].op == VSOCK_OP_RW && logh[i].len <= TXPKT) ||
			      logh[i].op == VSOCK_OP_CREDIT_REQUEST);
		/* tell the guest what we consumed, as Linux does before it runs dry */
		p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	}
	CHECK(off == 1000000 && p.rx_cnt == 1000000);
	CHECK(app_send_pattern(h, 55, &off, 3) == 3);
	CHECK(pump() == 1 && logh[0].len == 3);   /* min(pending) */

	/* a lying peer (fwd_cnt ahead of what we sent) grants nothing */
	uint32_t real = p.fwd_cnt;
	p.fwd_cnt = p.rx_cnt + 5000;
	p.buf_alloc = 100;
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	p.seed_in = 56;
	p.in_off = 0;
	uint64_t off2 = 0;
	CHECK(app_send_pattern(h, 56, &off2, 10) == 10);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_REQUEST);
	p.fwd_cnt = real;
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_RW && logh[0].len == 10);
	CHECK(stats().tx_bytes == 1000013);
	CHECK(stats().tx_bufs_free == stats().tx_bufs_total);
}

/* Counters that wrap past 4 GiB in both directions (test hook). */
static void test_counter_wrap(void)
{
	reset_engine(0);
	int lh = vsock_listen(500, VSOCK_STREAM, 0);
	struct peer p;
	peer_init(&p, 5600, 500, ST);
	int h = serve(&p, lh);
	const uint32_t tx0 = 0xFFFFF000u, fwd0 = 0xFFFFF800u;
	vsock_engine_test_set_counters(h, tx0, fwd0);
	p.rx_cnt = p.fwd_cnt = tx0;
	p.tx_cnt = p.g_fwd_cnt = fwd0;
	p.check_pattern = 1;
	p.seed_in = 61;
	p.seed_out = 62;
	p.buf_alloc = 20000;
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	const uint64_t total = 256 * 1024;
	uint64_t gsent = 0, gread = 0, psent = 0;
	uint32_t told_fwd = p.fwd_cnt;
	for (int it = 0; it < 100000 && (p.in_off < total || gread < total); it++) {
		if (gsent < total) {
			int r = app_send_pattern(h, 61, &gsent, (uint32_t)min32(5000, (uint32_t)(total - gsent)));
			CHECK(r > 0 || r == BV_EAGAIN);
		}
		uint32_t n = min32(p_credit(&p), 3000);
		if ((uint64_t)n > total - psent)
			n = (uint32_t)(total - psent);
		if (n) {
			p_send_pattern(&p, n, 0);
			psent += n;
		}
		app_read_check(h, 62, &gread, 2500);
		pump();
		/* the peer's app consumes half of what it has and says so */
		uint32_t unread = p.rx_cnt - p.fwd_cnt;
		p.fwd_cnt += (unread + 1) / 2;
		if (p.fwd_cnt != told_fwd) {
			p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
			told_fwd = p.fwd_cnt;
		}
	}
	CHECK(p.in_off == total && gread == total);
	CHECK(p.rx_cnt == (uint32_t)(tx0 + total));
	CHECK(p.rx_cnt < tx0);   /* wrapped */
	p_pkt(&p, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
	pump();
	CHECK(p.g_fwd_cnt == (uint32_t)(fwd0 + total));
	CHECK(p.g_fwd_cnt < fwd0);
	struct vsock_stats s = stats();
	CHECK(s.rst_sent == 0 && s.rx_dropped_malformed == 0);
	CHECK(vsock_error(h) == 0);

	/* at the wrap, exactly buf_alloc bytes fit and one more is an overrun */
	struct peer q;
	peer_init(&q, 5601, 500, ST);
	int h2 = serve(&q, lh);
	vsock_engine_test_set_counters(h2, 0xFFFFFFF0u, 0xFFFFFFF0u);
	q.tx_cnt = q.g_fwd_cnt = 0xFFFFFFF0u;
	q.rx_cnt = q.fwd_cnt = 0xFFFFFFF0u;
	for (uint32_t left = RXBUF; left; ) {
		uint32_t n = min32(left, 4096);
		p_send_pattern(&q, n, 0);
		left -= n;
	}
	CHECK(p_credit(&q) == 0);
	CHECK(nothing_pending() && vsock_error(h2) == 0);
	p_send_pattern(&q, 1, 0);
	CHECK(pump() == 1 && is_rst_to(&logh[0], 5601, 500));
	CHECK(vsock_error(h2) == BV_ENOBUFS);
	CHECK(stats().rx_overflow == 1);
}

/* Data beyond the credit we advertised but within the space we really have
 * is taken (a peer may act on a stale view our reads made true, as Linux
 * allows); data that does not fit is an overflow: RST, ENOBUFS, counted. */
static void test_overrun(void)
{
	reset_engine(0);
	int lh = vsock_listen(600, VSOCK_STREAM, 0);
	struct peer p, q;
	peer_init(&p, 5700, 600, ST);
	peer_init(&q, 5701, 600, ST);
	int h = serve(&p, lh), h2 = serve(&q, lh);
	for (int k = 0; k < 2; k++) {
		struct peer *x = k ? &q : &p;
		for (uint32_t left = RXBUF; left; ) {
			uint32_t n = min32(left, 4096);
			p_send_pattern(x, n, 0);
			left -= n;
		}
	}
	uint64_t off = 0;
	/* small packets share buffers */
	CHECK(tbufs_held() == (int)(2 * RXBUF / BV_VSOCK_RX_BUF_SIZE));
	/* the app reads 100 bytes: not worth announcing yet (Linux's rule),
	 * so p's credit stays 0, but 100 bytes sent on that stale view fit */
	CHECK(app_read_check(h, p.seed_out, &off, 100) == 100);
	CHECK(nothing_pending() && p_credit(&p) == 0);
	p_send_pattern(&p, 60, 0);
	p_send_pattern(&p, 40, 0);
	CHECK(stats().rx_overflow == 0 && vsock_error(h) == 0);
	/* one byte more than the window: overflow */
	p_send_pattern(&p, 1, 0);
	CHECK(stats().rx_overflow == 1 && vsock_error(h) == BV_ENOBUFS);
	CHECK(pump() == 1 && is_rst_to(&logh[0], 5700, 600));
	/* everything that fitted is still readable, in order, then the error */
	uint32_t drained = 100;
	int r;
	while ((r = app_read_check(h, p.seed_out, &off, 3000)) > 0)
		drained += (uint32_t)r;
	CHECK(drained == RXBUF + 100 && r == BV_ENOBUFS);

	/* q does it right: the app reads everything, the queue drained, the
	 * update goes out, then q sends */
	off = 0;
	uint32_t got = 0;
	while ((r = app_read_check(h2, q.seed_out, &off, 5000)) > 0)
		got += (uint32_t)r;
	CHECK(got == RXBUF && r == BV_EAGAIN);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE && logh[0].fwd_cnt == RXBUF);
	CHECK(p_credit(&q) == RXBUF);
	p_send_pattern(&q, 4096, 0);
	CHECK(nothing_pending() && vsock_error(h2) == 0);
	struct vsock_stats s = stats();
	CHECK(s.rx_overflow == 1 && s.rst_sent == 1 && s.rx_dropped_malformed == 0);
	CHECK(vsock_close(h) == 0 && vsock_close(h2) == 0);
}

/* TRANSPORT_RESET with traffic in flight. */
static void test_transport_reset(void)
{
	reset_engine(0);
	int lh = vsock_listen(700, VSOCK_STREAM, 0);
	struct peer a, c, d, z;
	peer_init(&a, 5800, 700, ST);
	peer_init(&c, 5802, 700, ST);
	peer_init(&d, 5803, 700, ST);
	a.buf_alloc = 1000;
	int ha = serve(&a, lh);
	int hc = serve(&c, lh);
	/* a: data both ways in flight */
	uint64_t off = 0;
	CHECK(app_send_pattern(ha, 1, &off, 5000) == 5000);
	p_send_pattern(&a, 300, 0);
	pump();                               /* 1000 bytes out, 4000 still queued */
	/* b: connecting */
	int hb = vsock_connect(HOST, 5900, VSOCK_STREAM);
	/* c: closing */
	vsock_close(hc);
	/* d: not yet accepted */
	p_pkt(&d, VSOCK_OP_REQUEST, 0, NULL, 0);
	/* an orphan RST waiting */
	peer_init(&z, 5804, 1234, ST);
	p_pkt(&z, VSOCK_OP_RW, 0, "x", 1);
	CHECK(vsock_engine_tx_pending());
	CHECK(stats().conns_in_use == 5);

	vsock_engine_transport_reset(5);
	guest_cid = 5;
	CHECK(vsock_local_cid() == 5);
	CHECK(nothing_pending());             /* nothing at all is sent */
	CHECK(stats().conns_in_use == 3);     /* listener, a, b */
	CHECK(vsock_error(ha) == BV_ECONNRESET);
	CHECK(vsock_error(hb) == BV_ECONNRESET);
	CHECK(vsock_accept(lh, NULL, NULL) == BV_EAGAIN);
	char b[512];
	CHECK(vsock_recv(ha, b, sizeof(b)) == 300);
	CHECK(vsock_recv(ha, b, sizeof(b)) == BV_ECONNRESET);
	CHECK(vsock_send(ha, "x", 1) == BV_ECONNRESET);
	CHECK(vsock_events(ha) & VSOCK_EV_ERROR);

	/* the old CID is not ours any more */
	struct vsock_hdr h = hdr_for(&d, VSOCK_OP_REQUEST, 0, 0);
	h.dst_cid = 3;
	engine_input(&h, NULL, 0);
	CHECK(stats().rx_dropped_badcid == 1);
	CHECK(nothing_pending());
	/* the listener survived; packets now go out from CID 5 */
	struct peer e;
	peer_init(&e, 5805, 700, ST);
	int he = serve(&e, lh);
	CHECK(he >= 0 && logh[0].src_cid == 5);
	/* an old flow is unknown now */
	p_pkt(&a, VSOCK_OP_RW, 0, "y", 1);
	CHECK(pump() == 1 && is_rst_to(&logh[0], 5800, 700) && logh[0].src_cid == 5);
	CHECK(vsock_close(ha) == 0 && vsock_close(hb) == 0);
	CHECK(stats().conns_in_use == 2);
	CHECK(nothing_pending());
}

/* Pool full: REQUEST refused with RST and counted; API calls get ENOBUFS. */
static void test_pool_exhaustion(void)
{
	reset_engine(0);
	static struct peer ps[NCONN + 1];
	int lh = vsock_listen(800, VSOCK_STREAM, NCONN);
	for (int i = 0; i < NCONN - 1; i++) {
		peer_init(&ps[i], 6000 + (uint32_t)i, 800, ST);
		p_pkt(&ps[i], VSOCK_OP_REQUEST, 0, NULL, 0);
	}
	CHECK(pump() == NCONN - 1 && count_op(VSOCK_OP_RESPONSE) == NCONN - 1);
	CHECK(stats().conns_in_use == NCONN);
	peer_init(&ps[NCONN - 1], 7000, 800, ST);
	p_pkt(&ps[NCONN - 1], VSOCK_OP_REQUEST, 0, NULL, 0);
	CHECK(pump() == 1 && is_rst_to(&logh[0], 7000, 800));
	struct vsock_stats s = stats();
	CHECK(s.conns_refused_full == 1 && s.conns_in_use == NCONN && s.conns_peak == NCONN);
	CHECK(vsock_connect(HOST, 1, VSOCK_STREAM) == BV_ENOBUFS);
	CHECK(vsock_listen(801, VSOCK_STREAM, 0) == BV_ENOBUFS);
	/* one child goes away (peer RST before accept): room again */
	p_pkt(&ps[0], VSOCK_OP_RST, 0, NULL, 0);
	CHECK(stats().conns_in_use == NCONN - 1);
	p_pkt(&ps[NCONN - 1], VSOCK_OP_REQUEST, 0, NULL, 0);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_RESPONSE && logh[0].dst_port == 7000);
	/* accept order is arrival order */
	uint32_t port;
	CHECK(vsock_accept(lh, NULL, &port) >= 0 && port == 6001);
	CHECK(vsock_accept(lh, NULL, &port) >= 0 && port == 6002);
	CHECK(stats().conns_refused_full == 1);
}

/* 1000 connect/close cycles each way; the pool returns to its baseline. */
static void test_cycles(void)
{
	reset_engine(0);
	vsock_engine_tick(1);
	int lh = vsock_listen(900, VSOCK_STREAM, 0);
	const uint32_t base = stats().conns_in_use;
	CHECK(base == 1);
	uint32_t last_port = 0;
	char b[128];
	for (int i = 0; i < 1000; i++) {
		/* guest as client: data both ways, close, peer RST */
		struct peer p;
		npeers = 0;
		peer_init(&p, 4000, 0, ST);
		p.check_pattern = 1;
		int h = dial(&p, 4000);
		CHECK(p.gport != last_port && p.gport > 1023);
		last_port = p.gport;
		uint64_t off = 0, got = 0;
		CHECK(app_send_pattern(h, p.seed_in, &off, 100) == 100);
		p_send_pattern(&p, 50, 0);
		CHECK(app_read_check(h, p.seed_out, &got, sizeof(b)) == 50);
		CHECK(vsock_close(h) == 0);
		CHECK(pump() == 2 && logh[0].op == VSOCK_OP_RW && logh[1].op == VSOCK_OP_SHUTDOWN);
		CHECK(stats().conns_in_use == base + 1);
		p_pkt(&p, VSOCK_OP_RST, 0, NULL, 0);
		CHECK(stats().conns_in_use == base);
		CHECK(nothing_pending());

		/* guest as server: peer sends and closes first */
		struct peer q;
		npeers = 0;
		peer_init(&q, 6000 + (uint32_t)i, 900, ST);
		h = serve(&q, lh);
		p_send_pattern(&q, 20, 0);
		p_pkt(&q, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_BOTH, NULL, 0);
		CHECK(nothing_pending());         /* unread data: no RST yet */
		CHECK(vsock_events(h) & VSOCK_EV_HUP);
		got = 0;
		CHECK(app_read_check(h, q.seed_out, &got, sizeof(b)) == 20);
		CHECK(pump() == 1 && is_rst_to(&logh[0], q.hport, 900));
		CHECK(vsock_recv(h, b, sizeof(b)) == 0);
		CHECK(vsock_send(h, "x", 1) == BV_EPIPE);
		CHECK(vsock_error(h) == 0);
		CHECK(vsock_close(h) == 0);
		CHECK(nothing_pending());
		CHECK(stats().conns_in_use == base);
	}
	for (int i = 0; i < 300; i++) {
		npeers = 0;
		/* close before the REQUEST went out: nothing on the wire */
		int h = vsock_connect(HOST, 4100, VSOCK_STREAM);
		CHECK(vsock_close(h) == 0);
		CHECK(nothing_pending());
		/* close while connecting: RST */
		h = vsock_connect(HOST, 4100, VSOCK_STREAM);
		pump();
		uint32_t gp = logh[0].src_port;
		CHECK(vsock_close(h) == 0);
		CHECK(pump() == 1 && is_rst_to(&logh[0], 4100, gp));
		/* close with a silent peer: timeout, RST */
		struct peer p;
		npeers = 0;
		peer_init(&p, 4200, 0, ST);
		h = dial(&p, 4200);
		CHECK(vsock_close(h) == 0);
		CHECK(pump() == 1 && logh[0].op == VSOCK_OP_SHUTDOWN);
		vsock_engine_tick(vsock_engine_now_ms() + BV_VSOCK_CLOSE_TIMEOUT_MS);
		CHECK(pump() == 1 && is_rst_to(&logh[0], 4200, p.gport));
		CHECK(stats().conns_in_use == base);
	}
	struct vsock_stats s = stats();
	CHECK(s.conns_in_use == base && s.conns_peak == 2);
	/* every RX buffer back, every TX buffer free */
	CHECK(tbufs_held() == 0 && s.rx_bufs_held == 0 && s.tx_bufs_free == s.tx_bufs_total);
}

/* Half-close in each direction, and the Linux close handshake. */
static void test_half_close(void)
{
	reset_engine(0);
	int lh = vsock_listen(1100, VSOCK_STREAM, 0);
	char b[64];

	/* guest shuts down SEND after queued data; still receives */
	struct peer p;
	peer_init(&p, 6100, 1100, ST);
	p.check_pattern = 1;
	int h = serve(&p, lh);
	uint64_t off = 0;
	CHECK(app_send_pattern(h, p.seed_in, &off, 5000) == 5000);
	CHECK(vsock_shutdown(h, VSOCK_SHUTDOWN_SEND) == 0);
	CHECK(vsock_send(h, "x", 1) == BV_EPIPE);
	CHECK(!(vsock_events(h) & VSOCK_EV_WRITABLE));
	pump();
	CHECK(nlog == 2 && logh[0].len == 5000);
	CHECK(logh[1].op == VSOCK_OP_SHUTDOWN && logh[1].flags == VSOCK_SHUTDOWN_SEND);
	CHECK(p.rx_cnt == 5000);
	p_pkt(&p, VSOCK_OP_RW, 0, "reply", 5);
	CHECK(vsock_recv(h, b, sizeof(b)) == 5);
	p_pkt(&p, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND, NULL, 0);
	CHECK(vsock_recv(h, b, sizeof(b)) == 0);
	/* the read drained the queue: its update, and no RST (neither side
	 * shut both directions) */
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE);
	CHECK(vsock_close(h) == 0);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_SHUTDOWN && logh[0].flags == VSOCK_SHUTDOWN_BOTH);
	p_pkt(&p, VSOCK_OP_RST, 0, NULL, 0);
	CHECK(stats().conns_in_use == 1);

	/* peer SHUTDOWN(3) while we still have data for it: data, then RST */
	struct peer q;
	peer_init(&q, 6101, 1100, ST);
	q.check_pattern = 1;
	q.buf_alloc = 2000;
	h = serve(&q, lh);
	off = 0;
	CHECK(app_send_pattern(h, q.seed_in, &off, 3000) == 3000);
	p_pkt(&q, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_BOTH, NULL, 0);
	CHECK(vsock_send(h, "x", 1) == BV_EPIPE);
	pump();
	CHECK(q.rx_cnt == 2000 && count_op(VSOCK_OP_RST) == 0);
	q.fwd_cnt = 2000;
	p_pkt(&q, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	pump();
	CHECK(q.rx_cnt == 3000 && nlog == 2 && is_rst_to(&logh[1], 6101, 1100));
	CHECK(vsock_recv(h, b, sizeof(b)) == 0 && vsock_error(h) == 0);
	CHECK(vsock_close(h) == 0 && nothing_pending());

	/* guest shuts down RCV: announced at once, data dropped, credit flows */
	struct peer r;
	peer_init(&r, 6102, 1100, ST);
	h = serve(&r, lh);
	CHECK(vsock_send(h, "queued", 6) == 6);
	r.buf_alloc = 0;
	p_pkt(&r, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);   /* keep "queued" stuck */
	p_pkt(&r, VSOCK_OP_RW, 0, "unread", 6);
	CHECK(vsock_shutdown(h, VSOCK_SHUTDOWN_RCV) == 0);
	CHECK(vsock_recv(h, b, sizeof(b)) == 0);
	pump();
	/* the discarded bytes count as consumed and are announced, then the
	 * shutdown (both carry fwd_cnt 6) */
	CHECK(logh[0].op == VSOCK_OP_CREDIT_UPDATE && logh[0].fwd_cnt == 6);
	CHECK(logh[1].op == VSOCK_OP_SHUTDOWN && logh[1].flags == VSOCK_SHUTDOWN_RCV);
	CHECK(logh[1].fwd_cnt == 6);
	uint32_t before = r.g_fwd_cnt;
	for (int i = 0; i < 10; i++) {
		/* discarded, and credited back without the app reading */
		CHECK(p_credit(&r) >= 4096);
		p_send_pattern(&r, 4096, 0);
		pump();
		CHECK(vsock_error(h) == 0 && count_op(VSOCK_OP_RST) == 0);
	}
	CHECK(r.g_fwd_cnt - before == 40960);
	CHECK(vsock_shutdown(h, VSOCK_SHUTDOWN_SEND) == 0);
	CHECK(nothing_pending());             /* SEND waits behind "queued" */
	r.buf_alloc = 100;
	p_pkt(&r, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	pump();
	CHECK(nlog == 2 && logh[0].op == VSOCK_OP_RW && logh[1].op == VSOCK_OP_SHUTDOWN &&
	      logh[1].flags == VSOCK_SHUTDOWN_BOTH);
	/* we shut both: the peer's RST is the orderly end */
	p_pkt(&r, VSOCK_OP_RST, 0, NULL, 0);
	CHECK(vsock_error(h) == 0 && vsock_recv(h, b, sizeof(b)) == 0);
	CHECK(vsock_send(h, "x", 1) == BV_EPIPE);
	CHECK(vsock_events(h) == (VSOCK_EV_READABLE | VSOCK_EV_HUP | VSOCK_EV_CONNECTED));
	CHECK(vsock_close(h) == 0);

	/* close after the peer shut both ways: RST right away */
	struct peer t;
	peer_init(&t, 6103, 1100, ST);
	h = serve(&t, lh);
	p_pkt(&t, VSOCK_OP_RW, 0, "abc", 3);
	p_pkt(&t, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_BOTH, NULL, 0);
	CHECK(nothing_pending());
	CHECK(vsock_close(h) == 0);
	CHECK(pump() == 1 && is_rst_to(&logh[0], 6103, 1100));
	CHECK(stats().conns_in_use == 1);
	CHECK(vsock_shutdown(lh, VSOCK_SHUTDOWN_BOTH) == BV_ENOTCONN);
}

/* SEQPACKET: only when offered; boundaries, EOM, truncation, EMSGSIZE. */
static void test_seqpacket(void)
{
	reset_engine(0);
	CHECK(vsock_listen(1200, VSOCK_SEQPACKET, 0) == BV_ENOTSUP);
	CHECK(vsock_connect(HOST, 1200, VSOCK_SEQPACKET) == BV_ENOTSUP);
	int sl = vsock_listen(1200, VSOCK_STREAM, 0);
	struct peer x;
	peer_init(&x, 6200, 1200, SP);
	p_pkt(&x, VSOCK_OP_REQUEST, 0, NULL, 0);
	CHECK(pump() == 1 && is_rst_to(&logh[0], 6200, 1200));
	CHECK(vsock_accept(sl, NULL, NULL) == BV_EAGAIN);

	reset_engine(1);
	int lh = vsock_listen(1200, VSOCK_SEQPACKET, 0);
	CHECK(lh >= 0);
	struct peer p;
	peer_init(&p, 6201, 1200, SP);
	p.buf_alloc = 10000;
	int h = serve(&p, lh);
	char b[64];
	/* receive: "hello" in two packets, then "world!" */
	p_pkt(&p, VSOCK_OP_RW, 0, "hel", 3);
	CHECK(!(vsock_events(h) & VSOCK_EV_READABLE));
	CHECK(vsock_recv(h, b, sizeof(b)) == BV_EAGAIN);
	p_pkt(&p, VSOCK_OP_RW, VSOCK_SEQ_EOM, "lo", 2);
	p_pkt(&p, VSOCK_OP_RW, VSOCK_SEQ_EOM | VSOCK_SEQ_EOR, "world!", 6);
	p_pkt(&p, VSOCK_OP_RW, 0, "par", 3);
	p_pkt(&p, VSOCK_OP_RW, VSOCK_SEQ_EOM, NULL, 0);    /* empty EOM ends "par" */
	p_pkt(&p, VSOCK_OP_RW, VSOCK_SEQ_EOM, NULL, 0);    /* an empty message (Linux reads it as 0) */
	CHECK(vsock_events(h) & VSOCK_EV_READABLE);
	CHECK(vsock_recv_msglen(h) == 5);
	CHECK(vsock_recv(h, b, 3) == 3 && memcmp(b, "hel", 3) == 0);       /* truncated */
	CHECK(vsock_recv(h, b, sizeof(b)) == 6 && memcmp(b, "world!", 6) == 0);
	CHECK(vsock_recv(h, b, sizeof(b)) == 3 && memcmp(b, "par", 3) == 0);
	CHECK(vsock_recv_msglen(h) == 0);
	CHECK(vsock_recv(h, b, sizeof(b)) == 0);
	CHECK(vsock_recv(h, b, sizeof(b)) == BV_EAGAIN && vsock_recv_msglen(h) == BV_EAGAIN);
	/* every message read volunteers credit (Linux seqpacket_do_dequeue);
	 * the reads before this pump share one packet */
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE && logh[0].fwd_cnt == 14);
	CHECK(p_credit(&p) == RXBUF);
	/* as many unread one-byte messages as BV_VSOCK_SEQ_MSGS: they share
	 * one buffer, all readable in order */
	for (uint32_t i = 0; i < BV_VSOCK_SEQ_MSGS; i++)
		p_pkt(&p, VSOCK_OP_RW, VSOCK_SEQ_EOM, &"0123456789"[i % 10], 1);
	CHECK(tbufs_held() == 1 && stats().rx_overflow == 0);
	uint32_t msgs = 0;
	while (vsock_recv(h, b, sizeof(b)) == 1 && b[0] == "0123456789"[msgs % 10])
		msgs++;
	CHECK(msgs == BV_VSOCK_SEQ_MSGS);
	pump();
	CHECK(nlog == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE && p_credit(&p) == RXBUF);
	CHECK(vsock_error(h) == 0 && tbufs_held() == 0);

	/* send: messages never share a packet; EOM on the last one */
	p.check_pattern = 1;
	p.auto_consume = 1;
	uint64_t off = 0;
	for (int i = 0; i < 3; i++)
		CHECK(app_send_pattern(h, p.seed_in, &off, 3000) == 3000);
	pump();
	CHECK(nlog == 3);
	for (int i = 0; i < 3; i++)
		CHECK(logh[i].op == VSOCK_OP_RW && logh[i].len == 3000 && logh[i].flags == VSOCK_SEQ_EOM);
	static uint8_t big[TXPKT + 1];
	CHECK(vsock_send(h, big, TXPKT + 1) == BV_EMSGSIZE);   /* > one TX buffer */
	CHECK(vsock_send(h, big, 10001) == BV_EMSGSIZE);       /* > peer's buf_alloc */
	p.buf_alloc = 1 << 20;
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	/* no pump in between: the send buffer fills up, whole messages only */
	CHECK(vsock_send(h, big, TXPKT - 100) == (int)(TXPKT - 100));
	CHECK(vsock_send(h, big, 100) == 100);                 /* packed behind it */
	for (int i = 1; i < BV_VSOCK_CONN_TX_BUFS; i++)
		CHECK(vsock_send(h, big, TXPKT) == (int)TXPKT);
	CHECK(vsock_send(h, big, 1) == BV_EAGAIN);
	CHECK(!(vsock_events(h) & VSOCK_EV_WRITABLE));
	p.check_pattern = 0;
	pump();
	int eoms = 0;
	for (int i = 0; i < nlog; i++)
		eoms += logh[i].op == VSOCK_OP_RW && (logh[i].flags & VSOCK_SEQ_EOM);
	CHECK(eoms == BV_VSOCK_CONN_TX_BUFS + 1 && logh[1].len == 100 && logh[nlog - 1].len == TXPKT);

	/* one unread message more than BV_VSOCK_SEQ_MSGS: reset (ENOBUFS), as
	 * newest Linux resets when per-packet overhead overflows its buffer */
	struct peer f;
	peer_init(&f, 6202, 1200, SP);
	int hf = serve(&f, lh);
	for (uint32_t i = 0; i <= BV_VSOCK_SEQ_MSGS; i++)
		p_pkt(&f, VSOCK_OP_RW, VSOCK_SEQ_EOM, "m", 1);
	CHECK(stats().rx_overflow == 1 && vsock_error(hf) == BV_ENOBUFS);
	CHECK(pump() == 1 && is_rst_to(&logh[0], 6202, 1200));
	CHECK(vsock_close(hf) == 0);

	/* a guest-side seqpacket connect */
	struct peer c;
	peer_init(&c, 6300, 0, SP);
	int hc = dial(&c, 6300);
	CHECK(vsock_send(hc, "one", 3) == 3);
	CHECK(vsock_send(hc, "two", 3) == 3);
	pump();
	CHECK(nlog == 2 && logh[0].flags == VSOCK_SEQ_EOM && logh[1].flags == VSOCK_SEQ_EOM);
	CHECK(logh[0].type == SP);
	/* EOF with a partial message: the fragment is not a message */
	p_pkt(&c, VSOCK_OP_RW, 0, "frag", 4);
	p_pkt(&c, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND, NULL, 0);
	CHECK(vsock_recv(hc, b, sizeof(b)) == 0);
}

/* Connect timeout: timers start at the first tick; no RST is sent. */
static void test_connect_timeout(void)
{
	reset_engine(0);
	int h = vsock_connect(HOST, 1300, VSOCK_STREAM);
	CHECK(pump() == 1);
	uint32_t gport = logh[0].src_port;
	CHECK(vsock_engine_now_ms() == 0);
	vsock_engine_tick(1000000);           /* the first tick starts the timer */
	CHECK(vsock_engine_now_ms() == 1000000);
	CHECK(vsock_error(h) == 0);
	vsock_engine_tick(1000000 + BV_VSOCK_CONNECT_TIMEOUT_MS - 1);
	CHECK(vsock_error(h) == 0);
	vsock_engine_tick(1000000 + BV_VSOCK_CONNECT_TIMEOUT_MS);
	CHECK(vsock_error(h) == BV_ETIMEDOUT);
	CHECK(vsock_events(h) == (VSOCK_EV_READABLE | VSOCK_EV_HUP | VSOCK_EV_ERROR));
	CHECK(nothing_pending());
	struct peer p;
	peer_init(&p, 1300, gport, ST);
	p_pkt(&p, VSOCK_OP_RESPONSE, 0, NULL, 0);   /* too late */
	CHECK(pump() == 1 && is_rst_to(&logh[0], 1300, gport));
	CHECK(vsock_close(h) == 0 && stats().conns_in_use == 0);

	/* armed after the clock runs: relative to now */
	h = vsock_connect(HOST, 1301, VSOCK_STREAM);
	vsock_engine_tick(2000000 + BV_VSOCK_CONNECT_TIMEOUT_MS - 1);
	CHECK(vsock_error(h) == BV_ETIMEDOUT);      /* deadline was 1000000+T+T */
	h = vsock_connect(HOST, 1302, VSOCK_STREAM);
	vsock_engine_tick(2000000 + 2 * BV_VSOCK_CONNECT_TIMEOUT_MS - 2);
	CHECK(vsock_error(h) == 0);
	vsock_engine_tick(2000000 + 2 * BV_VSOCK_CONNECT_TIMEOUT_MS - 1);
	CHECK(vsock_error(h) == BV_ETIMEDOUT);
}

/* Listener close resets waiting children; accepted ones live on; ports. */
static void test_listener_close_and_ports(void)
{
	reset_engine(0);
	int lh = vsock_listen(1400, VSOCK_STREAM, 0);
	CHECK(vsock_listen(1400, VSOCK_STREAM, 0) == BV_EADDRINUSE);
	struct peer a, b, c;
	peer_init(&a, 6400, 1400, ST);
	peer_init(&b, 6401, 1400, ST);
	peer_init(&c, 6402, 1400, ST);
	int ha = serve(&a, lh);
	p_pkt(&b, VSOCK_OP_REQUEST, 0, NULL, 0);
	p_pkt(&c, VSOCK_OP_REQUEST, 0, NULL, 0);
	pump();
	CHECK(stats().conns_in_use == 4);
	CHECK(vsock_close(lh) == 0);
	CHECK(stats().conns_in_use == 1);
	pump();
	CHECK(nlog == 2 && is_rst_to(&logh[0], 6401, 1400) && is_rst_to(&logh[1], 6402, 1400));
	CHECK(vsock_error(ha) == 0);
	p_pkt(&a, VSOCK_OP_RW, 0, "still", 5);
	char buf[8];
	CHECK(vsock_recv(ha, buf, sizeof(buf)) == 5);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE);
	/* the port is free again, even with the accepted child on it */
	lh = vsock_listen(1400, VSOCK_STREAM, 0);
	CHECK(lh >= 0);
	/* a port an outgoing connection uses cannot be listened on */
	struct peer d;
	peer_init(&d, 6500, 0, ST);
	int hd = dial(&d, 6500);
	CHECK(vsock_listen(d.gport, VSOCK_STREAM, 0) == BV_EADDRINUSE);
	/* ephemeral ports are distinct while alive */
	int hs[10];
	uint32_t ports[10];
	for (int i = 0; i < 10; i++) {
		hs[i] = vsock_connect(HOST, 6500, VSOCK_STREAM);
		CHECK(hs[i] >= 0);
		pump();
		ports[i] = logh[0].src_port;
		CHECK(ports[i] > 1023 && ports[i] != d.gport && ports[i] != 1400);
		for (int j = 0; j < i; j++)
			CHECK(ports[j] != ports[i]);
	}
	(void)hd;
}

/* Misuse of the API. */
static void test_api_errors(void)
{
	reset_engine(0);
	char b[4];
	CHECK(vsock_send(-1, b, 1) == BV_EBADF);
	CHECK(vsock_recv(NCONN, b, 1) == BV_EBADF);
	CHECK(vsock_close(0) == BV_EBADF);
	CHECK(vsock_events(5) == BV_EBADF);
	CHECK(vsock_error(5) == BV_EBADF);
	CHECK(vsock_accept(0, NULL, NULL) == BV_EBADF);
	CHECK(vsock_shutdown(0, VSOCK_SHUTDOWN_BOTH) == BV_EBADF);
	CHECK(vsock_listen(1, 0, 0) == BV_EINVAL);
	CHECK(vsock_listen(1, 3, 0) == BV_EINVAL);
	CHECK(vsock_listen(VSOCK_PORT_ANY, VSOCK_STREAM, 0) == BV_EINVAL);
	CHECK(vsock_connect(VSOCK_CID_ANY, 1, VSOCK_STREAM) == BV_EINVAL);
	CHECK(vsock_connect(3, 1, VSOCK_STREAM) == BV_EINVAL);   /* ourselves */
	CHECK(vsock_connect(HOST, VSOCK_PORT_ANY, VSOCK_STREAM) == BV_EINVAL);
	CHECK(vsock_connect(HOST, 1, 7) == BV_EINVAL);
	int lh = vsock_listen(1500, VSOCK_STREAM, 0);
	CHECK(vsock_send(lh, b, 1) == BV_ENOTCONN);
	CHECK(vsock_recv(lh, b, 1) == BV_ENOTCONN);
	CHECK(vsock_error(lh) == 0);
	struct peer p;
	peer_init(&p, 6600, 1500, ST);
	int h = serve(&p, lh);
	CHECK(vsock_accept(h, NULL, NULL) == BV_EINVAL);
	CHECK(vsock_shutdown(h, 0) == BV_EINVAL);
	CHECK(vsock_shutdown(h, 4) == BV_EINVAL);
	CHECK(vsock_send(h, NULL, 1) == BV_EINVAL);
	CHECK(vsock_send(h, NULL, 0) == 0);
	CHECK(vsock_recv(h, NULL, 1) == BV_EINVAL);
	CHECK(vsock_local_cid() == 3);
	CHECK(stats().conns_in_use == 2);
	CHECK(vsock_close(h) == 0 && vsock_close(lh) == 0);
	CHECK(vsock_close(lh) == BV_EBADF);
	struct vsock_hdr hh;
	struct vsock_txpkt pk;
	CHECK(vsock_engine_next_tx(NULL, &pk) == BV_EINVAL);
	CHECK(vsock_engine_next_tx(&hh, NULL) == BV_EINVAL);
	/* a control packet has no payload to give back */
	CHECK(vsock_engine_next_tx(&hh, &pk) == 0 && hh.op == VSOCK_OP_SHUTDOWN && pk.len == 0 && pk.token == 0);
}

/* Two busy connections share the TX path in turns. */
static void test_round_robin(void)
{
	reset_engine(0);
	int lh = vsock_listen(1600, VSOCK_STREAM, 0);
	struct peer a, b;
	peer_init(&a, 6700, 1600, ST);
	peer_init(&b, 6701, 1600, ST);
	a.auto_consume = b.auto_consume = 1;
	int ha = serve(&a, lh), hb = serve(&b, lh);
	static uint8_t d[3 * TXPKT];
	CHECK(vsock_send(ha, d, sizeof(d)) == (int)sizeof(d));
	CHECK(vsock_send(hb, d, sizeof(d)) == (int)sizeof(d));
	pump();
	CHECK(nlog == 6);   /* a packet is at most one TX buffer */
	for (int i = 1; i < nlog; i++)
		CHECK(logh[i].src_port == 1600 && logh[i].dst_port != logh[i - 1].dst_port);
	CHECK(a.rx_cnt == sizeof(d) && b.rx_cnt == sizeof(d));
}


/* Issue 11: SEQPACKET receive must never stall on credit. A small message
 * then a message as large as our whole buffer, again and again; the peer
 * behaves like Linux (sends whatever credit allows, splits at the credit
 * edge, never sends CREDIT_REQUEST) and the app reads whole messages only.
 * Before each message read volunteered an update, the host saw zero credit
 * with the big message half in, the app had consumed less than the old
 * threshold, and nothing moved again. */
static void test_seqpacket_no_credit_stall(void)
{
	reset_engine(1);
	int lh = vsock_listen(1250, VSOCK_SEQPACKET, 0);
	struct peer p;
	peer_init(&p, 6250, 1250, SP);
	int h = serve(&p, lh);
	static const uint32_t sizes[] = { 1, RXBUF, 100, RXBUF - 1, 3000, RXBUF, 7, 5000, RXBUF };
	static uint8_t b[RXBUF + 1];
	unsigned nmsg = sizeof(sizes) / sizeof(sizes[0]) * 4, sent_msgs = 0, got_msgs = 0;
	uint32_t left = sizes[0];   /* bytes of the current message still to send */
	for (int round = 0; round < 10000 && got_msgs < nmsg; round++) {
		int moved = 0;
		/* peer: as much as credit allows, in packets of at most 4 KiB */
		while (sent_msgs < nmsg) {
			uint32_t n = min32(min32(p_credit(&p), left), 4096);
			if (n == 0)
				break;
			left -= n;
			p_send_pattern(&p, n, left == 0 ? VSOCK_SEQ_EOM : 0);
			moved = 1;
			if (left == 0 && ++sent_msgs < nmsg)
				left = sizes[sent_msgs % 9];
		}
		/* app: whole messages, one read each, at most two per round */
		for (int k = 0; k < 2; k++) {
			uint32_t fl = 9;
			int r = vsock_recvmsg(h, b, sizeof(b), &fl);
			if (r == BV_EAGAIN)
				break;
			CHECK(r == (int)sizes[got_msgs % 9] && fl == 0);
			got_msgs++;
			moved = 1;
		}
		pump();
		CHECK(count_op(VSOCK_OP_RST) == 0 && count_op(VSOCK_OP_RW) == 0);
		if (!moved) {
			CHECK(!"SEQPACKET receive stalled on credit");
			break;
		}
	}
	CHECK(got_msgs == nmsg);
	CHECK(p.n_op[VSOCK_OP_CREDIT_UPDATE] >= nmsg / 2);   /* at most two reads share one */
	CHECK(stats().rx_overflow == 0);
}

/* Issue 11: record boundaries. EOM|EOR from the peer is reported as
 * VSOCK_MSG_EOR; a message sent with VSOCK_MSG_EOR goes out as EOM|EOR;
 * truncation is reported; STREAM ignores EOR. */
static void test_seqpacket_eor(void)
{
	reset_engine(1);
	int lh = vsock_listen(1260, VSOCK_SEQPACKET, 0);
	struct peer p;
	peer_init(&p, 6260, 1260, SP);
	int h = serve(&p, lh);
	char b[16];
	uint32_t fl;
	p_pkt(&p, VSOCK_OP_RW, 0, "rec", 3);
	p_pkt(&p, VSOCK_OP_RW, VSOCK_SEQ_EOM | VSOCK_SEQ_EOR, "ord", 3);
	p_pkt(&p, VSOCK_OP_RW, VSOCK_SEQ_EOM, "plain", 5);
	p_pkt(&p, VSOCK_OP_RW, VSOCK_SEQ_EOM | VSOCK_SEQ_EOR, "truncated!", 10);
	CHECK(vsock_recvmsg(h, b, sizeof(b), &fl) == 6 && memcmp(b, "record", 6) == 0 && fl == VSOCK_MSG_EOR);
	CHECK(vsock_recvmsg(h, b, sizeof(b), &fl) == 5 && fl == 0);
	CHECK(vsock_recvmsg(h, b, 4, &fl) == 4 && fl == (VSOCK_MSG_EOR | VSOCK_MSG_TRUNC));
	CHECK(vsock_recvmsg(h, b, sizeof(b), &fl) == BV_EAGAIN && fl == 0);
	pump();
	p.auto_consume = 1;
	CHECK(vsock_sendmsg(h, "one", 3, VSOCK_MSG_EOR) == 3);
	CHECK(vsock_sendmsg(h, "two", 3, 0) == 3);
	CHECK(vsock_send(h, "three", 5) == 5);
	CHECK(pump() == 3);
	CHECK(logh[0].op == VSOCK_OP_RW && logh[0].flags == (VSOCK_SEQ_EOM | VSOCK_SEQ_EOR));
	CHECK(logh[1].op == VSOCK_OP_RW && logh[1].flags == VSOCK_SEQ_EOM);
	CHECK(logh[2].op == VSOCK_OP_RW && logh[2].flags == VSOCK_SEQ_EOM);
	/* split by credit: EOR rides on the last packet only, with EOM */
	p.auto_consume = 0;
	p.buf_alloc = 10;
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	CHECK(vsock_sendmsg(h, "abcdef", 6, 0) == 6);
	CHECK(vsock_sendmsg(h, "0123456789", 10, VSOCK_MSG_EOR) == 10);
	/* (then one CREDIT_REQUEST at zero credit: deliberate, see docs/conformance.md) */
	CHECK(pump() == 3 && logh[0].len == 6 && logh[1].len == 4 && logh[1].flags == 0 &&
	      logh[2].op == VSOCK_OP_CREDIT_REQUEST);
	p.fwd_cnt = p.rx_cnt;
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	CHECK(pump() == 1 && logh[0].len == 6 && logh[0].flags == (VSOCK_SEQ_EOM | VSOCK_SEQ_EOR));
	/* STREAM: EOR means nothing on the wire */
	int sl = vsock_listen(1261, VSOCK_STREAM, 0);
	struct peer q;
	peer_init(&q, 6261, 1261, ST);
	int hs = serve(&q, sl);
	CHECK(vsock_sendmsg(hs, "abc", 3, VSOCK_MSG_EOR) == 3);
	CHECK(pump() == 1 && logh[0].flags == 0);
	p_pkt(&q, VSOCK_OP_RW, VSOCK_SEQ_EOM | VSOCK_SEQ_EOR, "xy", 2);
	CHECK(vsock_recvmsg(hs, b, sizeof(b), &fl) == 2 && fl == 0);
}

/* Issue 11: each listener has its own backlog (Linux: one more than the
 * backlog is taken, then RST), so idle peers cannot take the pool from
 * another listener; packets from our own CID are never answered. */
static void test_backlog_and_own_cid(void)
{
	reset_engine(0);
	int la = vsock_listen(1270, VSOCK_STREAM, 2);
	int lb = vsock_listen(1271, VSOCK_STREAM, 0);
	static struct peer ps[8];
	for (int i = 0; i < 5; i++) {
		peer_init(&ps[i], 6270 + (uint32_t)i, 1270, ST);
		p_pkt(&ps[i], VSOCK_OP_REQUEST, 0, NULL, 0);
	}
	CHECK(pump() == 5 && count_op(VSOCK_OP_RESPONSE) == 3 && count_op(VSOCK_OP_RST) == 2);
	/* the first three (backlog 2, plus one as Linux) are taken, in order */
	for (int i = 0; i < 5; i++)
		CHECK(ps[i].n_op[i < 3 ? VSOCK_OP_RESPONSE : VSOCK_OP_RST] == 1);
	struct vsock_stats s = stats();
	CHECK(s.conns_refused_backlog == 2 && s.conns_refused_full == 0);
	/* the other listener is untouched by the first one's idle peers */
	peer_init(&ps[5], 6280, 1271, ST);
	CHECK(serve(&ps[5], lb) >= 0);
	/* accepting one makes room for exactly one more */
	CHECK(vsock_accept(la, NULL, NULL) >= 0);
	peer_init(&ps[6], 6290, 1270, ST);
	p_pkt(&ps[6], VSOCK_OP_REQUEST, 0, NULL, 0);
	peer_init(&ps[7], 6291, 1270, ST);
	p_pkt(&ps[7], VSOCK_OP_REQUEST, 0, NULL, 0);
	CHECK(pump() == 2 && ps[6].n_op[VSOCK_OP_RESPONSE] == 1 && ps[7].n_op[VSOCK_OP_RST] == 1);
	/* a child that dies before accept frees its backlog slot */
	p_pkt(&ps[6], VSOCK_OP_RST, 0, NULL, 0);
	p_pkt(&ps[7], VSOCK_OP_REQUEST, 0, NULL, 0);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_RESPONSE && logh[0].dst_port == 6291);
	/* src_cid == our CID: no answer, no connection, counted */
	uint32_t in_use = stats().conns_in_use;
	struct vsock_hdr h = hdr_for(&ps[0], VSOCK_OP_REQUEST, 0, 0);
	h.src_cid = guest_cid;
	h.dst_port = 1271;
	h.src_port = 7777;
	engine_input(&h, NULL, 0);
	h.op = VSOCK_OP_RW;
	h.dst_port = 4444;   /* unknown flow: would be answered RST from anyone else */
	engine_input(&h, NULL, 0);
	CHECK(nothing_pending());
	CHECK(stats().conns_in_use == in_use && stats().rx_dropped_own_cid == 2);
}

/* Issue 11: feature bits. STREAM is implied unless NO_IMPLIED_STREAM came
 * without F_STREAM; SEQPACKET needs its bit. */
static void test_feature_types(void)
{
	static const struct { uint64_t f; int stream, seq; } cases[] = {
		{ 0, 1, 0 },
		{ 1u << VSOCK_F_SEQPACKET, 1, 1 },
		{ (1u << VSOCK_F_STREAM) | (1u << VSOCK_F_NO_IMPLIED_STREAM), 1, 0 },
		{ (1u << VSOCK_F_SEQPACKET) | (1u << VSOCK_F_NO_IMPLIED_STREAM), 0, 1 },
		{ 1u << VSOCK_F_NO_IMPLIED_STREAM, 0, 0 },
		{ 7, 1, 1 },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vsock_engine_init(3, cases[i].f);
		int ls = vsock_listen(1300, VSOCK_STREAM, 0);
		int lq = vsock_listen(1301, VSOCK_SEQPACKET, 0);
		CHECK(cases[i].stream ? ls >= 0 : ls == BV_ENOTSUP);
		CHECK(cases[i].seq ? lq >= 0 : lq == BV_ENOTSUP);
		int cs = vsock_connect(HOST, 1302, VSOCK_STREAM);
		CHECK(cases[i].stream ? cs >= 0 : cs == BV_ENOTSUP);
	}
}

/* Issue 11: RSTs the reply queue cannot hold are counted, never silent. */
static void test_rst_queue_full(void)
{
	reset_engine(0);
	struct peer p;
	peer_init(&p, 6300, 9, ST);
	unsigned n = 0;
	while (!vsock_engine_replies_backed_up(100000) && n < 100000) {
		p.hport = 6300 + n++;
		p_pkt(&p, VSOCK_OP_RW, 0, "x", 1);   /* unknown flow: RST */
	}
	CHECK(n > 0 && n < 100000 && stats().rst_dropped == 0);
	CHECK(vsock_engine_replies_backed_up(1) && vsock_engine_replies_backed_up(n));
	p.hport = 9999;
	p_pkt(&p, VSOCK_OP_RW, 0, "x", 1);
	CHECK(stats().rst_dropped == 1);
	CHECK(pump() == (int)n && count_op(VSOCK_OP_RST) == (int)n);
	CHECK(!vsock_engine_replies_backed_up(1));
}


/* Issue 14: the zero-copy calls. Received bytes are read where they lie
 * (borrow/release), bytes to send are written into the TX buffer they leave
 * from (reserve/commit); buffers go back exactly when done with. */
static void test_zero_copy(void)
{
	reset_engine(1);
	int lh = vsock_listen(1700, VSOCK_STREAM, 0);
	struct peer p;
	peer_init(&p, 6800, 1700, ST);
	p.seed_out = 81;
	int h = serve(&p, lh);
	const void *d;
	uint32_t fl;
	CHECK(vsock_recv_borrow(h, &d, &fl) == BV_EAGAIN && d == NULL && fl == 0);
	CHECK(vsock_recv_borrow(h, NULL, NULL) == BV_EINVAL);

	/* one large packet: it stays in its buffer, read in place */
	const uint32_t B = BV_VSOCK_RX_BUF_SIZE;
	p_send_pattern(&p, B, 0);
	CHECK(tbufs_held() == 1);
	int n = vsock_recv_borrow(h, &d, &fl);
	CHECK(n == (int)B && fl == 0);
	const struct vsock_rxbuf *held = NULL;
	for (int i = 0; i < TBUFS; i++)
		if (d == tbufs[i].data)
			held = &tbufs[i];
	CHECK(held != NULL);                          /* where the device wrote it */
	for (uint32_t i = 0; i < B; i++)
		if (((const uint8_t *)d)[i] != pat(81, i)) {
			CHECK(!"borrowed bytes differ");
			break;
		}
	CHECK(vsock_recv_release(h, B + 1) == BV_EINVAL);
	CHECK(vsock_recv_release(h, 1000) == 0);
	CHECK(tbufs_held() == 1);                      /* part read: still ours */
	CHECK(vsock_recv_borrow(h, &d, &fl) == (int)(B - 1000) && d == held->data + 1000);
	uint8_t tmp[100];
	uint64_t off = 1000;
	CHECK(app_read_check(h, 81, &off, 100) == 100);   /* the copying call on the same bytes */
	CHECK(vsock_recv_borrow(h, &d, &fl) == (int)(B - 1100));
	CHECK(vsock_recv_release(h, B - 1100) == 0);
	CHECK(tbufs_held() == 0);                      /* all read: back to the device */
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE && logh[0].fwd_cnt == B);

	/* small packets are copied onto the end of the buffer before */
	uint32_t m0 = stats().rx_merged;
	for (int i = 0; i < 10; i++)
		p_send_pattern(&p, 100, 0);
	CHECK(tbufs_held() == 1 && stats().rx_merged == m0 + 9);
	CHECK(vsock_recv_borrow(h, &d, &fl) == 1000);   /* one piece */
	CHECK(vsock_recv_release(h, 1000) == 0 && tbufs_held() == 0);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE);   /* drained */
	(void)tmp;

	/* zero-copy send */
	p.auto_consume = 1;
	p.check_pattern = 1;
	p.seed_in = 82;
	void *w;
	CHECK(vsock_send_commit(h, 10, 0) == BV_EINVAL);   /* nothing reserved */
	int room = vsock_send_reserve(h, 0, &w);
	CHECK(room == TXPKT);
	for (int i = 0; i < 5000; i++)
		((uint8_t *)w)[i] = pat(82, (uint64_t)i);
	/* the reservation survives polls: nothing goes out, nothing is freed */
	CHECK(pump() == 0);
	CHECK(vsock_send_commit(h, 5000, 0) == 5000);
	int room2 = vsock_send_reserve(h, 1, &w);
	CHECK(room2 == TXPKT - 5000 && w != NULL);      /* right behind, same buffer */
	for (int i = 0; i < 3000; i++)
		((uint8_t *)w)[i] = pat(82, 5000 + (uint64_t)i);
	/* the first 5000 bytes leave while the rest is being written */
	CHECK(pump() == 1 && logh[0].len == 5000);
	CHECK(vsock_send_commit(h, 3000, 0) == 3000);
	CHECK(pump() == 1 && logh[0].len == 3000 && p.in_off == 8000);
	CHECK(stats().tx_bufs_free == stats().tx_bufs_total);
	/* a reservation dropped (commit 0, or a fresh reserve) costs nothing */
	CHECK(vsock_send_reserve(h, 1, &w) > 0);
	CHECK(vsock_send_commit(h, 0, 0) == 0);
	CHECK(stats().tx_bufs_free == stats().tx_bufs_total);
	CHECK(vsock_send_reserve(h, TXPKT + 1, &w) == BV_EMSGSIZE);
	/* the whole send buffer reserved and committed buffer by buffer */
	for (int i = 0; i < BV_VSOCK_CONN_TX_BUFS; i++) {
		CHECK(vsock_send_reserve(h, TXPKT, &w) == (int)TXPKT);
		for (uint32_t k = 0; k < TXPKT; k++)
			((uint8_t *)w)[k] = pat(82, p.in_off + (uint64_t)i * TXPKT + k);
		CHECK(vsock_send_commit(h, TXPKT, 0) == (int)TXPKT);
	}
	CHECK(vsock_send_reserve(h, 1, &w) == BV_EAGAIN);
	CHECK(!(vsock_events(h) & VSOCK_EV_WRITABLE));
	pump();
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);   /* what the peer consumed */
	pump();
	CHECK(p.in_off == 8000 + TXBUF);
	CHECK(vsock_events(h) & VSOCK_EV_WRITABLE);
	/* a reserve open at close: the buffer comes back */
	CHECK(vsock_send_reserve(h, 1, &w) > 0);
	CHECK(vsock_close(h) == 0);
	pump();
	CHECK(stats().tx_bufs_free == stats().tx_bufs_total);

	/* SEQPACKET: pieces of one message, EOM/EOR on the last; reserve the
	 * message's length and commit it whole */
	int sl = vsock_listen(1701, VSOCK_SEQPACKET, 0);
	struct peer q;
	peer_init(&q, 6801, 1701, SP);
	q.seed_out = 83;
	int hq = serve(&q, sl);
	p_send_pattern(&q, B - 10, 0);               /* a message across two buffers */
	p_send_pattern(&q, 30, VSOCK_SEQ_EOM | VSOCK_SEQ_EOR);
	CHECK(tbufs_held() == 2);
	CHECK(vsock_recv_msglen(hq) == (int)(B + 20));
	CHECK(vsock_recv_borrow(hq, &d, &fl) == (int)(B - 10) && fl == 0);
	CHECK(vsock_recv_release(hq, B - 10) == 0);
	CHECK(vsock_recv_msglen(hq) == 30);
	CHECK(vsock_recv_borrow(hq, &d, &fl) == 30 && fl == (VSOCK_MSG_EOM | VSOCK_MSG_EOR));
	CHECK(vsock_recv_release(hq, 30) == 0);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_UPDATE);   /* a message read */
	p_pkt(&q, VSOCK_OP_RW, VSOCK_SEQ_EOM, NULL, 0);   /* empty message */
	CHECK(vsock_recv_borrow(hq, &d, &fl) == 0 && fl == VSOCK_MSG_EOM);
	CHECK(vsock_recv_release(hq, 0) == 0);
	CHECK(vsock_recv_borrow(hq, &d, &fl) == BV_EAGAIN);
	q.auto_consume = 1;
	CHECK(vsock_send_reserve(hq, 300000, &w) == BV_EMSGSIZE);
	CHECK(vsock_send_reserve(hq, 700, &w) >= 700);
	memset(w, 'z', 700);
	CHECK(vsock_send_commit(hq, 700, VSOCK_MSG_EOR) == 700);
	pump();   /* the empty message's credit update, then the message */
	CHECK(count_op(VSOCK_OP_RW) == 1 && logh[nlog - 1].len == 700 &&
	      logh[nlog - 1].flags == (VSOCK_SEQ_EOM | VSOCK_SEQ_EOR));
	CHECK(vsock_close(hq) == 0);
	pump();
	CHECK(tbufs_held() == 0 && stats().tx_bufs_free == stats().tx_bufs_total);
}


/* At zero credit with data waiting: one CREDIT_REQUEST, and another each
 * BV_VSOCK_CREDIT_RETRY_MS while the peer's answers grant nothing, so a peer
 * that only answers requests cannot leave the connection stuck. */
static void test_credit_request_retry(void)
{
	reset_engine(0);
	vsock_engine_tick(1);
	struct peer p;
	peer_init(&p, 5510, 0, ST);
	p.buf_alloc = 100;
	int h = dial(&p, 5510);
	static uint8_t d[300];
	CHECK(vsock_send(h, d, sizeof(d)) == 300);
	CHECK(pump() == 2 && logh[0].len == 100 && logh[1].op == VSOCK_OP_CREDIT_REQUEST);
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);   /* says nothing new */
	vsock_engine_tick(1 + BV_VSOCK_CREDIT_RETRY_MS - 1);
	CHECK(nothing_pending());
	vsock_engine_tick(1 + BV_VSOCK_CREDIT_RETRY_MS);
	CHECK(pump() == 1 && logh[0].op == VSOCK_OP_CREDIT_REQUEST);
	p.fwd_cnt = p.rx_cnt;                              /* now it grants */
	p_pkt(&p, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	CHECK(pump() == 2 && logh[0].len == 100 && logh[1].op == VSOCK_OP_CREDIT_REQUEST);
	CHECK(stats().credit_requests_sent == 3);
}

int main(void)
{
	test_malformed();
	test_unknown_flow();
	test_listen_ops();
	test_connecting_ops();
	test_established_ops();
	test_closing_ops();
	test_rst_storm();
	test_credit_request_storm();
	test_receive_only();
	test_send_only();
	test_counter_wrap();
	test_overrun();
	test_transport_reset();
	test_pool_exhaustion();
	test_cycles();
	test_half_close();
	test_seqpacket();
	test_connect_timeout();
	test_listener_close_and_ports();
	test_api_errors();
	test_seqpacket_no_credit_stall();
	test_seqpacket_eor();
	test_backlog_and_own_cid();
	test_feature_types();
	test_rst_queue_full();
	test_zero_copy();
	test_credit_request_retry();
	test_round_robin();
	if (failures) {
		printf("test_vsock_engine: %d of %lu checks FAILED\n", failures, checks);
		return 1;
	}
	printf("test_vsock_engine: all %lu checks passed\n", checks);
	return 0;
}
