/* SPDX-License-Identifier: BSD-2-Clause */
/* Attach a modern virtio-pci device (virtio 1.x section 4.1) that the caller
 * has already found and whose memory BARs are assigned: a firmware with its
 * own PCI layer (UEFI's PciIo, U-Boot's dm_pci, a board file) hands over
 * config-space accessors and, optionally, the BAR addresses. The -kernel
 * images do the same from their own enumeration (discover/pci.c).
 * Non-goals: enumeration, BAR assignment, legacy (0.9) devices, MSI-X. */
#ifndef BV_VIRTIO_PCI_H
#define BV_VIRTIO_PCI_H

#include <stdint.h>
#include "drivers/virtio.h"

#define VIRTIO_PCI_VENDOR        0x1af4
#define VIRTIO_PCI_DEVICE_FIRST  0x1000   /* 0x1000-0x103f transitional: ID in subsystem ID */
#define VIRTIO_PCI_DEVICE_MODERN 0x1040   /* 0x1040 + virtio device ID */
#define VIRTIO_PCI_DEVICE_LAST   0x107f

/* Config space of one function. width is 1, 2 or 4 and off is naturally
 * aligned to it; values are in CPU order (little-endian config space already
 * converted). ctx is passed back unchanged.
 * bar_read/bar_write are optional: when set, every register access of the
 * transport (common, notify, ISR and device config) goes through them as
 * (BAR index, offset in that BAR) instead of bv_mmio_* on a CPU address, for
 * platforms that reach BARs through their own service (UEFI's
 * PciIo->Mem.Read/Write); a BAR then need not be addressable by this CPU. */
struct virtio_pci_access {
	uint32_t (*read)(void *ctx, unsigned off, unsigned width);
	void (*write)(void *ctx, unsigned off, unsigned width, uint32_t v);
	void *ctx;
	uint32_t (*bar_read)(void *ctx, unsigned bar, uint64_t off, unsigned width);
	void (*bar_write)(void *ctx, unsigned bar, uint64_t off, unsigned width, uint32_t v);
};

/* Read the function's identity and virtio capabilities through *cfg, fill
 * *d (the caller's storage) for virtio_init, and turn on memory decoding and
 * bus mastering in the command register. bars: the CPU address of each of
 * BAR0..5 (0 where unused), for platforms whose PCI and CPU addresses differ;
 * NULL to take them from the BAR registers (PCI address == CPU address).
 * *cfg must stay valid while the device is in use (d->t.pci.cfg keeps it).
 * BV_ENODEV: not a virtio device, or one without the modern capabilities;
 * BV_EIO: a capability points past what this CPU can address. */
int virtio_pci_attach(struct virtio_dev *d, const struct virtio_pci_access *cfg, const uint64_t *bars);

#endif
