/* SPDX-License-Identifier: BSD-2-Clause */
/* vsock_dev_init for the -kernel images: discovery, then the library's
 * vsock_dev_attach. Kept apart from probe.c so an image without vsock does
 * not pull in the vsock stack. */
#include "bv/err.h"
#include "bv/log.h"
#include "discover/discover.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_wire.h"

int vsock_dev_init(void)
{
	struct virtio_dev *d;
	int rc = virtio_probe(VIRTIO_ID_VSOCK, 0, &d);
	if (rc < 0) {
		bv_logf("vsock: no virtio-vsock device found (looked on pci and virtio-mmio)\n");
		return rc;
	}
	return vsock_dev_attach(d);
}
