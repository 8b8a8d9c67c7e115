/* SPDX-License-Identifier: BSD-2-Clause */
/* The vsock connection engine of the host backend (bvh_): consumes the
 * guest's TX ring, fills its RX ring, runs the host end of every connection
 * with credit accounting, and bridges each one to a Unix socket using the
 * Firecracker / vhost-device-vsock hybrid convention (CONNECT <port> / OK <n>,
 * guest→host on <uds-path>_<port>). Non-goals: DGRAM, the event queue, loopback. */
#ifndef HOST_BRIDGE_H
#define HOST_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "host/vhu.h"
#include "vsock/vsock_wire.h"

/* epoll tags: kind in the top byte, a generation to spot stale events, a slot. */
enum bvh_kind { BVH_K_LISTEN = 1, BVH_K_CONN = 2, BVH_K_FIRST_FREE = 3 };
#define BVH_TAG(kind, gen, slot) (((uint64_t)(kind) << 56) | ((uint64_t)((gen) & 0xffffffffu) << 24) | (uint64_t)(slot))
#define BVH_TAG_KIND(t) ((unsigned)((t) >> 56))
#define BVH_TAG_GEN(t)  ((uint32_t)((t) >> 24))
#define BVH_TAG_SLOT(t) ((unsigned)((t) & 0xffffffu))

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
	int verbose;
};

struct bvh_stats {
	uint64_t bad[BVH_BAD_MAX];
	uint64_t tx_pkts, rx_pkts, tx_bytes, rx_bytes;
	uint64_t conns_host, conns_guest, refused_host, refused_guest, resets, orphan_rst, orphan_drop;
};

struct bvh_conn;

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
};

uint64_t bvh_now_ms(void);

/* Listen on a Unix socket path; a stale socket file (nobody listening) is
 * removed, anything else at that path is an error. Returns fd or -1 with err. */
int bvh_unix_listen(const char *path, char *err, size_t errlen);

int bvh_init(struct bvh_engine *e, const struct bvh_opts *o, struct vhu_dev *dev, int epfd,
	     char *err, size_t errlen);
void bvh_fini(struct bvh_engine *e);
/* An epoll event whose tag kind is BVH_K_LISTEN or BVH_K_CONN. */
void bvh_event(struct bvh_engine *e, uint64_t tag, uint32_t events);
/* Run the rings: consume TX, answer, fill RX, signal the guest. */
void bvh_pump(struct bvh_engine *e);
void bvh_timers(struct bvh_engine *e);
/* Drop every connection (the guest's side is gone: rings stopped or QEMU left). */
void bvh_reset_all(struct bvh_engine *e, const char *why);
void bvh_dump_stats(const struct bvh_engine *e, FILE *f);
const char *bvh_bad_name(int kind);

#endif
