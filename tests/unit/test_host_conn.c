/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the back end's connection engine (host/conn.c, ring.c, uds.c), with a fake
 * guest driving the TX/RX rings and real Unix sockets in a temp directory:
 * connect/refuse both ways, credit in both directions, half-close, SEQPACKET
 * boundaries, RX splitting, and hostile packets that must not disturb others;
 * the --pcap hooks and the stall log. */
#define _GNU_SOURCE
#define CHECK_MAIN
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/ring.h"
#include "host/uds.h"
#include "tests/unit/test_host_fakeguest.h"

#define CID 3
static struct fg g;
static struct fg_ring rx, tx;
static struct vhu_dev d;
static struct bvh_engine e;
static int epfd;
static char dir[40], uds[64];
static uint64_t rx_gpa[256][2];   /* per RX head: the gpas of its (up to 2) descriptors */
static uint32_t rx_len[256][2];
static int rx_ndesc[256];

static void pump(int rounds)
{
	for (int r = 0; r < rounds; r++) {
		struct epoll_event ev[16];
		int n = epoll_wait(epfd, ev, 16, r ? 5 : 0);
		for (int i = 0; i < n; i++)
			bvh_event(&e, ev[i].data.u64, ev[i].events);
		bvh_pump(&e);
		bvh_timers(&e);
		bvh_pump(&e);
	}
}

static struct vsock_hdr hdr(uint16_t op, uint32_t src_port, uint32_t dst_port, uint32_t len)
{
	struct vsock_hdr h = { .src_cid = CID, .dst_cid = VSOCK_CID_HOST, .src_port = src_port, .dst_port = dst_port,
			       .len = len, .type = VSOCK_TYPE_STREAM, .op = op, .buf_alloc = 4096 };
	return h;
}

/* Post one read-only TX buffer holding header + payload. */
static void tx_send(const struct vsock_hdr *h, const void *payload, uint32_t len)
{
	uint32_t total = VSOCK_HDR_SIZE + len;
	uint64_t gpa;
	fg_post(&g, &tx, 1, &total, 0, &gpa);
	memcpy(fg_ptr(&g, gpa), h, VSOCK_HDR_SIZE);
	if (len)
		memcpy((uint8_t *)fg_ptr(&g, gpa) + VSOCK_HDR_SIZE, payload, len);
}

static void rx_post(int n, uint32_t len0, uint32_t len1)
{
	for (int i = 0; i < n; i++) {
		uint32_t lens[2] = { len0, len1 };
		uint64_t gpas[2];
		int nd = len1 ? 2 : 1;
		uint16_t head = fg_post(&g, &rx, nd, lens, VRING_DESC_F_WRITE, gpas);
		memcpy(rx_gpa[head], gpas, sizeof(gpas));
		memcpy(rx_len[head], lens, sizeof(lens));
		rx_ndesc[head] = nd;
	}
}

/* Next packet the device put in RX; returns payload length or -1 if none. */
static int rx_get(struct vsock_hdr *h, uint8_t *payload)
{
	uint32_t id, len;
	if (!fg_used(&rx, &id, &len))
		return -1;
	uint8_t flat[8192];
	uint32_t off = 0;
	for (int k = 0; k < rx_ndesc[id]; k++) {
		memcpy(flat + off, fg_ptr(&g, rx_gpa[id][k]), rx_len[id][k]);
		off += rx_len[id][k];
	}
	if (len < VSOCK_HDR_SIZE)
		return -2;
	memcpy(h, flat, VSOCK_HDR_SIZE);
	CHECK_EQ(h->len, len - VSOCK_HDR_SIZE);
	CHECK_EQ(h->src_cid, VSOCK_CID_HOST);
	CHECK_EQ(h->dst_cid, CID);
	if (payload)
		memcpy(payload, flat + VSOCK_HDR_SIZE, h->len);
	return (int)h->len;
}

static int tx_returned(void)
{
	uint32_t id, len;
	int n = 0;
	while (fg_used(&tx, &id, &len))
		n++;
	return n;
}

static int listen_at(uint32_t port, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", uds, port);
	int s = socket(AF_UNIX, type, 0);
	CHECK(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(s, 4) == 0);
	return s;
}

static int host_client(const char *line)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(write(s, line, strlen(line)) == (ssize_t)strlen(line));
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

/* Fresh RX ring (as after a device reset): no leftover buffers from earlier tests. */
static void rx_reset(void)
{
	fg_ring_init(&g, &rx, 256);
	fg_attach(&rx, &d.vq[VSOCK_VQ_RX].q);
}

static void drain_rx(void)
{
	struct vsock_hdr h;
	while (rx.used->idx != rx.used_seen)
		rx_get(&h, NULL);
}

static void test_refusals_and_hostile_packets(void)
{
	struct vsock_hdr h, r;
	/* bad RX buffers first (too small, read-only): they go back with len 0 */
	uint32_t small = 10, ro = 100;
	fg_post(&g, &rx, 1, &small, VRING_DESC_F_WRITE, NULL);
	fg_post(&g, &rx, 1, &ro, 0, NULL);
	rx_post(16, VSOCK_HDR_SIZE + 4096, 0);

	/* REQUEST to a port nobody listens on: RST with the ports swapped */
	h = hdr(VSOCK_OP_REQUEST, 1000, 50, 0);
	tx_send(&h, NULL, 0);
	pump(1);
	CHECK_EQ(e.st.bad[BVH_BAD_SHORT], 1);
	CHECK_EQ(e.st.bad[BVH_BAD_CHAIN], 1);
	CHECK_EQ(rx_get(&r, NULL), -2);
	CHECK_EQ(rx_get(&r, NULL), -2);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_RST);
	CHECK_EQ(r.src_port, 50);
	CHECK_EQ(r.dst_port, 1000);
	CHECK_EQ(tx_returned(), 1);
	CHECK_EQ(e.st.refused_guest, 1);

	/* wrong src_cid: dropped, counted, descriptor returned, no reply */
	h = hdr(VSOCK_OP_REQUEST, 1000, 50, 0);
	h.src_cid = 9;
	tx_send(&h, NULL, 0);
	pump(1);
	CHECK_EQ(rx_get(&r, NULL), -1);
	CHECK_EQ(tx_returned(), 1);
	CHECK_EQ(e.st.bad[BVH_BAD_SRC_CID], 1);

	/* dst_cid not the host: RST */
	h = hdr(VSOCK_OP_REQUEST, 1000, 50, 0);
	h.dst_cid = 7;
	tx_send(&h, NULL, 0);
	pump(1);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_RST);
	CHECK_EQ(e.st.bad[BVH_BAD_DST_CID], 1);
	CHECK_EQ(tx_returned(), 1);

	/* hdr.len larger than the buffer */
	h = hdr(VSOCK_OP_RW, 1000, 50, 100);
	tx_send(&h, "0123456789", 10);
	pump(1);
	CHECK_EQ(tx_returned(), 1);
	CHECK_EQ(e.st.bad[BVH_BAD_LEN], 1);

	/* bad type, bad op: RST; an RST for an unknown flow is never answered */
	h = hdr(VSOCK_OP_REQUEST, 1000, 50, 0);
	h.type = 3;
	tx_send(&h, NULL, 0);
	h = hdr(99, 1000, 50, 0);
	tx_send(&h, NULL, 0);
	h = hdr(VSOCK_OP_RST, 1000, 50, 0);
	tx_send(&h, NULL, 0);
	h = hdr(VSOCK_OP_RW, 1000, 51, 3);       /* unknown flow */
	tx_send(&h, "abc", 3);
	pump(1);
	CHECK_EQ(tx_returned(), 4);
	int rsts = 0;
	while (rx_get(&r, NULL) >= 0)
		rsts += r.op == VSOCK_OP_RST;
	CHECK_EQ(rsts, 3);
	CHECK_EQ(e.st.bad[BVH_BAD_TYPE], 1);
	CHECK_EQ(e.st.bad[BVH_BAD_OP], 1);

	/* a looping TX chain and one pointing outside guest RAM are returned;
	 * the packet behind them is still served */
	uint64_t buf = fg_alloc(&g, 64, 8);
	uint16_t a = tx.next_desc, b2 = (uint16_t)((a + 1) % tx.num);
	fg_desc(&tx, a, buf, 44, VRING_DESC_F_NEXT, b2);
	fg_desc(&tx, b2, buf, 44, VRING_DESC_F_NEXT, a);
	tx.next_desc = (uint16_t)((a + 2) % tx.num);
	fg_publish(&tx, a);
	uint16_t c = tx.next_desc;
	fg_desc(&tx, c, 0xdead0000ull, 44, 0, 0);
	tx.next_desc = (uint16_t)((c + 1) % tx.num);
	fg_publish(&tx, c);
	h = hdr(VSOCK_OP_REQUEST, 1001, 50, 0);
	tx_send(&h, NULL, 0);
	pump(1);
	CHECK_EQ(tx_returned(), 3);
	CHECK_EQ(e.st.bad[BVH_BAD_CHAIN], 3);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_RST);
	CHECK_EQ(r.dst_port, 1001);

	drain_rx();
}

static void test_guest_to_host_stream(void)
{
	struct vsock_hdr h, r;
	uint8_t buf[8192];
	rx_post(32, VSOCK_HDR_SIZE + 4096, 0);
	int ls = listen_at(60, SOCK_STREAM);
	h = hdr(VSOCK_OP_REQUEST, 2000, 60, 0);
	h.buf_alloc = 64;                          /* tiny guest buffer: credit matters */
	tx_send(&h, NULL, 0);
	pump(2);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_RESPONSE);
	CHECK_EQ(r.buf_alloc, 1024);
	int s = accept(ls, NULL, NULL);
	CHECK(s >= 0);

	/* guest -> host data */
	h = hdr(VSOCK_OP_RW, 2000, 60, 5);
	tx_send(&h, "hello", 5);
	pump(2);
	CHECK_EQ(recv(s, buf, sizeof(buf), MSG_DONTWAIT), 5);
	CHECK(!memcmp(buf, "hello", 5));
	/* CREDIT_REQUEST is answered with our fwd_cnt */
	h = hdr(VSOCK_OP_CREDIT_REQUEST, 2000, 60, 0);
	h.buf_alloc = 64;
	tx_send(&h, NULL, 0);
	pump(2);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_CREDIT_UPDATE);
	CHECK_EQ(r.fwd_cnt, 5);

	/* host -> guest: never beyond the guest's 64-byte credit */
	uint8_t big[100];
	for (int i = 0; i < 100; i++)
		big[i] = (uint8_t)i;
	CHECK(write(s, big, 100) == 100);
	pump(3);
	int got = 0, n;
	while ((n = rx_get(&r, buf + got)) >= 0) {
		if (r.op == VSOCK_OP_RW)
			got += n;
	}
	CHECK_EQ(got, 64);
	h = hdr(VSOCK_OP_CREDIT_UPDATE, 2000, 60, 0);
	h.buf_alloc = 64;
	h.fwd_cnt = 64;                            /* the guest consumed it all */
	tx_send(&h, NULL, 0);
	pump(3);
	while ((n = rx_get(&r, buf + got)) >= 0) {
		if (r.op == VSOCK_OP_RW)
			got += n;
	}
	CHECK_EQ(got, 100);
	CHECK(!memcmp(buf, big, 100));

	/* more than the credit we granted (1024): the connection is reset */
	int ls2 = listen_at(62, SOCK_STREAM);
	h = hdr(VSOCK_OP_REQUEST, 2001, 62, 0);
	tx_send(&h, NULL, 0);
	pump(2);
	int s2 = accept(ls2, NULL, NULL);
	drain_rx();
	static uint8_t blob[2000];
	h = hdr(VSOCK_OP_RW, 2001, 62, 1500);
	tx_send(&h, blob, 1500);
	pump(2);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_RST);
	CHECK_EQ(e.st.bad[BVH_BAD_CREDIT], 1);
	CHECK_EQ(recv(s2, buf, sizeof(buf), 0), 0);   /* Unix side closed */
	close(s2);
	close(ls2);

	/* half-close: guest SHUTDOWN(SEND) -> EOF on the Unix side, host still sends */
	h = hdr(VSOCK_OP_SHUTDOWN, 2000, 60, 0);
	h.flags = VSOCK_SHUTDOWN_SEND;
	h.buf_alloc = 64;
	h.fwd_cnt = 100;
	tx_send(&h, NULL, 0);
	pump(2);
	CHECK_EQ(recv(s, buf, sizeof(buf), MSG_DONTWAIT), 0);
	CHECK(write(s, "late", 4) == 4);
	pump(2);
	CHECK_EQ(rx_get(&r, buf), 4);
	CHECK_EQ(r.op, VSOCK_OP_RW);
	/* host shuts its side too: SHUTDOWN(SEND), then RST ends the connection */
	shutdown(s, SHUT_WR);
	pump(3);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_SHUTDOWN);
	CHECK_EQ(r.flags, VSOCK_SHUTDOWN_SEND);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_RST);
	CHECK_EQ(e.nactive, 0);
	close(s);
	close(ls);
}

static void test_seqpacket_and_rx_split(void)
{
	struct vsock_hdr h, r;
	uint8_t buf[8192];
	rx_reset();
	int ls = listen_at(61, SOCK_SEQPACKET);
	h = hdr(VSOCK_OP_REQUEST, 3000, 61, 0);
	h.type = VSOCK_TYPE_SEQPACKET;
	rx_post(1, VSOCK_HDR_SIZE + 4096, 0);   /* just for the RESPONSE */
	tx_send(&h, NULL, 0);
	pump(2);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_RESPONSE);
	CHECK_EQ(r.type, VSOCK_TYPE_SEQPACKET);
	int s = accept(ls, NULL, NULL);
	h = hdr(VSOCK_OP_RW, 3000, 61, 2);
	h.type = VSOCK_TYPE_SEQPACKET;
	tx_send(&h, "ab", 2);
	h.flags = VSOCK_SEQ_EOM;
	tx_send(&h, "cd", 2);
	h.len = 1;
	tx_send(&h, "e", 1);
	pump(2);
	CHECK_EQ(recv(s, buf, sizeof(buf), MSG_DONTWAIT), 4);   /* one message, boundaries kept */
	CHECK(!memcmp(buf, "abcd", 4));
	CHECK_EQ(recv(s, buf, sizeof(buf), MSG_DONTWAIT), 1);
	drain_rx();
	/* host message of 10 bytes into RX buffers of 4 payload bytes whose header
	 * spans two descriptors: 3 packets, EOM only on the last */
	rx_post(8, 20, VSOCK_HDR_SIZE - 20 + 4);
	CHECK(send(s, "0123456789", 10, 0) == 10);
	pump(3);
	int got = 0, n, eoms = 0, pkts = 0;
	while ((n = rx_get(&r, buf + got)) >= 0) {
		CHECK_EQ(r.op, VSOCK_OP_RW);
		CHECK(n <= 4);
		got += n;
		pkts++;
		eoms += !!(r.flags & VSOCK_SEQ_EOM);
		if (r.flags & VSOCK_SEQ_EOM)
			CHECK_EQ(got, 10);
	}
	CHECK_EQ(pkts, 3);
	CHECK_EQ(eoms, 1);
	CHECK(!memcmp(buf, "0123456789", 10));
	/* guest closes: SHUTDOWN(both) -> RST from us, Unix side closed */
	h = hdr(VSOCK_OP_SHUTDOWN, 3000, 61, 0);
	h.type = VSOCK_TYPE_SEQPACKET;
	h.flags = VSOCK_SHUTDOWN_BOTH;
	tx_send(&h, NULL, 0);
	pump(2);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_RST);
	CHECK_EQ(recv(s, buf, sizeof(buf), 0), 0);
	close(s);
	close(ls);
}

static void test_host_initiated(void)
{
	struct vsock_hdr h, r;
	char line[64];
	rx_reset();
	rx_post(16, VSOCK_HDR_SIZE + 4096, 0);
	/* accepted: OK <port>, and data sent behind the CONNECT line is kept */
	int c = host_client("CONNECT 77\nearly");
	pump(2);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_REQUEST);
	CHECK_EQ(r.dst_port, 77);
	CHECK(r.src_port >= (1u << 30));
	uint32_t hp = r.src_port;
	h = hdr(VSOCK_OP_RESPONSE, 77, hp, 0);
	tx_send(&h, NULL, 0);
	pump(3);
	ssize_t n = recv(c, line, sizeof(line) - 1, 0);
	CHECK(n > 0);
	line[n > 0 ? n : 0] = 0;
	char want[32];
	snprintf(want, sizeof(want), "OK %u\n", hp);
	CHECK(!strcmp(line, want));
	uint8_t buf[64];
	CHECK_EQ(rx_get(&r, buf), 5);
	CHECK(!memcmp(buf, "early", 5));
	close(c);
	pump(3);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_SHUTDOWN);
	CHECK_EQ(r.flags, VSOCK_SHUTDOWN_BOTH);
	h = hdr(VSOCK_OP_RST, 77, hp, 0);
	tx_send(&h, NULL, 0);
	pump(1);
	CHECK_EQ(e.nactive, 0);

	/* refused by the guest: closed without OK */
	c = host_client("CONNECT 78\n");
	pump(2);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_REQUEST);
	h = hdr(VSOCK_OP_RST, 78, r.src_port, 0);
	tx_send(&h, NULL, 0);
	pump(2);
	CHECK_EQ(recv(c, line, sizeof(line), 0), 0);
	close(c);

	/* never answered: closed after the connect timeout, and the guest gets RST */
	c = host_client("CONNECT 79\n");
	pump(2);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_REQUEST);
	usleep(350 * 1000);
	pump(2);
	CHECK_EQ(recv(c, line, sizeof(line), 0), 0);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_RST);
	close(c);

	/* malformed line: closed */
	c = host_client("CONNECT nope\n");
	pump(2);
	CHECK_EQ(recv(c, line, sizeof(line), 0), 0);
	close(c);
	CHECK_EQ(e.nactive, 0);
}

/* The socket types follow the negotiated features (spec 1.3): without
 * NO_IMPLIED_STREAM a stream is always there, with it only if STREAM was
 * negotiated; SEQPACKET only if negotiated. */
static void test_negotiated_types(void)
{
	struct vsock_hdr h, r;
	uint64_t saved = d.features;
	const uint64_t v1 = 1ull << 32, st = 1ull << VSOCK_F_STREAM, sp = 1ull << VSOCK_F_SEQPACKET,
		       ni = 1ull << VSOCK_F_NO_IMPLIED_STREAM;
	int lst = listen_at(63, SOCK_STREAM);
	(void)tx_returned();   /* what earlier tests left on the used ring */
	rx_reset();
	rx_post(8, VSOCK_HDR_SIZE + 4096, 0);
	struct { uint64_t f; int stream_ok, seq_ok; } sets[] = {
		{ v1, 1, 0 }, { v1 | sp, 1, 1 }, { v1 | st | ni, 1, 0 }, { v1 | sp | ni, 0, 1 },
	};
	for (unsigned i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		d.features = sets[i].f;
		CHECK_EQ(bvh_type_ok(&e, VSOCK_TYPE_STREAM), sets[i].stream_ok);
		CHECK_EQ(bvh_type_ok(&e, VSOCK_TYPE_SEQPACKET), sets[i].seq_ok);
	}
	/* {SEQPACKET, NO_IMPLIED_STREAM}: a stream REQUEST is refused with RST,
	 * and a host CONNECT (always a stream) is closed without OK */
	d.features = v1 | sp | ni;
	uint64_t bad_type = e.st.bad[BVH_BAD_TYPE];
	h = hdr(VSOCK_OP_REQUEST, 1300, 63, 0);
	tx_send(&h, NULL, 0);
	pump(1);
	CHECK_EQ(tx_returned(), 1);
	CHECK_EQ(rx_get(&r, NULL), 0);
	CHECK_EQ(r.op, VSOCK_OP_RST);
	CHECK_EQ(r.dst_port, 1300);
	CHECK_EQ(e.st.bad[BVH_BAD_TYPE], bad_type + 1);
	int c = host_client("CONNECT 1234\n");
	pump(2);
	char line[16];
	CHECK_EQ(recv(c, line, sizeof(line), 0), 0);
	CHECK_EQ(rx_get(&r, NULL), -1);   /* no REQUEST went to the guest */
	close(c);
	CHECK_EQ(e.nactive, 0);
	close(lst);
	d.features = saved;
}

/* Read a capture back: n records, each header + payload into recs (for the checks). */
struct caprec { struct bvpcap_mon_hdr m; struct vsock_hdr h; uint8_t pay[64]; uint32_t paylen, orig; };

static int read_capture(const char *path, struct caprec *recs, int max)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	struct bvpcap_file_hdr fh;
	int n = -1;
	if (fread(&fh, sizeof(fh), 1, f) == 1 && fh.linktype == BVPCAP_LINKTYPE_VSOCK) {
		n = 0;
		struct bvpcap_rec_hdr rh;
		while (n < max && fread(&rh, sizeof(rh), 1, f) == 1) {
			struct caprec *r = &recs[n++];
			uint8_t frame[512];
			if (rh.incl_len > sizeof(frame) || fread(frame, 1, rh.incl_len, f) != rh.incl_len ||
			    rh.incl_len < BVPCAP_FRAME_HDRS)
				return -1;
			memcpy(&r->m, frame, sizeof(r->m));
			memcpy(&r->h, frame + sizeof(r->m), VSOCK_HDR_SIZE);
			r->paylen = rh.incl_len - BVPCAP_FRAME_HDRS;
			r->orig = rh.orig_len;
			memcpy(r->pay, frame + BVPCAP_FRAME_HDRS, r->paylen < 64 ? r->paylen : 64);
		}
	}
	fclose(f);
	return n;
}

/* --pcap's hooks in ring.c: every packet that crosses a ring, both ways, as it
 * crossed (a lying hdr.len too), in order; and the stall log's episodes. */
static void test_capture_and_stall(void)
{
	struct vsock_hdr h, r;
	char path[96];
	snprintf(path, sizeof(path), "%s/cap.pcap", dir);
	static struct bvpcap cap;
	char err[200];
	CHECK_EQ(bvpcap_open(&cap, path, BVPCAP_DEFAULT_SNAPLEN, err, sizeof(err)), 0);
	e.pcap = &cap;
	rx_reset();
	rx_post(32, VSOCK_HDR_SIZE + 4096, 0);
	int ls = listen_at(64, SOCK_STREAM);
	h = hdr(VSOCK_OP_REQUEST, 3000, 64, 0);
	h.buf_alloc = 16;                          /* the guest grants 16 bytes */
	tx_send(&h, NULL, 0);
	pump(2);
	CHECK_EQ(rx_get(&r, NULL), 0);
	int s = accept(ls, NULL, NULL);
	CHECK(s >= 0);
	h = hdr(VSOCK_OP_RW, 3000, 64, 3);
	h.buf_alloc = 16;
	tx_send(&h, "abc", 3);
	/* a header that claims 500 bytes where 10 travelled (no such flow) */
	struct vsock_hdr liar = hdr(VSOCK_OP_RW, 3999, 64, 500);
	tx_send(&liar, "0123456789", 10);
	pump(2);

	/* stall: 40 bytes for a guest that granted 16 */
	e.o.stall_log_ms = 30;
	uint64_t stalls0 = e.st.stalls;
	CHECK(write(s, "0123456789012345678901234567890123456789", 40) == 40);
	pump(3);
	uint8_t buf[8192];
	while (rx_get(&r, buf) >= 0)
		;
	CHECK_EQ(e.st.stalls, stalls0);            /* not yet: waiting shorter than 30 ms */
	usleep(60 * 1000);
	pump(2);
	CHECK_EQ(e.st.stalls, stalls0 + 1);
	usleep(60 * 1000);
	pump(2);
	CHECK_EQ(e.st.stalls, stalls0 + 1);        /* once per stall */
	struct bvh_conn *c = bvh_conn_lookup(&e, 64, 3000);
	CHECK(c && c->stall_logged && c->tx_cnt == 16);
	h = hdr(VSOCK_OP_CREDIT_UPDATE, 3000, 64, 0);
	h.buf_alloc = 16;
	h.fwd_cnt = 16;                            /* the guest read it: 16 more */
	tx_send(&h, NULL, 0);
	pump(3);
	CHECK(c && !c->stall_logged);              /* 16 more bytes went: that episode ended */
	CHECK(c && c->tx_cnt == 32);
	while (rx_get(&r, buf) >= 0)
		;
	usleep(60 * 1000);
	pump(2);
	CHECK_EQ(e.st.stalls, stalls0 + 2);        /* a new episode is a new line */
	e.o.stall_log_ms = 0;
	h.fwd_cnt = 32;
	tx_send(&h, NULL, 0);                      /* room for the last 8 bytes */
	pump(2);
	CHECK_EQ(recv(s, buf, sizeof(buf), MSG_DONTWAIT), 3);   /* "abc": closing unread would be a reset */
	close(s);
	close(ls);
	pump(3);
	drain_rx();
	e.pcap = NULL;
	CHECK_EQ(bvpcap_close(&cap), 0);

	static struct caprec rec[64];
	int n = read_capture(path, rec, 64);
	CHECK(n >= 7);
	if (n < 7)
		return;
	/* guest REQUEST, our RESPONSE, guest RW "abc", the liar, then our RWs of 16 */
	CHECK_EQ(rec[0].h.op, VSOCK_OP_REQUEST);
	CHECK_EQ(rec[0].h.src_cid, CID);
	CHECK_EQ(rec[0].m.src_cid, CID);
	CHECK_EQ(rec[0].m.dst_port, 64);
	CHECK_EQ(rec[0].m.op, BVPCAP_MON_CONNECT);
	CHECK_EQ(rec[1].h.op, VSOCK_OP_RESPONSE);
	CHECK_EQ(rec[1].h.src_cid, VSOCK_CID_HOST);
	CHECK_EQ(rec[1].m.src_port, 64);
	CHECK_EQ(rec[1].m.dst_port, 3000);
	CHECK_EQ(rec[2].h.op, VSOCK_OP_RW);
	CHECK_EQ(rec[2].paylen, 3);
	CHECK(!memcmp(rec[2].pay, "abc", 3));
	CHECK_EQ(rec[2].m.op, BVPCAP_MON_PAYLOAD);
	CHECK_EQ(rec[3].h.len, 500);               /* verbatim */
	CHECK_EQ(rec[3].paylen, 10);               /* what was there */
	CHECK(!memcmp(rec[3].pay, "0123456789", 10));
	int rw16 = 0, shut = 0;
	for (int i = 4; i < n; i++) {
		if (rec[i].h.src_cid == VSOCK_CID_HOST && rec[i].h.op == VSOCK_OP_RW) {
			CHECK_EQ(rec[i].paylen, rec[i].h.len);
			CHECK(!memcmp(rec[i].pay, "0123456789012345678901234567890123456789" + 16 * rw16,
				      rec[i].paylen));
			rw16++;
		}
		shut += rec[i].h.op == VSOCK_OP_SHUTDOWN && rec[i].h.flags == VSOCK_SHUTDOWN_BOTH;
	}
	CHECK_EQ(rw16, 3);                         /* 16 + 16 + 8 */
	CHECK_EQ(shut, 1);                         /* the host program closed */
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/bvh-unit-XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	snprintf(uds, sizeof(uds), "%s/u.sock", dir);
	fg_init(&g);
	fg_ring_init(&g, &rx, 256);
	fg_ring_init(&g, &tx, 256);
	vhu_dev_init(&d, CID, 1024);
	d.mem = g.mem;
	d.features = (1ull << 32) | (1ull << VSOCK_F_SEQPACKET);
	fg_attach(&rx, &d.vq[VSOCK_VQ_RX].q);
	fg_attach(&tx, &d.vq[VSOCK_VQ_TX].q);
	d.vq[VSOCK_VQ_RX].ready = d.vq[VSOCK_VQ_TX].ready = true;
	epfd = epoll_create1(0);
	struct bvh_opts o = { .guest_cid = CID, .uds_path = uds, .buf_alloc = 1024, .connect_timeout_ms = 300,
			      .close_timeout_ms = 300, .max_conns = 16, .verbose = 0 };
	char err[200];
	if (bvh_init(&e, &o, &d, epfd, err, sizeof(err)) < 0) {
		fprintf(stderr, "bvh_init: %s\n", err);
		return 2;
	}
	test_refusals_and_hostile_packets();
	test_guest_to_host_stream();
	test_seqpacket_and_rx_split();
	test_host_initiated();
	test_negotiated_types();
	test_capture_and_stall();
	bvh_fini(&e);
	close(epfd);
	snprintf(err, sizeof(err), "%s/cap.pcap", dir);
	unlink(err);
	for (int p = 60; p <= 64; p++) {
		char path[160];
		snprintf(path, sizeof(path), "%s_%d", uds, p);
		unlink(path);
	}
	rmdir(dir);
	free(g.ram);
	return check_report("test_host_conn");
}
