/* SPDX-License-Identifier: BSD-2-Clause */
/* The vsock protocol engine: everything between the device glue
 * (vsock/vsock_dev.c, which owns the virtqueues) and the socket API
 * (vsock/vsock.h). Pure C, no MMIO, no heap; all state is static and sized
 * by include/bv/config.h.
 *
 * The glue's loop:
 *   for an event:            vsock_engine_transport_reset(new_cid)
 *   for each used RX buffer: if (!vsock_engine_rx(buf, bytes_after_hdr)) post it again
 *   then:                    while ((b = vsock_engine_rx_reclaim())) post b again
 *   regularly:               vsock_engine_tick(now_ms)
 *   while TX has room:       n = vsock_engine_next_tx(&hdr, &pkt); if (n < 0) break;
 *                            send hdr + pkt.data[0..pkt.len)
 *   for each TX completion:  vsock_engine_tx_done(pkt.token)
 * Headers crossing this interface are in wire (little-endian) form.
 * Received payload is not copied: the engine keeps the RX buffer until the
 * app has read it. Payload to send lives in the engine's TX buffers; a
 * packet's slice must stay untouched by the device path until tx_done.
 */
#ifndef BV_VSOCK_ENGINE_H
#define BV_VSOCK_ENGINE_H

#include <stdint.h>
#include "vsock/vsock_buf.h"
#include "vsock/vsock_wire.h"

/* Reset all state (connections, listeners, queued packets, buffers held,
 * counters, clock). features: the negotiated device feature bits
 * (VSOCK_F_*): SEQPACKET sockets need VSOCK_F_SEQPACKET; STREAM is there
 * unless VSOCK_F_NO_IMPLIED_STREAM was negotiated without VSOCK_F_STREAM.
 * Buffers the engine held are forgotten: the glue posts all of its own. */
void vsock_engine_init(uint64_t local_cid, uint64_t features);

/* One received packet in buffer b; payload_len = bytes the device wrote
 * after the header. Returns 1 if the engine keeps b (it comes back through
 * vsock_engine_rx_reclaim once read), 0 if the glue may post it again now.
 * Everything is checked; nothing from the peer is trusted:
 *   hdr.len > payload_len or > BV_VSOCK_RX_BUF_SIZE, CID above 32 bits
 *                                                         -> rx_dropped_malformed
 *   dst_cid not ours                                       -> rx_dropped_badcid
 *   src_cid is our own CID                                 -> rx_dropped_own_cid
 *   type neither STREAM nor SEQPACKET -> rx_dropped_malformed, answered with RST
 *   op outside 1..7 -> rx_unknown_op, then handled per state like Linux
 *   unknown flow, wrong type for the flow, non-REQUEST to a listener,
 *   REQUEST over the listener's backlog (conns_refused_backlog) or with the
 *   pool full (conns_refused_full) -> RST
 *   data that does not fit the window (bytes really held, not the credit
 *   last advertised), or a SEQPACKET message beyond BV_VSOCK_SEQ_MSGS
 *   unread ones -> RST the connection (BV_ENOBUFS), rx_overflow.
 * An RST is never answered. Each call queues at most one reply. */
int vsock_engine_rx(struct vsock_rxbuf *b, uint32_t payload_len);

/* An RX buffer the engine no longer needs (all of it was read, or the
 * connection went away), or NULL. */
struct vsock_rxbuf *vsock_engine_rx_reclaim(void);

/* The next packet to transmit: header into *hdr, payload slice into *pkt.
 * Returns the payload length (>= 0), or BV_EAGAIN if nothing is pending.
 * Order: queued RSTs, then per-connection control (REQUEST, RESPONSE, RST,
 * CREDIT_UPDATE, SHUTDOWN, CREDIT_REQUEST), then data, round-robin over
 * connections. Data never exceeds the peer's credit. */
int vsock_engine_next_tx(struct vsock_hdr *hdr, struct vsock_txpkt *pkt);

/* The device is done with a packet's payload (its pkt.token; 0 is ignored). */
void vsock_engine_tx_done(uint32_t token);

/* Nonzero if vsock_engine_next_tx() would produce a packet. */
int vsock_engine_tx_pending(void);

/* Nonzero while the RSTs waiting to go out fill the TX ring (or the engine's
 * reply queue): the glue takes no more RX work until they drain, as Linux
 * stops RX when its queued replies reach the TX ring size. */
int vsock_engine_replies_backed_up(unsigned tx_ring_size);

/* Advance the clock (milliseconds, monotonic). Connect timeout -> the
 * connection fails with BV_ETIMEDOUT; close timeout -> RST and free. Timers
 * armed before the first tick start at that tick. */
void vsock_engine_tick(uint64_t now_ms);

/* The earliest timer deadline (ms, on the vsock_engine_tick clock: connect
 * and close timeouts, the CREDIT_REQUEST retry), or UINT64_MAX when no timer
 * runs: how long a waiting glue may sleep. */
uint64_t vsock_engine_next_deadline_ms(void);

/* TRANSPORT_RESET event: connecting/established connections fail with
 * BV_ECONNRESET without sending anything, closing ones and queued packets
 * are dropped, listeners stay, the CID becomes new_cid. */
void vsock_engine_transport_reset(uint64_t new_cid);

struct vsock_stats {
	uint32_t conns_in_use;          /* pool entries in use, listeners included */
	uint32_t conns_peak;
	uint32_t conns_refused_full;    /* REQUESTs answered RST because the pool was full */
	uint32_t conns_refused_backlog; /* REQUESTs answered RST over the listener's backlog */
	uint32_t rx_pkts;               /* every packet given to vsock_engine_rx */
	uint32_t tx_pkts;
	uint32_t rx_dropped_malformed;  /* bad len/type/CID */
	uint32_t rx_dropped_badcid;     /* dst_cid not ours */
	uint32_t rx_dropped_own_cid;    /* src_cid is our own CID */
	uint32_t rx_overflow;           /* RW that did not fit: connection reset */
	uint32_t rx_merged;             /* packets copied into the buffer before (small ones) */
	uint32_t rx_unknown_op;
	uint32_t rst_sent;
	uint32_t rst_dropped;           /* RSTs lost because the reply queue was full */
	uint32_t rst_rcvd;
	uint32_t credit_updates_sent;
	uint32_t credit_requests_sent;
	uint32_t tx_bad_token;          /* tx_done for a packet not in flight */
	uint64_t rx_bytes;              /* RW payload accepted on connections */
	uint64_t tx_bytes;              /* RW payload produced */
	/* the buffer pools right now */
	uint32_t rx_bufs_held;          /* RX buffers holding unread data, or read and not yet
					 * taken back by the glue (vsock_engine_rx_reclaim) */
	uint32_t tx_bufs_free, tx_bufs_total;
};
void vsock_engine_stats(struct vsock_stats *out);

/* Last time given to vsock_engine_tick (0 before the first tick). */
uint64_t vsock_engine_now_ms(void);

#ifdef BV_VSOCK_TEST_HOOKS
/* Tests only: move the byte counters of an idle connection h (nothing in
 * flight either way) so that our tx_cnt and fwd_cnt start at the given
 * values; the peer-side counters the engine tracks move with them. */
void vsock_engine_test_set_counters(int h, uint32_t tx_cnt, uint32_t fwd_cnt);
/* Tests only: the RX buffers the engine holds (on a connection, or waiting
 * for reclaim), up to max of them into out; returns how many there are. */
unsigned vsock_engine_test_rx_held(const struct vsock_rxbuf **out, unsigned max);
/* Tests only: NULL if every TX buffer is in exactly one place (free,
 * queued on one connection, or only in flight), else what is wrong. */
const char *vsock_engine_test_check(void);
#endif

#endif
