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
 *
 * Two ways to move data. The copying calls (vsock_send/recv and the *msg
 * variants) copy once, between the app's memory and the packet buffers.
 * The zero-copy calls hand the app the packet buffers themselves: received
 * bytes are read where the device wrote them (vsock_recv_borrow, then
 * vsock_recv_release), and bytes to send are written straight into a TX
 * packet buffer (vsock_send_reserve, then vsock_send_commit). The copying
 * calls are built on the same buffers, so both can be mixed on one handle.
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

/* Copy data into the connection's send buffer (up to BV_VSOCK_CONN_TX_BUFS
 * TX buffers of BV_VSOCK_TX_BUF_SIZE bytes); it leaves as the peer grants
 * credit. STREAM: returns bytes accepted (may be < len) or BV_EAGAIN if the
 * buffer is full. SEQPACKET: the whole message or BV_EAGAIN; BV_EMSGSIZE if
 * it can never fit (larger than one TX buffer, or than the smaller of the
 * peer's window and ours, as Linux). len 0 sends nothing and returns 0.
 * Errors: BV_ENOTCONN while connecting, BV_EPIPE after our shutdown(SEND) or
 * the peer's shutdown(RCV), the connection's error once it failed
 * (BV_ECONNRESET, ...), BV_EBADF. */
int vsock_send(int h, const void *buf, uint32_t len);

/* Message flags (SEQPACKET). */
enum {
	VSOCK_MSG_EOR   = 1,   /* sendmsg: the message ends a record; recvmsg: it did */
	VSOCK_MSG_TRUNC = 2,   /* recvmsg: the message was longer than len; the rest is gone */
	VSOCK_MSG_EOM   = 4,   /* recv_borrow: these bytes end a SEQPACKET message */
};
/* vsock_send with flags: VSOCK_MSG_EOR marks a SEQPACKET message as the end
 * of a record (the peer sees MSG_EOR); ignored for STREAM, as Linux does. */
int vsock_sendmsg(int h, const void *buf, uint32_t len, uint32_t flags);

/* Read received data. STREAM: up to len bytes. SEQPACKET: one whole message
 * per call, truncated to len (the rest of it is discarded); a message is
 * delivered only once complete, so it must fit BV_VSOCK_BUF_ALLOC (the
 * buf_alloc we advertise; Linux senders refuse larger ones); an empty
 * message reads as 0, as on Linux. Returns bytes read,
 * 0 at end of stream (peer shut down its send side, or an orderly close, and
 * everything was read; also after our own shutdown(RCV)), BV_EAGAIN if nothing
 * is there yet, or the errors of vsock_send(). Reading returns credit to the
 * peer. */
int vsock_recv(int h, void *buf, uint32_t len);

/* vsock_recv that also reports, through *flags (if non-NULL; 0 otherwise),
 * VSOCK_MSG_EOR and VSOCK_MSG_TRUNC for the SEQPACKET message returned. */
int vsock_recvmsg(int h, void *buf, uint32_t len, uint32_t *flags);

/* Zero-copy receive: *data points at the next received bytes where the
 * device wrote them; returns how many are there (> 0). They stay valid, and
 * stay counted against the peer's credit, until vsock_recv_release() or
 * vsock_close(). Call release(h, n) with n <= that count once done with n
 * of them; whole packet buffers then go back to the device and their bytes
 * back to the peer as credit. The next borrow shows what follows.
 * SEQPACKET: only complete messages are shown, a message may come in several
 * pieces, and *flags (if non-NULL) gets VSOCK_MSG_EOM (and VSOCK_MSG_EOR) on
 * the piece that ends it; an empty message is 0 with VSOCK_MSG_EOM.
 * Otherwise 0 means end of stream, as for vsock_recv, and the errors are
 * those of vsock_recv. release returns 0, BV_EBADF, or BV_EINVAL (n larger
 * than what borrow showed). */
int vsock_recv_borrow(int h, const void **data, uint32_t *flags);
int vsock_recv_release(int h, uint32_t n);
/* SEQPACKET: unread bytes of the next complete message (>= 0), so its
 * reader can size a buffer (or a vsock_send_reserve) before reading it;
 * BV_EAGAIN if no message is complete yet, 0/the error at the end as
 * vsock_recv; BV_EINVAL for a STREAM handle. */
int vsock_recv_msglen(int h);

/* Zero-copy send: *buf points at room for at least `want` bytes (at least
 * 1 if want is 0) inside a TX packet buffer; returns how much room (>= want).
 * Write the bytes there, then vsock_send_commit(h, n, flags) hands n <= room
 * of them to the connection (SEQPACKET: exactly one message of n bytes,
 * flags VSOCK_MSG_EOR as for sendmsg; reserve it with want = its length).
 * One reserve at a time per handle; a reserve without a commit is dropped
 * by the next reserve, commit(h, 0, 0) or close. Errors: those of
 * vsock_send, BV_EAGAIN when the send buffer is full, BV_EMSGSIZE when want
 * can never fit; commit without a reserve is BV_EINVAL. */
int vsock_send_reserve(int h, uint32_t want, void **buf);
int vsock_send_commit(int h, uint32_t n, uint32_t flags);

/* Move received data of `from` into the send buffer of `to` (the same
 * handle for an echo), up to max bytes, copying each byte once, from the
 * RX buffer it arrived in to the TX buffer it leaves from. SEQPACKET moves
 * whole messages only, keeping their boundaries and record ends (an empty
 * message is dropped, as Linux cannot send one). Returns the bytes moved
 * (> 0), BV_EAGAIN when nothing could move (no data, or no send room), 0 at
 * the end of `from`'s stream, or an error of either side (BV_EINVAL when
 * their types differ, BV_EMSGSIZE for a message `to` can never take). */
int vsock_splice(int from, int to, uint32_t max);

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

/* ---- looking inside (for diagnostics; vsock_diag.h prints it all) ---- */

/* Connection states as vsock_conn_info reports them. */
enum {
	VSOCK_STATE_LISTEN = 1,      /* a listener */
	VSOCK_STATE_CONNECTING,      /* REQUEST queued or sent, no answer yet */
	VSOCK_STATE_ESTABLISHED,     /* also: accepted by a listener, waiting for vsock_accept */
	VSOCK_STATE_CLOSING,         /* the app closed it: flushing, then SHUTDOWN, waiting for the peer's RST */
	VSOCK_STATE_DONE,            /* over, and the app still holds the handle (err says why) */
};

/* Which timer runs (vsock_conn_info.timer). */
enum {
	VSOCK_TIMER_NONE = 0,
	VSOCK_TIMER_CONNECT,         /* the connection fails with BV_ETIMEDOUT when it fires */
	VSOCK_TIMER_CLOSE,           /* we send RST and free the entry when it fires */
};

/* A snapshot of one entry of the pool. Byte counters are the wire's: 32
 * bits, wrapping. Times are milliseconds on the clock vsock_poll() gives the
 * engine. */
struct vsock_conn_info {
	int state;                   /* VSOCK_STATE_* */
	int type;                    /* VSOCK_STREAM or VSOCK_SEQPACKET */
	int owned;                   /* the app holds it: the index is its handle */
	int outgoing;                /* made by vsock_connect */
	int listener;                /* waiting for vsock_accept on this listener; else -1 */
	int err;                     /* DONE: why it ended (0: an orderly end) */
	uint32_t backlog, pending;   /* listener: connections it lets wait; waiting now */
	/* VSOCK_SHUTDOWN_* bits: asked by the app, announced to the peer, announced by the peer */
	uint32_t shut_local, shut_sent, peer_shut;
	uint64_t local_cid;
	uint32_t local_port, peer_cid, peer_port;
	/* Sending. The peer's window as its latest packet told us, what we sent. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	uint32_t credit;             /* bytes we may send now: peer_buf_alloc - (tx_cnt - peer_fwd_cnt), or 0 */
	uint32_t unsent;             /* bytes the app queued that are not in a packet yet */
	uint32_t tx_bufs;            /* TX buffers holding them */
	/* Receiving. */
	uint32_t buf_alloc;          /* our window: BV_VSOCK_BUF_ALLOC */
	uint32_t rx_cnt;             /* bytes received */
	uint32_t fwd_cnt;            /* bytes the app consumed (or we discarded) */
	uint32_t fwd_cnt_sent;       /* fwd_cnt as our latest packet told the peer */
	uint32_t unread;             /* received, not yet consumed by the app: rx_cnt - fwd_cnt */
	uint32_t msgs_unread;        /* SEQPACKET: complete messages among them */
	uint32_t rx_bufs;            /* RX buffers holding them */
	/* Timers. */
	uint64_t now_ms;             /* the engine's clock when this was taken */
	int timer;                   /* VSOCK_TIMER_* */
	uint64_t timer_ms;           /* ... fires in this many ms */
	int credit_req_sent;         /* a CREDIT_REQUEST is out: no credit since, no retry due yet */
	uint64_t credit_req_retry_ms;/* ... while tx_stalled: the next may go in this many ms */
	uint64_t credit_req_ago_ms;  /* our latest CREDIT_REQUEST went this long ago; UINT64_MAX: none yet */
	int tx_stalled;              /* ESTABLISHED, data waits, and the credit is zero */
	uint64_t tx_stall_ms;        /* ... since this many ms */
};

/* Fill *out with entry `index` of the pool (0 .. BV_VSOCK_MAX_CONNS - 1:
 * handles are such indices), whoever holds it: the app, a listener's accept
 * queue, or the engine closing it in the background. Returns 0, BV_EBADF
 * when the entry is free, BV_EINVAL when index is out of range or out is
 * NULL, so a loop `for (i = 0; vsock_conn_info(i, &ci) != BV_EINVAL; i++)`
 * sees every entry. Reads only; never blocks. */
int vsock_conn_info(int index, struct vsock_conn_info *out);

/* Implemented by the device glue (vsock/vsock_dev.c): one bounded round of
 * device work; call it in the app's loop. */
int vsock_poll(void);

/* Also in the device glue: wait, with the CPU halted, until there may be work
 * for vsock_poll(): the device used a buffer (a packet arrived, a transmit
 * completed, an event), a packet is ready to go out, an engine timer (connect
 * or close timeout) is due, or timeout_ms passed (VSOCK_WAIT_FOREVER: no
 * limit). Returns 1 when there may be work, 0 on timeout, BV_ENODEV without a
 * device. Call it when a round of vsock_poll() and your own work did nothing:
 *     for (;;) { int w = vsock_poll(); w += my_work(); if (!w) vsock_wait(ms); }
 * Interrupts only wake the CPU; nothing is processed until vsock_poll().
 * It may return 1 with nothing to do (callers loop), never sleeps past a due
 * timer, and never halts longer than BV_VSOCK_WAIT_MAX_HALT_MS without looking
 * at the rings, so a device that never interrupts costs latency, not a hang.
 * Right after traffic it polls for BV_VSOCK_WAIT_SPIN_US before halting.
 * Built with BV_VSOCK_BUSY_POLL it spins instead of halting. */
#define VSOCK_WAIT_FOREVER 0xffffffffu
int vsock_wait(uint32_t timeout_ms);

#endif
