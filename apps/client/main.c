/* SPDX-License-Identifier: BSD-2-Clause */
/* client: the guest as the connecting side. Connects to the host (CID 2):
 *   port 5000 STREAM: says hello, then echoes what the host sends until the
 *                     host half-closes, then closes;
 *   port 5001 SEQPACKET (if offered): echoes each message as one message;
 *   port 5002: nothing listens there, so the connect must be refused.
 * Exits 0 when all three went as expected; tests drive the host side. */
#include <stdio.h>
#include <string.h>
#include "bv/arch.h"
#include "bv/err.h"
#include "bv/exit.h"
#include "bv/time.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "discover/discover.h"  /* vsock_dev_init */

#define CLIENT_STREAM_PORT 5000
#define CLIENT_SEQ_PORT    5001
#define CLIENT_DEAD_PORT   5002
#define CLIENT_TIMEOUT_MS  60000

static uint8_t buf[16384];

/* Milliseconds left until end (0 once it passed), for vsock_wait. */
static uint32_t left_ms(uint64_t end)
{
	uint64_t now = bv_now_ms();
	return now >= end ? 0 : (uint32_t)(end - now);
}

/* Poll until the connection is up or failed; returns 0 or its error. */
static int wait_connected(int h)
{
	uint64_t end = bv_now_ms() + CLIENT_TIMEOUT_MS;
	while (bv_now_ms() < end) {
		int work = vsock_poll();
		int ev = vsock_events(h);
		if (ev & VSOCK_EV_ERROR)
			return vsock_error(h);
		if (ev & VSOCK_EV_CONNECTED)
			return 0;
		if (!work)
			vsock_wait(left_ms(end));
	}
	return BV_ETIMEDOUT;
}

/* Send all of p[0..n), polling while the send buffer is full. */
static int send_all(int h, const uint8_t *p, uint32_t n)
{
	uint64_t end = bv_now_ms() + CLIENT_TIMEOUT_MS;
	while (n) {
		int rc = vsock_send(h, p, n);
		if (rc == BV_EAGAIN) {
			if (bv_now_ms() > end)
				return BV_ETIMEDOUT;
			if (!vsock_poll())
				vsock_wait(left_ms(end));
			continue;
		}
		if (rc < 0)
			return rc;
		p += rc;
		n -= (uint32_t)rc;
	}
	return 0;
}

/* Echo until EOF; counts bytes (stream) or messages (seqpacket). */
static int echo_back(int h, uint64_t *count, int per_message)
{
	uint64_t end = bv_now_ms() + CLIENT_TIMEOUT_MS;
	for (;;) {
		int work = vsock_poll();
		int n = vsock_recv(h, buf, sizeof(buf));
		if (n == BV_EAGAIN) {
			if (bv_now_ms() > end)
				return BV_ETIMEDOUT;
			if (!work)
				vsock_wait(left_ms(end));
			continue;
		}
		if (n <= 0)
			return n;
		int rc = send_all(h, buf, (uint32_t)n);
		if (rc < 0)
			return rc;
		*count += per_message ? 1 : (uint64_t)n;
		end = bv_now_ms() + CLIENT_TIMEOUT_MS;
	}
}

static int run(int type, uint32_t port, const char *name)
{
	int h = vsock_connect(VSOCK_CID_HOST, port, type);
	if (h == BV_ENOTSUP) {
		printf("client: %s not offered by the device, skipped\n", name);
		return 0;
	}
	if (h < 0) {
		printf("client: %s connect: %s\n", name, bv_strerror(h));
		return h;
	}
	int rc = wait_connected(h);
	if (rc == 0) {
		char hello[64];
		int n = snprintf(hello, sizeof(hello), "hello from cid %llu\n",
				 (unsigned long long)vsock_local_cid());
		rc = send_all(h, (const uint8_t *)hello, (uint32_t)n);
	}
	uint64_t count = 0;
	if (rc == 0)
		rc = echo_back(h, &count, type == VSOCK_SEQPACKET);
	printf("client: %s to 2:%u: %s, echoed %llu %s\n", name, (unsigned)port,
	       rc == 0 ? "done" : bv_strerror(rc), (unsigned long long)count,
	       type == VSOCK_SEQPACKET ? "messages" : "bytes");
	vsock_close(h);
	return rc;
}

int main(void)
{
	if (vsock_dev_init() < 0)
		return BV_EXIT_FAIL;
	int fails = 0;

	fails += run(VSOCK_STREAM, CLIENT_STREAM_PORT, "stream") != 0;
	fails += run(VSOCK_SEQPACKET, CLIENT_SEQ_PORT, "seqpacket") != 0;

	int h = vsock_connect(VSOCK_CID_HOST, CLIENT_DEAD_PORT, VSOCK_STREAM);
	int rc = h < 0 ? h : wait_connected(h);
	printf("client: connect to 2:%d (nobody listens): %s\n", CLIENT_DEAD_PORT,
	       rc == 0 ? "connected?!" : bv_strerror(rc));
	fails += rc != BV_ECONNREFUSED;
	if (h >= 0)
		vsock_close(h);

	/* Let the closes reach the host before leaving. */
	uint64_t end = bv_now_ms() + 200;
	while (bv_now_ms() < end)
		if (!vsock_poll())
			vsock_wait(left_ms(end));
	printf("client: %s\n", fails ? "FAILED" : "ok");
	return fails ? BV_EXIT_FAIL : BV_EXIT_OK;
}
