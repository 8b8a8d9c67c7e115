/* SPDX-License-Identifier: BSD-2-Clause */
/* Transport-independent virtio: the spec's initialisation sequence (3.1.1)
 * and config-space reads, for a device some transport already attached, and
 * the one interrupt handler (count, acknowledge, return).
 * Non-goals: finding devices, device-specific logic, re-initialisation
 * after NEEDS_RESET. */
#include "bv/err.h"
#include "bv/log.h"
#include "drivers/virtio.h"

const char *virtio_transport_name(enum virtio_transport t)
{
	switch (t) {
	case VIRTIO_TRANSPORT_PCI: return "pci";
	case VIRTIO_TRANSPORT_MMIO_V1: return "mmio v1";
	case VIRTIO_TRANSPORT_MMIO_V2: return "mmio v2";
	}
	return "?";
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

	d->irq.mode = VIRTIO_IRQ_NONE;
	if (d->irq.wanted && o->irq_setup)
		o->irq_setup(d);

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
		if (rc == BV_OK) {
			virtq_set_event_idx(qs[i], (int)(accept >> VIRTIO_RING_F_EVENT_IDX) & 1);
			rc = o->setup_queue(d, qs[i]);
		}
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

void virtio_set_irq_line(struct virtio_dev *d, uint32_t irq, unsigned flags)
{
	d->irq.line = irq;
	d->irq.line_flags = (uint8_t)flags;
	d->irq.has_line = 1;
}

void virtio_irq_handler(void *ctx)
{
	struct virtio_dev *d = ctx;
	d->irq.count++;
	if (d->irq.mode != VIRTIO_IRQ_LINE || !d->ops->irq_ack)
		return;             /* MSI-X: nothing to acknowledge */
	if (d->ops->irq_ack(d)) {
		d->irq.spurious_run = 0;
		bv_io_rmb();        /* the status read before the ring reads it announced */
		return;
	}
	/* A level line with nothing in our ISR: a neighbour's, or a device that
	 * asserts it for nothing. Enough of those in a row and the line would
	 * keep the CPU from ever sleeping: turn it off and wake on the timer. */
	d->irq.spurious++;
	if (++d->irq.spurious_run >= VIRTIO_IRQ_STORM) {
		bv_port_irq_off(d->irq.handle);
		d->irq.mode = VIRTIO_IRQ_NONE;
		d->irq.storm = 1;
	}
}

uint8_t virtio_cfg_read8(struct virtio_dev *d, unsigned off) { return d->ops->cfg_read8(d, off); }
uint16_t virtio_cfg_read16(struct virtio_dev *d, unsigned off) { return d->ops->cfg_read16(d, off); }
uint32_t virtio_cfg_read32(struct virtio_dev *d, unsigned off) { return d->ops->cfg_read32(d, off); }

uint64_t virtio_cfg_read64(struct virtio_dev *d, unsigned off)
{
	/* Two 32-bit halves may straddle a device update: retry until the
	 * generation is the same before and after. A device whose generation
	 * never settles gets its last reading rather than hanging us. */
	uint64_t v = 0;
	for (unsigned tries = 0; tries < VIRTIO_CFG_RETRIES; tries++) {
		uint32_t g = d->ops->cfg_generation(d);
		uint64_t lo = d->ops->cfg_read32(d, off);
		uint64_t hi = d->ops->cfg_read32(d, off + 4);
		v = hi << 32 | lo;
		if (d->ops->cfg_generation(d) == g)
			break;
	}
	return v;
}
