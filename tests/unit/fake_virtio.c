/* SPDX-License-Identifier: BSD-2-Clause */
/* The fake virtio device and DMA model of fake_virtio.h: register files for
 * virtio-mmio v1/v2 and modern virtio-pci (config space + BAR), the device
 * side of split rings through checked DMA addresses, and the port's DMA
 * hooks with an optional write-back cache model. Not a model of timing. */
#include <stdio.h>
#include <string.h>
#include "tests/unit/check.h"
#include "tests/unit/fake_virtio.h"
#include "bv/port.h"
#include "drivers/pci_regs.h"
#include "drivers/virtio.h"

struct fv_dma_model fv_dma;

/* The test binary's data and bss: where the library's rings and buffers live. */
extern char __data_start[], _end[];
uintptr_t fv_dma_lo(void) { return (uintptr_t)__data_start & ~(uintptr_t)(FV_LINE - 1); }
uintptr_t fv_dma_hi(void) { return ((uintptr_t)_end + FV_LINE - 1) & ~(uintptr_t)(FV_LINE - 1); }

/* ================================================================ RAM model */

#define RAM_LINES (1u << 17)   /* 8 MiB of lines: the vsock pools are a few MiB */
static struct ram_line {
	uintptr_t tag;              /* CPU address of the line; 0 = free */
	uint8_t data[FV_LINE];
} ram[RAM_LINES];
static unsigned ram_used;

static struct ram_line *ram_find(uintptr_t line, int create)
{
	unsigned h = (unsigned)((line / FV_LINE) * 2654435761u) & (RAM_LINES - 1);
	for (unsigned i = 0; i < RAM_LINES; i++, h = (h + 1) & (RAM_LINES - 1)) {
		if (ram[h].tag == line)
			return &ram[h];
		if (ram[h].tag == 0) {
			if (!create)
				return NULL;
			if (ram_used + 1 >= RAM_LINES) {
				printf("fake_virtio: RAM model full\n");
				__builtin_trap();
			}
			ram_used++;
			ram[h].tag = line;
			return &ram[h];
		}
	}
	return NULL;
}

/* Whole cache lines may reach past a C object into its neighbour or an ASan
 * redzone: that is what a cache does, so do it without ASan's objection. */
__attribute__((no_sanitize_address)) static void line_copy(uint8_t *dst, const uint8_t *src)
{
	for (unsigned i = 0; i < FV_LINE; i++)
		((volatile uint8_t *)dst)[i] = src[i];
}

void fv_dma_setup(int64_t offset, int cache)
{
	memset(&fv_dma, 0, sizeof(fv_dma));
	fv_dma.offset = offset;
	fv_dma.cache = cache;
	memset(ram, 0, sizeof(ram));
	ram_used = 0;
}

/* ---- the port's DMA hooks (bv/port.h), overriding arch/host/port.c ---- */

uint64_t bv_port_dma_addr(const void *p)
{
	uint64_t cpu = (uint64_t)(uintptr_t)p;
	return fv_dma.port_raw ? cpu : cpu + (uint64_t)fv_dma.offset;
}

void bv_port_dma_clean(const void *p, size_t n)
{
	if (!fv_dma.cache || fv_dma.skip_clean || n == 0)
		return;
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(FV_LINE - 1), end = (uintptr_t)p + n;
	for (; a < end; a += FV_LINE) {
		if (a < fv_dma_lo() || a >= fv_dma_hi()) {
			printf("fake_virtio: clean of 0x%lx, outside the test's data\n", (unsigned long)a);
			fv_dma.bad_addr++;
			continue;
		}
		line_copy(ram_find(a, 1)->data, (const uint8_t *)a);
	}
}

void bv_port_dma_invalidate(const void *p, size_t n)
{
	if (!fv_dma.cache || fv_dma.skip_invalidate || n == 0)
		return;
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(FV_LINE - 1), end = (uintptr_t)p + n;
	for (; a < end; a += FV_LINE) {
		struct ram_line *l = ram_find(a, 0);
		if (l)
			line_copy((uint8_t *)a, l->data);
	}
}

/* ---- device-side memory access ---- */

/* Check a device-visible range; the CPU address behind it, or 0. */
static uintptr_t xlate(uint64_t addr, uint64_t n, const char *what)
{
	fv_dma.checked++;
	uint64_t cpu = addr - (uint64_t)fv_dma.offset;
	if (n == 0 || cpu < fv_dma_lo() || cpu >= fv_dma_hi() || fv_dma_hi() - cpu < n) {
		if (fv_dma.bad_addr++ < 5)
			printf("fake_virtio: %s at device address 0x%llx (+%llu) is not a DMA address of test memory "
			       "(offset 0x%llx): a CPU address that bypassed bv_port_dma_addr?\n", what,
			       (unsigned long long)addr, (unsigned long long)n, (unsigned long long)fv_dma.offset);
		return 0;
	}
	return (uintptr_t)cpu;
}

static void uncleaned(uintptr_t line, const char *how)
{
	if (fv_dma.uncleaned++ < 5)
		printf("fake_virtio: device %s line 0x%lx the CPU never cleaned to RAM\n", how, (unsigned long)line);
}

/* 0 and the bytes, or -1 (dst poisoned) when the address is bad. */
static int dma_read(uint64_t addr, void *dst, uint32_t n, const char *what)
{
	uintptr_t cpu = xlate(addr, n, what);
	uint8_t *d = dst;
	if (!cpu) {
		memset(dst, 0xa5, n);
		return -1;
	}
	if (!fv_dma.cache) {
		memcpy(dst, (const void *)cpu, n);
		return 0;
	}
	for (uint32_t i = 0; i < n;) {
		uintptr_t a = cpu + i, line = a & ~(uintptr_t)(FV_LINE - 1);
		uint32_t k = (uint32_t)(line + FV_LINE - a);
		if (k > n - i)
			k = n - i;
		struct ram_line *l = ram_find(line, 0);
		if (l) {
			memcpy(d + i, l->data + (a - line), k);
		} else {
			uncleaned(line, "read");
			memset(d + i, 0xa5, k);
		}
		i += k;
	}
	return 0;
}

static int dma_write(uint64_t addr, const void *src, uint32_t n, const char *what)
{
	uintptr_t cpu = xlate(addr, n, what);
	const uint8_t *s = src;
	if (!cpu)
		return -1;
	if (!fv_dma.cache) {
		memcpy((void *)cpu, src, n);
		return 0;
	}
	for (uint32_t i = 0; i < n;) {
		uintptr_t a = cpu + i, line = a & ~(uintptr_t)(FV_LINE - 1);
		uint32_t k = (uint32_t)(line + FV_LINE - a);
		if (k > n - i)
			k = n - i;
		struct ram_line *l = ram_find(line, 0);
		if (l)
			memcpy(l->data + (a - line), s + i, k);
		else
			uncleaned(line, "wrote");
		i += k;
	}
	return 0;
}

/* ================================================================ queues */

static void queue_reset(struct fv_dev *d)
{
	for (unsigned i = 0; i < FV_MAX_QUEUES; i++) {
		struct fv_queue *q = &d->q[i];
		*q = (struct fv_queue){ .num = d->c.queue_max[i] };
	}
}

static void dev_reset(struct fv_dev *d)
{
	d->status = 0;
	d->driver_features = 0;
	d->queue_sel = d->dev_sel = d->drv_sel = 0;
	d->resets++;
	queue_reset(d);
}

/* The driver enabled queue qi: its rings must be DMA addresses. */
static void queue_go_live(struct fv_dev *d, unsigned qi)
{
	struct fv_queue *q = &d->q[qi];
	if (d->c.transport == FV_MMIO_V1) {
		q->desc = (uint64_t)q->pfn * d->page_size;
		q->driver = q->desc + 16u * q->num;
		uint32_t al = q->align ? q->align : 4096;
		q->device = (q->driver + 6u + 2u * q->num + al - 1) & ~(uint64_t)(al - 1);
	}
	int ok = q->num && (q->num & (q->num - 1)) == 0 && q->num <= d->c.queue_max[qi];
	ok = ok && xlate(q->desc, 16u * q->num, "descriptor table");
	ok = ok && xlate(q->driver, 6u + 2u * q->num, "avail ring");
	ok = ok && xlate(q->device, 6u + 8u * q->num, "used ring");
	if (!ok) {
		d->status |= VIRTIO_STATUS_NEEDS_RESET;
		return;
	}
	q->ready = 1;
	q->last_avail = 0;
}

int fv_queue_live(const struct fv_dev *d, unsigned qi)
{
	return qi < d->c.nqueues && d->q[qi].ready;
}

int fv_pop(struct fv_dev *d, unsigned qi, struct fv_chain *out)
{
	if (!fv_queue_live(d, qi))
		return 0;
	struct fv_queue *q = &d->q[qi];
	uint16_t idx;
	if (dma_read(q->driver + 2, &idx, 2, "avail.idx") < 0 || idx == q->last_avail)
		return 0;
	uint16_t head;
	dma_read(q->driver + 4 + 2u * (q->last_avail % q->num), &head, 2, "avail.ring");
	q->last_avail++;
	*out = (struct fv_chain){ .head = head };
	uint16_t i = head;
	for (unsigned k = 0; k < FV_MAX_CHAIN && i < q->num; k++) {
		struct { uint64_t addr; uint32_t len; uint16_t flags, next; } __attribute__((packed)) desc;
		if (dma_read(q->desc + 16u * i, &desc, 16, "descriptor") < 0)
			break;
		struct fv_seg *s = &out->seg[out->n++];
		s->addr = desc.addr;
		s->len = desc.len;
		s->writable = (desc.flags & 2) != 0;
		if (xlate(desc.addr, desc.len, "buffer"))
			*(s->writable ? &out->writable : &out->readable) += desc.len;
		if (!(desc.flags & 1))
			break;
		i = desc.next;
	}
	return 1;
}

static uint32_t chain_copy(const struct fv_chain *c, int writable, uint32_t off, uint8_t *buf, uint32_t n)
{
	uint32_t done = 0;
	for (unsigned k = 0; k < c->n && done < n; k++) {
		const struct fv_seg *s = &c->seg[k];
		if (s->writable != writable)
			continue;
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		uint32_t m = s->len - off < n - done ? s->len - off : n - done;
		int rc = writable ? dma_write(s->addr + off, buf + done, m, "buffer")
				  : dma_read(s->addr + off, buf + done, m, "buffer");
		if (rc < 0)
			break;
		done += m;
		off = 0;
	}
	return done;
}

uint32_t fv_read(struct fv_dev *d, const struct fv_chain *c, uint32_t off, void *dst, uint32_t n)
{
	(void)d;
	return chain_copy(c, 0, off, dst, n);
}

uint32_t fv_write(struct fv_dev *d, const struct fv_chain *c, uint32_t off, const void *src, uint32_t n)
{
	(void)d;
	return chain_copy(c, 1, off, (uint8_t *)(uintptr_t)src, n);
}

void fv_push(struct fv_dev *d, unsigned qi, uint16_t head, uint32_t len)
{
	struct fv_queue *q = &d->q[qi];
	uint16_t idx;
	if (!fv_queue_live(d, qi) || dma_read(q->device + 2, &idx, 2, "used.idx") < 0)
		return;
	uint32_t elem[2] = { head, len };
	dma_write(q->device + 4 + 8u * (idx % q->num), elem, 8, "used.ring");
	idx++;
	dma_write(q->device + 2, &idx, 2, "used.idx");
}

void fv_set_config(struct fv_dev *d, unsigned off, const void *src, unsigned n)
{
	CHECK(off + n <= FV_CFG_BYTES);
	memcpy(d->c.cfg + off, src, n);
	d->cfg_gen++;
}

static uint32_t cfg_get(struct fv_dev *d, uintptr_t off, unsigned width)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < width; i++)
		if (off + i < FV_CFG_BYTES)
			v |= (uint32_t)d->c.cfg[off + i] << (8 * i);
	return v;
}

/* ================================================================ virtio-mmio registers */

/* Register offsets are written out from the spec (4.2.2, 4.1.4.3) here on
 * purpose instead of taken from drivers/: a wrong offset in the driver must
 * not agree with itself. */

static uint32_t mmio_read(void *ctx, uintptr_t off, unsigned width)
{
	struct fv_dev *d = ctx;
	struct fv_queue *q = &d->q[d->queue_sel % FV_MAX_QUEUES];
	if (off >= 0x100)
		return cfg_get(d, off - 0x100, width);
	CHECK(width == 4);   /* QEMU honours only 32-bit register accesses */
	switch (off) {
	case 0x000: return 0x74726976;
	case 0x004: return d->c.transport == FV_MMIO_V1 ? 1 : 2;
	case 0x008: return d->c.device_id;
	case 0x00c: return 0x554d4551;
	case 0x010:
		if (d->c.transport == FV_MMIO_V1)
			return d->dev_sel == 0 ? (uint32_t)d->c.features : 0;
		return d->dev_sel < 2 ? (uint32_t)(d->c.features >> (32 * d->dev_sel)) : 0;
	case 0x034: return d->queue_sel < d->c.nqueues ? d->c.queue_max[d->queue_sel] : 0;
	case 0x040: return q->pfn;
	case 0x044: return q->ready;
	case 0x060: return 0;
	case 0x070: return d->status;
	case 0x0fc: return d->cfg_gen;
	}
	return 0;
}

static void mmio_write(void *ctx, uintptr_t off, unsigned width, uint32_t v)
{
	struct fv_dev *d = ctx;
	struct fv_queue *q = &d->q[d->queue_sel % FV_MAX_QUEUES];
	CHECK(width == 4);
	switch (off) {
	case 0x014: d->dev_sel = v; break;
	case 0x020:
		if (d->drv_sel < 2)
			d->driver_features = (d->driver_features & ~(0xffffffffull << (32 * d->drv_sel))) |
					     (uint64_t)v << (32 * d->drv_sel);
		break;
	case 0x024: d->drv_sel = v; break;
	case 0x028: d->page_size = v; break;
	case 0x030: d->queue_sel = v; break;
	case 0x038: q->num = v; break;
	case 0x03c: q->align = v; break;
	case 0x040:
		q->pfn = v;
		if (v && d->queue_sel < d->c.nqueues)
			queue_go_live(d, d->queue_sel);
		else
			q->ready = 0;
		break;
	case 0x044:
		if (v && d->queue_sel < d->c.nqueues)
			queue_go_live(d, d->queue_sel);
		else
			q->ready = 0;
		break;
	case 0x050: if (v < FV_MAX_QUEUES) d->q[v].notifies++; break;
	case 0x064: break;
	case 0x070:
		if (v == 0)
			dev_reset(d);
		else
			d->status = v | (d->status & VIRTIO_STATUS_NEEDS_RESET);
		break;
	case 0x080: q->desc = (q->desc & ~0xffffffffull) | v; break;
	case 0x084: q->desc = (q->desc & 0xffffffffull) | (uint64_t)v << 32; break;
	case 0x090: q->driver = (q->driver & ~0xffffffffull) | v; break;
	case 0x094: q->driver = (q->driver & 0xffffffffull) | (uint64_t)v << 32; break;
	case 0x0a0: q->device = (q->device & ~0xffffffffull) | v; break;
	case 0x0a4: q->device = (q->device & 0xffffffffull) | (uint64_t)v << 32; break;
	default:
		CHECK(!"driver wrote a read-only or unknown virtio-mmio register");
	}
}

static const struct bv_host_mmio_ops mmio_ops = { mmio_read, mmio_write };

/* ================================================================ virtio-pci */

/* BAR0 layout: common config, notify (multiplier 4), ISR, device config. */
#define BAR_COMMON 0x0000
#define BAR_NOTIFY 0x1000
#define BAR_ISR    0x2000
#define BAR_DEVICE 0x3000
#define BAR_SIZE   0x4000
#define NOTIFY_MULT 4

static uint32_t bar_read(void *ctx, uintptr_t off, unsigned width)
{
	struct fv_dev *d = ctx;
	struct fv_queue *q = &d->q[d->queue_sel % FV_MAX_QUEUES];
	if (off >= BAR_DEVICE)
		return cfg_get(d, off - BAR_DEVICE, width);
	if (off >= BAR_ISR)
		return 0;
	switch (off) {
	case 0x04: return d->dev_sel < 2 ? (uint32_t)(d->c.features >> (32 * d->dev_sel)) : 0;
	case 0x12: return d->c.nqueues;
	case 0x14: return d->status;
	case 0x15: return d->cfg_gen & 0xff;
	case 0x18: return d->queue_sel < d->c.nqueues ? q->num : 0;
	case 0x1c: return q->ready;
	case 0x1e: return d->queue_sel;
	}
	return 0;
}

static void bar_write(void *ctx, uintptr_t off, unsigned width, uint32_t v)
{
	struct fv_dev *d = ctx;
	struct fv_queue *q = &d->q[d->queue_sel % FV_MAX_QUEUES];
	(void)width;
	if (off >= BAR_NOTIFY && off < BAR_ISR) {
		unsigned qi = (unsigned)(off - BAR_NOTIFY) / NOTIFY_MULT;
		CHECK(qi == v);
		if (qi < FV_MAX_QUEUES)
			d->q[qi].notifies++;
		return;
	}
	switch (off) {
	case 0x00: d->dev_sel = v; break;
	case 0x08: d->drv_sel = v; break;
	case 0x0c:
		if (d->drv_sel < 2)
			d->driver_features = (d->driver_features & ~(0xffffffffull << (32 * d->drv_sel))) |
					     (uint64_t)v << (32 * d->drv_sel);
		break;
	case 0x14:
		if (v == 0)
			dev_reset(d);
		else
			d->status = v | (d->status & VIRTIO_STATUS_NEEDS_RESET);
		break;
	case 0x16: d->queue_sel = v; break;
	case 0x18: q->num = v; break;
	case 0x1a: break;   /* MSI-X vector: we poll */
	case 0x1c:
		if (v && d->queue_sel < d->c.nqueues)
			queue_go_live(d, d->queue_sel);
		break;
	case 0x20: q->desc = (q->desc & ~0xffffffffull) | v; break;
	case 0x24: q->desc = (q->desc & 0xffffffffull) | (uint64_t)v << 32; break;
	case 0x28: q->driver = (q->driver & ~0xffffffffull) | v; break;
	case 0x2c: q->driver = (q->driver & 0xffffffffull) | (uint64_t)v << 32; break;
	case 0x30: q->device = (q->device & ~0xffffffffull) | v; break;
	case 0x34: q->device = (q->device & 0xffffffffull) | (uint64_t)v << 32; break;
	default:
		CHECK(!"driver wrote a read-only or unknown virtio-pci common register");
	}
}

static const struct bv_host_mmio_ops bar_ops = { bar_read, bar_write };

static uint32_t pci_cfg_read(void *ctx, unsigned off, unsigned width)
{
	struct fv_dev *d = ctx;
	CHECK((width == 1 || width == 2 || width == 4) && off % width == 0 && off + width <= sizeof(d->pci_cfg));
	uint32_t v = 0;
	for (unsigned i = 0; i < width && off + i < sizeof(d->pci_cfg); i++)
		v |= (uint32_t)d->pci_cfg[off + i] << (8 * i);
	return v;
}

static void pci_cfg_write(void *ctx, unsigned off, unsigned width, uint32_t v)
{
	struct fv_dev *d = ctx;
	/* Only the command register is writable here. */
	CHECK(off == PCI_COMMAND && width == 2);
	if (off == PCI_COMMAND && width == 2) {
		d->pci_cfg[off] = (uint8_t)v;
		d->pci_cfg[off + 1] = (uint8_t)(v >> 8);
	}
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

/* One virtio vendor capability at cfg offset at, pointing into BAR0. */
static void pci_cap(struct fv_dev *d, unsigned at, unsigned next, uint8_t type, uint32_t off, uint32_t len)
{
	uint8_t *c = d->pci_cfg + at;
	c[0] = 0x09;
	c[1] = (uint8_t)next;
	c[2] = type == 2 ? 20 : 16;
	c[3] = type;
	c[4] = 0;               /* BAR0 */
	put32(c + 8, off);
	put32(c + 12, len);
	if (type == 2)
		put32(c + 16, NOTIFY_MULT);
}

static void pci_setup(struct fv_dev *d)
{
	memset(d->pci_cfg, 0, sizeof(d->pci_cfg));
	put16(d->pci_cfg + PCI_VENDOR_ID, VIRTIO_PCI_VENDOR);
	put16(d->pci_cfg + PCI_DEVICE_ID, (uint16_t)(VIRTIO_PCI_DEVICE_MODERN + d->c.device_id));
	put16(d->pci_cfg + PCI_STATUS, PCI_STATUS_CAP_LIST);
	/* BAR0/1: one 64-bit memory BAR at base. */
	put32(d->pci_cfg + PCI_BAR0, (uint32_t)d->base | PCI_BAR_TYPE_64);
	put32(d->pci_cfg + PCI_BAR0 + 4, (uint32_t)((uint64_t)d->base >> 32));
	d->pci_cfg[PCI_CAP_PTR] = 0x40;
	pci_cap(d, 0x40, 0x50, 1, BAR_COMMON, 0x38);
	pci_cap(d, 0x50, 0x68, 2, BAR_NOTIFY, 0x1000);
	pci_cap(d, 0x68, 0x78, 3, BAR_ISR, 4);
	pci_cap(d, 0x78, 0, 4, BAR_DEVICE, FV_CFG_BYTES);
	d->pci = (struct virtio_pci_access){ .read = pci_cfg_read, .write = pci_cfg_write, .ctx = d };
}

/* ================================================================ life cycle */

void fv_init(struct fv_dev *d, const struct fv_config *c, uintptr_t base)
{
	memset(d, 0, sizeof(*d));
	d->c = *c;
	d->base = base;
	queue_reset(d);
	if (c->transport == FV_PCI) {
		pci_setup(d);
		bv_host_mmio_map(base, BAR_SIZE, &bar_ops, d);
	} else {
		bv_host_mmio_map(base, 0x100 + FV_CFG_BYTES, &mmio_ops, d);
	}
}

void fv_fini(struct fv_dev *d)
{
	bv_host_mmio_map(d->base, 0, NULL, NULL);
}
