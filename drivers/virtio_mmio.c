/* SPDX-License-Identifier: BSD-2-Clause */
/* virtio-mmio transport, version 2 (modern) and version 1 (legacy), spec 4.2,
 * for a device at a base address the caller knows (discover/ finds them for
 * the -kernel images). Its interrupt, when the driver wants one to wake the
 * CPU, is the line the caller named (virtio_set_irq_line); the handler
 * acknowledges InterruptStatus and nothing else. Non-goals: finding devices
 * or their lines, shared lines. */
#include "bv/err.h"
#include "bv/log.h"
#include "bv/port.h"
#include "drivers/virtio.h"
#include "drivers/virtio_mmio.h"

/* Registers: QEMU only honours 32-bit accesses below the config space, so every
 * access here is 32 bits wide. Legacy devices use guest-native endianness
 * (little-endian on all our targets), modern ones little-endian. */
#define MMIO_MAGIC        0x000   /* "virt" */
#define MMIO_VERSION      0x004   /* 1 legacy, 2 modern */
#define MMIO_DEVICE_ID    0x008   /* 0: empty slot */
#define MMIO_DEV_FEAT     0x010
#define MMIO_DEV_FEAT_SEL 0x014
#define MMIO_DRV_FEAT     0x020
#define MMIO_DRV_FEAT_SEL 0x024
#define MMIO_GUEST_PAGE_SIZE 0x028 /* v1 only */
#define MMIO_QUEUE_SEL    0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM    0x038
#define MMIO_QUEUE_ALIGN  0x03c   /* v1 only */
#define MMIO_QUEUE_PFN    0x040   /* v1 only */
#define MMIO_QUEUE_READY  0x044   /* v2 only */
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INT_STATUS   0x060
#define MMIO_INT_ACK      0x064
#define MMIO_STATUS       0x070
#define MMIO_QUEUE_DESC_LO   0x080 /* v2: 64-bit addresses as lo/hi pairs */
#define MMIO_QUEUE_DESC_HI   0x084
#define MMIO_QUEUE_DRIVER_LO 0x090
#define MMIO_QUEUE_DRIVER_HI 0x094
#define MMIO_QUEUE_DEVICE_LO 0x0a0
#define MMIO_QUEUE_DEVICE_HI 0x0a4
#define MMIO_CONFIG_GEN   0x0fc   /* v2 only */
#define MMIO_CONFIG       0x100   /* device config: 8/16/32-bit accesses allowed */

#define MMIO_MAGIC_VALUE  0x74726976u
#define MMIO_PAGE_SIZE    4096u

static uint32_t rd(struct virtio_dev *d, unsigned off) { return bv_mmio_read32(d->t.mmio.base + off); }
static void wr(struct virtio_dev *d, unsigned off, uint32_t v) { bv_mmio_write32(d->t.mmio.base + off, v); }
static int legacy(struct virtio_dev *d) { return d->transport == VIRTIO_TRANSPORT_MMIO_V1; }

static int vm_reset(struct virtio_dev *d)
{
	wr(d, MMIO_STATUS, 0);
	for (unsigned i = 0; i < VIRTIO_RESET_POLLS; i++) {
		if (rd(d, MMIO_STATUS) == 0)
			return BV_OK;
		bv_port_relax();
	}
	return BV_EIO;
}
static uint8_t vm_get_status(struct virtio_dev *d) { return (uint8_t)rd(d, MMIO_STATUS); }
static void vm_set_status(struct virtio_dev *d, uint8_t s) { wr(d, MMIO_STATUS, s); }

static uint64_t vm_get_features(struct virtio_dev *d)
{
	wr(d, MMIO_DEV_FEAT_SEL, 0);
	uint64_t lo = rd(d, MMIO_DEV_FEAT);
	if (legacy(d))
		return lo;          /* legacy has 32 feature bits */
	wr(d, MMIO_DEV_FEAT_SEL, 1);
	return (uint64_t)rd(d, MMIO_DEV_FEAT) << 32 | lo;
}
static void vm_set_features(struct virtio_dev *d, uint64_t f)
{
	wr(d, MMIO_DRV_FEAT_SEL, 0);
	wr(d, MMIO_DRV_FEAT, (uint32_t)f);
	if (legacy(d))
		return;
	wr(d, MMIO_DRV_FEAT_SEL, 1);
	wr(d, MMIO_DRV_FEAT, (uint32_t)(f >> 32));
}

static unsigned vm_queue_max(struct virtio_dev *d, unsigned idx)
{
	wr(d, MMIO_QUEUE_SEL, idx);
	return rd(d, MMIO_QUEUE_NUM_MAX);
}

static void vm_notify_hook(struct virtq *q, void *ctx)
{
	struct virtio_dev *d = ctx;
	d->ops->notify(d, q->index);
}

static int vm_setup_queue(struct virtio_dev *d, struct virtq *q)
{
	if (legacy(d)) {
		/* The device turns QueuePFN into an address with this page size:
		 * it must be set before any PFN is written. */
		wr(d, MMIO_GUEST_PAGE_SIZE, MMIO_PAGE_SIZE);
		wr(d, MMIO_QUEUE_SEL, q->index);
		if (rd(d, MMIO_QUEUE_PFN) != 0)
			return BV_EIO;  /* in use after reset? */
		uint64_t a = virtq_desc_addr(q);
		if ((a & (MMIO_PAGE_SIZE - 1)) || (a >> 12) > 0xffffffffu)
			return BV_EINVAL;
		wr(d, MMIO_QUEUE_NUM, q->size);
		/* The device places used at the next QueueAlign boundary after avail,
		 * which is how virtq_init laid it out. */
		wr(d, MMIO_QUEUE_ALIGN, VIRTQ_LEGACY_ALIGN);
		virtq_set_notify(q, vm_notify_hook, d);
		/* Ring memory must be in place before the device may look at it. */
		bv_io_wmb();
		wr(d, MMIO_QUEUE_PFN, (uint32_t)(a >> 12));
		return BV_OK;
	}
	wr(d, MMIO_QUEUE_SEL, q->index);
	if (rd(d, MMIO_QUEUE_READY) != 0)
		return BV_EIO;
	wr(d, MMIO_QUEUE_NUM, q->size);
	uint64_t a[3] = { virtq_desc_addr(q), virtq_avail_addr(q), virtq_used_addr(q) };
	static const unsigned lo[3] = { MMIO_QUEUE_DESC_LO, MMIO_QUEUE_DRIVER_LO, MMIO_QUEUE_DEVICE_LO };
	for (unsigned i = 0; i < 3; i++) {
		wr(d, lo[i], (uint32_t)a[i]);
		wr(d, lo[i] + 4, (uint32_t)(a[i] >> 32));
	}
	virtq_set_notify(q, vm_notify_hook, d);
	bv_io_wmb();
	wr(d, MMIO_QUEUE_READY, 1);
	return BV_OK;
}

static void vm_notify(struct virtio_dev *d, unsigned idx)
{
	/* The published ring must reach the device before the doorbell does. */
	bv_io_wmb();
	wr(d, MMIO_QUEUE_NOTIFY, idx);
}

static uint8_t vm_cfg8(struct virtio_dev *d, unsigned off) { return bv_mmio_read8(d->t.mmio.base + MMIO_CONFIG + off); }
static uint16_t vm_cfg16(struct virtio_dev *d, unsigned off) { return bv_mmio_read16(d->t.mmio.base + MMIO_CONFIG + off); }
static uint32_t vm_cfg32(struct virtio_dev *d, unsigned off) { return bv_mmio_read32(d->t.mmio.base + MMIO_CONFIG + off); }
static uint32_t vm_cfggen(struct virtio_dev *d) { return legacy(d) ? 0 : rd(d, MMIO_CONFIG_GEN); }

/* The handler the port calls: virtio_irq_handler, by a local name (taking
 * an external function's address would cost PIC builds a GOT). */
static void vm_irq(void *ctx) { virtio_irq_handler(ctx); }

static void vm_irq_setup(struct virtio_dev *d)
{
	if (!d->irq.has_line)
		return;
	if (!d->irq.attached) {
		int h = bv_port_irq_line(d->irq.line, d->irq.line_flags, vm_irq, d);
		if (h < 0)
			return;
		d->irq.handle = h;
		d->irq.attached = 1;
	}
	d->irq.mode = VIRTIO_IRQ_LINE;
}

/* Acknowledging exactly the bits we saw lowers the line (until the device
 * sets a new one). */
static uint32_t vm_irq_ack(struct virtio_dev *d)
{
	uint32_t st = rd(d, MMIO_INT_STATUS);
	if (st)
		wr(d, MMIO_INT_ACK, st);
	return st;
}

static const struct virtio_ops virtio_mmio_ops = {
	.reset = vm_reset, .get_status = vm_get_status, .set_status = vm_set_status,
	.get_features = vm_get_features, .set_features = vm_set_features,
	.queue_max = vm_queue_max, .setup_queue = vm_setup_queue, .notify = vm_notify,
	.cfg_read8 = vm_cfg8, .cfg_read16 = vm_cfg16, .cfg_read32 = vm_cfg32,
	.cfg_generation = vm_cfggen,
	.irq_setup = vm_irq_setup, .irq_ack = vm_irq_ack,
};

int virtio_mmio_attach(struct virtio_dev *d, uintptr_t base)
{
	if (bv_mmio_read32(base + MMIO_MAGIC) != MMIO_MAGIC_VALUE)
		return BV_ENODEV;
	uint32_t ver = bv_mmio_read32(base + MMIO_VERSION), id = bv_mmio_read32(base + MMIO_DEVICE_ID);
	if (id == 0)
		return BV_ENODEV;           /* an empty slot */
	if (ver != 1 && ver != 2) {
		bv_logf("virtio: mmio@0x%llx has unknown version %u, skipped\n",
			(unsigned long long)base, (unsigned)ver);
		return BV_ENOTSUP;
	}
	*d = (struct virtio_dev){
		.ops = &virtio_mmio_ops,
		.transport = ver == 1 ? VIRTIO_TRANSPORT_MMIO_V1 : VIRTIO_TRANSPORT_MMIO_V2,
		.device_id = id,
		.t.mmio.base = base,
	};
	bv_snprintf(d->where, sizeof(d->where), "mmio@0x%llx", (unsigned long long)base);
	return BV_OK;
}
