/* SPDX-License-Identifier: BSD-2-Clause */
/* Ring handling of the host back end: pops the guest's TX chains and checks
 * them, fills the guest's RX buffers with what the connection engine owes it,
 * returns used entries and signals the guest. Every guest packet passes
 * through here once in each direction. Non-goals: the event queue (QEMU's). */
#ifndef HOST_RING_H
#define HOST_RING_H

#include "host/conn.h"

/* Run the rings: consume TX, answer, fill RX, signal the guest. */
void bvh_pump(struct bvh_engine *e);

#endif
