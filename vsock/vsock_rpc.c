/* SPDX-License-Identifier: BSD-2-Clause */
/* Connect-with-retry and length-prefixed messages (vsock_rpc.h), written on
 * the public socket API only: vsock_connect/send/recv/close/events/error and
 * vsock_poll, plus the port's clock. Not here: anything the engine or the
 * device glue knows. */
#include <stddef.h>
#include "bv/err.h"
#include "bv/port.h"
#include "vsock/vsock.h"
#include "vsock/vsock_rpc.h"

#define RPC_HDR 4

static uint64_t deadline_after(uint32_t ms)
{
	return bv_port_now_us() + (uint64_t)ms * 1000u;
}

static int expired(uint64_t deadline)
{
	return bv_port_now_us() >= deadline;
}

/* Poll the device while waiting: nothing else moves the connection. */
static void pump(void)
{
	if (vsock_poll() == 0)
		bv_port_relax();
}

/* One attempt: BV_OK once established, or why not. */
static int attempt(int h, uint64_t deadline)
{
	for (;;) {
		int ev = vsock_events(h);
		if (ev < 0)
			return ev;
		if (ev & VSOCK_EV_ERROR)
			return vsock_error(h);
		if (ev & VSOCK_EV_CONNECTED)
			return BV_OK;
		if (expired(deadline))
			return BV_ETIMEDOUT;
		pump();
	}
}

static int retryable(int err)
{
	return err == BV_ECONNREFUSED || err == BV_ETIMEDOUT || err == BV_ECONNRESET;
}

int vsock_rpc_connect(uint32_t cid, uint32_t port, const struct vsock_rpc_retry *r, unsigned *attempts)
{
	uint64_t deadline = deadline_after(r->timeout_ms);
	uint32_t delay = r->first_delay_ms;
	unsigned n = 0;
	int err = BV_ETIMEDOUT;

	if (attempts)
		*attempts = 0;
	if (r->attempts == 0)
		return BV_EINVAL;
	while (n < r->attempts) {
		/* Out of time after a wait: the last attempt's answer stands. */
		if (n && expired(deadline))
			return err;
		int h = vsock_connect(cid, port, VSOCK_STREAM);
		if (h < 0)
			return h;
		n++;
		if (attempts)
			*attempts = n;
		err = attempt(h, deadline);
		if (err == BV_OK)
			return h;
		vsock_close(h);
		if (!retryable(err) || n == r->attempts || expired(deadline))
			return err;
		if (r->on_retry)
			r->on_retry(r->ctx, n, err, delay);
		/* Wait, still polling: the closes and any late packets must go on. */
		uint64_t until = deadline_after(delay);
		if (until > deadline)
			until = deadline;
		while (!expired(until)) {
			vsock_poll();
			bv_port_idle(until);
		}
		delay = delay > r->max_delay_ms / 2 ? r->max_delay_ms : delay * 2;
	}
	return err;
}

static int send_all(int h, const uint8_t *p, uint32_t n, uint64_t deadline)
{
	while (n) {
		int rc = vsock_send(h, p, n);
		if (rc == BV_EAGAIN) {
			if (expired(deadline))
				return BV_ETIMEDOUT;
			pump();
			continue;
		}
		if (rc < 0)
			return rc;
		p += rc;
		n -= (uint32_t)rc;
	}
	return 0;
}

/* n bytes, or: 0 if the stream ended before the first, BV_EPROTO if after. */
static int read_all(int h, uint8_t *p, uint32_t n, uint64_t deadline)
{
	uint32_t got = 0;
	while (got < n) {
		int rc = vsock_recv(h, p + got, n - got);
		if (rc == BV_EAGAIN) {
			if (expired(deadline))
				return BV_ETIMEDOUT;
			pump();
			continue;
		}
		if (rc < 0)
			return rc;
		if (rc == 0)
			return got ? BV_EPROTO : 0;
		got += (uint32_t)rc;
	}
	return (int)got;
}

static int send_msg(int h, const void *buf, uint32_t len, uint64_t deadline)
{
	const uint8_t hdr[RPC_HDR] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24) };
	int rc = send_all(h, hdr, RPC_HDR, deadline);
	return rc < 0 ? rc : send_all(h, buf, len, deadline);
}

static int recv_len(int h, uint32_t *len, uint64_t deadline)
{
	uint8_t hdr[RPC_HDR];
	int rc = read_all(h, hdr, RPC_HDR, deadline);
	if (rc <= 0)
		return rc;
	*len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
	return 1;
}

static int recv_msg(int h, void *buf, uint32_t cap, uint64_t deadline)
{
	uint32_t len;
	int rc = recv_len(h, &len, deadline);
	if (rc == 0)
		return BV_ECONNRESET;
	if (rc < 0)
		return rc;
	/* A count that large cannot be returned as a length either. */
	if (len > cap || len > INT32_MAX)
		return BV_EMSGSIZE;
	if (len == 0)
		return 0;
	rc = read_all(h, buf, len, deadline);
	if (rc == 0)
		return BV_EPROTO;
	return rc < 0 ? rc : (int)len;
}

int vsock_rpc_send(int h, const void *buf, uint32_t len, uint32_t timeout_ms)
{
	return send_msg(h, buf, len, deadline_after(timeout_ms));
}

int vsock_rpc_recv(int h, void *buf, uint32_t cap, uint32_t timeout_ms)
{
	return recv_msg(h, buf, cap, deadline_after(timeout_ms));
}

int vsock_rpc_recv_len(int h, uint32_t *len, uint32_t timeout_ms)
{
	return recv_len(h, len, deadline_after(timeout_ms));
}

int vsock_rpc_read_exact(int h, void *buf, uint32_t n, uint32_t timeout_ms)
{
	if (n > INT32_MAX)
		return BV_EINVAL;
	int rc = read_all(h, buf, n, deadline_after(timeout_ms));
	return rc == 0 && n ? BV_EPROTO : rc;
}

int vsock_rpc_call(int h, const void *req, uint32_t req_len, void *resp, uint32_t cap, uint32_t timeout_ms)
{
	uint64_t deadline = deadline_after(timeout_ms);
	int rc = send_msg(h, req, req_len, deadline);
	return rc < 0 ? rc : recv_msg(h, resp, cap, deadline);
}
