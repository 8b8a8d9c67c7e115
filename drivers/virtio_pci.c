/* SPDX-License-Identifier: BSD-2-Clause */
/* Modern virtio-pci transport (virtio 1.x section 4.1): vendor capabilities
 * locate common/notify/ISR/device config in memory BARs. Non-goals: the legacy
 * IO-BAR interface, MSI-X (q_msix = 0xFFFF: we poll), interrupts. */
#include "bv/arch.h"
#include "bv/err.h"
#include "bv/log.h"
#include "drivers/pci.h"
#include "drivers/virtio.h"

#define VIRTIO_PCI_VENDOR 0x1af4

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

static uintptr_t cm(struct virtio_dev *d, unsigned off) { return d->t.pci.common + off; }

static int vp_reset(struct virtio_dev *d)
{
	bv_mmio_write8(cm(d, COMMON_STATUS), 0);
	/* Reset completes when the device reads back 0. */
	for (unsigned i = 0; i < VIRTIO_RESET_POLLS; i++) {
		if (bv_mmio_read8(cm(d, COMMON_STATUS)) == 0)
			return BV_OK;
		bv_port_relax();
	}
	return BV_EIO;
}
static uint8_t vp_get_status(struct virtio_dev *d) { return bv_mmio_read8(cm(d, COMMON_STATUS)); }
static void vp_set_status(struct virtio_dev *d, uint8_t s) { bv_mmio_write8(cm(d, COMMON_STATUS), s); }

static uint64_t vp_get_features(struct virtio_dev *d)
{
	bv_mmio_write32(cm(d, COMMON_DFSELECT), 0);
	uint64_t lo = bv_mmio_read32(cm(d, COMMON_DF));
	bv_mmio_write32(cm(d, COMMON_DFSELECT), 1);
	uint64_t hi = bv_mmio_read32(cm(d, COMMON_DF));
	return hi << 32 | lo;
}
static void vp_set_features(struct virtio_dev *d, uint64_t f)
{
	bv_mmio_write32(cm(d, COMMON_GFSELECT), 0);
	bv_mmio_write32(cm(d, COMMON_GF), (uint32_t)f);
	bv_mmio_write32(cm(d, COMMON_GFSELECT), 1);
	bv_mmio_write32(cm(d, COMMON_GF), (uint32_t)(f >> 32));
}

static unsigned vp_queue_max(struct virtio_dev *d, unsigned idx)
{
	if (idx >= bv_mmio_read16(cm(d, COMMON_NUMQ)))
		return 0;
	bv_mmio_write16(cm(d, COMMON_Q_SELECT), (uint16_t)idx);
	return bv_mmio_read16(cm(d, COMMON_Q_SIZE));
}

static void vp_notify_hook(struct virtq *q, void *ctx)
{
	struct virtio_dev *d = ctx;
	d->ops->notify(d, q->index);
}

static int vp_setup_queue(struct virtio_dev *d, struct virtq *q)
{
	bv_mmio_write16(cm(d, COMMON_Q_SELECT), q->index);
	if (bv_mmio_read16(cm(d, COMMON_Q_ENABLE)))
		return BV_EIO;      /* must be off after reset */
	bv_mmio_write16(cm(d, COMMON_Q_SIZE), q->size);
	bv_mmio_write16(cm(d, COMMON_Q_MSIX), VIRTIO_MSI_NO_VECTOR);
	uint64_t a[3] = { virtq_desc_addr(q), virtq_avail_addr(q), virtq_used_addr(q) };
	for (unsigned i = 0; i < 3; i++) {
		bv_mmio_write32(cm(d, COMMON_Q_DESCLO + 8 * i), (uint32_t)a[i]);
		bv_mmio_write32(cm(d, COMMON_Q_DESCHI + 8 * i), (uint32_t)(a[i] >> 32));
	}
	if (q->index < VIRTIO_PCI_CACHED_QUEUES)
		d->t.pci.notify_off[q->index] = bv_mmio_read16(cm(d, COMMON_Q_NOFF));
	virtq_set_notify(q, vp_notify_hook, d);
	/* Ring memory must be in place before the device may look at it. */
	bv_io_wmb();
	bv_mmio_write16(cm(d, COMMON_Q_ENABLE), 1);
	return BV_OK;
}

static void vp_notify(struct virtio_dev *d, unsigned idx)
{
	uint16_t noff;
	if (idx < VIRTIO_PCI_CACHED_QUEUES) {
		noff = d->t.pci.notify_off[idx];
	} else {
		bv_mmio_write16(cm(d, COMMON_Q_SELECT), (uint16_t)idx);
		noff = bv_mmio_read16(cm(d, COMMON_Q_NOFF));
	}
	/* The published ring must reach the device before the doorbell does.
	 * The doorbell value is the queue index (no NOTIFICATION_DATA). */
	bv_io_wmb();
	bv_mmio_write16(d->t.pci.notify + (uintptr_t)noff * d->t.pci.notify_mult, (uint16_t)idx);
}

static uint8_t vp_cfg8(struct virtio_dev *d, unsigned off) { return bv_mmio_read8(d->t.pci.device + off); }
static uint16_t vp_cfg16(struct virtio_dev *d, unsigned off) { return bv_mmio_read16(d->t.pci.device + off); }
static uint32_t vp_cfg32(struct virtio_dev *d, unsigned off) { return bv_mmio_read32(d->t.pci.device + off); }
static uint32_t vp_cfggen(struct virtio_dev *d) { return bv_mmio_read8(cm(d, COMMON_CFGGEN)); }

static const struct virtio_ops virtio_pci_ops = {
	.reset = vp_reset, .get_status = vp_get_status, .set_status = vp_set_status,
	.get_features = vp_get_features, .set_features = vp_set_features,
	.queue_max = vp_queue_max, .setup_queue = vp_setup_queue, .notify = vp_notify,
	.cfg_read8 = vp_cfg8, .cfg_read16 = vp_cfg16, .cfg_read32 = vp_cfg32,
	.cfg_generation = vp_cfggen,
};

/* Walk the capability list; fill d->t.pci. 0 when all four were found. */
static int find_caps(const struct pci_func *f, struct virtio_dev *d)
{
	if (!(pci_read16(f, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return BV_ENODEV;
	unsigned found = 0, guard = 0;
	uint8_t p = pci_read8(f, PCI_CAP_PTR) & 0xfc;
	while (p && guard++ < 48) {
		if (pci_read8(f, p + CAP_VNDR) == 0x09) {
			uint8_t type = pci_read8(f, p + CAP_CFG_TYPE), bar = pci_read8(f, p + CAP_BAR);
			uint64_t base = bar <= 5 ? pci_bar_addr(f, bar) : 0;
			uint32_t off = pci_read32(f, p + CAP_OFFSET);
			/* Only the first cap of each type counts (spec: in order of preference). */
			if (base && type >= CAP_COMMON && type <= CAP_DEVICE && !(found & (1u << type))) {
				uint64_t a = base + off;
				if (a > (uint64_t)UINTPTR_MAX)
					return BV_EIO;
				switch (type) {
				case CAP_COMMON: d->t.pci.common = (uintptr_t)a; break;
				case CAP_NOTIFY:
					d->t.pci.notify = (uintptr_t)a;
					d->t.pci.notify_mult = pci_read32(f, p + CAP_NOTIFY_MULT);
					break;
				case CAP_ISR: d->t.pci.isr = (uintptr_t)a; break;
				case CAP_DEVICE: d->t.pci.device = (uintptr_t)a; break;
				}
				found |= 1u << type;
			}
		}
		p = pci_read8(f, p + CAP_NEXT) & 0xfc;
	}
	/* The device-specific cap is optional for devices without config (rng). */
	return (found & 0x0e) == 0x0e ? BV_OK : BV_ENODEV;
}

int virtio_pci_scan(void)
{
	struct pci_func fs[BV_PCI_MAX_FUNCS];
	int n = pci_scan(fs, BV_PCI_MAX_FUNCS), found = 0;
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		const struct pci_func *f = &fs[i];
		if (f->vendor != VIRTIO_PCI_VENDOR || f->device < 0x1000 || f->device > 0x107f)
			continue;
		/* Transitional devices (0x1000-0x103f) carry the virtio ID in the subsystem ID. */
		uint32_t id = f->device >= 0x1040 ? f->device - 0x1040u : pci_read16(f, PCI_SUBSYS_ID);
		int rc = pci_enable(f);
		if (rc < 0)
			continue;
		struct virtio_dev *d = virtio_dev_alloc();
		if (!d) {
			bv_logf("virtio: device table full (BV_VIRTIO_MAX_DEVICES), skipping pci %02x:%02x.%x\n",
			       f->bus, f->dev, f->fn);
			break;
		}
		if (find_caps(f, d) < 0) {
			bv_logf("virtio: pci %02x:%02x.%x has no modern capabilities, skipped\n",
			       f->bus, f->dev, f->fn);
			d->ops = NULL;   /* give the slot back */
			continue;
		}
		d->ops = &virtio_pci_ops;
		d->transport = VIRTIO_TRANSPORT_PCI;
		d->device_id = id;
		d->t.pci.bus = f->bus; d->t.pci.dev = f->dev; d->t.pci.fn = f->fn;
		bv_snprintf(d->where, sizeof(d->where), "pci %02x:%02x.%x (%s) common@0x%llx",
			 f->bus, f->dev, f->fn, pci_host_desc(), (unsigned long long)d->t.pci.common);
		found++;
	}
	return found;
}
