/* SPDX-License-Identifier: BSD-2-Clause */
/* The raw-packet host (raw_): bv-vhost-vsock --raw CTLSOCK. Instead of
 * bridging connections, the back end lets one test client on a control socket
 * play the host at the packet level: put arbitrary bytes into the guest's RX
 * buffers with any used length, alone or as one batch of used entries, deliver
 * TRANSPORT_RESET into the guest's event queue, change the CID, hold the TX
 * ring, and hear every packet the guest emits with a timestamp. Captures go
 * to pcap through host/pcap. Non-goals: any protocol logic of its own (the
 * test is the host), several clients, the Unix-socket bridge.
 *
 * Control protocol (tests/rawhost.py is its client): a SOCK_STREAM Unix
 * socket; every frame is le32 length (of what follows), then
 *   client -> host: le32 cmd, le32 seq, body
 *   host -> client: le32 kind, le32 seq, le64 t_ns (CLOCK_MONOTONIC), body
 * Commands and their bodies:
 *   PUT     le32 flags (RAW_PUT_*), le32 count, count x { le32 used_len
 *           (RAW_USED_AUTO = bytes written), le32 n, n bytes }: each entry
 *           goes into one RX buffer (cut to its size); -> PUT_DONE
 *           { le32 count, count x { le32 capacity, le32 written, le32 used_len } },
 *           t_ns = when the used index was published. Waits for buffers.
 *   EVQ     le64 desc, le64 avail, le64 used (guest-physical), le32 num: where
 *           the event queue QEMU owns lies (from QMP x-query-virtio-queue-status) -> OK
 *   SET_CID le64 cid: GET_CONFIG answers it from now on, QEMU is told the
 *           config changed; -> OK once QEMU has re-read it
 *   CAPTURE path bytes (empty: stop): a new pcap for what follows -> OK
 *   TX      le32 hold: 1 = stop consuming the TX ring, 0 = go on -> OK
 *   RXINFO  -> RXINFO { le32 rx_ready, le32 rx_avail, le32 next_capacity,
 *           le32 tx_ready, le64 cid, le64 features }
 *   NOTIFY  signal the RX and TX call eventfds -> OK
 * Events: TX { le16 head, le16 status (vr_status), le32 chain_total, bytes }
 * for every chain the guest put on its TX ring (used length 0 goes back, as
 * vhost does); DEVICE { le32 up } when the rings start (1) or stop (0);
 * ERROR { text } for a failed command. */
#ifndef HOST_RAW_H
#define HOST_RAW_H

#include <stdbool.h>
#include <stdint.h>

#include "host/pcap.h"
#include "host/vhu.h"

enum raw_cmd {
	RAW_C_PUT = 1,
	RAW_C_EVQ = 2,
	RAW_C_SET_CID = 3,
	RAW_C_CAPTURE = 4,
	RAW_C_TX = 5,
	RAW_C_RXINFO = 6,
	RAW_C_NOTIFY = 7,
};

enum raw_event {
	RAW_E_OK = 1,
	RAW_E_ERROR = 2,
	RAW_E_PUT_DONE = 3,
	RAW_E_RXINFO = 4,
	RAW_E_TX = 16,
	RAW_E_DEVICE = 17,
};

#define RAW_PUT_BATCH       1u   /* every used entry first, then one used->idx store */
#define RAW_PUT_RESET_FIRST 2u   /* TRANSPORT_RESET into the event queue just before */
#define RAW_PUT_NO_NOTIFY   4u   /* do not signal the call eventfds afterwards */
#define RAW_USED_AUTO       0xffffffffu

#define RAW_MAX_FRAME (16u << 20)
#define RAW_WAIT_MS   5000u      /* how long a PUT or SET_CID may wait before it fails */

struct raw_host {
	struct vhu_dev *dev;
	int epfd, listen_fd, cli_fd;
	uint64_t listen_tag, cli_tag;
	const char *path;
	uint8_t *in;                 /* bytes of incoming frames */
	uint32_t in_len, in_cap;
	/* the PUT being delivered: a copy of its frame, how far it got */
	uint8_t *put;
	uint32_t put_len, put_seq, put_flags, put_count, put_done, put_off;
	uint8_t *put_report;         /* 12 bytes per entry */
	uint64_t put_deadline;
	/* SET_CID waiting for QEMU's GET_CONFIG */
	bool cid_wait;
	uint32_t cid_seq;
	unsigned cid_reads;
	uint64_t cid_deadline;
	bool tx_hold;
	bool up;                     /* RX and TX were ready at the last look */
	/* the event queue, which QEMU owns: we only ever complete its buffers */
	bool evq_set;
	uint64_t evq_gpa[3];
	uint32_t evq_num;
	struct vr_queue evq;
	struct bvpcap cap;            /* the capture CAPTURE opened */
	struct bvpcap *all;           /* --pcap: everything, if given */
	struct vr_chain chain;
	uint8_t pkt[VSOCK_HDR_SIZE + VSOCK_MAX_PKT_PAYLOAD];
};

/* Listen on path (a stale socket file is replaced) and join epfd with the two
 * tags given. Returns 0, or -1 with a message in err. */
int raw_init(struct raw_host *r, struct vhu_dev *dev, int epfd, const char *path, uint64_t listen_tag,
	     uint64_t cli_tag, char *err, size_t errlen);
void raw_fini(struct raw_host *r);
/* An epoll event for one of the two tags. */
void raw_event(struct raw_host *r, uint64_t tag);
/* Run the rings: report guest TX, go on with a waiting PUT, check timeouts. */
void raw_pump(struct raw_host *r);
/* The device's rings went away (front end gone or rings stopped). */
void raw_device_reset(struct raw_host *r);

#endif
