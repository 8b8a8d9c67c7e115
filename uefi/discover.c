/* SPDX-License-Identifier: BSD-2-Clause */
/* The UEFI platform's discovery: virtio_probe and vsock_dev_init (the
 * calls discover/discover.h gives the apps) on top of the firmware's
 * protocols instead of our own bus scan. Only the device asked for is taken
 * from the firmware, PCI first, then virtio-mmio, and every device taken is
 * given back when the image leaves. Non-goals: more devices than
 * BV_VIRTIO_MAX_DEVICES, hot-plug. */
#include <stdio.h>
#include "bv/err.h"
#include "bv/log.h"
#include "discover/discover.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_wire.h"
#include "uefi/uefi.h"

static struct {
	struct uefi_claim c;
	unsigned nth;
	int used, pci;
} claims[BV_VIRTIO_MAX_DEVICES];
static int hooked;

static void release_all(void)
{
	for (int i = BV_VIRTIO_MAX_DEVICES - 1; i >= 0; i--) {
		if (!claims[i].used)
			continue;
		if (claims[i].pci)
			uefi_pci_release(&claims[i].c);
		else
			uefi_mmio_release(&claims[i].c);
		claims[i].used = 0;
	}
}

int virtio_probe(uint32_t device_id, unsigned nth, struct virtio_dev **out)
{
	int free_slot = -1;
	for (int i = 0; i < BV_VIRTIO_MAX_DEVICES; i++) {
		if (claims[i].used && claims[i].c.virtio_id == device_id && claims[i].nth == nth) {
			*out = &claims[i].c.dev;
			return BV_OK;
		}
		if (!claims[i].used && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0) {
		bv_logf("uefi: device table full (BV_VIRTIO_MAX_DEVICES=%u)\n", (unsigned)BV_VIRTIO_MAX_DEVICES);
		return BV_ENOBUFS;
	}
	if (!hooked) {
		uefi_at_exit(release_all);
		hooked = 1;
	}
	struct uefi_claim *c = &claims[free_slot].c;
	unsigned left = nth;
	int pci = 1;
	int rc = uefi_pci_claim(device_id, &left, c);
	if (rc == BV_ENODEV) {
		pci = 0;
		rc = uefi_mmio_claim(device_id, &left, c);
	}
	if (rc < 0)
		return rc;
	claims[free_slot].used = 1;
	claims[free_slot].pci = pci;
	claims[free_slot].nth = nth;
	*out = &c->dev;
	return BV_OK;
}

int vsock_dev_init(void)
{
	struct virtio_dev *d;
	int rc = virtio_probe(VIRTIO_ID_VSOCK, 0, &d);
	if (rc < 0) {
		bv_logf("vsock: no virtio-vsock device found (looked at PciIo handles for 1af4:1053/1012 "
			"and at the firmware's virtio-mmio transports)\n");
		return rc;
	}
	return vsock_dev_attach(d);
}
