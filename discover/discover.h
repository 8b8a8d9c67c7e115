/* SPDX-License-Identifier: BSD-2-Clause */
/* Discovery for this project's -kernel images: find virtio devices on the
 * machine they booted on (PCI bus 0 with BAR assignment, the device tree's
 * virtio,mmio nodes, virtio_mmio.device= on the command line, QEMU microvm's
 * fixed slots) and attach each with the library's attach calls. A firmware
 * embedding libbarevsock uses its own discovery and calls
 * virtio_mmio_attach/virtio_pci_attach/vsock_dev_attach directly; this layer
 * is not in libbarevsock.a. */
#ifndef BV_DISCOVER_H
#define BV_DISCOVER_H

#include <stdint.h>
#include "drivers/virtio.h"

/* The nth (0-based) device with this virtio device ID on any transport; the
 * first call scans everything once. BV_ENODEV when there is none. */
int virtio_probe(uint32_t device_id, unsigned nth, struct virtio_dev **out);

/* The boot device tree, checked once (panics on a malformed blob); NULL on
 * machines without one (x86). */
struct fdt;
const struct fdt *discover_boot_fdt(void);

/* virtio_probe for the vsock device, then vsock_dev_attach; logs one line
 * when there is none. BV_OK, BV_ENODEV or the attach error. */
int vsock_dev_init(void);

#endif
