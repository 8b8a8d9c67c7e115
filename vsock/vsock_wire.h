/* SPDX-License-Identifier: BSD-2-Clause */
/* virtio-vsock wire format, shared by the guest (vsock/) and the host
 * backend (host/). Only layout and constants live here: no behaviour.
 * All fields are little-endian on the wire; every target we build for is
 * little-endian, so conversion is the identity, but callers still go through
 * the vsock_le* helpers at the edge so a big-endian port changes one place. */
#ifndef VSOCK_WIRE_H
#define VSOCK_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define VIRTIO_ID_VSOCK 19

/* Virtqueue indices of the vsock device. */
enum { VSOCK_VQ_RX = 0, VSOCK_VQ_TX = 1, VSOCK_VQ_EVENT = 2 };

/* Feature bits (device-specific range). */
#define VSOCK_F_STREAM            0
#define VSOCK_F_SEQPACKET         1
#define VSOCK_F_NO_IMPLIED_STREAM 2

/* Well-known CIDs. */
#define VSOCK_CID_HYPERVISOR 0
#define VSOCK_CID_LOCAL      1
#define VSOCK_CID_HOST       2
#define VSOCK_CID_ANY        0xFFFFFFFFu
#define VSOCK_PORT_ANY       0xFFFFFFFFu

enum vsock_type {
	VSOCK_TYPE_STREAM    = 1,
	VSOCK_TYPE_SEQPACKET = 2,
};

enum vsock_op {
	VSOCK_OP_INVALID        = 0,
	VSOCK_OP_REQUEST        = 1,
	VSOCK_OP_RESPONSE       = 2,
	VSOCK_OP_RST            = 3,
	VSOCK_OP_SHUTDOWN       = 4,
	VSOCK_OP_RW             = 5,
	VSOCK_OP_CREDIT_UPDATE  = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags are masks (the spec's _F_RECEIVE/_F_SEND are bit numbers). */
#define VSOCK_SHUTDOWN_RCV  1u
#define VSOCK_SHUTDOWN_SEND 2u
#define VSOCK_SHUTDOWN_BOTH 3u

/* SEQPACKET flags on RW packets. */
#define VSOCK_SEQ_EOM 1u   /* last packet of a message */
#define VSOCK_SEQ_EOR 2u   /* end of record (MSG_EOR) */

/* Largest payload one packet may carry (Linux VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PKT_PAYLOAD (64u * 1024u)

/* Event queue. */
#define VSOCK_EVENT_TRANSPORT_RESET 0
struct vsock_event {
	uint32_t id;
} __attribute__((packed));
_Static_assert(sizeof(struct vsock_event) == 4, "vsock event is 4 bytes");

struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;       /* payload bytes that follow this header */
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc; /* sender's receive buffer size */
	uint32_t fwd_cnt;   /* bytes the sender's application has consumed, mod 2^32 */
} __attribute__((packed));

#define VSOCK_HDR_SIZE 44u
_Static_assert(sizeof(struct vsock_hdr) == VSOCK_HDR_SIZE, "vsock header is 44 bytes");
_Static_assert(offsetof(struct vsock_hdr, dst_cid) == 8, "dst_cid offset");
_Static_assert(offsetof(struct vsock_hdr, src_port) == 16, "src_port offset");
_Static_assert(offsetof(struct vsock_hdr, dst_port) == 20, "dst_port offset");
_Static_assert(offsetof(struct vsock_hdr, len) == 24, "len offset");
_Static_assert(offsetof(struct vsock_hdr, type) == 28, "type offset");
_Static_assert(offsetof(struct vsock_hdr, op) == 30, "op offset");
_Static_assert(offsetof(struct vsock_hdr, flags) == 32, "flags offset");
_Static_assert(offsetof(struct vsock_hdr, buf_alloc) == 36, "buf_alloc offset");
_Static_assert(offsetof(struct vsock_hdr, fwd_cnt) == 40, "fwd_cnt offset");

/* Byte-order edge. Identity on little-endian targets. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "barevsock assumes a little-endian target; add byte swaps here for a big-endian port"
#endif
static inline uint16_t vsock_le16(uint16_t v) { return v; }
static inline uint32_t vsock_le32(uint32_t v) { return v; }
static inline uint64_t vsock_le64(uint64_t v) { return v; }

/* Free credit the peer grants us: buf_alloc - (bytes we sent - bytes it consumed),
 * in wrapping u32 arithmetic, clamped at 0 (a lying peer cannot make it negative)
 * and at buf_alloc. */
static inline uint32_t vsock_peer_free(uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt, uint32_t tx_cnt)
{
	uint32_t in_flight = tx_cnt - peer_fwd_cnt;
	return in_flight >= peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
}

#endif
