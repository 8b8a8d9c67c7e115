/* SPDX-License-Identifier: BSD-2-Clause */
/* The vsock protocol engine: everything between the device glue
 * (vsock/vsock_dev.c, which owns the virtqueues) and the socket API
 * (vsock/vsock.h). Pure C, no MMIO, no heap; all state is static and sized
 * by include/bv/config.h.
 *
 * The glue's loop:
 *   for each used RX buffer:   vsock_engine_input(hdr, payload, bytes_after_hdr)
 *   for an event:              vsock_engine_transport_reset(new_cid)
 *   while TX has room:         n = vsock_engine_next_tx(&hdr, buf, cap); if (n < 0) break; post it
 *   regularly:                 vsock_engine_tick(now_ms)
 * All headers crossing this interface are in wire (little-endian) form.
 */
#ifndef BV_VSOCK_ENGINE_H
#define BV_VSOCK_ENGINE_H

#include <stdint.h>
#include "vsock/vsock_wire.h"

/* Reset all state (connections, listeners, queued packets, counters, clock).
 * features: the negotiated device feature bits (VSOCK_F_*): SEQPACKET sockets
 * need VSOCK_F_SEQPACKET; STREAM is there unless VSOCK_F_NO_IMPLIED_STREAM
 * was negotiated without VSOCK_F_STREAM. */
void vsock_engine_init(uint64_t local_cid, uint64_t features);

/* One received packet. payload_len = bytes present after the header.
 * Everything is checked; nothing from the peer is trusted:
 *   hdr.len > payload_len or > 64 KiB, CID above 32 bits -> rx_dropped_malformed
 *   dst_cid not ours                                       -> rx_dropped_badcid
 *   src_cid is our own CID                                 -> rx_dropped_own_cid
 *   type neither STREAM nor SEQPACKET -> rx_dropped_malformed, answered with RST
 *   op outside 1..7 -> rx_unknown_op, then handled per state like Linux
 *   unknown flow, wrong type for the flow, non-REQUEST to a listener,
 *   REQUEST over the listener's backlog (conns_refused_backlog) or with the
 *   pool full (conns_refused_full) -> RST
 *   data that does not fit the bytes we hold -> RST the connection
 *   (BV_ENOBUFS), counted in rx_overflow; data beyond the credit we last
 *   advertised but within real free space is accepted.
 * An RST is never answered. Each call queues at most one reply. */
void vsock_engine_input(const struct vsock_hdr *hdr, const uint8_t *payload, uint32_t payload_len);

/* Produce the next packet to transmit: header into *hdr, payload (up to cap
 * bytes) into buf. Returns the payload length (>= 0), or BV_EAGAIN if nothing
 * is pending. Order: queued RSTs, then per-connection control (REQUEST,
 * RESPONSE, RST, CREDIT_UPDATE, SHUTDOWN, CREDIT_REQUEST), then data,
 * round-robin over connections. Data never exceeds the peer's credit. */
int vsock_engine_next_tx(struct vsock_hdr *hdr, uint8_t *buf, uint32_t cap);

/* Nonzero if vsock_engine_next_tx() would produce a packet (given cap > 0). */
int vsock_engine_tx_pending(void);

/* Nonzero while the RSTs waiting to go out fill the TX ring (or the engine's
 * reply queue): the glue takes no more RX work until they drain, as Linux
 * stops RX when its queued replies reach the TX ring size. */
int vsock_engine_replies_backed_up(unsigned tx_ring_size);

/* Advance the clock (milliseconds, monotonic). Connect timeout -> the
 * connection fails with BV_ETIMEDOUT; close timeout -> RST and free. Timers
 * armed before the first tick start at that tick. */
void vsock_engine_tick(uint64_t now_ms);

/* TRANSPORT_RESET event: connecting/established connections fail with
 * BV_ECONNRESET without sending anything, closing ones and queued packets
 * are dropped, listeners stay, the CID becomes new_cid. */
void vsock_engine_transport_reset(uint64_t new_cid);

struct vsock_stats {
	uint32_t conns_in_use;          /* pool entries in use, listeners included */
	uint32_t conns_peak;
	uint32_t conns_refused_full;    /* REQUESTs answered RST because the pool was full */
	uint32_t conns_refused_backlog; /* REQUESTs answered RST over the listener's backlog */
	uint32_t rx_pkts;               /* every packet given to vsock_engine_input */
	uint32_t tx_pkts;
	uint32_t rx_dropped_malformed;  /* bad len/type/CID */
	uint32_t rx_dropped_badcid;     /* dst_cid not ours */
	uint32_t rx_dropped_own_cid;    /* src_cid is our own CID */
	uint32_t rx_overflow;           /* RW that did not fit: connection reset */
	uint32_t rx_unknown_op;
	uint32_t rst_sent;
	uint32_t rst_dropped;           /* RSTs lost because the reply queue was full */
	uint32_t rst_rcvd;
	uint32_t credit_updates_sent;
	uint32_t credit_requests_sent;
	uint64_t rx_bytes;              /* RW payload accepted on connections */
	uint64_t tx_bytes;              /* RW payload produced */
};
void vsock_engine_stats(struct vsock_stats *out);

/* Last time given to vsock_engine_tick (0 before the first tick). */
uint64_t vsock_engine_now_ms(void);

#ifdef BV_VSOCK_TEST_HOOKS
/* Tests only: move the byte counters of an idle connection h (nothing in
 * flight either way) so that our tx_cnt and fwd_cnt start at the given
 * values; the peer-side counters the engine tracks move with them. */
void vsock_engine_test_set_counters(int h, uint32_t tx_cnt, uint32_t fwd_cnt);
#endif

#endif
