/* SPDX-License-Identifier: BSD-2-Clause */
/* Internal to vsock/: the connection table the protocol engine
 * (vsock_engine.c) and the socket API (vsock_socket.c) share, and the
 * engine's operations on one connection that the socket API calls.
 * Not a public interface: apps use vsock.h, the device glue vsock_engine.h. */
#ifndef BV_VSOCK_CONN_H
#define BV_VSOCK_CONN_H

#include <stdint.h>
#include "bv/config.h"
#include "vsock/vsock_buf.h"
#include "vsock/vsock_engine.h"
#include "vsock/vsock_wire.h"

#define NCONN      BV_VSOCK_MAX_CONNS
#define BUF_ALLOC  ((uint32_t)BV_VSOCK_BUF_ALLOC)
#define RXSZ       ((uint32_t)BV_VSOCK_RX_BUF_SIZE)
#define TXSZ       ((uint32_t)BV_VSOCK_TX_BUF_SIZE)
#define NTXBUF     BV_VSOCK_TX_BUFS
#define TXCAP      BV_VSOCK_CONN_TX_BUFS
/* RX buffers one connection may hold. A packet is copied into the tail of
 * the buffer before it whenever it fits, so any two neighbours hold more
 * than RXSZ bytes; the unread bytes are at most BUF_ALLOC, plus what was
 * already read of the head buffer: a peer within its credit needs at most
 * 2 * BUF_ALLOC / RXSZ + 3 of them, and this is never the limit. */
#define RXCAP      (2u * BUF_ALLOC / RXSZ + 3u)
/* SEQPACKET messages one connection may have unread; one more is an
 * overflow (ENOBUFS), as newest Linux counts per-packet overhead. */
#define SEQMSGS    BV_VSOCK_SEQ_MSGS
/* SEQPACKET messages packed into one TX buffer. */
#define TXMSGS     16

_Static_assert(NCONN > 0 && NCONN < 32768, "BV_VSOCK_MAX_CONNS must fit a handle");
_Static_assert(BV_VSOCK_BUF_ALLOC >= 4096 && BV_VSOCK_BUF_ALLOC <= 0x40000000, "BV_VSOCK_BUF_ALLOC");
_Static_assert(BV_VSOCK_RX_BUF_SIZE >= 256 && BV_VSOCK_RX_BUF_SIZE <= 65536, "BV_VSOCK_RX_BUF_SIZE");
_Static_assert(BV_VSOCK_TX_BUF_SIZE >= 256 && BV_VSOCK_TX_BUF_SIZE <= VSOCK_MAX_PKT_PAYLOAD,
	       "BV_VSOCK_TX_BUF_SIZE is the largest packet: at most 64 KiB");
_Static_assert(BV_VSOCK_CONN_TX_BUFS >= 1 && BV_VSOCK_CONN_TX_BUFS <= BV_VSOCK_TX_BUFS, "BV_VSOCK_CONN_TX_BUFS");
_Static_assert(RXCAP < 65536, "RX buffers per connection");
_Static_assert(BV_VSOCK_TX_BUF_SIZE % BV_DMA_ALIGN == 0,
	       "BV_VSOCK_TX_BUF_SIZE: whole DMA lines, so TX buffers share none");
_Static_assert(BV_VSOCK_SEQ_MSGS >= 1 && BV_VSOCK_SEQ_MSGS <= 64, "BV_VSOCK_SEQ_MSGS: 1..64");
/* One connection filling its whole window must leave buffers for the rest. */
_Static_assert(BV_VSOCK_RX_BUFS >= RXCAP + 4, "BV_VSOCK_RX_BUFS too small for BV_VSOCK_BUF_ALLOC");

/* bv:state-enum (docs/states.dot is checked against this list) */
enum cstate { C_FREE = 0, C_LISTEN, C_CONNECTING, C_ESTABLISHED, C_CLOSING, C_DONE };

/* Control packets a connection owes (the rest is computed in ctl_peek). */
#define CTL_REQUEST        1u
#define CTL_RESPONSE       2u
#define CTL_CREDIT_UPDATE  4u

struct conn {
	uint8_t state;
	uint8_t type;            /* VSOCK_TYPE_* */
	uint8_t owned;           /* the app holds the handle */
	uint8_t ctl;             /* CTL_* */
	uint8_t shut_local;      /* VSOCK_SHUTDOWN_* the app asked for */
	uint8_t shut_sent;       /* ... and already announced */
	uint8_t peer_shut;       /* ... the peer announced (sticky) */
	uint8_t credit_req_sent; /* one CREDIT_REQUEST per zero-credit episode */
	uint8_t was_connected;
	uint8_t timer_on;
	uint8_t timer_unstarted; /* armed before the clock was first ticked */
	uint8_t outgoing;        /* made by vsock_connect: it binds its local port */
	int16_t listener;        /* parent listener while waiting in its accept queue, else -1 */
	uint16_t backlog;        /* listener: connections that may wait for accept (+1, as Linux) */
	uint16_t pending;        /* listener: connections waiting for accept now */
	int err;                 /* why a DONE connection ended (0 = orderly) */
	uint32_t accept_seq;
	uint32_t local_port, peer_cid, peer_port;
	uint64_t deadline;
	uint32_t timer_dur;
	uint64_t stall_since;    /* ms: data waiting on zero credit since then (0: not) */
	uint64_t credit_req_at;  /* ms: when our latest CREDIT_REQUEST went out */
	/* credit, peer side: what it told us; and what we sent */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* credit, our side */
	uint32_t rx_cnt;         /* bytes received */
	uint32_t fwd_cnt;        /* bytes the app consumed (or we discarded) */
	uint32_t last_fwd_sent;  /* fwd_cnt carried by our latest packet */
	/* received data: a FIFO of held RX buffers (rxq_n of them from rxq_head);
	 * byte positions count the connection's stream from its start, mod 2^32 */
	struct vsock_rxbuf *rxq[RXCAP];
	uint16_t rxq_head, rxq_n;
	uint32_t rx_off;         /* bytes of the head buffer already read */
	uint32_t rx_rd;          /* position the app has read up to (rx_cnt: received up to);
				  * rx_cnt - rx_rd unread bytes count against BUF_ALLOC */
	/* SEQPACKET: where each unread message ends, oldest first; bit k of
	 * seq_eor: the message in slot k ends a record */
	uint32_t seq_end[SEQMSGS];
	uint64_t seq_eor;
	uint8_t seq_head, seq_n;
	/* data to send: TX buffers (indices), committed bytes not yet all sent */
	uint16_t txq[TXCAP];
	uint16_t txq_head, txq_n;
	int16_t tx_pinned;       /* TX buffer handed out by send_reserve, not yet committed; -1 */
	uint32_t tx_unsent;      /* committed bytes not yet in a packet */
};

extern struct conn vsock_conns[NCONN];
extern uint64_t vsock_cid;
extern int vsock_stream_ok, vsock_seq_ok;
extern struct vsock_stats vsock_st;

static inline int conn_idx(const struct conn *c) { return (int)(c - vsock_conns); }

/* ---- engine operations the socket API uses (vsock_engine.c) ---- */
struct conn *conn_alloc(void);
void conn_free(struct conn *c);
void conn_unlink_listener(struct conn *c);
/* The connection is over; with send_rst an RST goes out for it. An owned
 * entry lingers as DONE (unread data stays readable), otherwise it is freed. */
void conn_end(struct conn *c, int err, int send_rst);
void conn_arm_timer(struct conn *c, uint32_t dur_ms);
uint32_t conn_alloc_port(void);
uint64_t conn_now_ms(void);

/* Receive side. peek: the next readable bytes (pointer into the head RX
 * buffer, length, and VSOCK_MSG_EOM/EOR when they end a SEQPACKET message;
 * 0 bytes with VSOCK_MSG_EOM is an empty message, 0 without: nothing yet).
 * consume: the app is done with n of them; whole buffers go back to the
 * device, their bytes to the peer's credit. discard: drop everything. */
uint32_t conn_rx_peek(const struct conn *c, const uint8_t **p, uint32_t *flags);
/* Bytes received and not yet read. */
static inline uint32_t conn_rx_unread(const struct conn *c) { return c->rx_cnt - c->rx_rd; }
void conn_rx_consume(struct conn *c, uint32_t n);
void conn_rx_discard(struct conn *c);
/* After reads: volunteer a CREDIT_UPDATE as Linux does. */
void conn_rx_credit(struct conn *c, int seq_msg_read);

/* Send side. reserve: room for at least `want` bytes (SEQPACKET: the whole
 * message) in the connection's last TX buffer or a fresh one; returns the
 * room and the place, or 0 if none now. commit: n bytes written there (a
 * SEQPACKET message, flags VSOCK_MSG_EOR). discard: drop unsent data. */
uint32_t conn_tx_reserve(struct conn *c, uint32_t want, uint8_t **p);
uint32_t conn_tx_commit(struct conn *c, uint32_t n, uint32_t flags);
/* Forget a reserve that will not be committed. */
void conn_tx_unpin(struct conn *c);
void conn_tx_discard(struct conn *c);
/* Room a reserve of one byte would find (0: not writable now). */
uint32_t conn_tx_room(const struct conn *c);

/* Peer's free credit as Linux computes it (clamped, capped at our own window). */
uint32_t conn_peer_credit(const struct conn *c);

#endif
