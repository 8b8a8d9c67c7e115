/* SPDX-License-Identifier: BSD-2-Clause */
/* Device side of split virtqueues for the host backend: guest-memory
 * translation, popping validated descriptor chains, pushing used entries.
 * Non-goals: packed rings, indirect descriptors, EVENT_IDX (never offered). */
#ifndef HOST_VRING_H
#define HOST_VRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VR_MAX_REGIONS 8
#define VR_MAX_QUEUE 1024          /* largest ring we accept; also the chain cap */

#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_F_EVENT_IDX 29          /* feature bit: used_event / avail_event */

struct vr_desc { uint64_t addr; uint32_t len; uint16_t flags; uint16_t next; } __attribute__((packed));
struct vr_avail { uint16_t flags; uint16_t idx; uint16_t ring[]; } __attribute__((packed));
struct vr_used_elem { uint32_t id; uint32_t len; } __attribute__((packed));
struct vr_used { uint16_t flags; uint16_t idx; struct vr_used_elem ring[]; } __attribute__((packed));

/* One mapped guest RAM region. gpa = guest physical, uva = the front end's
 * (QEMU's) virtual address, which vhost-user ring addresses are given in. */
struct vr_region {
	uint64_t gpa, uva, size;
	uint8_t *hva;
};

struct vr_mem {
	struct vr_region r[VR_MAX_REGIONS];
	unsigned n;
};

/* Host pointer for [gpa, gpa+len) if it lies wholly inside one region. */
void *vr_gpa(const struct vr_mem *m, uint64_t gpa, uint64_t len);
void *vr_uva(const struct vr_mem *m, uint64_t uva, uint64_t len);

struct vr_queue {
	uint16_t num;                 /* 0 = not set up */
	volatile struct vr_desc *desc;
	volatile struct vr_avail *avail;
	volatile struct vr_used *used;
	uint16_t last_avail;          /* next avail slot we will read */
	uint16_t used_idx;            /* our copy of used->idx */
	bool broken;                  /* the guest corrupted the ring; stop serving it */
	unsigned pushed;              /* used entries since the last notify check */
	bool event_idx;               /* VIRTIO_RING_F_EVENT_IDX negotiated */
	uint16_t signalled_used;      /* used->idx at our last call (EVENT_IDX) */
};

struct vr_iov { uint8_t *p; uint32_t len; };

struct vr_chain {
	uint16_t head;
	unsigned n;
	uint32_t total;               /* sum of iov lengths */
	struct vr_iov iov[VR_MAX_QUEUE];
};

enum vr_status {
	VR_OK = 0,
	VR_EMPTY,         /* nothing available */
	VR_EBROKEN,       /* ring is unusable (avail idx ran too far, bad head id) */
	VR_EADDR,         /* a descriptor points outside the memory table */
	VR_ELOOP,         /* chain longer than the ring: a loop */
	VR_ENEXT,         /* next index out of range */
	VR_EINDIRECT,     /* indirect descriptor (not negotiated) */
	VR_EDIR,          /* descriptor direction is wrong for this queue */
	VR_ESIZE,         /* chain too large or too small for its purpose */
};
const char *vr_strstatus(int st);

/* Attach a ring: all three parts must already be translated. */
void vr_init(struct vr_queue *q, uint16_t num, void *desc, void *avail, void *used, uint16_t base);

/* Pop the next chain. want_write selects the direction every descriptor must
 * have (RX: device-writable; TX: device-readable). On VR_OK or a chain error
 * (>= VR_EADDR) c->head is valid and the caller must vr_push() it; on
 * VR_EMPTY/VR_EBROKEN nothing was taken. max_total bounds the chain's byte
 * length (0 = no bound). */
int vr_pop(struct vr_queue *q, const struct vr_mem *m, bool want_write, uint32_t max_total,
	   struct vr_chain *c);
/* With EVENT_IDX: after the queue ran dry, tell the driver to kick at the
 * next entry (avail_event = last_avail); vr_pop does it itself. */
/* Give back the chain popped last (we had nothing to put in it). */
void vr_unpop(struct vr_queue *q);
void vr_push(struct vr_queue *q, uint16_t head, uint32_t len);
/* vr_push in two steps: write used entries without publishing them, then make
 * every one written so far visible to the driver with one used->idx store. */
void vr_push_deferred(struct vr_queue *q, uint16_t head, uint32_t len);
void vr_publish(struct vr_queue *q);
/* True if the driver wants an interrupt for what we pushed since the last call. */
bool vr_should_notify(struct vr_queue *q);

/* Gather/scatter helpers over a chain. */
size_t vr_chain_read(const struct vr_chain *c, size_t off, void *dst, size_t len);
size_t vr_chain_write(const struct vr_chain *c, size_t off, const void *src, size_t len);

#endif
