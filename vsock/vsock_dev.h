/* SPDX-License-Identifier: BSD-2-Clause */
/* The vsock device glue: finds virtio device 19 on any transport, owns its
 * three queues and feeds the protocol engine (vsock_engine.h). Apps call
 * vsock_dev_init() once, then vsock_poll() (declared in vsock.h) in their
 * loop. Non-goals: more than one vsock device, interrupts. */
#ifndef BV_VSOCK_DEV_H
#define BV_VSOCK_DEV_H

#include <stdint.h>

/* Probe, negotiate (VERSION_1, SEQPACKET if offered), set up RX/TX/event
 * queues, stock RX and event buffers, start the engine with the device's CID.
 * Prints one line saying what it found. BV_OK, BV_ENODEV or the init error. */
int vsock_dev_init(void);

/* What the glue itself saw; the engine keeps its own counters. */
struct vsock_dev_stats {
	uint64_t rx_bufs, tx_bufs, events;   /* completions reaped per queue */
	uint64_t rx_short;                   /* used length below a header: dropped */
	uint64_t transport_resets;
	uint64_t bad_used;                   /* forged used entries the virtqueues dropped */
	uint64_t ev_dropped;                 /* events too short or with an unknown id: ignored */
	/* The buffer pools right now: all TX buffers are free and all RX
	 * buffers posted whenever nothing is in flight. */
	uint32_t tx_free, tx_total;          /* TX buffers off the ring / in all */
	uint32_t rx_posted, rx_total;        /* RX buffers on the ring / in all */
};
void vsock_dev_stats(struct vsock_dev_stats *out);

#ifdef BV_VSOCK_TEST_HOOKS
/* Tests only: the TX buffers now free (not on the ring), up to max of them
 * copied to out; returns how many there are. */
unsigned vsock_dev_test_tx_free(const void **out, unsigned max);
#endif

#endif
