/* SPDX-License-Identifier: BSD-2-Clause */
/* Packet capture writer (bvpcap_): vsock packets as a classic pcap file with
 * link type 271 (LINKTYPE_VSOCK), each frame laid out as Linux's vsockmon
 * emits it, so Wireshark/tshark/tcpdump read our captures and the kernel's
 * alike. Only the writer: no reading, no pcapng, no rotation. */
#ifndef HOST_PCAP_H
#define HOST_PCAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vsock/vsock_wire.h"

#define BVPCAP_LINKTYPE_VSOCK 271u
#define BVPCAP_MAGIC_USEC     0xa1b2c3d4u
#define BVPCAP_DEFAULT_SNAPLEN 262144u  /* never cuts a vsock frame (76 + 64 KiB) */
#define BVPCAP_FLUSH_MS       500u      /* a crash loses at most this much, plus one loop turn */

/* pcap file header and per-record header: little-endian on disk here
 * (the magic tells readers the byte order). */
struct bvpcap_file_hdr {
	uint32_t magic;
	uint16_t version_major, version_minor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
} __attribute__((packed));
_Static_assert(sizeof(struct bvpcap_file_hdr) == 24, "pcap file header is 24 bytes");

struct bvpcap_rec_hdr {
	uint32_t ts_sec, ts_usec;
	uint32_t incl_len, orig_len;
} __attribute__((packed));
_Static_assert(sizeof(struct bvpcap_rec_hdr) == 16, "pcap record header is 16 bytes");

/* struct af_vsockmon_hdr (include/uapi/linux/vsockmon.h): every field LE. */
struct bvpcap_mon_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint16_t op;          /* BVPCAP_MON_* */
	uint16_t transport;   /* BVPCAP_TRANSPORT_VIRTIO */
	uint16_t len;         /* transport header bytes that follow: 44 */
	uint8_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct bvpcap_mon_hdr) == 32, "vsockmon header is 32 bytes");
_Static_assert(offsetof(struct bvpcap_mon_hdr, src_port) == 16, "vsockmon src_port offset");
_Static_assert(offsetof(struct bvpcap_mon_hdr, op) == 24, "vsockmon op offset");
_Static_assert(offsetof(struct bvpcap_mon_hdr, transport) == 26, "vsockmon transport offset");
_Static_assert(offsetof(struct bvpcap_mon_hdr, len) == 28, "vsockmon len offset");

enum bvpcap_mon_op {
	BVPCAP_MON_UNKNOWN = 0,
	BVPCAP_MON_CONNECT = 1,     /* REQUEST, RESPONSE */
	BVPCAP_MON_DISCONNECT = 2,  /* RST, SHUTDOWN */
	BVPCAP_MON_CONTROL = 3,     /* CREDIT_UPDATE, CREDIT_REQUEST */
	BVPCAP_MON_PAYLOAD = 4,     /* RW */
};
#define BVPCAP_TRANSPORT_VIRTIO 2u
#define BVPCAP_FRAME_HDRS (sizeof(struct bvpcap_mon_hdr) + VSOCK_HDR_SIZE)   /* 76 */

/* Open while buf != NULL, so a zero-initialised writer is simply closed. */
struct bvpcap {
	int fd;
	uint32_t snaplen;
	uint8_t *buf;             /* whole records only, so the file is valid after any write() */
	size_t used, cap;
	uint64_t last_flush_ms;   /* CLOCK_MONOTONIC */
	uint64_t pkts, bytes;     /* records and file bytes written or buffered */
	uint64_t lost;            /* records dropped after a write error */
	int err;                  /* errno of the first write failure (capture stopped), 0 if none */
	uint64_t good_off;        /* file size after the last whole write: cut back to it on failure */
};

/* The monitor op Linux's vsockmon gives a virtio op. */
uint16_t bvpcap_mon_op(uint16_t virtio_op);

/* Create (truncate) path and write the file header at once, so even an
 * empty capture is a valid file. snaplen: bytes of each frame kept, at least
 * BVPCAP_FRAME_HDRS. Returns 0, or -1 with a message in err. */
int bvpcap_open(struct bvpcap *p, const char *path, uint32_t snaplen, char *err, size_t errlen);

/* Record one packet as it crossed a ring: hdr is the 44-byte virtio header as
 * it was on the wire (copied verbatim, even when hdr.len lies), payload the
 * payload bytes that actually travelled with it. ts: host clock time
 * (CLOCK_REALTIME); bvpcap_packet() takes it now. No-op when not open. */
void bvpcap_packet_at(struct bvpcap *p, const struct timespec *ts, const struct vsock_hdr *hdr,
		      const void *payload, uint32_t payload_len);
void bvpcap_packet(struct bvpcap *p, const struct vsock_hdr *hdr, const void *payload, uint32_t payload_len);

/* Call often (every loop turn): writes out buffered records once
 * BVPCAP_FLUSH_MS have passed since the last write. */
void bvpcap_tick(struct bvpcap *p, uint64_t now_ms);
/* Write out everything buffered now. Returns 0, or -1 once writing failed. */
int bvpcap_flush(struct bvpcap *p);
/* Flush and close; safe to call twice and on a writer never opened
 * (zero-initialised or after a failed open). Returns 0, or -1 if any record was lost. */
int bvpcap_close(struct bvpcap *p);

#endif
