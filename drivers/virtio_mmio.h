/* SPDX-License-Identifier: BSD-2-Clause */
/* Attach a virtio-mmio device (virtio 1.x section 4.2) at a base address the
 * caller already knows: from its own device tree, board file, or Linux's
 * virtio_mmio.device= command line. Both register layouts are handled:
 * version 2 (modern) and version 1 (legacy), told apart by the Version
 * register. Non-goals: finding devices, interrupts. */
#ifndef BV_VIRTIO_MMIO_H
#define BV_VIRTIO_MMIO_H

#include <stdint.h>
#include "drivers/virtio.h"

/* Size of the register window the transport touches: registers up to 0x100,
 * then device config (vsock's is 8 bytes). Linux's command line usually says 512. */
#define VIRTIO_MMIO_MIN_SIZE 0x200u

/* Check the magic value and the version at base and fill *d (the caller's
 * storage) for virtio_init. Reads registers only; the device is not reset
 * until virtio_init. BV_ENODEV: no virtio-mmio device there (wrong magic, or
 * device ID 0, an empty slot); BV_ENOTSUP: a version other than 1 or 2. */
int virtio_mmio_attach(struct virtio_dev *d, uintptr_t base);

#endif
