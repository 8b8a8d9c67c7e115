/* SPDX-License-Identifier: BSD-2-Clause */
/* vsock/vsock_rpc.c on the real library (socket API, engine, device glue,
 * virtqueues, virtio-mmio) against the shared fake device, with a scripted
 * host service on the device side. The helper's calls block by polling, so
 * the host runs inside them: this test's bv_port_relax/bv_port_idle (they
 * override arch/host/port.c's weak ones) take one host step. Covered: refused
 * connects retried up to the bound (attempts, overall timeout), framing
 * across packet boundaries both ways, big messages read in pieces, zero-length
 * messages, and the errors: message too big, the stream ending before or
 * inside a message, a silent peer. */
#include <string.h>
#define CHECK_MAIN
#include "tests/unit/check.h"
#include "tests/unit/fake_virtio.h"
#include "bv/err.h"
#include "bv/port.h"
#include "drivers/virtio.h"
#include "drivers/virtio_mmio.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_rpc.h"

#define GUEST_CID  3u
#define SVC_PORT   5600u
#define MMIO_BASE  ((uintptr_t)0x7e0000200000ull)
#define HOST_BUF   (1u << 20)
#define HOST_CHUNK 3u        /* bytes per RW packet the host sends: splits everything */

static struct fv_dev dev;

/* ---- the host service, one step per guest relax ---- */

enum reply { R_UPPER, R_SILENT, R_TRUNCATED, R_EOF_ONLY, R_BIG };
static struct {
	unsigned refuse_left, requests, resets_sent;
	uint32_t guest_port, fwd_cnt;
	int connected, shutdown_after;
	enum reply reply;
	uint8_t in[1 << 16];
	uint32_t n_in;
	uint8_t out[1 << 16];
	uint32_t n_out, sent;
	int in_step;
} host;

/* 1 when sent, 0 when the guest has no RX buffer posted right now. */
static int host_packet(uint16_t op, uint32_t flags, const void *payload, uint32_t len)
{
	struct fv_chain c;
	if (!fv_pop(&dev, VSOCK_VQ_RX, &c))
		return 0;
	struct vsock_hdr h = {
		.src_cid = VSOCK_CID_HOST, .dst_cid = GUEST_CID, .src_port = SVC_PORT, .dst_port = host.guest_port,
		.len = len, .type = VSOCK_TYPE_STREAM, .op = op, .flags = flags, .buf_alloc = HOST_BUF,
		.fwd_cnt = host.fwd_cnt,
	};
	fv_write(&dev, &c, 0, &h, VSOCK_HDR_SIZE);
	if (len)
		fv_write(&dev, &c, VSOCK_HDR_SIZE, payload, len);
	fv_push(&dev, VSOCK_VQ_RX, c.head, VSOCK_HDR_SIZE + len);
	return 1;
}

/* Control packets: the guest keeps RX buffers posted, so there is room. */
static void host_ctl(uint16_t op, uint32_t flags)
{
	CHECK(host_packet(op, flags, NULL, 0));
}

static void queue_msg(const void *p, uint32_t len)
{
	uint8_t hdr[4] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24) };
	memcpy(host.out + host.n_out, hdr, 4);
	memcpy(host.out + host.n_out + 4, p, len);
	host.n_out += 4 + len;
}

/* Whole messages the guest sent: answer them as the scenario says. */
static void host_messages(void)
{
	for (;;) {
		if (host.n_in < 4)
			return;
		uint32_t len = host.in[0] | host.in[1] << 8 | host.in[2] << 16 | (uint32_t)host.in[3] << 24;
		if (host.n_in < 4 + len)
			return;
		uint8_t msg[4096];
		CHECK(len <= sizeof(msg));
		memcpy(msg, host.in + 4, len);
		memmove(host.in, host.in + 4 + len, host.n_in - 4 - len);
		host.n_in -= 4 + len;
		switch (host.reply) {
		case R_UPPER:
			for (uint32_t i = 0; i < len; i++)
				if (msg[i] >= 'a' && msg[i] <= 'z')
					msg[i] = (uint8_t)(msg[i] - 'a' + 'A');
			queue_msg(msg, len);
			break;
		case R_BIG: {
			static uint8_t big[10000];
			for (unsigned i = 0; i < sizeof(big); i++)
				big[i] = (uint8_t)(i * 13 + 5);
			queue_msg(big, sizeof(big));
			break;
		}
		case R_TRUNCATED: {
			/* A length of 40, ten bytes, then the end of the stream. */
			uint8_t part[14] = { 40, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
			memcpy(host.out + host.n_out, part, sizeof(part));
			host.n_out += sizeof(part);
			host.shutdown_after = 1;
			break;
		}
		case R_EOF_ONLY:
			host.shutdown_after = 1;
			break;
		case R_SILENT:
			break;
		}
	}
}

static void host_step(void)
{
	struct fv_chain c;
	if (host.in_step)
		return;
	host.in_step = 1;
	while (fv_pop(&dev, VSOCK_VQ_TX, &c)) {
		struct vsock_hdr h;
		if (fv_read(&dev, &c, 0, &h, VSOCK_HDR_SIZE) == VSOCK_HDR_SIZE) {
			switch (h.op) {
			case VSOCK_OP_REQUEST:
				host.requests++;
				host.guest_port = h.src_port;
				CHECK_EQ(h.dst_port, SVC_PORT);
				if (host.refuse_left) {
					host.refuse_left--;
					host_ctl(VSOCK_OP_RST, 0);
				} else {
					host.connected = 1;
					host.n_in = host.n_out = host.sent = 0;
					host.fwd_cnt = 0;
					host.shutdown_after = 0;
					host_ctl(VSOCK_OP_RESPONSE, 0);
				}
				break;
			case VSOCK_OP_RW:
				CHECK(host.n_in + h.len <= sizeof(host.in));
				host.n_in += fv_read(&dev, &c, VSOCK_HDR_SIZE, host.in + host.n_in, h.len);
				host.fwd_cnt += h.len;
				host_messages();
				break;
			case VSOCK_OP_CREDIT_REQUEST:
				host_ctl(VSOCK_OP_CREDIT_UPDATE, 0);
				break;
			case VSOCK_OP_SHUTDOWN:
				host_ctl(VSOCK_OP_RST, 0);
				host.connected = 0;
				break;
			case VSOCK_OP_RST:
				host.connected = 0;
				break;
			}
		}
		fv_push(&dev, VSOCK_VQ_TX, c.head, 0);
	}
	while (host.connected && host.sent < host.n_out) {
		uint32_t n = host.n_out - host.sent < HOST_CHUNK ? host.n_out - host.sent : HOST_CHUNK;
		if (!host_packet(VSOCK_OP_RW, 0, host.out + host.sent, n))
			break;      /* the rest when the guest has reposted */
		host.sent += n;
	}
	if (host.connected && host.shutdown_after && host.sent == host.n_out) {
		host_ctl(VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_BOTH);
		host.shutdown_after = 0;
	}
	host.in_step = 0;
}

void bv_port_relax(void) { host_step(); }
void bv_port_idle(uint64_t deadline_us) { (void)deadline_us; host_step(); }

/* ---- the guest side ---- */

static unsigned retries_seen;
static int last_retry_err;
static void on_retry(void *ctx, unsigned attempt, int err, uint32_t delay_ms)
{
	(void)ctx;
	(void)delay_ms;
	retries_seen++;
	last_retry_err = err;
	CHECK_EQ(attempt, retries_seen);
}

static void settle(void)
{
	for (int i = 0; i < 20; i++) {
		vsock_poll();
		host_step();
	}
}

static int connect_fresh(enum reply reply)
{
	struct vsock_rpc_retry r = VSOCK_RPC_RETRY_DEFAULT;
	host.reply = reply;
	int h = vsock_rpc_connect(VSOCK_CID_HOST, SVC_PORT, &r, NULL);
	CHECK(h >= 0);
	return h;
}

static void done(int h)
{
	vsock_close(h);
	settle();
}

int main(void)
{
	struct fv_config cfg = {
		.transport = FV_MMIO_V2, .device_id = VIRTIO_ID_VSOCK, .nqueues = 3,
		.features = 1ull << VIRTIO_F_VERSION_1 | 1ull << VSOCK_F_STREAM,
		.queue_max = { 64, 64, 8 }, .cfg_len = 8,
	};
	uint64_t cid = GUEST_CID;
	struct virtio_dev vd;
	memcpy(cfg.cfg, &cid, 8);
	fv_dma_setup(0, 0);
	fv_init(&dev, &cfg, MMIO_BASE);
	CHECK_EQ(virtio_mmio_attach(&vd, MMIO_BASE), BV_OK);
	CHECK_EQ(vsock_dev_attach(&vd), BV_OK);

	/* Refused twice, then the service is up: the third attempt connects. */
	struct vsock_rpc_retry r = { .attempts = 5, .first_delay_ms = 5, .max_delay_ms = 20, .timeout_ms = 10000,
				     .on_retry = on_retry };
	unsigned attempts = 0;
	host.refuse_left = 2;
	host.reply = R_UPPER;
	int h = vsock_rpc_connect(VSOCK_CID_HOST, SVC_PORT, &r, &attempts);
	CHECK(h >= 0);
	CHECK_EQ(attempts, 3);
	CHECK_EQ(host.requests, 3);
	CHECK_EQ(retries_seen, 2);
	CHECK_EQ(last_retry_err, BV_ECONNREFUSED);

	/* One call; the host answers 3 bytes per packet, length prefix included. */
	char buf[64];
	int n = vsock_rpc_call(h, "hello, host", 11, buf, sizeof(buf), 5000);
	CHECK_EQ(n, 11);
	CHECK(n == 11 && memcmp(buf, "HELLO, HOST", 11) == 0);
	/* An empty message is a message. */
	CHECK_EQ(vsock_rpc_call(h, "", 0, buf, sizeof(buf), 5000), 0);
	/* Too big for the buffer: refused before reading any of it. */
	CHECK_EQ(vsock_rpc_call(h, "abcdefgh", 8, buf, 4, 5000), BV_EMSGSIZE);
	done(h);

	/* Never accepted: the attempt bound ends it, and then the time bound. */
	host.refuse_left = 1000;
	unsigned before = host.requests;
	retries_seen = 0;
	r = (struct vsock_rpc_retry){ .attempts = 4, .first_delay_ms = 1, .max_delay_ms = 2, .timeout_ms = 10000,
				      .on_retry = on_retry };
	CHECK_EQ(vsock_rpc_connect(VSOCK_CID_HOST, SVC_PORT, &r, &attempts), BV_ECONNREFUSED);
	CHECK_EQ(attempts, 4);
	CHECK_EQ(host.requests - before, 4);
	CHECK_EQ(retries_seen, 3);
	r = (struct vsock_rpc_retry){ .attempts = 100000, .first_delay_ms = 50, .max_delay_ms = 50, .timeout_ms = 300 };
	CHECK_EQ(vsock_rpc_connect(VSOCK_CID_HOST, SVC_PORT, &r, &attempts), BV_ECONNREFUSED);
	CHECK(attempts >= 1 && attempts < 100);
	r.attempts = 0;
	CHECK_EQ(vsock_rpc_connect(VSOCK_CID_HOST, SVC_PORT, &r, &attempts), BV_EINVAL);
	host.refuse_left = 0;
	settle();

	/* A message bigger than any buffer, read in pieces. */
	h = connect_fresh(R_BIG);
	CHECK_EQ(vsock_rpc_send(h, "BIG", 3, 5000), 0);
	uint32_t len = 0;
	CHECK_EQ(vsock_rpc_recv_len(h, &len, 5000), 1);
	CHECK_EQ(len, 10000);
	uint8_t piece[777];
	unsigned bad = 0;
	for (uint32_t off = 0; off < len; ) {
		uint32_t k = len - off < sizeof(piece) ? len - off : (uint32_t)sizeof(piece);
		CHECK_EQ(vsock_rpc_read_exact(h, piece, k, 5000), k);
		for (uint32_t i = 0; i < k; i++)
			bad += piece[i] != (uint8_t)((off + i) * 13 + 5);
		off += k;
	}
	CHECK_EQ(bad, 0);
	done(h);

	/* The stream ends inside a message, and before one. */
	h = connect_fresh(R_TRUNCATED);
	CHECK_EQ(vsock_rpc_call(h, "x", 1, buf, sizeof(buf), 5000), BV_EPROTO);
	done(h);
	h = connect_fresh(R_EOF_ONLY);
	CHECK_EQ(vsock_rpc_call(h, "x", 1, buf, sizeof(buf), 5000), BV_ECONNRESET);
	CHECK_EQ(vsock_rpc_recv_len(h, &len, 5000), 0);
	done(h);

	/* A peer that never answers. */
	h = connect_fresh(R_SILENT);
	CHECK_EQ(vsock_rpc_call(h, "x", 1, buf, sizeof(buf), 100), BV_ETIMEDOUT);
	done(h);

	fv_fini(&dev);
	return check_report("test_vsock_rpc");
}
