/* SPDX-License-Identifier: BSD-2-Clause */
/* Modern virtio-pci transport (virtio 1.x section 4.1) for a function the
 * caller found and whose BARs are assigned: vendor capabilities locate
 * common/notify/ISR/device config in memory BARs. Config space is reached
 * only through the caller's accessors. Interrupts, when the driver wants
 * them to wake the CPU: MSI-X (one vector for every queue, none for config
 * changes) where the port offers MSI, else INTx on the line the caller
 * named, acknowledged through the ISR. Non-goals: enumeration and BAR
 * assignment (discover/pci.c), the legacy IO-BAR interface, plain MSI, a
 * vector per queue. */
#include "bv/err.h"
#include "bv/log.h"
#include "bv/port.h"
#include "drivers/pci_regs.h"
#include "drivers/virtio.h"
#include "drivers/virtio_pci.h"

#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11

/* MSI-X capability and table (PCI 3.0, 6.8.2). */
#define MSIX_CTRL            2       /* 16 */
#define MSIX_CTRL_ENABLE     0x8000
#define MSIX_CTRL_FMASK      0x4000
#define MSIX_TABLE           4       /* 32: offset | BIR */
#define PCI_COMMAND_INTX_OFF 0x400

/* Vendor capability (cap_vndr 0x09) fields, byte offsets within the cap. */
#define CAP_VNDR    0
#define CAP_NEXT    1
#define CAP_CFG_TYPE 3
#define CAP_BAR     4
#define CAP_OFFSET  8      /* 32 */
#define CAP_LENGTH  12     /* 32 */
#define CAP_NOTIFY_MULT 16 /* 32, notify cap only */
#define CAP_COMMON  1
#define CAP_NOTIFY  2
#define CAP_ISR     3
#define CAP_DEVICE  4

/* Common configuration structure; access widths as noted (spec 4.1.4.3). */
#define COMMON_DFSELECT   0x00  /* 32 */
#define COMMON_DF         0x04  /* 32 */
#define COMMON_GFSELECT   0x08  /* 32 */
#define COMMON_GF         0x0c  /* 32 */
#define COMMON_MSIX       0x10  /* 16 */
#define COMMON_NUMQ       0x12  /* 16 */
#define COMMON_STATUS     0x14  /* 8 */
#define COMMON_CFGGEN     0x15  /* 8 */
#define COMMON_Q_SELECT   0x16  /* 16 */
#define COMMON_Q_SIZE     0x18  /* 16 */
#define COMMON_Q_MSIX     0x1a  /* 16 */
#define COMMON_Q_ENABLE   0x1c  /* 16 */
#define COMMON_Q_NOFF     0x1e  /* 16 */
#define COMMON_Q_DESCLO   0x20  /* 32 x2: 64-bit fields written as lo then hi */
#define COMMON_Q_DESCHI   0x24
#define COMMON_Q_AVAILLO  0x28
#define COMMON_Q_AVAILHI  0x2c
#define COMMON_Q_USEDLO   0x30
#define COMMON_Q_USEDHI   0x34

#define VIRTIO_MSI_NO_VECTOR 0xffff

/* One register access in structure `cap` (CAP_COMMON..CAP_DEVICE): through
 * the platform's BAR accessors when it gave some, else plain MMIO. */
static uintptr_t cap_addr(struct virtio_dev *d, unsigned cap)
{
	switch (cap) {
	case CAP_COMMON: return d->t.pci.common;
	case CAP_NOTIFY: return d->t.pci.notify;
	case CAP_ISR: return d->t.pci.isr;
	default: return d->t.pci.device;
	}
}

static uint32_t rd(struct virtio_dev *d, unsigned cap, uint32_t off, unsigned width)
{
	const struct virtio_pci_access *a = d->t.pci.cfg;
	if (a && a->bar_read)
		return a->bar_read(a->ctx, d->t.pci.bar[cap], (uint64_t)d->t.pci.bar_off[cap] + off, width);
	uintptr_t p = cap_addr(d, cap) + off;
	return width == 1 ? bv_mmio_read8(p) : width == 2 ? bv_mmio_read16(p) : bv_mmio_read32(p);
}

static void wr(struct virtio_dev *d, unsigned cap, uint32_t off, unsigned width, uint32_t v)
{
	const struct virtio_pci_access *a = d->t.pci.cfg;
	if (a && a->bar_write) {
		a->bar_write(a->ctx, d->t.pci.bar[cap], (uint64_t)d->t.pci.bar_off[cap] + off, width, v);
		return;
	}
	uintptr_t p = cap_addr(d, cap) + off;
	if (width == 1)
		bv_mmio_write8(p, (uint8_t)v);
	else if (width == 2)
		bv_mmio_write16(p, (uint16_t)v);
	else
		bv_mmio_write32(p, v);
}

static int vp_reset(struct virtio_dev *d)
{
	wr(d, CAP_COMMON, COMMON_STATUS, 1, 0);
	/* Reset completes when the device reads back 0. */
	for (unsigned i = 0; i < VIRTIO_RESET_POLLS; i++) {
		if (rd(d, CAP_COMMON, COMMON_STATUS, 1) == 0)
			return BV_OK;
		bv_port_relax();
	}
	return BV_EIO;
}
static uint8_t vp_get_status(struct virtio_dev *d) { return rd(d, CAP_COMMON, COMMON_STATUS, 1); }
static void vp_set_status(struct virtio_dev *d, uint8_t s) { wr(d, CAP_COMMON, COMMON_STATUS, 1, s); }

static uint64_t vp_get_features(struct virtio_dev *d)
{
	wr(d, CAP_COMMON, COMMON_DFSELECT, 4, 0);
	uint64_t lo = rd(d, CAP_COMMON, COMMON_DF, 4);
	wr(d, CAP_COMMON, COMMON_DFSELECT, 4, 1);
	uint64_t hi = rd(d, CAP_COMMON, COMMON_DF, 4);
	return hi << 32 | lo;
}
static void vp_set_features(struct virtio_dev *d, uint64_t f)
{
	wr(d, CAP_COMMON, COMMON_GFSELECT, 4, 0);
	wr(d, CAP_COMMON, COMMON_GF, 4, (uint32_t)f);
	wr(d, CAP_COMMON, COMMON_GFSELECT, 4, 1);
	wr(d, CAP_COMMON, COMMON_GF, 4, (uint32_t)(f >> 32));
}

static unsigned vp_queue_max(struct virtio_dev *d, unsigned idx)
{
	if (idx >= rd(d, CAP_COMMON, COMMON_NUMQ, 2))
		return 0;
	wr(d, CAP_COMMON, COMMON_Q_SELECT, 2, (uint16_t)idx);
	return rd(d, CAP_COMMON, COMMON_Q_SIZE, 2);
}

static void vp_notify_hook(struct virtq *q, void *ctx)
{
	struct virtio_dev *d = ctx;
	d->ops->notify(d, q->index);
}

static int vp_setup_queue(struct virtio_dev *d, struct virtq *q)
{
	wr(d, CAP_COMMON, COMMON_Q_SELECT, 2, q->index);
	if (rd(d, CAP_COMMON, COMMON_Q_ENABLE, 2))
		return BV_EIO;      /* must be off after reset */
	wr(d, CAP_COMMON, COMMON_Q_SIZE, 2, q->size);
	if (d->irq.mode == VIRTIO_IRQ_MSIX) {
		wr(d, CAP_COMMON, COMMON_Q_MSIX, 2, 0);
		/* The device answers NO_VECTOR when it cannot use the vector. */
		if (rd(d, CAP_COMMON, COMMON_Q_MSIX, 2) != 0) {
			bv_logf("virtio: %s refused msi-x vector 0 for queue %u: waking on a timer\n",
				d->where, q->index);
			d->irq.mode = VIRTIO_IRQ_NONE;
		}
	}
	if (d->irq.mode != VIRTIO_IRQ_MSIX)
		wr(d, CAP_COMMON, COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	uint64_t a[3] = { virtq_desc_addr(q), virtq_avail_addr(q), virtq_used_addr(q) };
	for (unsigned i = 0; i < 3; i++) {
		wr(d, CAP_COMMON, COMMON_Q_DESCLO + 8 * i, 4, (uint32_t)a[i]);
		wr(d, CAP_COMMON, COMMON_Q_DESCHI + 8 * i, 4, (uint32_t)(a[i] >> 32));
	}
	if (q->index < VIRTIO_PCI_CACHED_QUEUES)
		d->t.pci.notify_off[q->index] = rd(d, CAP_COMMON, COMMON_Q_NOFF, 2);
	virtq_set_notify(q, vp_notify_hook, d);
	/* Ring memory must be in place before the device may look at it. */
	bv_io_wmb();
	wr(d, CAP_COMMON, COMMON_Q_ENABLE, 2, 1);
	return BV_OK;
}

static void vp_notify(struct virtio_dev *d, unsigned idx)
{
	uint16_t noff;
	if (idx < VIRTIO_PCI_CACHED_QUEUES) {
		noff = d->t.pci.notify_off[idx];
	} else {
		wr(d, CAP_COMMON, COMMON_Q_SELECT, 2, (uint16_t)idx);
		noff = rd(d, CAP_COMMON, COMMON_Q_NOFF, 2);
	}
	/* The published ring must reach the device before the doorbell does.
	 * The doorbell value is the queue index (no NOTIFICATION_DATA). */
	bv_io_wmb();
	wr(d, CAP_NOTIFY, (uint32_t)noff * d->t.pci.notify_mult, 2, idx);
}

static uint8_t vp_cfg8(struct virtio_dev *d, unsigned off) { return (uint8_t)rd(d, CAP_DEVICE, off, 1); }
static uint16_t vp_cfg16(struct virtio_dev *d, unsigned off) { return (uint16_t)rd(d, CAP_DEVICE, off, 2); }
static uint32_t vp_cfg32(struct virtio_dev *d, unsigned off) { return rd(d, CAP_DEVICE, off, 4); }
static uint32_t vp_cfggen(struct virtio_dev *d) { return rd(d, CAP_COMMON, COMMON_CFGGEN, 1); }

/* A 32-bit write into the MSI-X table, the way the other registers go. */
static void msix_wr(struct virtio_dev *d, uint32_t off, uint32_t v)
{
	const struct virtio_pci_access *a = d->t.pci.cfg;
	if (a->bar_write)
		a->bar_write(a->ctx, d->t.pci.msix_bar, (uint64_t)d->t.pci.msix_off + off, 4, v);
	else
		bv_mmio_write32(d->t.pci.msix_table + off, v);
}

/* The handler the port calls: virtio_irq_handler, by a local name (taking
 * an external function's address would cost PIC builds a GOT). */
static void vp_irq(void *ctx) { virtio_irq_handler(ctx); }

/* MSI-X with entry 0 only: every queue uses vector 0. */
static int vp_msix(struct virtio_dev *d)
{
	const struct virtio_pci_access *a = d->t.pci.cfg;
	if (!d->t.pci.msix_cap || !a)
		return BV_ENOTSUP;
	if (!d->irq.attached) {
		int h = bv_port_irq_msi(vp_irq, d, &d->irq.msi_addr, &d->irq.msi_data);
		if (h < 0)
			return h;
		d->irq.handle = h;
		d->irq.attached = 1;
	}
	unsigned cap = d->t.pci.msix_cap;
	uint16_t ctrl = (uint16_t)a->read(a->ctx, cap + MSIX_CTRL, 2);
	/* Program the entry with the function masked, then let it go. */
	a->write(a->ctx, cap + MSIX_CTRL, 2, ctrl | MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK);
	msix_wr(d, 0, (uint32_t)d->irq.msi_addr);
	msix_wr(d, 4, (uint32_t)(d->irq.msi_addr >> 32));
	msix_wr(d, 8, d->irq.msi_data);
	msix_wr(d, 12, 0);                       /* vector control: unmasked */
	a->write(a->ctx, cap + MSIX_CTRL, 2, (uint16_t)((ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_FMASK));
	/* Config changes need no wake-up: the CID change that matters to vsock
	 * arrives as an event-queue buffer. */
	wr(d, CAP_COMMON, COMMON_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	d->irq.mode = VIRTIO_IRQ_MSIX;
	return BV_OK;
}

static void vp_irq_setup(struct virtio_dev *d)
{
	if (vp_msix(d) == BV_OK)
		return;
	/* INTx: the ISR register tells whether the line is ours and lowers it. */
	const struct virtio_pci_access *a = d->t.pci.cfg;
	if (!d->irq.has_line || !a)
		return;
	if (!d->irq.attached) {
		int h = bv_port_irq_line(d->irq.line, d->irq.line_flags, vp_irq, d);
		if (h < 0)
			return;
		d->irq.handle = h;
		d->irq.attached = 1;
	}
	uint16_t cmd = (uint16_t)a->read(a->ctx, PCI_COMMAND, 2);
	if (cmd & PCI_COMMAND_INTX_OFF)
		a->write(a->ctx, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_INTX_OFF);
	d->irq.mode = VIRTIO_IRQ_LINE;
}

/* Reading the ISR clears it and lowers INTx. */
static uint32_t vp_irq_ack(struct virtio_dev *d) { return rd(d, CAP_ISR, 0, 1); }

static const struct virtio_ops virtio_pci_ops = {
	.reset = vp_reset, .get_status = vp_get_status, .set_status = vp_set_status,
	.get_features = vp_get_features, .set_features = vp_set_features,
	.queue_max = vp_queue_max, .setup_queue = vp_setup_queue, .notify = vp_notify,
	.cfg_read8 = vp_cfg8, .cfg_read16 = vp_cfg16, .cfg_read32 = vp_cfg32,
	.cfg_generation = vp_cfggen,
	.irq_setup = vp_irq_setup, .irq_ack = vp_irq_ack,
};

static uint8_t cfg8(const struct virtio_pci_access *a, unsigned off) { return (uint8_t)a->read(a->ctx, off, 1); }
static uint16_t cfg16(const struct virtio_pci_access *a, unsigned off) { return (uint16_t)a->read(a->ctx, off, 2); }
static uint32_t cfg32(const struct virtio_pci_access *a, unsigned off) { return a->read(a->ctx, off, 4); }

/* CPU address of memory BAR idx as config space says (both halves of a
 * 64-bit BAR), 0 for an I/O BAR or an unassigned one. */
static uint64_t bar_from_config(const struct virtio_pci_access *a, unsigned idx)
{
	uint32_t lo = cfg32(a, PCI_BAR0 + 4 * idx);
	if (lo & PCI_BAR_IO)
		return 0;
	uint64_t addr = lo & PCI_BAR_MEM_MASK;
	if ((lo & 6) == PCI_BAR_TYPE_64 && idx < 5)
		addr |= (uint64_t)cfg32(a, PCI_BAR0 + 4 * (idx + 1)) << 32;
	return addr;
}

/* Walk the capability list; fill d->t.pci. BV_OK when common, notify and ISR
 * were found (device config is optional: rng has none). */
static int find_caps(struct virtio_dev *d, const struct virtio_pci_access *a, const uint64_t *bars)
{
	if (!(cfg16(a, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return BV_ENODEV;
	unsigned found = 0, guard = 0;
	uint8_t p = cfg8(a, PCI_CAP_PTR) & 0xfc;
	/* A config space has room for at most 48 capabilities: a longer walk is a loop. */
	while (p && guard++ < 48) {
		if (cfg8(a, p + CAP_VNDR) == PCI_CAP_ID_MSIX && !d->t.pci.msix_cap) {
			uint32_t t = cfg32(a, p + MSIX_TABLE);
			unsigned bir = t & 7;
			uint64_t base = bir > 5 ? 0 : bars ? bars[bir] : bar_from_config(a, bir);
			uint64_t addr = base + (t & ~7u);
			if (base && (addr + 16 <= (uint64_t)UINTPTR_MAX || a->bar_write)) {
				d->t.pci.msix_table = (uintptr_t)addr;
				d->t.pci.msix_bar = (uint8_t)bir;
				d->t.pci.msix_off = t & ~7u;
				d->t.pci.msix_cap = p;
			}
		}
		if (cfg8(a, p + CAP_VNDR) == PCI_CAP_ID_VNDR) {
			uint8_t type = cfg8(a, p + CAP_CFG_TYPE), bar = cfg8(a, p + CAP_BAR);
			uint64_t base = bar > 5 ? 0 : bars ? bars[bar] : bar_from_config(a, bar);
			uint32_t off = cfg32(a, p + CAP_OFFSET);
			/* Only the first cap of each type counts (spec: in order of preference). */
			if (base && type >= CAP_COMMON && type <= CAP_DEVICE && !(found & (1u << type))) {
				uint64_t addr = base + off;
				if (addr > (uint64_t)UINTPTR_MAX && !a->bar_read)
					return BV_EIO;
				d->t.pci.bar[type] = bar;
				d->t.pci.bar_off[type] = off;
				switch (type) {
				case CAP_COMMON: d->t.pci.common = (uintptr_t)addr; break;
				case CAP_NOTIFY:
					d->t.pci.notify = (uintptr_t)addr;
					d->t.pci.notify_mult = cfg32(a, p + CAP_NOTIFY_MULT);
					break;
				case CAP_ISR: d->t.pci.isr = (uintptr_t)addr; break;
				case CAP_DEVICE: d->t.pci.device = (uintptr_t)addr; break;
				}
				found |= 1u << type;
			}
		}
		p = cfg8(a, p + CAP_NEXT) & 0xfc;
	}
	const unsigned needed = 1u << CAP_COMMON | 1u << CAP_NOTIFY | 1u << CAP_ISR;
	return (found & needed) == needed ? BV_OK : BV_ENODEV;
}

int virtio_pci_attach(struct virtio_dev *d, const struct virtio_pci_access *a, const uint64_t *bars)
{
	uint16_t vendor = cfg16(a, PCI_VENDOR_ID), device = cfg16(a, PCI_DEVICE_ID);
	if (vendor != VIRTIO_PCI_VENDOR || device < VIRTIO_PCI_DEVICE_FIRST || device > VIRTIO_PCI_DEVICE_LAST)
		return BV_ENODEV;
	*d = (struct virtio_dev){ .ops = &virtio_pci_ops, .transport = VIRTIO_TRANSPORT_PCI };
	/* Transitional devices (0x1000-0x103f) carry the virtio ID in the subsystem ID. */
	d->device_id = device >= VIRTIO_PCI_DEVICE_MODERN ? device - VIRTIO_PCI_DEVICE_MODERN : cfg16(a, PCI_SUBSYS_ID);
	int rc = find_caps(d, a, bars);
	if (rc < 0) {
		bv_logf("virtio: pci device %04x:%04x has no usable modern capabilities (legacy-only devices are not supported)\n",
			vendor, device);
		d->ops = 0;
		return rc;
	}
	d->t.pci.cfg = a;
	/* The device reads and writes our rings: it must decode its BARs and
	 * master the bus. Firmware often leaves mastering off (SeaBIOS does). */
	uint16_t cmd = cfg16(a, PCI_COMMAND);
	if ((cmd & (PCI_COMMAND_MEM | PCI_COMMAND_MASTER)) != (PCI_COMMAND_MEM | PCI_COMMAND_MASTER))
		a->write(a->ctx, PCI_COMMAND, 2, cmd | PCI_COMMAND_MEM | PCI_COMMAND_MASTER);
	bv_snprintf(d->where, sizeof(d->where), "pci common@0x%llx", (unsigned long long)d->t.pci.common);
	return BV_OK;
}
