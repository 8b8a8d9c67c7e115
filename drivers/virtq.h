/* SPDX-License-Identifier: BSD-2-Clause */
/* Split virtqueues (virtio 1.x section 2.7) driven by polling, in fixed storage.
 * Scope: descriptor free list, chains, publish/notify (with VIRTIO_F_EVENT_IDX
 * when negotiated), reaping used entries that the device may have forged, and
 * turning used-buffer notifications on just before the CPU halts.
 * Non-goals: packed rings, indirect descriptors, handling interrupts (the
 * transport acknowledges them; they only wake the CPU), any transport
 * knowledge (notification is a hook). */
#ifndef BV_VIRTQ_H
#define BV_VIRTQ_H

#include <stdint.h>
#include <stddef.h>
#include "bv/config.h"
#include "bv/port.h"

/* ---- wire structures (little-endian; every target is little-endian) ---- */
#define VIRTQ_DESC_F_NEXT      1
#define VIRTQ_DESC_F_WRITE     2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1
#define VIRTIO_RING_F_EVENT_IDX    29   /* feature bit: used_event / avail_event */

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc is 16 bytes");
_Static_assert(offsetof(struct virtq_desc, flags) == 12, "virtq_desc.flags at 12");

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];        /* size entries, then used_event (EVENT_IDX only) */
} __attribute__((packed));
_Static_assert(offsetof(struct virtq_avail, ring) == 4, "avail.ring at 4");

struct virtq_used_elem {
	uint32_t id;            /* head of the chain the device finished */
	uint32_t len;           /* bytes it wrote into the chain's writable part */
} __attribute__((packed));
_Static_assert(sizeof(struct virtq_used_elem) == 8, "used elem is 8 bytes");

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];   /* size entries, then avail_event (EVENT_IDX only) */
} __attribute__((packed));
_Static_assert(offsetof(struct virtq_used, ring) == 4, "used.ring at 4");

/* Legacy transports want one contiguous area: descriptors, avail, then used
 * at the next QueueAlign boundary. We always use that layout; modern transports
 * accept it too (their alignment needs are 16/2/4). */
#define VIRTQ_LEGACY_ALIGN 4096u
#define VIRTQ_ALIGN_UP(x, a) (((x) + (a) - 1) & ~((a) - 1))
#define VIRTQ_RING_BYTES(n) \
	(VIRTQ_ALIGN_UP(16u * (n) + 6u + 2u * (n), VIRTQ_LEGACY_ALIGN) + \
	 VIRTQ_ALIGN_UP(6u + 8u * (n), VIRTQ_LEGACY_ALIGN))

_Static_assert((BV_VIRTQ_MAX_SIZE & (BV_VIRTQ_MAX_SIZE - 1)) == 0 && BV_VIRTQ_MAX_SIZE <= 32768,
	       "BV_VIRTQ_MAX_SIZE must be a power of 2 <= 32768");

/* A buffer segment, by CPU address: virtq_add hands the device
 * bv_port_dma_addr(buf) and does the cache maintenance (bv/port.h), so no
 * caller ever computes a device address. */
struct virtq_seg {
	void *buf;
	uint32_t len;
};
static inline struct virtq_seg virtq_seg(const void *p, uint32_t len)
{
	return (struct virtq_seg){ .buf = (void *)(uintptr_t)p, .len = len };
}

/* What the device did wrong; each bad used entry is dropped after counting. */
struct virtq_stats {
	uint64_t added, reaped, kicks, notifies_suppressed;
	uint64_t forced_kicks;  /* doorbells rung whatever the device asked (virtq_kick_force) */
	uint64_t bad_id;        /* used.id >= queue size */
	uint64_t not_in_flight; /* used.id is not a published, outstanding chain head
				 * (forged, repeated, or added but not yet kicked) */
	uint64_t bad_len;       /* used.len > the chain's device-writable bytes */
};

struct virtq;
typedef void (*virtq_notify_fn)(struct virtq *q, void *ctx);

struct virtq {
	/* Ring memory first so its 4096 alignment costs no padding. */
	uint8_t ring[VIRTQ_RING_BYTES(BV_VIRTQ_MAX_SIZE)] __attribute__((aligned(4096)));
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t size;          /* entries in use, power of 2, <= BV_VIRTQ_MAX_SIZE */
	uint16_t index;         /* queue number on the device */
	uint16_t free_head, num_free;
	uint16_t avail_shadow;  /* our next avail.idx; published by virtq_kick */
	uint16_t last_used;     /* next used.idx we expect to consume */
	uint8_t event_idx;      /* VIRTIO_F_EVENT_IDX negotiated: used_event/avail_event rule */
	uint8_t irq_on;         /* used-buffer notifications requested (virtq_irq_enable) */
	virtq_notify_fn notify;
	void *notify_ctx;
	struct virtq_stats stats;
	/* Per chain head: the caller's token, chain length, writable bytes,
	 * and 0 free / 1 added / 2 published by virtq_kick. */
	void *token[BV_VIRTQ_MAX_SIZE];
	uint32_t in_cap[BV_VIRTQ_MAX_SIZE];
	uint16_t chain_len[BV_VIRTQ_MAX_SIZE];
	uint8_t in_flight[BV_VIRTQ_MAX_SIZE];
	/* Per descriptor: the CPU address of its buffer and, when the device may
	 * write it, its length (0 when device-readable), for the invalidate
	 * before the CPU reads what the device wrote. */
	void *seg_buf[BV_VIRTQ_MAX_SIZE];
	uint32_t seg_wlen[BV_VIRTQ_MAX_SIZE];
	/* Heads added since the last kick (private: not read back from the ring). */
	uint16_t unpub[BV_VIRTQ_MAX_SIZE];
	uint16_t n_unpub;
};

/* Lay out an empty queue of `size` entries (power of 2, 1..BV_VIRTQ_MAX_SIZE).
 * Clears ring memory and stats; sets VIRTQ_AVAIL_F_NO_INTERRUPT. BV_EINVAL on bad size. */
int virtq_init(struct virtq *q, uint16_t index, uint16_t size);

/* Switch the queue to VIRTIO_F_EVENT_IDX rules (after virtq_init, before the
 * device runs) when that feature was negotiated: kicks then follow the
 * device's avail_event, and notifications are suppressed through used_event
 * (avail.flags becomes 0, as the spec wants). */
void virtq_set_event_idx(struct virtq *q, int on);

/* The hook virtq_kick calls to ring the doorbell (the transport sets it). */
void virtq_set_notify(struct virtq *q, virtq_notify_fn fn, void *ctx);

/* Queue one chain: seg[0..n_out) device-readable, then seg[n_out..n_out+n_in)
 * device-writable. Not visible to the device until virtq_kick, so many adds
 * can share one kick. token (non-NULL) comes back from virtq_pop_used.
 * BV_EINVAL for an empty chain or NULL token, BV_ENOBUFS when too few free
 * descriptors (reap and retry). */
int virtq_add(struct virtq *q, const struct virtq_seg *seg, unsigned n_out, unsigned n_in, void *token);

/* Publish every chain added since the last kick and notify the device unless
 * it asked not to be (VIRTQ_USED_F_NO_NOTIFY, or with EVENT_IDX when the new
 * avail.idx does not pass its avail_event). Cheap no-op when nothing was added. */
void virtq_kick(struct virtq *q);

/* virtq_kick, then ring the doorbell whatever the device asked. For a device
 * whose suppression state went stale (an avail_event it stopped moving, a
 * NO_NOTIFY it never cleared; firecracker-microvm/firecracker#5969): it
 * would otherwise never look at the ring again. A notification the device
 * did not need is harmless. */
void virtq_kick_force(struct virtq *q);

/* Used-buffer notifications, for a driver that halts the CPU while it waits.
 * Off by default (we poll). virtq_irq_enable asks for one at the next used
 * entry (EVENT_IDX: used_event = the next index we will consume) and then
 * looks at the ring again: it returns 1 when an entry is already there (the
 * device may have added it while notifications were off: do not halt), else 0.
 * virtq_irq_disable turns them off again. */
int virtq_irq_enable(struct virtq *q);
void virtq_irq_disable(struct virtq *q);

/* 1 when the device has published used entries we have not taken yet. */
int virtq_has_used(const struct virtq *q);

/* Take one finished chain: 1 and *token, *len (bytes the device wrote) when one
 * was there, 0 when none, VIRTQ_POP_BADLEN (see below). Forged entries are counted in q->stats and skipped:
 * an unknown or already-returned id, or one of a chain added but not yet
 * published by virtq_kick (the device cannot have seen it), frees nothing. A
 * length beyond the chain's writable bytes is counted (bad_len) and the chain
 * completes with VIRTQ_POP_BADLEN and *len = 0: its contents are untrusted, but the buffer is the
 * caller's again (holding it would leak it). A chain with nothing writable
 * completes with *len = 0 whatever the device reported (devices often get
 * that len wrong: the spec warns of it). */
#define VIRTQ_POP_BADLEN 2
int virtq_pop_used(struct virtq *q, void **token, uint32_t *len);

/* Free descriptors now. */
static inline unsigned virtq_num_free(const struct virtq *q) { return q->num_free; }

/* Device-visible (DMA) addresses of the three parts, for the transport. */
static inline uint64_t virtq_desc_addr(const struct virtq *q)  { return bv_port_dma_addr(q->desc); }
static inline uint64_t virtq_avail_addr(const struct virtq *q) { return bv_port_dma_addr(q->avail); }
static inline uint64_t virtq_used_addr(const struct virtq *q)  { return bv_port_dma_addr(q->used); }

#endif
