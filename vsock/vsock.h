/* SPDX-License-Identifier: BSD-2-Clause */
/* Socket-like vsock API for guest applications.
 *
 * Handles are small non-negative ints (an index into a fixed pool of
 * BV_VSOCK_MAX_CONNS entries shared by listeners and connections); every
 * error is a negative enum bv_err. Nothing blocks: a call that would wait
 * returns BV_EAGAIN, and the application drives progress by calling
 * vsock_poll() in its loop and looking at vsock_events().
 *
 * Semantics follow Linux AF_VSOCK over virtio where that is observable:
 *   - connect sends REQUEST and returns at once (state "connecting");
 *     VSOCK_EV_CONNECTED or VSOCK_EV_ERROR tells how it ended
 *     (BV_ECONNREFUSED: peer answered RST; BV_ETIMEDOUT: no answer within
 *     BV_VSOCK_CONNECT_TIMEOUT_MS; BV_EPROTO: peer broke the handshake).
 *   - a connection reset by the peer reports BV_ECONNRESET; data already
 *     received stays readable first. An RST that completes a close handshake
 *     (either side shut down both directions first) is an orderly end: recv
 *     then returns 0 and send BV_EPIPE.
 *   - a handle stays valid after its connection failed, until vsock_close().
 */
#ifndef BV_VSOCK_H
#define BV_VSOCK_H

#include <stdint.h>
#include "bv/err.h"
#include "vsock/vsock_wire.h"   /* VSOCK_SHUTDOWN_RCV/SEND/BOTH, VSOCK_CID_HOST */

enum { VSOCK_STREAM = 1, VSOCK_SEQPACKET = 2 };

/* Listen on a local port (any peer CID). backlog: how many established
 * connections may wait for vsock_accept() (<= 0: BV_VSOCK_BACKLOG); as with
 * Linux, one more than that is taken, then further REQUESTs get RST.
 * Returns a listener handle, or BV_EINVAL (bad type, port VSOCK_PORT_ANY),
 * BV_EADDRINUSE (port bound by a listener or an outgoing connection),
 * BV_ENOBUFS (pool full), BV_ENOTSUP (the device did not negotiate this
 * type: SEQPACKET needs VIRTIO_VSOCK_F_SEQPACKET; STREAM is missing when
 * NO_IMPLIED_STREAM was negotiated without F_STREAM). */
int vsock_listen(uint32_t port, int type, int backlog);

/* Take the oldest established, not yet accepted connection of listener lh.
 * Returns its handle (peer address stored through the non-NULL pointers),
 * BV_EAGAIN if none is waiting, BV_EBADF, BV_EINVAL (lh is not a listener). */
int vsock_accept(int lh, uint32_t *peer_cid, uint32_t *peer_port);

/* Start a connection to (cid, port) from a fresh local port above 1023.
 * Returns the handle immediately; the REQUEST goes out on the next vsock_poll().
 * BV_EINVAL (bad type, cid/port reserved or our own CID), BV_ENOTSUP,
 * BV_ENOBUFS (pool full). */
int vsock_connect(uint32_t cid, uint32_t port, int type);

/* Copy data into the connection's send buffer (BV_VSOCK_TXBUF_SIZE bytes);
 * it leaves as the peer grants credit. STREAM: returns bytes accepted
 * (may be < len) or BV_EAGAIN if the buffer is full. SEQPACKET: the whole
 * message or BV_EAGAIN; BV_EMSGSIZE if it can never fit (larger than the
 * send buffer or than the peer's receive buffer). Errors: BV_ENOTCONN while
 * connecting, BV_EPIPE after our shutdown(SEND) or the peer's shutdown(RCV),
 * the connection's error once it failed (BV_ECONNRESET, ...), BV_EBADF. */
int vsock_send(int h, const void *buf, uint32_t len);

/* Message flags (SEQPACKET). */
enum {
	VSOCK_MSG_EOR   = 1,   /* sendmsg: the message ends a record; recvmsg: it did */
	VSOCK_MSG_TRUNC = 2,   /* recvmsg: the message was longer than len; the rest is gone */
};
/* vsock_send with flags: VSOCK_MSG_EOR marks a SEQPACKET message as the end
 * of a record (the peer sees MSG_EOR); ignored for STREAM, as Linux does. */
int vsock_sendmsg(int h, const void *buf, uint32_t len, uint32_t flags);

/* Read received data. STREAM: up to len bytes. SEQPACKET: one whole message
 * per call, truncated to len (the rest of it is discarded); a message is
 * delivered only once complete, so it must fit BV_VSOCK_RXBUF_SIZE (the
 * buf_alloc we advertise; Linux senders refuse larger ones). Returns bytes read,
 * 0 at end of stream (peer shut down its send side, or an orderly close, and
 * everything was read; also after our own shutdown(RCV)), BV_EAGAIN if nothing
 * is there yet, or the errors of vsock_send(). Reading returns credit to the
 * peer. */
int vsock_recv(int h, void *buf, uint32_t len);

/* vsock_recv that also reports, through *flags (if non-NULL; 0 otherwise),
 * VSOCK_MSG_EOR and VSOCK_MSG_TRUNC for the SEQPACKET message returned. */
int vsock_recvmsg(int h, void *buf, uint32_t len, uint32_t *flags);

/* how = VSOCK_SHUTDOWN_RCV, VSOCK_SHUTDOWN_SEND or VSOCK_SHUTDOWN_BOTH.
 * RCV discards buffered and future data; SEND is announced to the peer after
 * the data already in the send buffer. Returns 0, BV_EINVAL, BV_ENOTCONN,
 * BV_EBADF. */
int vsock_shutdown(int h, int how);

/* Release a handle; it is invalid for the application at once.
 * Connection: graceful close in the background (flush the send buffer,
 * SHUTDOWN both, wait for the peer's RST or BV_VSOCK_CLOSE_TIMEOUT_MS, then
 * RST and free). A failed/finished connection is freed at once.
 * Listener: freed at once; connections it had not handed to accept are reset.
 * Returns 0 or BV_EBADF. */
int vsock_close(int h);

/* Readiness, level-triggered. */
enum {
	VSOCK_EV_READABLE  = 1,   /* recv would not return BV_EAGAIN */
	VSOCK_EV_WRITABLE  = 2,   /* send buffer has room (connected, send side open) */
	VSOCK_EV_ACCEPT    = 4,   /* listener: accept would return a connection */
	VSOCK_EV_CONNECTED = 8,   /* the connection is (or was) established */
	VSOCK_EV_HUP       = 16,  /* peer shut down both directions, or the connection ended */
	VSOCK_EV_ERROR     = 32,  /* vsock_error() is nonzero */
};
/* Readiness mask of h, or BV_EBADF. */
int vsock_events(int h);

/* The error that ended a failed connection (negative), 0 otherwise or for a
 * listener; BV_EBADF for a bad handle. Not cleared by reading it. */
int vsock_error(int h);

/* Our CID as the device reports it (may change after a transport reset). */
uint64_t vsock_local_cid(void);

/* Implemented by the device glue (vsock/vsock_dev.c): one bounded round of
 * device work; call it in the app's loop. */
int vsock_poll(void);

#endif
