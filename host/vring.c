/* SPDX-License-Identifier: BSD-2-Clause */
/* Device side of split virtqueues: everything the guest wrote is read once
 * and checked before use, because the guest is not trusted. Memory ordering
 * follows split-ring.tex: acquire after avail->idx, release before used->idx.
 * Non-goals: packed rings, indirect descriptors, EVENT_IDX. */
#include "host/vring.h"

#include <string.h>

static void *region_lookup(const struct vr_mem *m, uint64_t addr, uint64_t len, bool by_uva)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vr_region *r = &m->r[i];
		uint64_t base = by_uva ? r->uva : r->gpa;
		/* written so that no sum can overflow */
		if (addr < base || addr - base >= r->size)
			continue;
		if (len > r->size - (addr - base))
			return NULL;
		return r->hva + (addr - base);
	}
	return NULL;
}

void *vr_gpa(const struct vr_mem *m, uint64_t gpa, uint64_t len) { return region_lookup(m, gpa, len, false); }
void *vr_uva(const struct vr_mem *m, uint64_t uva, uint64_t len) { return region_lookup(m, uva, len, true); }

const char *vr_strstatus(int st)
{
	switch (st) {
	case VR_OK: return "ok";
	case VR_EMPTY: return "empty";
	case VR_EBROKEN: return "ring corrupted (avail index or head out of range)";
	case VR_EADDR: return "descriptor address outside guest memory";
	case VR_ELOOP: return "descriptor chain loops or exceeds the queue size";
	case VR_ENEXT: return "descriptor next index out of range";
	case VR_EINDIRECT: return "indirect descriptor (not negotiated)";
	case VR_EDIR: return "descriptor direction wrong for this queue";
	case VR_ESIZE: return "descriptor chain size out of bounds";
	}
	return "?";
}

void vr_init(struct vr_queue *q, uint16_t num, void *desc, void *avail, void *used, uint16_t base)
{
	memset(q, 0, sizeof(*q));
	q->num = num;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->last_avail = base;
	q->used_idx = used ? ((volatile struct vr_used *)used)->idx : 0;
	q->signalled_used = q->used_idx;
	/* A restarted ring continues from base: the used index the guest saw is
	 * what it expects us to continue from, so take ours from the ring. */
}

/* avail_event: the u16 right after the used ring's entries. */
static volatile uint16_t *vr_avail_event(struct vr_queue *q)
{
	return (volatile uint16_t *)((volatile uint8_t *)q->used + 4 + 8u * q->num);
}

int vr_pop(struct vr_queue *q, const struct vr_mem *m, bool want_write, uint32_t max_total,
	   struct vr_chain *c)
{
	if (!q->num || q->broken)
		return VR_EBROKEN;
	uint16_t avail_idx = q->avail->idx;
	if (avail_idx == q->last_avail && q->event_idx) {
		/* Ask for a kick at the next entry, then look again: the driver
		 * may have published one before it could see our request. */
		*vr_avail_event(q) = q->last_avail;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = q->avail->idx;
	}
	if (avail_idx == q->last_avail)
		return VR_EMPTY;
	if ((uint16_t)(avail_idx - q->last_avail) > q->num) {
		q->broken = true;
		return VR_EBROKEN;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	uint16_t head = q->avail->ring[q->last_avail % q->num];
	if (head >= q->num) {
		/* No valid id to return; a driver that does this has lost track of its ring. */
		q->broken = true;
		return VR_EBROKEN;
	}
	q->last_avail++;
	c->head = head;
	c->n = 0;
	c->total = 0;
	uint16_t i = head;
	for (unsigned count = 0;; count++) {
		if (count >= q->num)
			return VR_ELOOP;
		struct vr_desc d;
		d.addr = q->desc[i].addr;
		d.len = q->desc[i].len;
		d.flags = q->desc[i].flags;
		d.next = q->desc[i].next;
		if (d.flags & VRING_DESC_F_INDIRECT)
			return VR_EINDIRECT;
		if (!!(d.flags & VRING_DESC_F_WRITE) != want_write)
			return VR_EDIR;
		if (d.len) {
			uint8_t *p = vr_gpa(m, d.addr, d.len);
			if (!p)
				return VR_EADDR;
			if (max_total && d.len > max_total - c->total)
				return VR_ESIZE;
			if ((uint64_t)c->total + d.len > UINT32_MAX)
				return VR_ESIZE;
			c->iov[c->n].p = p;
			c->iov[c->n].len = d.len;
			c->n++;
			c->total += d.len;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= q->num)
			return VR_ENEXT;
		i = d.next;
	}
	return VR_OK;
}

void vr_unpop(struct vr_queue *q)
{
	q->last_avail--;
}

void vr_push_deferred(struct vr_queue *q, uint16_t head, uint32_t len)
{
	volatile struct vr_used_elem *e = &q->used->ring[q->used_idx % q->num];
	e->id = head;
	e->len = len;
	q->used_idx++;
	q->pushed++;
}

void vr_publish(struct vr_queue *q)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->used->idx = q->used_idx;
}

void vr_push(struct vr_queue *q, uint16_t head, uint32_t len)
{
	vr_push_deferred(q, head, len);
	vr_publish(q);
}

bool vr_should_notify(struct vr_queue *q)
{
	if (!q->pushed)
		return false;
	q->pushed = 0;
	/* Pair with the driver's publish-then-check: our used->idx store must be
	 * visible before we read its flags (or used_event). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(q->avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
	/* Spec 2.7.10: call only if used_event lies in (old, new]. */
	uint16_t old = q->signalled_used, now = q->used_idx;
	uint16_t event = q->avail->ring[q->num];   /* used_event, right after the ring */
	q->signalled_used = now;
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

/* Copy between a flat buffer and the chain's bytes [off, off+len), walking
 * the segments; to_chain picks the direction. Returns bytes copied. */
static size_t vr_chain_copy(const struct vr_chain *c, size_t off, uint8_t *buf, size_t len, int to_chain)
{
	size_t done = 0;
	for (unsigned i = 0; i < c->n && done < len; i++) {
		if (off >= c->iov[i].len) {
			off -= c->iov[i].len;
			continue;
		}
		size_t k = c->iov[i].len - off;
		if (k > len - done)
			k = len - done;
		if (to_chain)
			memcpy(c->iov[i].p + off, buf + done, k);
		else
			memcpy(buf + done, c->iov[i].p + off, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t vr_chain_read(const struct vr_chain *c, size_t off, void *dst, size_t len)
{
	return vr_chain_copy(c, off, dst, len, 0);
}

size_t vr_chain_write(const struct vr_chain *c, size_t off, const void *src, size_t len)
{
	/* The cast is safe: with to_chain set, buf is only read. */
	return vr_chain_copy(c, off, (uint8_t *)(uintptr_t)src, len, 1);
}
