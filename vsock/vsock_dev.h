/* SPDX-License-Identifier: BSD-2-Clause */
/* The vsock device glue: drives an attached virtio-vsock device (device ID
 * 19, any transport), owns its three queues and feeds the protocol engine
 * (vsock_engine.h). The caller attaches the device (virtio_mmio_attach,
 * virtio_pci_attach; the -kernel images' discover/ does it for them in
 * vsock_dev_init), calls vsock_dev_attach() once, then vsock_poll() and,
 * when idle, vsock_wait() (both declared in vsock.h) in its loop.
 * Non-goals: finding the device, more than one vsock device, work in
 * interrupt context. */
#ifndef BV_VSOCK_DEV_H
#define BV_VSOCK_DEV_H

#include <stdint.h>
#include "drivers/virtio.h"

/* Take over d, an attached virtio device (its storage must outlive its use):
 * negotiate (VERSION_1, SEQPACKET and EVENT_IDX if offered), route the
 * device's interrupt to wake vsock_wait (unless built with
 * BV_VSOCK_BUSY_POLL; MSI-X, or the line set with virtio_set_irq_line; none
 * is fine too), set up the RX/TX/event queues,
 * stock RX and event buffers, start the engine with the device's CID. Logs
 * one line saying what it found. BV_OK; BV_ENODEV if d is not a vsock
 * device; or virtio_init's error. Calling it again starts over. */
int vsock_dev_attach(struct virtio_dev *d);

/* What the glue itself saw; the engine keeps its own counters. */
struct vsock_dev_stats {
	uint64_t rx_bufs, tx_bufs, events;   /* completions reaped per queue */
	uint64_t rx_short;                   /* used length below a header: dropped */
	uint64_t rx_bad_len;                 /* used length beyond the buffer: dropped, buffer reposted */
	uint64_t transport_resets;
	uint64_t bad_used;                   /* forged used entries the virtqueues dropped */
	uint64_t ev_dropped;                 /* events too short or with an unknown id: ignored */
	/* The buffer pools right now: all TX buffers are free and all RX
	 * buffers posted whenever nothing is in flight. */
	uint32_t tx_free, tx_total;          /* TX packet slots off the ring / in all */
	uint32_t rx_posted, rx_total;        /* RX buffers on the ring / in all */
	/* Per queue (VSOCK_VQ_RX, _TX, _EVENT): doorbells rung, and kicks the
	 * device asked us to skip (VIRTQ_USED_F_NO_NOTIFY). */
	uint64_t kicks[3], kicks_suppressed[3];
	/* vsock_wait: halts, device interrupts (and those with nothing for us),
	 * doorbells rung by its watchdog, and how the device interrupts
	 * (enum virtio_irq_mode: 0 none, 1 msi-x, 2 line). */
	uint64_t halts, irqs, irqs_spurious, forced_kicks;
	uint32_t irq_mode;
	uint32_t event_idx;                  /* VIRTIO_RING_F_EVENT_IDX negotiated */
};
void vsock_dev_stats(struct vsock_dev_stats *out);

#ifdef BV_VSOCK_TEST_HOOKS
/* Tests only: the TX buffers now free (not on the ring), up to max of them
 * copied to out; returns how many there are. */
unsigned vsock_dev_test_tx_free(const void **out, unsigned max);
/* Tests only: NULL if every RX buffer is posted or held by the engine (not
 * both), every TX slot free or in flight, every event buffer posted, and
 * the engine's TX buffers in order; else what is wrong. Valid at any time. */
const char *vsock_dev_test_books(void);
/* Tests only: the glue's queue qi (VSOCK_VQ_*), to compare with a device's view. */
const struct virtq *vsock_dev_test_queue(unsigned qi);
#endif

#endif
