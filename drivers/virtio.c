/* SPDX-License-Identifier: BSD-2-Clause */
/* Transport-independent virtio: the device table filled by the transport
 * scans, the spec's initialisation sequence (3.1.1), config-space reads.
 * Non-goals: device-specific logic, interrupts, re-initialisation after NEEDS_RESET. */
#include <string.h>
#include "bv/arch.h"
#include "bv/err.h"
#include "bv/log.h"
#include "bv/exit.h"
#include "drivers/fdt.h"
#include "drivers/virtio.h"

static struct virtio_dev devs[BV_VIRTIO_MAX_DEVICES];
static int scanned;

const char *virtio_transport_name(enum virtio_transport t)
{
	switch (t) {
	case VIRTIO_TRANSPORT_PCI: return "pci";
	case VIRTIO_TRANSPORT_MMIO_V1: return "mmio v1";
	case VIRTIO_TRANSPORT_MMIO_V2: return "mmio v2";
	}
	return "?";
}

const struct fdt *virtio_boot_fdt(void)
{
	static struct fdt dt;
	static int state;   /* 0 unknown, 1 have, -1 none */
	if (state == 0) {
		const struct bv_boot_info *bi = arch_boot_info();
		state = -1;
		if (bi && bi->fdt) {
			/* QEMU reserves 1 MiB for the DTB at the start of RAM; our image
			 * begins 2 MiB in, so 2 MiB bounds it. */
			int rc = fdt_open(&dt, bi->fdt, 0x200000);
			if (rc < 0)
				bv_panic("virtio: device tree at %p is malformed (%s)", bi->fdt, bv_strerror(rc));
			state = 1;
		}
	}
	return state > 0 ? &dt : NULL;
}

struct virtio_dev *virtio_dev_alloc(void)
{
	for (unsigned i = 0; i < BV_VIRTIO_MAX_DEVICES; i++) {
		if (devs[i].ops == NULL) {
			memset(&devs[i], 0, sizeof(devs[i]));
			return &devs[i];
		}
	}
	return NULL;
}

int virtio_probe(uint32_t device_id, unsigned nth, struct virtio_dev **out)
{
	if (!scanned) {
		scanned = 1;
		virtio_pci_scan();
		virtio_mmio_scan();
	}
	for (unsigned i = 0; i < BV_VIRTIO_MAX_DEVICES; i++) {
		if (devs[i].ops && devs[i].device_id == device_id && nth-- == 0) {
			*out = &devs[i];
			return BV_OK;
		}
	}
	return BV_ENODEV;
}

static int fail(struct virtio_dev *d, const char *step, int err, const char *why)
{
	bv_logf("virtio: init of device %u at %s failed at %s: %s (%s)\n",
	       (unsigned)d->device_id, d->where, step, why, bv_strerror(err));
	d->ops->set_status(d, (uint8_t)(d->ops->get_status(d) | VIRTIO_STATUS_FAILED));
	return err;
}

int virtio_init(struct virtio_dev *d, uint64_t wanted, uint64_t required,
		struct virtq *const *qs, unsigned nq)
{
	const struct virtio_ops *o = d->ops;
	int modern = d->transport != VIRTIO_TRANSPORT_MMIO_V1;

	if (o->reset(d) < 0)
		return fail(d, "reset", BV_EIO, "status never read back 0");
	o->set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	o->set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

	uint64_t offered = o->get_features(d);
	if (modern && !(offered & (1ull << VIRTIO_F_VERSION_1)))
		return fail(d, "feature negotiation", BV_ENOTSUP, "modern device does not offer VERSION_1");
	if ((offered & required) != required) {
		char why[80];
		bv_snprintf(why, sizeof(why), "required features 0x%llx missing (offered 0x%llx)",
			 (unsigned long long)(required & ~offered), (unsigned long long)offered);
		return fail(d, "feature negotiation", BV_ENOTSUP, why);
	}
	uint64_t accept = offered & (wanted | required | (1ull << VIRTIO_F_VERSION_1));
	o->set_features(d, accept);
	d->features = accept;
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	if (modern) {
		st |= VIRTIO_STATUS_FEATURES_OK;
		o->set_status(d, st);
		/* The device clears FEATURES_OK when it cannot live with our subset. */
		if (!(o->get_status(d) & VIRTIO_STATUS_FEATURES_OK))
			return fail(d, "FEATURES_OK", BV_ENOTSUP, "device rejected the accepted features");
	}

	for (unsigned i = 0; i < nq; i++) {
		unsigned max = o->queue_max(d, i);
		if (max == 0) {
			char why[48];
			bv_snprintf(why, sizeof(why), "device has no queue %u", i);
			return fail(d, "queue setup", BV_ENODEV, why);
		}
		unsigned size = BV_VIRTQ_MAX_SIZE;
		while (size > max)
			size >>= 1;     /* split rings are powers of 2 */
		int rc = virtq_init(qs[i], (uint16_t)i, (uint16_t)size);
		if (rc == BV_OK)
			rc = o->setup_queue(d, qs[i]);
		if (rc < 0) {
			char why[48];
			bv_snprintf(why, sizeof(why), "queue %u (size %u, max %u)", i, size, max);
			return fail(d, "queue setup", rc, why);
		}
	}

	o->set_status(d, (uint8_t)(st | VIRTIO_STATUS_DRIVER_OK));
	if (o->get_status(d) & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED))
		return fail(d, "DRIVER_OK", BV_EIO, "device reports NEEDS_RESET/FAILED");
	return BV_OK;
}

uint8_t virtio_cfg_read8(struct virtio_dev *d, unsigned off) { return d->ops->cfg_read8(d, off); }
uint16_t virtio_cfg_read16(struct virtio_dev *d, unsigned off) { return d->ops->cfg_read16(d, off); }
uint32_t virtio_cfg_read32(struct virtio_dev *d, unsigned off) { return d->ops->cfg_read32(d, off); }

uint64_t virtio_cfg_read64(struct virtio_dev *d, unsigned off)
{
	/* Two 32-bit halves may straddle a device update: retry until the
	 * generation is the same before and after. */
	for (;;) {
		uint32_t g = d->ops->cfg_generation(d);
		uint64_t lo = d->ops->cfg_read32(d, off);
		uint64_t hi = d->ops->cfg_read32(d, off + 4);
		if (d->ops->cfg_generation(d) == g)
			return hi << 32 | lo;
	}
}
