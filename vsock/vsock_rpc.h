/* SPDX-License-Identifier: BSD-2-Clause */
/* What firmware usually wants from a host channel, on top of the socket API
 * (vsock.h) and nothing else: connect with a timeout and bounded retry (the
 * guest often boots before the host service listens: early attempts are
 * refused), and length-prefixed request/response messages over a STREAM
 * connection (a 32-bit little-endian byte count, then that many bytes), the
 * usual substitute for message boundaries. Every call polls the device
 * itself (vsock_poll) until it is done or its timeout passes, so a firmware
 * can use it as plain blocking calls.
 * Non-goals: SEQPACKET (it has boundaries already), several calls in flight
 * on one connection, resynchronising after an error: once a call on a
 * connection fails mid-message, close it.
 *
 *   struct vsock_rpc_retry r = VSOCK_RPC_RETRY_DEFAULT;
 *   int h = vsock_rpc_connect(VSOCK_CID_HOST, 5600, &r);
 *   if (h < 0) ... (BV_ECONNREFUSED / BV_ETIMEDOUT after every attempt)
 *   int n = vsock_rpc_call(h, "GET key", 7, buf, sizeof(buf), 5000);
 *   vsock_close(h);
 */
#ifndef BV_VSOCK_RPC_H
#define BV_VSOCK_RPC_H

#include <stdint.h>

/* Bound on a connect: at most `attempts` tries, waiting first_delay_ms
 * after the first failure and doubling up to max_delay_ms, and all of it
 * within timeout_ms. Refused, timed-out and reset attempts are retried; any
 * other error ends at once. on_retry (may be NULL) is told about each failed
 * attempt that will be retried, e.g. to log it. */
struct vsock_rpc_retry {
	unsigned attempts;
	uint32_t first_delay_ms;
	uint32_t max_delay_ms;
	uint32_t timeout_ms;
	void (*on_retry)(void *ctx, unsigned attempt, int err, uint32_t delay_ms);
	void *ctx;
};
#define VSOCK_RPC_RETRY_DEFAULT \
	{ .attempts = 20, .first_delay_ms = 50, .max_delay_ms = 1000, .timeout_ms = 30000 }

/* A STREAM connection to (cid, port), established. Returns the handle, or
 * the last attempt's error (BV_ECONNREFUSED, BV_ETIMEDOUT, ...). The number
 * of attempts made is in *attempts when that is not NULL. */
int vsock_rpc_connect(uint32_t cid, uint32_t port, const struct vsock_rpc_retry *r, unsigned *attempts);

/* Send one message: the length prefix, then len bytes. 0, BV_ETIMEDOUT if
 * it could not all be queued in time, or the connection's error. */
int vsock_rpc_send(int h, const void *buf, uint32_t len, uint32_t timeout_ms);

/* Receive one whole message into buf. Its length (>= 0); BV_EMSGSIZE if it
 * is longer than cap (nothing of it read: close the connection);
 * BV_ECONNRESET if the stream ended before a message began; BV_EPROTO if it
 * ended inside one; BV_ETIMEDOUT; or the connection's error. */
int vsock_rpc_recv(int h, void *buf, uint32_t cap, uint32_t timeout_ms);

/* The parts of vsock_rpc_recv, for messages too big to buffer (stream them
 * through a hash, a flash writer, ...): read the next length prefix, then
 * the body in pieces of any size with vsock_rpc_read_exact. recv_len: 1 and
 * *len, or 0 when the stream ended cleanly between messages, or an error. */
int vsock_rpc_recv_len(int h, uint32_t *len, uint32_t timeout_ms);
/* Exactly n bytes: n, BV_EPROTO if the stream ends first, or an error. */
int vsock_rpc_read_exact(int h, void *buf, uint32_t n, uint32_t timeout_ms);

/* One request/response exchange: vsock_rpc_send, then vsock_rpc_recv, the
 * whole within timeout_ms. Returns the response length or an error. */
int vsock_rpc_call(int h, const void *req, uint32_t req_len, void *resp, uint32_t cap, uint32_t timeout_ms);

#endif
