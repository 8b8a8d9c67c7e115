/* SPDX-License-Identifier: BSD-2-Clause */
/* The connection engine of the host back end (bvh_): the host end of every
 * guest connection, its state machine and credit accounting, the RSTs owed to
 * packets that match no connection, timers and counters. It touches no socket
 * and no ring: guest packets come in through bvh_conn_packet() (ring.c), the
 * packets it owes the guest go out through bvh_conn_produce() (ring.c), and the
 * host end of each connection is reached through the bvh_host_* hooks, which
 * the Unix-socket side (uds.c) implements. Non-goals: DGRAM, the event queue. */
#ifndef HOST_CONN_H
#define HOST_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "host/pcap.h"
#include "host/vhu.h"
#include "vsock/vsock_wire.h"

/* Things a guest can get wrong; each is logged on first sight and counted. */
enum bvh_bad {
	BVH_BAD_RING,        /* ring corrupted: queue stopped */
	BVH_BAD_CHAIN,       /* descriptor chain invalid (address, loop, direction, size) */
	BVH_BAD_SHORT,       /* TX chain shorter than a header / RX buffer too small */
	BVH_BAD_LEN,         /* hdr.len exceeds the buffer or 64 KiB */
	BVH_BAD_SRC_CID,
	BVH_BAD_DST_CID,
	BVH_BAD_TYPE,
	BVH_BAD_OP,
	BVH_BAD_CREDIT,      /* sent beyond the credit we granted */
	BVH_BAD_STATE,       /* packet not valid in the connection's state */
	BVH_BAD_MAX
};

struct bvh_opts {
	uint64_t guest_cid;
	const char *uds_path;
	uint32_t buf_alloc;          /* --tx-buffer-size: our receive buffer per connection */
	unsigned connect_timeout_ms; /* host CONNECT line and guest RESPONSE wait */
	unsigned close_timeout_ms;   /* wait for the guest's RST after our SHUTDOWN(both) */
	unsigned max_conns;
	unsigned stall_log_ms;       /* log a connection waiting this long on zero credit; 0 = never */
	int verbose;
};

struct bvh_stats {
	uint64_t bad[BVH_BAD_MAX];
	uint64_t tx_pkts, rx_pkts, tx_bytes, rx_bytes;
	uint64_t calls;              /* interrupts (call eventfd writes) sent to the guest */
	uint64_t kicks[VHU_NUM_QUEUES]; /* the guest's notifications per queue (RX, TX, event):
				      * the kick eventfds' counts, one per doorbell write */
	uint64_t conns_host, conns_guest, refused_host, refused_guest, resets, orphan_rst, orphan_drop;
	uint64_t stalls;             /* connections logged as stalled on zero credit */
};

enum bvh_cstate {
	CS_HANDSHAKE,   /* the host end exists but has not named a guest port yet */
	CS_REQUEST,     /* host-initiated: REQUEST queued or sent, waiting for RESPONSE */
	CS_EST,
	CS_CLOSING,     /* we sent SHUTDOWN(both): waiting for the guest's RST */
	CS_DEAD,        /* host end closed; an RST may still be queued, then freed */
};

struct bvh_conn {
	unsigned slot;
	uint32_t gen;
	enum bvh_cstate st;
	uint16_t type;
	bool host_initiated;
	uint32_t host_port, guest_port;
	uint64_t deadline;          /* 0 = none */

	/* packets owed to the guest */
	bool send_request, request_sent, send_response, send_rst, send_credit_update,
	     send_credit_request, credit_request_sent;
	uint32_t shut_sent;         /* SHUTDOWN bits told to the guest */

	/* guest -> host end: bytes the guest sent that the host end has not taken */
	uint8_t *in;
	uint32_t in_off, in_len, in_partial; /* in_partial: seqpacket bytes of an unfinished message */
	uint32_t *msg;              /* seqpacket: lengths of complete queued messages */
	unsigned nmsg, msg_cap;
	uint32_t fwd_cnt, last_fwd_sent;
	uint32_t guest_shut;        /* SHUTDOWN bits the guest told us */
	bool wr_shut;               /* the host end was told the guest sends no more */

	/* host end -> guest: bytes taken from the host end not yet in RX buffers */
	uint8_t *out;
	uint32_t out_off, out_len, out_cap;
	bool out_eom;               /* seqpacket: the staged bytes end a message */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	uint64_t stall_since;       /* ms: data has waited on zero credit since then; 0 = not waiting */
	uint32_t stall_tx_cnt;      /* tx_cnt then: any progress ends the episode */
	bool stall_logged;

	/* the host end, as the hooks report it */
	bool host_open;             /* false once the host end is closed */
	bool readable, writable, host_eof, hup;

	/* owned by the Unix-socket side (uds.c) */
	int fd;
	char line[40];
	unsigned line_len;
};

struct bvh_engine {
	struct bvh_opts o;
	struct vhu_dev *dev;
	int epfd;
	int listen_fd;
	struct bvh_conn **slot;      /* by slot index, NULL if free */
	unsigned nslots;
	struct bvh_conn **active;    /* dense list for scans */
	unsigned nactive;
	unsigned rr;                 /* round-robin start for RX fairness */
	uint32_t gen;
	uint32_t next_host_port;
	struct vsock_hdr orphan[256];/* RSTs for packets that match no connection */
	unsigned orphan_head, orphan_len;
	uint64_t accept_err;
	struct vr_chain chain;
	uint8_t scratch[VSOCK_HDR_SIZE + VSOCK_MAX_PKT_PAYLOAD];
	struct bvh_stats st;
	struct bvpcap *pcap;         /* --pcap: ring.c records every packet crossing the rings; NULL = off */
};

#define BVH_LOG(e, ...) fprintf(stderr, "bv-vhost-vsock: " __VA_ARGS__)
#define BVH_VLOG(e, ...) do { if ((e)->o.verbose) BVH_LOG(e, __VA_ARGS__); } while (0)

uint64_t bvh_now_ms(void);
const char *bvh_bad_name(int kind);
/* Count a guest error; it is logged on first sight only. */
void bvh_bad(struct bvh_engine *e, enum bvh_bad kind, const char *detail);

int bvh_conns_init(struct bvh_engine *e, const struct bvh_opts *o, struct vhu_dev *dev);
void bvh_conns_fini(struct bvh_engine *e);

/* Is this socket type usable with the features the guest negotiated? */
bool bvh_type_ok(const struct bvh_engine *e, uint16_t type);

/* A new connection in CS_HANDSHAKE, or NULL when the table is full. */
struct bvh_conn *bvh_conn_new(struct bvh_engine *e);
/* End a connection abruptly: the host end is closed, the guest gets an RST
 * if it knows the connection. The struct goes once the RST is out. */
void bvh_conn_reset(struct bvh_engine *e, struct bvh_conn *c, const char *why);
struct bvh_conn *bvh_conn_lookup(struct bvh_engine *e, uint32_t host_port, uint32_t guest_port);
/* A host port for a new host-initiated connection to guest_port. */
uint32_t bvh_conn_alloc_host_port(struct bvh_engine *e, uint32_t guest_port);

/* One guest TX packet whose length is valid (hdr.len bytes of payload). */
void bvh_conn_packet(struct bvh_engine *e, const struct vsock_hdr *h, const uint8_t *payload);
/* A guest TX packet with a bad hdr.len: reset the flow it names, if any. */
void bvh_conn_bad_len(struct bvh_engine *e, const struct vsock_hdr *h);
/* Might c have a packet for the guest? (A true answer may still produce none.) */
bool bvh_conn_wants(const struct bvh_conn *c);
/* The next packet c owes the guest, with at most space payload bytes: fills *h
 * and *payload (h->len bytes) and returns true, or returns false. */
bool bvh_conn_produce(struct bvh_engine *e, struct bvh_conn *c, uint32_t space, struct vsock_hdr *h,
		      const uint8_t **payload);
/* Next queued RST for an unknown flow (NULL: none); bvh_orphan_done() once sent. */
const struct vsock_hdr *bvh_orphan_next(const struct bvh_engine *e);
void bvh_orphan_done(struct bvh_engine *e);
/* Free connections that have nothing more to say. */
void bvh_conns_reap(struct bvh_engine *e);

/* Hand what the guest sent to the host end, then do what follows from it
 * (credit update, half-close, close). */
void bvh_conn_flush(struct bvh_engine *e, struct bvh_conn *c);
/* For the host end: the next chunk to deliver (a whole message for
 * SEQPACKET), 0 if none; and that n bytes of it were taken. */
uint32_t bvh_conn_pending(const struct bvh_conn *c, const uint8_t **p);
void bvh_conn_delivered(struct bvh_engine *e, struct bvh_conn *c, uint32_t n);
/* For the host end: a staging buffer of at least cap bytes (NULL: the
 * connection was reset), and that n bytes were put in it. */
uint8_t *bvh_conn_stage_buf(struct bvh_engine *e, struct bvh_conn *c, uint32_t cap);
void bvh_conn_staged(struct bvh_conn *c, uint32_t n, bool eom);
/* Credit the guest grants us now. */
uint32_t bvh_conn_peer_credit(const struct bvh_conn *c);

void bvh_timers(struct bvh_engine *e);
/* Drop every connection (the guest's side is gone: rings stopped or QEMU left). */
void bvh_reset_all(struct bvh_engine *e, const char *why);
void bvh_dump_stats(const struct bvh_engine *e, FILE *f);

/* The host end of a connection: implemented by the Unix-socket side. */
/* A guest REQUEST for c->host_port: open the host end (false: refused). */
bool bvh_host_open(struct bvh_engine *e, struct bvh_conn *c);
/* The guest accepted a host-initiated connection (false: the host end is gone). */
bool bvh_host_connected(struct bvh_engine *e, struct bvh_conn *c);
/* Give the host end what bvh_conn_pending() offers, while it takes it. */
void bvh_host_deliver(struct bvh_engine *e, struct bvh_conn *c);
/* Take bytes from the host end into the staging buffer (only when it is empty). */
void bvh_host_stage(struct bvh_engine *e, struct bvh_conn *c);
/* The guest sends no more (SHUTDOWN(SEND), all delivered) / reads no more (SHUTDOWN(RCV)). */
void bvh_host_end_of_data(struct bvh_engine *e, struct bvh_conn *c);
void bvh_host_stop_reading(struct bvh_engine *e, struct bvh_conn *c);
/* Close the host end for good. */
void bvh_host_close(struct bvh_engine *e, struct bvh_conn *c);
/* Bytes the host end holds for the guest that are not staged yet (for the stall log). */
uint32_t bvh_host_queued(const struct bvh_engine *e, const struct bvh_conn *c);

#endif
