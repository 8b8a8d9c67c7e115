/* SPDX-License-Identifier: BSD-2-Clause */
/* source: the guest side of bench/'s guest->host throughput. On each
 * connection to port 1236 it reads a little-endian u64 N, sends N bytes
 * (stream byte k is (7k + 1) mod 256, which the host checks), prints
 * "source: <n> bytes" and closes: the close flushes what is still buffered
 * before the SHUTDOWN. Serves up to SOURCE_MAX_CONNS connections at once;
 * runs until QEMU is killed. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "bv/arch.h"
#include "bv/config.h"
#include "bv/err.h"
#include "bv/exit.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "discover/discover.h"  /* vsock_dev_init */

#define SOURCE_PORT       1236
#define SOURCE_MAX_CONNS  8
#define SOURCE_CHUNK      BV_VSOCK_TX_BUF_SIZE  /* the most one reserve can give */

/* The pattern from any offset mod 256 onwards, SOURCE_CHUNK bytes long. */
static uint8_t pattern[SOURCE_CHUNK + 256];
static struct {
	int h;
	uint8_t hdr[8];
	uint32_t hdr_got;
	uint64_t want, sent;
} conn[SOURCE_MAX_CONNS];

static void finish(int i, int err)
{
	if (err)
		printf("source: connection failed after %llu of %llu bytes: %s\n",
		       (unsigned long long)conn[i].sent, (unsigned long long)conn[i].want,
		       bv_strerror(err));
	else
		printf("source: %llu bytes\n", (unsigned long long)conn[i].sent);
	vsock_close(conn[i].h);
	conn[i].h = -1;
}

/* Move connection i forward without waiting. Returns 1 if anything happened. */
static int serve(int i)
{
	int moved = 0;
	while (conn[i].hdr_got < sizeof(conn[i].hdr)) {
		int n = vsock_recv(conn[i].h, conn[i].hdr + conn[i].hdr_got,
				   sizeof(conn[i].hdr) - conn[i].hdr_got);
		if (n == BV_EAGAIN)
			return moved;
		if (n <= 0) {
			finish(i, n ? n : BV_EPROTO);    /* EOF before the whole count */
			return 1;
		}
		moved = 1;
		conn[i].hdr_got += (uint32_t)n;
		if (conn[i].hdr_got == sizeof(conn[i].hdr)) {
			for (int b = 7; b >= 0; b--)
				conn[i].want = conn[i].want << 8 | conn[i].hdr[b];
		}
	}
	while (conn[i].sent < conn[i].want) {
		uint64_t left = conn[i].want - conn[i].sent;
		uint32_t len = left < SOURCE_CHUNK ? (uint32_t)left : SOURCE_CHUNK;
		/* Written once, straight into the TX buffer it leaves from. */
		void *d;
		int room = vsock_send_reserve(conn[i].h, 1, &d);
		if (room == BV_EAGAIN)
			return moved;   /* the send buffer is full: let vsock_poll() move it */
		if (room < 0) {
			finish(i, room);
			return 1;
		}
		uint32_t n = len < (uint32_t)room ? len : (uint32_t)room;
		memcpy(d, pattern + (conn[i].sent & 255), n);
		vsock_send_commit(conn[i].h, n, 0);
		moved = 1;
		conn[i].sent += n;
	}
	finish(i, 0);
	return 1;
}

int main(void)
{
	for (uint32_t k = 0; k < sizeof(pattern); k++)
		pattern[k] = (uint8_t)(7u * k + 1u);
	for (int i = 0; i < SOURCE_MAX_CONNS; i++)
		conn[i].h = -1;
	if (vsock_dev_init() < 0)
		return BV_EXIT_FAIL;   /* it said why */
	int lh = vsock_listen(SOURCE_PORT, VSOCK_STREAM, 0);
	if (lh < 0) {
		printf("source: cannot listen on port %d: %s\n", SOURCE_PORT, bv_strerror(lh));
		return BV_EXIT_FAIL;
	}
	printf("source: listening on port %d\n", SOURCE_PORT);
	for (;;) {
		int work = vsock_poll();
		if (work < 0) {
			printf("source: device failed: %s\n", bv_strerror(work));
			return BV_EXIT_FAIL;
		}
		for (;;) {
			int h = vsock_accept(lh, 0, 0);
			if (h < 0)
				break;
			int i = 0;
			while (i < SOURCE_MAX_CONNS && conn[i].h >= 0)
				i++;
			if (i == SOURCE_MAX_CONNS) {
				vsock_close(h);
				continue;
			}
			conn[i].h = h;
			conn[i].hdr_got = 0;
			conn[i].want = conn[i].sent = 0;
		}
		for (int i = 0; i < SOURCE_MAX_CONNS; i++)
			if (conn[i].h >= 0)
				work += serve(i);
		if (!work)
			vsock_wait(VSOCK_WAIT_FOREVER);   /* halt until the device or a timer needs us */
	}
}
