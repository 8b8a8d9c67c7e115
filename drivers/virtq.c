/* SPDX-License-Identifier: BSD-2-Clause */
/* Split virtqueue bookkeeping for a polled driver: free list, chains, publish
 * (EVENT_IDX-aware), reaping used entries without trusting the device, and
 * used-buffer notification control for a driver that halts while idle. Every address the
 * device sees comes from bv_port_dma_addr, and every piece of memory it
 * shares with the device is cleaned before the device may read it and
 * invalidated before the CPU reads what the device wrote (bv/port.h).
 * Non-goals: interrupt handling, indirect descriptors. */
#include <string.h>
#include "bv/err.h"
#include "bv/port.h"
#include "drivers/virtq.h"

/* in_flight[] per chain head */
enum { CHAIN_FREE = 0, CHAIN_ADDED = 1, CHAIN_PUBLISHED = 2 };

int virtq_init(struct virtq *q, uint16_t index, uint16_t size)
{
	if (size == 0 || size > BV_VIRTQ_MAX_SIZE || (size & (size - 1)))
		return BV_EINVAL;
	memset(q->ring, 0, sizeof(q->ring));
	uintptr_t base = (uintptr_t)q->ring;
	q->desc = (struct virtq_desc *)base;
	q->avail = (struct virtq_avail *)(base + 16u * size);
	/* Legacy devices compute the used ring's place from the size alone. */
	q->used = (struct virtq_used *)(base + VIRTQ_ALIGN_UP(16u * size + 6u + 2u * size,
							     VIRTQ_LEGACY_ALIGN));
	q->size = size;
	q->index = index;
	for (uint16_t i = 0; i < size; i++)
		q->desc[i].next = (uint16_t)(i + 1);
	q->free_head = 0;
	q->num_free = size;
	q->avail_shadow = 0;
	q->last_used = 0;
	memset(&q->stats, 0, sizeof(q->stats));
	memset(q->token, 0, sizeof(q->token));
	memset(q->in_flight, 0, sizeof(q->in_flight));
	memset(q->seg_buf, 0, sizeof(q->seg_buf));
	memset(q->seg_wlen, 0, sizeof(q->seg_wlen));
	q->n_unpub = 0;
	q->event_idx = 0;
	q->irq_on = 0;
	/* We poll; the device need not interrupt us. */
	q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	/* The device reads the zeroed rings (and the used ring's zero index)
	 * from memory, not from our cache. */
	bv_port_dma_clean(q->ring, (size_t)((uint8_t *)&q->used->ring[size] - q->ring));
	return BV_OK;
}

/* EVENT_IDX fields: each side writes its own, after the other's ring. */
static volatile uint16_t *used_event(struct virtq *q)
{
	return (volatile uint16_t *)((uintptr_t)q->avail + 4u + 2u * q->size);   /* 2-aligned */
}
static volatile uint16_t *avail_event(struct virtq *q)
{
	return (volatile uint16_t *)((uintptr_t)q->used + 4u + 8u * q->size);    /* 4-aligned */
}

/* Our suppression state for the device: avail.flags, or used_event. */
static void set_used_event(struct virtq *q, uint16_t v)
{
	*used_event(q) = v;
	bv_port_dma_clean((const void *)used_event(q), sizeof(uint16_t));
}
static void set_avail_flags(struct virtq *q, uint16_t v)
{
	q->avail->flags = v;
	bv_port_dma_clean(&q->avail->flags, sizeof(q->avail->flags));
}

void virtq_set_event_idx(struct virtq *q, int on)
{
	q->event_idx = on ? 1 : 0;
	q->irq_on = 0;
	if (on) {
		set_avail_flags(q, 0);
		/* "Interrupt me after entry last_used - 1": already behind us, so
		 * the device does not signal until we move it. */
		set_used_event(q, (uint16_t)(q->last_used - 1));
	} else {
		set_avail_flags(q, VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
}

void virtq_set_notify(struct virtq *q, virtq_notify_fn fn, void *ctx)
{
	q->notify = fn;
	q->notify_ctx = ctx;
}

int virtq_add(struct virtq *q, const struct virtq_seg *seg, unsigned n_out, unsigned n_in, void *token)
{
	unsigned n = n_out + n_in;
	if (n == 0 || token == NULL || n > q->size)
		return BV_EINVAL;
	if (n > q->num_free)
		return BV_ENOBUFS;
	uint16_t head = q->free_head, i = head;
	uint32_t cap = 0;
	for (unsigned k = 0; k < n; k++) {
		struct virtq_desc *d = &q->desc[i];
		d->addr = bv_port_dma_addr(seg[k].buf);
		d->len = seg[k].len;
		d->flags = (uint16_t)((k >= n_out ? VIRTQ_DESC_F_WRITE : 0) |
				      (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		q->seg_buf[i] = seg[k].buf;
		q->seg_wlen[i] = k >= n_out ? seg[k].len : 0;
		if (k >= n_out)
			cap += seg[k].len;
		/* Readable buffers for their contents; writable ones so no dirty
		 * line of ours is written back over what the device puts there. */
		bv_port_dma_clean(seg[k].buf, seg[k].len);
		bv_port_dma_clean(d, sizeof(*d));
		i = d->next;    /* free list is threaded through .next */
	}
	q->free_head = i;
	q->num_free = (uint16_t)(q->num_free - n);
	q->token[head] = token;
	q->chain_len[head] = (uint16_t)n;
	q->in_cap[head] = cap;
	q->in_flight[head] = CHAIN_ADDED;
	q->unpub[q->n_unpub++] = head;   /* < size: each chain holds a descriptor */
	unsigned slot = q->avail_shadow & (q->size - 1);
	q->avail->ring[slot] = head;
	bv_port_dma_clean(&q->avail->ring[slot], sizeof(q->avail->ring[slot]));
	q->avail_shadow++;
	q->stats.added++;
	return BV_OK;
}

/* Publish what was added; returns 1 if anything was. *old gets the avail.idx
 * the device saw before. */
static int publish(struct virtq *q, uint16_t *old)
{
	*old = q->avail->idx;
	if (*old == q->avail_shadow)
		return 0;
	/* Descriptors and ring slots must be visible before the index that exposes them. */
	bv_wmb();
	q->avail->idx = q->avail_shadow;
	bv_port_dma_clean(&q->avail->idx, sizeof(q->avail->idx));
	/* Only now may the device use these chains, so only now may it complete
	 * them: a used entry naming a head re-added since the last kick (the
	 * device repeating the head's previous completion) is forged. */
	for (uint16_t k = 0; k < q->n_unpub; k++)
		q->in_flight[q->unpub[k]] = CHAIN_PUBLISHED;
	q->n_unpub = 0;
	return 1;
}

static void ring_doorbell(struct virtq *q)
{
	q->stats.kicks++;
	if (q->notify)
		q->notify(q, q->notify_ctx);
}

void virtq_kick(struct virtq *q)
{
	uint16_t old, new = q->avail_shadow;
	if (!publish(q, &old))
		return;
	/* The index store must land before we sample the device's suppression
	 * state (flag or avail_event), or we could read what it wrote before it
	 * went back to sleep and skip the kick that would wake it: a store->load
	 * ordering, so a full barrier, on every architecture. */
	bv_mb();
	int want;
	if (q->event_idx) {
		/* The spec's vring_need_event: kick if avail_event lies in
		 * [old, new), in wrapping u16 arithmetic (new - old counts the
		 * entries this kick publishes, at most the queue size). */
		bv_port_dma_invalidate((const void *)avail_event(q), sizeof(uint16_t));
		uint16_t ev = *avail_event(q);
		want = (uint16_t)(new - ev - 1) < (uint16_t)(new - old);
	} else {
		bv_port_dma_invalidate(&q->used->flags, sizeof(q->used->flags));
		want = !(*(volatile uint16_t *)&q->used->flags & VIRTQ_USED_F_NO_NOTIFY);
	}
	if (!want) {
		q->stats.notifies_suppressed++;
		return;
	}
	ring_doorbell(q);
}

void virtq_kick_force(struct virtq *q)
{
	uint16_t old;
	publish(q, &old);
	bv_mb();
	q->stats.forced_kicks++;
	ring_doorbell(q);
}

int virtq_has_used(const struct virtq *q)
{
	bv_port_dma_invalidate(&q->used->idx, sizeof(q->used->idx));
	return *(const volatile uint16_t *)&q->used->idx != q->last_used;
}

int virtq_irq_enable(struct virtq *q)
{
	if (q->event_idx)
		set_used_event(q, q->last_used);
	else
		set_avail_flags(q, 0);
	q->irq_on = 1;
	/* Our request must be visible before we look at used.idx: a device that
	 * added an entry before seeing it did not signal, and we must see that
	 * entry now instead of halting on it (store->load: a full barrier). */
	bv_mb();
	return virtq_has_used(q);
}

void virtq_irq_disable(struct virtq *q)
{
	if (q->event_idx)
		set_used_event(q, (uint16_t)(q->last_used - 1));
	else
		set_avail_flags(q, VIRTQ_AVAIL_F_NO_INTERRUPT);
	q->irq_on = 0;
}

/* The CPU is about to read what the device wrote into this chain. */
static void invalidate_chain(struct virtq *q, uint16_t head)
{
	uint16_t i = head;
	for (uint16_t k = 0; k < q->chain_len[head]; k++) {
		if (q->seg_wlen[i])
			bv_port_dma_invalidate(q->seg_buf[i], q->seg_wlen[i]);
		i = q->desc[i].next;
	}
}

static void free_chain(struct virtq *q, uint16_t head)
{
	uint16_t n = q->chain_len[head], i = head;
	/* Walk our own record of the chain length, not device-visible flags alone. */
	for (uint16_t k = 1; k < n; k++)
		i = q->desc[i].next;
	q->desc[i].next = q->free_head;
	q->free_head = head;
	q->num_free = (uint16_t)(q->num_free + n);
	q->in_flight[head] = CHAIN_FREE;
	q->token[head] = NULL;
}

int virtq_pop_used(struct virtq *q, void **token, uint32_t *len)
{
	for (;;) {
		/* The device moves used->idx when it finishes a chain. */
		bv_port_dma_invalidate(&q->used->idx, sizeof(q->used->idx));
		uint16_t used_idx = *(volatile uint16_t *)&q->used->idx;
		if (used_idx == q->last_used)
			return 0;
		/* Read the entry only after seeing the index that covers it. */
		bv_rmb();
		struct virtq_used_elem *ue = &q->used->ring[q->last_used & (q->size - 1)];
		bv_port_dma_invalidate(ue, sizeof(*ue));
		struct virtq_used_elem e = *ue;
		q->last_used++;
		if (e.id >= q->size) {
			q->stats.bad_id++;
			continue;
		}
		if (q->in_flight[e.id] != CHAIN_PUBLISHED) {
			q->stats.not_in_flight++;
			continue;
		}
		if (q->in_cap[e.id] == 0) {
			/* Nothing for the device to write: its len means nothing. The
			 * spec warns that devices (legacy ones above all) set it wrongly
			 * here, and holding the chain would leak a TX buffer each time. */
			e.len = 0;
		} else if (e.len > q->in_cap[e.id]) {
			/* More than the chain can hold: its contents cannot be trusted,
			 * but the chain is done. Hand it back with len 0 so the caller
			 * reuses the buffer; holding it would lose it for good. */
			q->stats.bad_len++;
			*token = q->token[e.id];
			*len = 0;
			free_chain(q, (uint16_t)e.id);
			q->stats.reaped++;
			return VIRTQ_POP_BADLEN;
		}
		invalidate_chain(q, (uint16_t)e.id);
		*token = q->token[e.id];
		*len = e.len;
		free_chain(q, (uint16_t)e.id);
		q->stats.reaped++;
		return 1;
	}
}
