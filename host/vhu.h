/* SPDX-License-Identifier: BSD-2-Clause */
/* vhost-user back-end protocol for a vsock device, as QEMU 7.2 drives
 * vhost-user-vsock-{pci,device}: message framing, validation and the device
 * state the messages build (features, memory table, rings, eventfds).
 * Non-goals: migration/dirty logging, multiqueue, inflight tracking, backend requests. */
#ifndef HOST_VHU_H
#define HOST_VHU_H

#include <stdbool.h>
#include <stdint.h>

#include "host/vring.h"
#include "vsock/vsock_wire.h"

enum vhu_request {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_RESET_OWNER = 4,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_LOG_BASE = 6,
	VHU_SET_LOG_FD = 7,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13,
	VHU_SET_VRING_ERR = 14,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_GET_QUEUE_NUM = 17,
	VHU_SET_VRING_ENABLE = 18,
	VHU_SET_BACKEND_REQ_FD = 21,   /* SET_SLAVE_REQ_FD in QEMU 7.2 */
	VHU_GET_CONFIG = 24,
	VHU_SET_CONFIG = 25,
	VHU_RESET_DEVICE = 34,
};

#define VHU_VERSION         1u
#define VHU_FLAG_VERSION    3u          /* bits 0-1 */
#define VHU_FLAG_REPLY      (1u << 2)
#define VHU_FLAG_NEED_REPLY (1u << 3)

#define VHU_F_PROTOCOL_FEATURES 30
#define VHU_F_VERSION_1         32
#define VHU_PF_MQ        0
#define VHU_PF_REPLY_ACK 3
#define VHU_PF_BACKEND_REQ 5   /* SLAVE_REQ in QEMU 7.2: a channel for back-end requests */
#define VHU_PF_CONFIG    9

/* Requests the back end sends on the back-end channel. */
#define VHU_BACKEND_CONFIG_CHANGE_MSG 2

#define VHU_NUM_QUEUES 3
#define VHU_MAX_FDS    8
#define VHU_VRING_IDX_MASK 0xffu
#define VHU_VRING_NOFD     (1u << 8)
#define VHU_CONFIG_MAX     256u

struct vhu_hdr { uint32_t request, flags, size; } __attribute__((packed));
struct vhu_state { uint32_t index, num; } __attribute__((packed));
struct vhu_addr {
	uint32_t index, flags;
	uint64_t desc, used, avail, log;
} __attribute__((packed));
struct vhu_region { uint64_t gpa, size, uva, mmap_offset; } __attribute__((packed));
struct vhu_memory {
	uint32_t nregions, padding;
	struct vhu_region r[VR_MAX_REGIONS];
} __attribute__((packed));
struct vhu_config {
	uint32_t offset, size, flags;
	uint8_t region[VHU_CONFIG_MAX];
} __attribute__((packed));

struct vhu_msg {
	struct vhu_hdr hdr;
	union {
		uint64_t u64;
		struct vhu_state state;
		struct vhu_addr addr;
		struct vhu_memory mem;
		struct vhu_config config;
		uint8_t raw[512];
	} u;
} __attribute__((packed));

struct vhu_vq {
	uint32_t num;
	struct vhu_addr addr;
	bool addr_set;
	uint16_t base;
	int kick_fd, call_fd, err_fd;
	bool enabled;   /* SET_VRING_ENABLE state */
	bool started;   /* has a kick (fd or polling flag) and not stopped by GET_VRING_BASE */
	bool ready;     /* translated and usable: q is valid */
	struct vr_queue q;
};

struct vhu_dev {
	uint64_t guest_cid;
	uint32_t max_queue_size;
	uint64_t vsock_features;  /* device-specific bits we offer (0..VHU_VSOCK_FEATURE_MAX_BIT) */
	bool no_event_idx;        /* do not offer VIRTIO_RING_F_EVENT_IDX (--no-event-idx) */
	uint64_t features, protocol_features;
	bool offer_backend_req;   /* offer VHU_PF_BACKEND_REQ (the raw-packet host changes the CID) */
	int backend_fd;           /* the back-end channel, -1 if none */
	unsigned config_reads;    /* GET_CONFIGs answered so far */
	bool owner;
	struct vr_mem mem;
	void *map_base[VR_MAX_REGIONS];
	uint64_t map_len[VR_MAX_REGIONS];
	struct vhu_vq vq[VHU_NUM_QUEUES];
	/* Set by the handler for the caller (the event loop): which kick fds to
	 * (re)register, and that the rings stopped so connections must go. */
	unsigned kick_changed;   /* bitmask of queues */
	bool rings_stopped;
	bool rings_changed;
	char err[160];           /* why the last message was rejected */
};

/* Device feature bits the back end offers by default: VIRTIO_VSOCK_F_SEQPACKET
 * (what Linux vhost offers). --features replaces this set. */
#define VHU_DEFAULT_VSOCK_FEATURES (1ull << VSOCK_F_SEQPACKET)
/* Highest device-specific feature bit a vsock offer may hold (bits 24.. are
 * the transport's). */
#define VHU_VSOCK_FEATURE_MAX_BIT 23

/* Everything offered in GET_FEATURES: VERSION_1, PROTOCOL_FEATURES and d->vsock_features. */
uint64_t vhu_offered_features(const struct vhu_dev *d);
uint64_t vhu_offered_protocol_features(const struct vhu_dev *d);

void vhu_dev_init(struct vhu_dev *d, uint64_t guest_cid, uint32_t max_queue_size);
/* Drop everything QEMU gave us (unmap, close fds); keep cid and limits. */
void vhu_dev_reset(struct vhu_dev *d);

/* Validate and apply one message. fds (nfds of them) arrived with it; the
 * handler takes ownership of all of them. Returns 1 with *reply filled when a
 * reply must be sent, 0 when none, -1 when the front end broke the protocol
 * (d->err says how) and the connection should be dropped. */
int vhu_handle(struct vhu_dev *d, const struct vhu_msg *m, int *fds, int nfds, struct vhu_msg *reply);

/* Tell the front end the config space changed (it re-reads it with GET_CONFIG
 * and interrupts the guest). Needs the back-end channel. Returns 0 or -1. */
int vhu_config_changed(struct vhu_dev *d);

/* True if queue i can be served now. */
bool vhu_vq_ready(const struct vhu_dev *d, int i);

#endif
