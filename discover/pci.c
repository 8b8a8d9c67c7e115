/* SPDX-License-Identifier: BSD-2-Clause */
/* PCI bus 0 enumeration and BAR assignment for the -kernel images, which
 * run without firmware PCI services. x86_64 uses configuration mechanism #1
 * (port I/O); Arm uses ECAM found in the device tree. Non-goals: bridges and
 * other buses, IO BARs, MSI, hot-plug. */
#include "bv/err.h"
#include "bv/log.h"
#include "bv/port.h"
#include "discover/fdt.h"
#include "discover/pci.h"

static int pci_state;           /* 0 unknown, 1 ready, <0 error */
static uint64_t win_next, win_end;   /* free 32-bit memory window for BARs */
static char host_desc[64];

#if defined(BV_PORT_HAS_PIO)
/* Mechanism #1: address to 0xCF8 (32-bit), data at 0xCFC + (off & 3). */
#define PCI_CONF_ADDR 0xcf8
#define PCI_CONF_DATA 0xcfc

static uint32_t conf_addr(const struct pci_func *f, unsigned off)
{
	return 0x80000000u | (uint32_t)f->bus << 16 | (uint32_t)f->dev << 11 |
	       (uint32_t)f->fn << 8 | (off & 0xfc);
}
uint32_t pci_read32(const struct pci_func *f, unsigned off)
{
	bv_pio_out32(PCI_CONF_ADDR, conf_addr(f, off));
	return bv_pio_in32(PCI_CONF_DATA);
}
uint16_t pci_read16(const struct pci_func *f, unsigned off)
{
	bv_pio_out32(PCI_CONF_ADDR, conf_addr(f, off));
	return bv_pio_in16((uint16_t)(PCI_CONF_DATA + (off & 2)));
}
void pci_write32(const struct pci_func *f, unsigned off, uint32_t v)
{
	bv_pio_out32(PCI_CONF_ADDR, conf_addr(f, off));
	bv_pio_out32(PCI_CONF_DATA, v);
}
void pci_write16(const struct pci_func *f, unsigned off, uint16_t v)
{
	bv_pio_out32(PCI_CONF_ADDR, conf_addr(f, off));
	bv_pio_out16((uint16_t)(PCI_CONF_DATA + (off & 2)), v);
}

int pci_init(const struct fdt *dt)
{
	(void)dt;
	if (pci_state)
		return pci_state > 0 ? BV_OK : pci_state;
	/* Mechanism #1 is there when the address register reads back what we wrote. */
	bv_pio_out32(PCI_CONF_ADDR, 0x80000000u);
	if (bv_pio_in32(PCI_CONF_ADDR) != 0x80000000u) {
		pci_state = BV_ENODEV;
		return pci_state;
	}
	/* Above q35's MMCONFIG (0xb0000000-0xbfffffff), below IOAPIC/LAPIC at
	 * 0xfec00000/0xfee00000, and far above our RAM. Only used when the
	 * firmware left a BAR at 0 (qboot). */
	win_next = 0xc0000000u;
	win_end = 0xd0000000u;
	bv_snprintf(host_desc, sizeof(host_desc), "port-io 0xcf8");
	pci_state = 1;
	return BV_OK;
}
#else
static uintptr_t ecam;

static uintptr_t conf_ptr(const struct pci_func *f, unsigned off)
{
	return ecam + ((uintptr_t)f->bus << 20 | (uintptr_t)f->dev << 15 |
		       (uintptr_t)f->fn << 12 | off);
}
uint32_t pci_read32(const struct pci_func *f, unsigned off) { return bv_mmio_read32(conf_ptr(f, off & ~3u)); }
uint16_t pci_read16(const struct pci_func *f, unsigned off) { return bv_mmio_read16(conf_ptr(f, off & ~1u)); }
void pci_write32(const struct pci_func *f, unsigned off, uint32_t v) { bv_mmio_write32(conf_ptr(f, off & ~3u), v); }
void pci_write16(const struct pci_func *f, unsigned off, uint16_t v) { bv_mmio_write16(conf_ptr(f, off & ~1u), v); }

int pci_init(const struct fdt *dt)
{
	if (pci_state)
		return pci_state > 0 ? BV_OK : pci_state;
	pci_state = BV_ENODEV;
	if (!dt)
		return pci_state;
	int node = fdt_find_compatible(dt, -1, "pci-host-ecam-generic");
	if (node < 0)
		return pci_state;
	uint64_t base, size;
	if (fdt_reg(dt, node, 0, &base, &size) != BV_OK) {
		bv_logf("pci: host bridge node has no usable reg\n");
		return pci_state;
	}
	if (base + size - 1 > (uint64_t)UINTPTR_MAX) {
		bv_logf("pci: ECAM at 0x%llx is out of reach of this CPU (use highmem=off)\n",
		       (unsigned long long)base);
		return pci_state;
	}
	/* ranges: (3-cell PCI address, parent address, 2-cell size). Take the
	 * 32-bit memory window: it serves 64-bit BARs too and arm32 reaches it. */
	uint32_t pac = fdt_address_cells(dt, fdt_parent(dt, node)), len;
	const uint8_t *r = fdt_getprop(dt, node, "ranges", &len);
	uint32_t entry = 4 * (3 + pac + 2);
	if (!r || pac < 1 || pac > 2) {
		bv_logf("pci: host bridge node has no usable ranges\n");
		return pci_state;
	}
	for (uint32_t o = 0; o + entry <= len; o += entry) {
		uint32_t space = (uint32_t)(fdt_read_cells(r + o, 1) >> 24) & 3;
		uint64_t cpu = fdt_read_cells(r + o + 12, pac);
		uint64_t sz = fdt_read_cells(r + o + 12 + 4 * pac, 2);
		if (space == 2 && cpu + sz <= 0x100000000ull && win_end == 0) {
			win_next = cpu;
			win_end = cpu + sz;
		}
	}
	if (win_end == 0) {
		bv_logf("pci: no 32-bit memory window in the host bridge ranges\n");
		return pci_state;
	}
	ecam = (uintptr_t)base;
	bv_snprintf(host_desc, sizeof(host_desc), "ecam@0x%llx", (unsigned long long)base);
	pci_state = 1;
	return BV_OK;
}
#endif

uint8_t pci_read8(const struct pci_func *f, unsigned off)
{
	return (uint8_t)(pci_read32(f, off & ~3u) >> (8 * (off & 3)));
}

const char *pci_host_desc(void) { return host_desc; }

int pci_scan(struct pci_func *out, unsigned max)
{
	if (pci_state <= 0)
		return BV_ENODEV;
	unsigned n = 0;
	for (uint8_t dev = 0; dev < 32; dev++) {
		for (uint8_t fn = 0; fn < 8; fn++) {
			struct pci_func f = { .bus = 0, .dev = dev, .fn = fn };
			uint32_t id = pci_read32(&f, PCI_VENDOR_ID);
			if ((id & 0xffff) == 0xffff) {
				if (fn == 0)
					break;
				continue;
			}
			f.vendor = (uint16_t)id;
			f.device = (uint16_t)(id >> 16);
			if (n < max)
				out[n++] = f;
			/* Functions 1-7 exist only behind a multi-function header. */
			if (fn == 0 && !(pci_read8(&f, PCI_HEADER_TYPE) & 0x80))
				break;
		}
	}
	return (int)n;
}

int pci_enable(const struct pci_func *f)
{
	if (pci_state <= 0)
		return BV_ENODEV;
	uint16_t cmd = pci_read16(f, PCI_COMMAND);
	/* Decoding off while BARs move, so no half-written address decodes. */
	pci_write16(f, PCI_COMMAND, (uint16_t)(cmd & ~(PCI_COMMAND_MEM | PCI_COMMAND_IO)));
	for (unsigned i = 0; i < 6; i++) {
		unsigned off = PCI_BAR0 + 4 * i;
		uint32_t lo = pci_read32(f, off);
		if (lo & 1)
			continue;   /* IO BAR: virtio modern does not need it */
		int is64 = ((lo >> 1) & 3) == 2 && i < 5;
		uint32_t hi = is64 ? pci_read32(f, off + 4) : 0;
		if ((lo & ~0xfu) || hi) {       /* firmware assigned it */
			i += is64;
			continue;
		}
		pci_write32(f, off, 0xffffffffu);
		uint32_t mlo = pci_read32(f, off) & ~0xfu;
		uint32_t mhi = 0xffffffffu;
		if (is64) {
			pci_write32(f, off + 4, 0xffffffffu);
			mhi = pci_read32(f, off + 4);
		}
		uint64_t mask = (uint64_t)mhi << 32 | mlo;
		if (!is64)
			mask |= 0xffffffff00000000ull;
		uint64_t size = ~mask + 1;
		if (mlo == 0 && (!is64 || mhi == 0)) {
			pci_write32(f, off, 0);          /* BAR not implemented */
			if (is64)
				pci_write32(f, off + 4, 0);
			i += is64;
			continue;
		}
		if (size > 0x80000000ull) {
			bv_logf("pci: %02x:%02x.%x BAR%u wants 0x%llx bytes, too large\n",
			       f->bus, f->dev, f->fn, i, (unsigned long long)size);
			return BV_ENOBUFS;
		}
		uint64_t a = (win_next + size - 1) & ~(size - 1);   /* natural alignment */
		if (a + size > win_end) {
			bv_logf("pci: no room for %02x:%02x.%x BAR%u (0x%llx bytes)\n",
			       f->bus, f->dev, f->fn, i, (unsigned long long)size);
			return BV_ENOBUFS;
		}
		win_next = a + size;
		pci_write32(f, off, (uint32_t)a);
		if (is64)
			pci_write32(f, off + 4, (uint32_t)(a >> 32));
		i += is64;
	}
	pci_write16(f, PCI_COMMAND, (uint16_t)(cmd | PCI_COMMAND_MEM | PCI_COMMAND_MASTER));
	return BV_OK;
}

static uint32_t access_read(void *ctx, unsigned off, unsigned width)
{
	const struct pci_func *f = ctx;
	return width == 1 ? pci_read8(f, off) : width == 2 ? pci_read16(f, off) : pci_read32(f, off);
}

static void access_write(void *ctx, unsigned off, unsigned width, uint32_t v)
{
	const struct pci_func *f = ctx;
	if (width == 4) {
		pci_write32(f, off, v);
	} else if (width == 2) {
		pci_write16(f, off, (uint16_t)v);
	} else {
		/* Byte writes: merge into the dword (nothing we write has RW1C neighbours). */
		uint32_t shift = 8 * (off & 3), d = pci_read32(f, off & ~3u);
		pci_write32(f, off & ~3u, (d & ~(0xffu << shift)) | (v & 0xffu) << shift);
	}
}

void pci_access(const struct pci_func *f, struct virtio_pci_access *out)
{
	/* No BAR accessors: BARs are plain MMIO at their CPU address here. */
	*out = (struct virtio_pci_access){ .read = access_read, .write = access_write,
					   .ctx = (void *)(uintptr_t)f };
}
