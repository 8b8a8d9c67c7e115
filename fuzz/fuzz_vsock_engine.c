/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the vsock protocol engine (vsock/vsock_engine.c) fed an
 * arbitrary interleaving of peer packets (headers and payloads, mostly
 * plausible, sometimes anything) across many flows, socket API calls
 * (listen/connect/accept/send/recv/shutdown/close on live, closed and bogus
 * handles), TX drains with varied buffer sizes, clock ticks and transport
 * resets. After every step it checks, from the outside (what next_tx emits
 * and the stats), and abort()s with a message when one breaks:
 *   - credit: an RW packet never carries more than the peer's
 *     buf_alloc - (tx_cnt - fwd_cnt), taken from the latest well-formed packet
 *     of that flow and type the peer sent, tx_cnt counted from the emitted
 *     RW packets since the connection's REQUEST/RESPONSE;
 *   - pool: conns_in_use <= BV_VSOCK_MAX_CONNS; at the end, once every
 *     connection is accepted and closed and the timers have expired, only
 *     the listeners are left, and nothing once they are closed too;
 *   - an RST from the peer never produces an RST on the same flow (pending
 *     output is drained before such an RST goes in);
 *   - stats counters never go backwards;
 *   - also: emitted packets are sane (op, CID, lengths, tx_pending agrees
 *     with next_tx), an owned handle is never handed out twice, calls on
 *     closed or bogus handles return BV_EBADF, and the bytes of an accepted
 *     connection leave in exactly the order the app wrote them.
 *
 * Input: byte 0, bits 0-2 = the type feature bits the device offers. Then
 * actions, one selector byte each (value % 32), followed by their own bytes:
 *   0-11 packet   13 bytes + payload (see act_packet)
 *   12-13 listen  port(1) type(1)            14-15 connect  cid(1) port(1) type(1)
 *   16-17 accept  handle(1)
 *   18-20 send    handle(1) len(2) [zero-copy: reserve/commit when len bit 15]
 *   21-22 recv    handle(1) len(2) [zero-copy: borrow/release when len bit 15]
 *   23 shutdown   handle(1) how(1)           24 close       handle(1)
 *   25-28 drain   count(1) mode(1) [hold packets, or complete held ones]
 *   29-30 tick    step(1) [+2 for a raw step]  31 misc      what(1) [+...]
 *
 * Build and run: make fuzz-build; build/fuzz/fuzz_vsock_engine fuzz/corpus/fuzz_vsock_engine
 */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bv/config.h"
#include "bv/err.h"
#include "vsock/vsock.h"
#include "vsock/vsock_engine.h"

/* -DFUZZ_TRACE prints every step (to replay a crash by hand). */
#ifdef FUZZ_TRACE
#define TRACE(...) fprintf(stderr, __VA_ARGS__)
#else
#define TRACE(...) do { } while (0)
#endif
#define FAIL(...) do { fprintf(stderr, "fuzz_vsock_engine: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#define ASSERT(c, ...) do { if (!(c)) FAIL(__VA_ARGS__); } while (0)

#define HOST 2u
#define NCONN BV_VSOCK_MAX_CONNS

static uint8_t pat(uint32_t seed, uint64_t off) { return (uint8_t)(off * 131u + seed * 7u + (off >> 9)); }

/* ================================================================ buffers */

/* The RX buffers the harness plays device with: each is ours (free) or
 * the engine's (held). When all are held, packets wait, as a device does. */
#define FZ_RXBUFS 40
static struct vsock_rxbuf rxb[FZ_RXBUFS];
static uint8_t rx_held[FZ_RXBUFS];

static void rx_reclaim(void)
{
	struct vsock_rxbuf *b;
	while ((b = vsock_engine_rx_reclaim()) != NULL) {
		ASSERT(b >= rxb && b < rxb + FZ_RXBUFS, "reclaimed a buffer that is not one of ours");
		ASSERT(rx_held[b - rxb], "buffer %d reclaimed but not held", (int)(b - rxb));
		rx_held[b - rxb] = 0;
	}
}

static struct vsock_rxbuf *rx_take(void)
{
	rx_reclaim();
	for (int i = 0; i < FZ_RXBUFS; i++)
		if (!rx_held[i])
			return &rxb[i];
	return NULL;
}

/* TX packets the device has not completed yet, with a checksum of their
 * payload: the engine must not touch those bytes until tx_done. */
#define FZ_INFLIGHT 96
static struct { uint32_t token, sum, len; const uint8_t *data; } infl[FZ_INFLIGHT];
static unsigned ninfl;

static uint32_t sum32(const uint8_t *p, uint32_t n)
{
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void tx_complete(unsigned k)
{
	ASSERT(sum32(infl[k].data, infl[k].len) == infl[k].sum,
	       "a TX packet's payload changed before the device was done with it");
	vsock_engine_tx_done(infl[k].token);
	infl[k] = infl[--ninfl];
}

static void tx_complete_all(void)
{
	while (ninfl)
		tx_complete(ninfl - 1);
}

/* ================================================================ input */

static const uint8_t *in_p;
static size_t in_n;

static uint8_t rd8(void)
{
	if (!in_n)
		return 0;
	in_n--;
	return *in_p++;
}
static uint16_t rd16(void) { uint16_t lo = rd8(); return (uint16_t)(lo | (uint16_t)rd8() << 8); }

/* ================================================================ harness state */

static uint64_t local_cid;
static uint64_t now;

/* What the harness knows per flow (peer cid, peer port, local port). */
struct flow {
	uint32_t peer_cid, peer_port, local_port;
	uint8_t have[3];            /* per type (1, 2): the peer sent a well-formed packet */
	uint32_t ba[3], fwd[3];     /* ... its latest buf_alloc and fwd_cnt */
	uint32_t tx_cnt;            /* RW bytes the guest emitted in this connection */
	uint32_t peer_rx;           /* the same, as the peer's honest fwd_cnt */
	uint8_t bound;              /* an accepted handle's data: pat(seed, off...) */
	uint32_t seed;
	uint64_t off;
};
#define MAXFLOWS 1024
static struct flow flows[MAXFLOWS];
static unsigned nflows;
static int flows_full;          /* a flow went untracked: skip checks for unknown ones */

static struct flow *flow_get(uint32_t cid, uint32_t pport, uint32_t lport, int create)
{
	for (unsigned i = 0; i < nflows; i++)
		if (flows[i].peer_cid == cid && flows[i].peer_port == pport && flows[i].local_port == lport)
			return &flows[i];
	if (!create)
		return NULL;
	if (nflows == MAXFLOWS) {
		flows_full = 1;
		return NULL;
	}
	struct flow *f = &flows[nflows++];
	memset(f, 0, sizeof(*f));
	f->peer_cid = cid;
	f->peer_port = pport;
	f->local_port = lport;
	return f;
}

/* Handles the app got; closed ones stay listed to try them again. */
enum { K_LISTEN = 1, K_CONN, K_ACCEPTED };
struct hent {
	int h;
	uint8_t kind, live, type;
	uint32_t port;              /* listener: its port */
	uint32_t seed;              /* data the app writes: pat(seed, off...) */
	uint64_t off;
};
#define MAXH 256
static struct hent hs[MAXH];
static unsigned nh;
static uint32_t seed_ctr;

static struct hent *h_add(int h, int kind, int type, uint32_t port)
{
	ASSERT(h >= 0 && h < NCONN, "handle %d out of range", h);
	for (unsigned i = 0; i < nh; i++)
		ASSERT(!(hs[i].live && hs[i].h == h), "handle %d handed out while still owned", h);
	if (nh == MAXH) {
		unsigned k = 0;
		for (unsigned i = 0; i < nh; i++)
			if (hs[i].live)
				hs[k++] = hs[i];
		nh = k;   /* at most NCONN are live */
	}
	struct hent *e = &hs[nh++];
	*e = (struct hent){ .h = h, .kind = (uint8_t)kind, .live = 1, .type = (uint8_t)type,
			    .port = port, .seed = ++seed_ctr, .off = 0 };
	return e;
}

/* A handle to call the API with: a listed one (live, or closed and not
 * reused since), or a bogus number. *e is the entry, or NULL for bogus. */
static int pick_handle(struct hent **e)
{
	static const int bogus[] = { -1, NCONN, NCONN + 7, -100000, 0x7FFFFFFF };
	uint8_t b = rd8();
	*e = NULL;
	if (nh == 0 || b >= 240)
		return bogus[b % 5];
	struct hent *c = &hs[b % nh];
	if (!c->live)
		for (unsigned i = 0; i < nh; i++)
			if (hs[i].live && hs[i].h == c->h)
				return -1;
	*e = c;
	return c->h;
}

static int expect_badf(const struct hent *e) { return !e || !e->live; }

static unsigned live_listeners(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < nh; i++)
		n += hs[i].live && hs[i].kind == K_LISTEN;
	return n;
}

static const uint32_t lports[4] = { 1000, 1001, 1002, 1003 };
static const uint32_t pports[8] = { 5000, 5001, 5002, 5003, 5004, 5005, 5006, 5007 };
static uint32_t learned[8];     /* local ports of our outgoing connections */
static unsigned nlearned;

/* RST watch: the flow of an RST just given to the engine. */
static int watch_on;
static uint32_t watch_cid, watch_pport, watch_lport;

/* ================================================================ output */


static void on_output(const struct vsock_hdr *h, const uint8_t *buf, uint32_t n)
{
	uint16_t op = h->op, type = h->type;
	ASSERT(op >= VSOCK_OP_REQUEST && op <= VSOCK_OP_CREDIT_REQUEST, "emitted op %u", op);
	ASSERT(h->src_cid == local_cid, "emitted src_cid %llu, ours is %llu",
	       (unsigned long long)h->src_cid, (unsigned long long)local_cid);
	ASSERT(h->dst_cid >> 32 == 0, "emitted dst_cid above 32 bits");
	ASSERT(h->len == n, "header len %u, payload %u", h->len, n);
	ASSERT(n <= BV_VSOCK_TX_BUF_SIZE, "payload %u beyond a TX buffer", n);
	ASSERT(op == VSOCK_OP_RW ? n > 0 : n == 0, "op %u with %u bytes", op, n);
	if (op != VSOCK_OP_RST) {
		ASSERT(type == VSOCK_TYPE_STREAM || type == VSOCK_TYPE_SEQPACKET, "op %u of type %u", op, type);
		ASSERT(h->buf_alloc == BV_VSOCK_BUF_ALLOC, "advertised buf_alloc %u", h->buf_alloc);
	}
	uint32_t cid = (uint32_t)h->dst_cid, pport = h->dst_port, lport = h->src_port;
	TRACE("  out op %u type %u %u:%u <- port %u len %u buf_alloc %u fwd_cnt %u flags %u\n", op, type,
	      cid, pport, lport, n, h->buf_alloc, h->fwd_cnt, h->flags);
	if (watch_on && op == VSOCK_OP_RST && cid == watch_cid && pport == watch_pport && lport == watch_lport)
		FAIL("an RST answered the peer's RST on %u:%u -> port %u", cid, pport, lport);

	if (op == VSOCK_OP_REQUEST || op == VSOCK_OP_RESPONSE) {
		/* a new connection on this flow: its byte counters start at 0 */
		struct flow *f = flow_get(cid, pport, lport, 1);
		if (f) {
			f->tx_cnt = f->peer_rx = 0;
			if (op == VSOCK_OP_REQUEST)
				f->bound = 0;   /* ours, not an accepted one */
		}
		if (op == VSOCK_OP_REQUEST) {
			learned[nlearned % 8] = lport;
			nlearned++;
		}
		return;
	}
	if (op != VSOCK_OP_RW)
		return;
	struct flow *f = flow_get(cid, pport, lport, 0);
	if (!f) {
		/* every RW follows a REQUEST/RESPONSE that created the flow */
		ASSERT(flows_full, "RW on %u:%u -> port %u without a handshake", cid, pport, lport);
		return;
	}
	uint32_t credit = f->have[type] ? vsock_peer_free(f->ba[type], f->fwd[type], f->tx_cnt) : 0;
	ASSERT(n <= credit, "RW of %u bytes on %u:%u -> port %u with credit %u (buf_alloc %u fwd_cnt %u tx_cnt %u)",
	       n, cid, pport, lport, credit, f->ba[type], f->fwd[type], f->tx_cnt);
	f->tx_cnt += n;
	f->peer_rx += n;
	if (f->bound) {
		for (uint32_t i = 0; i < n; i++)
			ASSERT(buf[i] == pat(f->seed, f->off + i),
			       "byte %llu on %u:%u -> port %u is not what the app wrote",
			       (unsigned long long)(f->off + i), cid, pport, lport);
		f->off += n;
	}
}

/* One next_tx call; 1 if it produced a packet. hold: the device keeps the
 * packet (completed later) instead of completing it at once. */
static int drain_one(int hold)
{
	struct vsock_hdr h;
	struct vsock_txpkt pkt;
	int pend = vsock_engine_tx_pending();
	int r = vsock_engine_next_tx(&h, &pkt);
	if (r == BV_EAGAIN) {
		ASSERT(!pend, "tx_pending announced a packet next_tx did not produce");
		return 0;
	}
	ASSERT(r >= 0 && (uint32_t)r == pkt.len, "next_tx returned %d for %u bytes", r, pkt.len);
	ASSERT(pend, "next_tx produced a packet tx_pending did not announce");
	ASSERT(pkt.len == 0 || pkt.data, "payload without a place");
	on_output(&h, pkt.data, pkt.len);
	if (hold && ninfl < FZ_INFLIGHT) {
		infl[ninfl].token = pkt.token;
		infl[ninfl].data = pkt.data;
		infl[ninfl].len = pkt.len;
		infl[ninfl].sum = sum32(pkt.data, pkt.len);
		ninfl++;
	} else {
		vsock_engine_tx_done(pkt.token);
	}
	return 1;
}

static void drain_all(void)
{
	unsigned k = 0;
	while (drain_one(0))
		ASSERT(++k < 1000000, "next_tx never runs dry");
}

/* ================================================================ stats */

static struct vsock_stats prev;

static void check_stats(void)
{
	struct vsock_stats s;
	rx_reclaim();   /* first: the engine counts buffers waiting for reclaim as held */
	vsock_engine_stats(&s);
	ASSERT(s.conns_in_use <= NCONN, "conns_in_use %u", s.conns_in_use);
	ASSERT(s.conns_in_use <= s.conns_peak, "conns_in_use %u above peak %u", s.conns_in_use, s.conns_peak);
#define MONO(x) ASSERT(s.x >= prev.x, #x " went back from %llu to %llu", \
		       (unsigned long long)prev.x, (unsigned long long)s.x)
	MONO(conns_peak);
	MONO(conns_refused_full);
	MONO(rx_pkts);
	MONO(tx_pkts);
	MONO(rx_dropped_malformed);
	MONO(rx_dropped_badcid);
	MONO(rx_unknown_op);
	MONO(rst_sent);
	MONO(rst_rcvd);
	MONO(credit_updates_sent);
	MONO(credit_requests_sent);
	MONO(rx_bytes);
	MONO(tx_bytes);
	MONO(conns_refused_backlog);
	MONO(rx_dropped_own_cid);
	MONO(rx_overflow);
	MONO(rx_merged);
	MONO(rst_dropped);
	MONO(tx_bad_token);
#undef MONO
	/* the engine's view of the buffers agrees with the harness's */
	unsigned held = 0;
	for (int i = 0; i < FZ_RXBUFS; i++)
		held += rx_held[i];
	ASSERT(s.rx_bufs_held == held, "engine holds %u RX buffers, harness counts %u", s.rx_bufs_held, held);
	ASSERT(s.tx_bufs_free <= s.tx_bufs_total, "TX buffers %u free of %u", s.tx_bufs_free, s.tx_bufs_total);
	prev = s;
}

/* ================================================================ actions */


/* A packet from the peer. Bytes: src cid, peer port, local port, dst cid,
 * type, op, flags, buf_alloc, fwd_cnt, len (2), payload length, payload
 * source; then the payload itself from the input (zeros once it runs out). */
static void act_packet(void)
{
	uint8_t b;
	uint64_t src;
	b = rd8();
	switch (b % 16) {
	case 12: src = local_cid; break;
	case 13: src = VSOCK_CID_HYPERVISOR; break;
	case 14: src = (1ull << 32) | HOST; break;
	case 15: src = b; break;
	default: src = HOST; break;
	}
	b = rd8();
	uint32_t pport = b >= 248 ? 0xFFFFFFF0u + (b & 7) : pports[b % 8];
	b = rd8();
	uint32_t lport;
	if (b % 16 < 4 || (b % 16 < 12 && !nlearned))
		lport = lports[b % 4];
	else if (b % 16 < 12)
		lport = learned[(b >> 4) % (nlearned < 8 ? nlearned : 8)];
	else
		lport = b % 16 == 15 ? VSOCK_PORT_ANY : 2000u + b;
	b = rd8();
	uint64_t dst = local_cid;
	if (b >= 240) {
		static const uint64_t other[4] = { 4, 0xFFFFFFFFull, 1ull << 32, VSOCK_CID_HOST };
		dst = b & 4 ? other[b & 3] : local_cid | (1ull << 32);
	}
	b = rd8();
	uint16_t type = b < 120 ? VSOCK_TYPE_STREAM : b < 240 ? VSOCK_TYPE_SEQPACKET : (uint16_t)(b & 15);
	b = rd8();
	uint16_t op = b < 224 ? (uint16_t)(1 + b % 7) : b < 240 ? VSOCK_OP_INVALID : (uint16_t)(b * 257u);
	b = rd8();
	uint32_t flags = b < 128 ? (uint32_t)(b & 3) : b < 250 ? (uint32_t)(b & 15) : 0xFFFFFFFFu;
	b = rd8();
	static const uint32_t bas[8] = { 262144, 262144, 16384, 65536, 0, 1, 4096, 0xFFFFFFFFu };
	uint32_t ba = bas[b % 8];
	if (b >= 248)
		ba = (uint32_t)b << 24 | b;
	struct flow *known = src >> 32 ? NULL : flow_get((uint32_t)src, pport, lport, 0);
	uint32_t honest = known ? known->peer_rx : 0;
	b = rd8();
	uint32_t fwd;
	switch (b % 8) {
	case 4: fwd = honest - (b >> 3); break;           /* behind: stale */
	case 5: fwd = honest + (b >> 3); break;           /* ahead of what we sent */
	case 6: fwd = honest + 0x80000000u; break;        /* wildly ahead */
	case 7: fwd = (uint32_t)b * 0x01010101u; break;
	default: fwd = honest; break;
	}
	uint32_t len = rd16();
	if (len > 8192 && len < 0xF000)
		len %= 8192;                                      /* mostly plausible sizes */
	else if (len >= 0xF000)
		len = BV_VSOCK_RX_BUF_SIZE - 0xF000 + len;        /* around the buffer's end */
	b = rd8();
	uint32_t plen = len;
	if (b >= 240)
		plen = b & 1 ? len - 1 : len + (b & 14);
	if (plen > BV_VSOCK_RX_BUF_SIZE)
		plen = BV_VSOCK_RX_BUF_SIZE;   /* the device writes no more than the buffer */
	struct vsock_rxbuf *rb = rx_take();
	if (!rb) {
		/* every buffer holds unread data: the device waits, as it would */
		drain_all();
		return;
	}
	b = rd8();
	/* payload: from the input, or a fill when the input is short or b says so */
	uint32_t take = (b & 2) ? 0 : (uint32_t)(plen < in_n ? plen : in_n);
	memcpy(rb->data, in_p, take);
	in_p += take;
	in_n -= take;
	memset(rb->data + take, (int)(b >> 2), plen - take);

	struct vsock_hdr h;
	memset(&h, 0, sizeof(h));
	h.src_cid = src;
	h.dst_cid = dst;
	h.src_port = pport;
	h.dst_port = lport;
	h.len = len;
	h.type = type;
	h.op = op;
	h.flags = flags;
	h.buf_alloc = ba;
	h.fwd_cnt = fwd;

	/* The engine takes buf_alloc/fwd_cnt from every packet that gets past
	 * its header checks onto a connection of that type; a connection's
	 * credit view is therefore the latest such packet of its type. */
	int well = len <= plen && len <= BV_VSOCK_RX_BUF_SIZE && !(src >> 32) &&
		   dst == local_cid && (type == VSOCK_TYPE_STREAM || type == VSOCK_TYPE_SEQPACKET);
	int rst = op == VSOCK_OP_RST;
	if (rst) {
		drain_all();   /* nothing owed before: any RST after is an answer */
		watch_on = 1;
		watch_cid = (uint32_t)src;
		watch_pport = pport;
		watch_lport = lport;
	}
	if (well) {
		struct flow *f = flow_get((uint32_t)src, pport, lport, 1);
		if (f) {
			f->have[type] = 1;
			f->ba[type] = ba;
			f->fwd[type] = fwd;
		}
	}
	TRACE("in op %u type %u %llu:%u -> %llu:%u len %u (%u there) flags %u buf_alloc %u fwd_cnt %u%s\n",
	      op, type, (unsigned long long)src, pport, (unsigned long long)dst, lport, len, plen, flags, ba, fwd,
	      well ? "" : " (not well-formed)");
	rb->hdr = h;
	int kept = vsock_engine_rx(rb, plen);
	ASSERT(kept == 0 || kept == 1, "rx returned %d", kept);
	rx_held[rb - rxb] = (uint8_t)kept;
	rx_reclaim();
	if (rst) {
		drain_all();
		watch_on = 0;
	}
}

static int pick_type(uint8_t b) { return b % 4 == 3 ? (int)(b >> 2) : (int)(b % 3); }

static void act_listen(void)
{
	uint8_t pb = rd8(), tb = rd8();
	uint32_t port = pb < 240 ? lports[pb % 4] : pb < 248 ? VSOCK_PORT_ANY : 3000u + pb;
	int type = pick_type(tb);
	int r = vsock_listen(port, type, 0);
	TRACE("listen(%u, %d) = %d\n", port, type, r);
	if (r >= 0)
		h_add(r, K_LISTEN, type, port);
	else
		ASSERT(r == BV_EINVAL || r == BV_EADDRINUSE || r == BV_ENOBUFS || r == BV_ENOTSUP,
		       "listen returned %d", r);
}

static void act_connect(void)
{
	uint8_t cb = rd8(), pb = rd8(), tb = rd8();
	static const uint32_t cids[8] = { HOST, HOST, HOST, HOST, HOST, 7, VSOCK_CID_ANY, 0 };
	uint32_t cid = cb < 248 ? cids[cb % 8] : (uint32_t)local_cid;
	uint32_t port = pb < 248 ? pports[pb % 8] : VSOCK_PORT_ANY;
	int type = pick_type(tb);
	int r = vsock_connect(cid, port, type);
	TRACE("connect(%u, %u, %d) = %d\n", cid, port, type, r);
	if (r >= 0)
		h_add(r, K_CONN, type, 0);
	else
		ASSERT(r == BV_EINVAL || r == BV_ENOBUFS || r == BV_ENOTSUP, "connect returned %d", r);
}

static void act_accept(void)
{
	struct hent *e;
	int h = pick_handle(&e);
	uint32_t cid = 0, port = 0;
	int r = vsock_accept(h, &cid, &port);
	TRACE("accept(%d) = %d (%u:%u)\n", h, r, cid, port);
	if (expect_badf(e)) {
		ASSERT(r == BV_EBADF, "accept on a dead handle returned %d", r);
		return;
	}
	if (r < 0) {
		ASSERT(r == BV_EAGAIN || r == BV_EINVAL, "accept returned %d", r);
		ASSERT((r == BV_EINVAL) == (e->kind != K_LISTEN), "accept: %d on a handle of kind %u", r, e->kind);
		return;
	}
	ASSERT(e->kind == K_LISTEN, "accept on a non-listener returned %d", r);
	uint32_t lport = e->port;
	struct hent *c = h_add(r, K_ACCEPTED, e->type, 0);
	struct flow *f = flow_get(cid, port, lport, 1);
	if (f) {
		f->bound = 1;
		f->seed = c->seed;
		f->off = 0;
	}
}

static uint8_t sbuf[20000], rbuf[20000];

static void act_send(void)
{
	struct hent *e;
	int h = pick_handle(&e);
	uint16_t l = rd16();
	uint32_t n = (l & 0x7FFF) % sizeof(sbuf);
	int r;
	if (l & 0x8000) {
		/* zero-copy: reserve, write the pattern in place, commit */
		void *w = NULL;
		int room = vsock_send_reserve(h, n, &w);
		TRACE("send_reserve(%d, %u) = %d\n", h, n, room);
		if (expect_badf(e)) {
			ASSERT(room == BV_EBADF, "send_reserve on a dead handle returned %d", room);
			return;
		}
		if (room <= 0) {
			ASSERT(room < 0, "send_reserve gave no room without an error");
			ASSERT(vsock_send_commit(h, 1, 0) == BV_EINVAL || room != BV_EAGAIN,
			       "commit without a reserve accepted");
			return;
		}
		ASSERT((uint32_t)room >= (n ? n : 1) && w, "send_reserve room %d for %u", room, n);
		uint32_t m = n < (uint32_t)room ? n : (uint32_t)room;
		for (uint32_t i = 0; i < m; i++)
			((uint8_t *)w)[i] = pat(e->seed, e->off + i);
		r = vsock_send_commit(h, m, l & 0x4000 ? VSOCK_MSG_EOR : 0);
		TRACE("send_commit(%d, %u) = %d\n", h, m, r);
		ASSERT(r == (int)m || r < 0, "commit of %u returned %d", m, r);
	} else {
		if (e)
			for (uint32_t i = 0; i < n; i++)
				sbuf[i] = pat(e->seed, e->off + i);
		r = vsock_send(h, sbuf, n);
		TRACE("send(%d, %u) = %d\n", h, n, r);
		if (expect_badf(e)) {
			ASSERT(r == BV_EBADF, "send on a dead handle returned %d", r);
			return;
		}
		ASSERT(r <= (int)n, "send of %u returned %d", n, r);
	}
	if (r > 0)
		e->off += (uint32_t)r;
}

static void act_recv(void)
{
	struct hent *e;
	int h = pick_handle(&e);
	uint16_t l = rd16();
	uint32_t n = (l & 0x7FFF) % sizeof(rbuf);
	int r;
	if (l & 0x8000) {
		/* zero-copy: borrow, release part of it */
		const void *d = NULL;
		uint32_t fl = 77;
		r = vsock_recv_borrow(h, &d, &fl);
		TRACE("recv_borrow(%d) = %d flags %u\n", h, r, fl);
		if (expect_badf(e)) {
			ASSERT(r == BV_EBADF, "recv_borrow on a dead handle returned %d", r);
			return;
		}
		ASSERT(fl == 0 || r >= 0, "flags %u with result %d", fl, r);
		if (r > 0) {
			ASSERT(d != NULL, "borrowed %d bytes at NULL", r);
			volatile uint8_t sink = 0;
			for (int i = 0; i < r; i++)
				sink ^= ((const uint8_t *)d)[i];   /* readable, all of it */
			(void)sink;
			uint32_t m = n % ((uint32_t)r + 1);
			ASSERT(vsock_recv_release(h, (uint32_t)r + 1) == BV_EINVAL, "released more than borrowed");
			ASSERT(vsock_recv_release(h, m) == 0, "release of %u of %d failed", m, r);
		}
		return;
	}
	r = vsock_recv(h, n ? rbuf : NULL, n);
	TRACE("recv(%d, %u) = %d\n", h, n, r);
	if (expect_badf(e))
		ASSERT(r == BV_EBADF, "recv on a dead handle returned %d", r);
	else
		ASSERT(r <= (int)n, "recv of %u returned %d", n, r);
}

static void act_shutdown(void)
{
	struct hent *e;
	int h = pick_handle(&e);
	int how = rd8() % 5;
	int r = vsock_shutdown(h, how);
	TRACE("shutdown(%d, %d) = %d\n", h, how, r);
	if (expect_badf(e))
		ASSERT(r == BV_EBADF, "shutdown on a dead handle returned %d", r);
	else if (how == 0 || how == 4)
		ASSERT(r == BV_EINVAL, "shutdown how=%d returned %d", how, r);
}

static void act_close(void)
{
	struct hent *e;
	int h = pick_handle(&e);
	int r = vsock_close(h);
	TRACE("close(%d) = %d\n", h, r);
	if (expect_badf(e)) {
		ASSERT(r == BV_EBADF, "close of a dead handle returned %d", r);
		return;
	}
	ASSERT(r == 0, "close returned %d", r);
	e->live = 0;
}

static void act_drain(void)
{
	uint8_t cb = rd8(), mode = rd8();
	unsigned count = cb >= 224 ? 1000000 : 1u + (cb & 31);
	TRACE("drain %u mode %u\n", count, mode);
	switch (mode % 4) {
	case 0:
	case 1:   /* the device takes packets and completes them at once */
		for (unsigned k = 0; k < count; k++)
			if (!drain_one(0))
				break;
		break;
	case 2:   /* ... or sits on them */
		for (unsigned k = 0; k < count; k++)
			if (!drain_one(1))
				break;
		break;
	default:  /* completes some it held, in any order; sometimes a bogus token */
		for (unsigned k = 0; k < count && ninfl; k++)
			tx_complete((mode >> 2) % ninfl);
		if (mode >= 240) {
			/* a token no packet ever had (the glue only passes its own) */
			struct vsock_stats s0, s1;
			vsock_engine_stats(&s0);
			vsock_engine_tx_done(BV_VSOCK_TX_BUFS + 1u + mode);
			vsock_engine_stats(&s1);
			ASSERT(s1.tx_bad_token == s0.tx_bad_token + 1, "a bogus tx_done was not counted");
		}
		break;
	}
}

static void advance(uint64_t dt)
{
	now += dt;
	TRACE("tick %llu\n", (unsigned long long)now);
	vsock_engine_tick(now);
	ASSERT(vsock_engine_now_ms() == now, "clock reads %llu, ticked %llu",
	       (unsigned long long)vsock_engine_now_ms(), (unsigned long long)now);
}

static void act_tick(void)
{
	uint8_t b = rd8();
	static const uint32_t steps[8] = { 0, 1, 10, 100, 999, BV_VSOCK_CONNECT_TIMEOUT_MS,
					   BV_VSOCK_CLOSE_TIMEOUT_MS, BV_VSOCK_CLOSE_TIMEOUT_MS + 1 };
	advance(b < 240 ? steps[b % 8] : rd16());
}

static void act_misc(void)
{
	uint8_t b = rd8();
	switch (b % 4) {
	case 0: {   /* transport reset, maybe to a new CID */
		static const uint64_t cids[4] = { 3, 4, 42, 0xFFFFFFFFull };
		uint64_t cid = b & 16 ? cids[(b >> 2) & 3] : local_cid;
		TRACE("transport reset, cid %llu\n", (unsigned long long)cid);
		vsock_engine_transport_reset(cid);
		local_cid = cid;
		ASSERT(vsock_local_cid() == cid, "local cid not updated by the reset");
		break;
	}
	case 1: {   /* readiness and error of a handle */
		struct hent *e;
		int h = pick_handle(&e);
		int ev = vsock_events(h), err = vsock_error(h);
		if (expect_badf(e))
			ASSERT(ev == BV_EBADF && err == BV_EBADF, "events/error of a dead handle: %d %d", ev, err);
		else
			ASSERT(ev >= 0 && ev < 64 && err <= 0, "events %d error %d", ev, err);
		break;
	}
	case 2:     /* no buffer at all */
		ASSERT(vsock_engine_rx(NULL, 0) == 0, "rx of NULL kept it");
		break;
	default:    /* a full drain */
		drain_all();
		break;
	}
}

/* ================================================================ the end */

/* Accept what waits, close everything, let the timers run out: only the
 * listeners may remain, and nothing once they are closed too. */
static void wind_down(void)
{
	for (unsigned i = 0; i < nh; i++) {
		if (!hs[i].live || hs[i].kind != K_LISTEN)
			continue;
		int r;
		while ((r = vsock_accept(hs[i].h, NULL, NULL)) >= 0)
			ASSERT(vsock_close(r) == 0, "close of a fresh accept failed");
		ASSERT(r == BV_EAGAIN, "accept returned %d", r);
	}
	for (unsigned i = 0; i < nh; i++)
		if (hs[i].live && hs[i].kind != K_LISTEN) {
			ASSERT(vsock_close(hs[i].h) == 0, "close of handle %d failed", hs[i].h);
			hs[i].live = 0;
		}
	check_stats();
	drain_all();
	advance(1);   /* timers armed before the first tick start now */
	drain_all();
	advance(BV_VSOCK_CLOSE_TIMEOUT_MS + BV_VSOCK_CONNECT_TIMEOUT_MS + 2);
	drain_all();
	check_stats();
	ASSERT(prev.conns_in_use == live_listeners(), "%u pool entries in use after everything closed, %u listeners",
	       prev.conns_in_use, live_listeners());
	for (unsigned i = 0; i < nh; i++)
		if (hs[i].live) {
			ASSERT(vsock_close(hs[i].h) == 0, "close of listener %d failed", hs[i].h);
			hs[i].live = 0;
		}
	drain_all();
	tx_complete_all();
	check_stats();
	ASSERT(prev.conns_in_use == 0, "%u pool entries in use with nothing open", prev.conns_in_use);
	ASSERT(!vsock_engine_tx_pending(), "still something to send with nothing open");
	rx_reclaim();
	for (int i = 0; i < FZ_RXBUFS; i++)
		ASSERT(!rx_held[i], "RX buffer %d never came back", i);
	ASSERT(prev.rx_bufs_held == 0, "the engine says it holds %u RX buffers", prev.rx_bufs_held);
	ASSERT(prev.tx_bufs_free == prev.tx_bufs_total, "%u of %u TX buffers free with nothing open",
	       prev.tx_bufs_free, prev.tx_bufs_total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	in_p = data;
	in_n = size;
	nflows = 0;
	flows_full = 0;
	nh = 0;
	seed_ctr = 0;
	nlearned = 0;
	watch_on = 0;
	now = 0;
	local_cid = 3;
	ninfl = 0;
	memset(rx_held, 0, sizeof(rx_held));
	/* Any combination of the three type feature bits a device may offer. */
	vsock_engine_init(local_cid, rd8() & 7u);
	vsock_engine_stats(&prev);

	for (unsigned steps = 0; in_n && steps < 4096; steps++) {
		uint8_t a = rd8() % 32;
		if (a < 12)
			act_packet();
		else if (a < 14)
			act_listen();
		else if (a < 16)
			act_connect();
		else if (a < 18)
			act_accept();
		else if (a < 21)
			act_send();
		else if (a < 23)
			act_recv();
		else if (a < 24)
			act_shutdown();
		else if (a < 25)
			act_close();
		else if (a < 29)
			act_drain();
		else if (a < 31)
			act_tick();
		else
			act_misc();
		check_stats();
	}
	wind_down();
	return 0;
}
