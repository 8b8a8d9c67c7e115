/* SPDX-License-Identifier: BSD-2-Clause */
/* virtio_probe for the -kernel images: one pass over PCI, the device tree,
 * the command line and (x86 without PCI) microvm's fixed slots, attaching
 * what it finds into a fixed table of BV_VIRTIO_MAX_DEVICES, each with the
 * interrupt line the same source names (discover/irq.c). Non-goals:
 * hot-plug, ACPI parsing (microvm's DSDT names the same fixed slots). */
#include "bv/arch.h"
#include "bv/err.h"
#include "bv/exit.h"
#include "bv/log.h"
#include "discover/discover.h"
#include "discover/fdt.h"
#include "discover/irq.h"
#include "discover/mmio_cmdline.h"
#include "discover/pci.h"
#include "drivers/virtio_mmio.h"
#include "drivers/virtio_pci.h"
#if defined(__x86_64__)
#include "arch/x86_64/x86_irq.h"
#endif

#define PCI_INTERRUPT_LINE 0x3c    /* 8: x86 firmware's routing */
#define PCI_INTERRUPT_PIN  0x3d    /* 8: 1..4 = INTA..INTD, 0 none */
#define NO_IRQ             -1

/* QEMU's microvm: 24 virtio-mmio slots of 512 bytes from 0xfeb00000, the
 * addresses both its ACPI tables and its acpi=off command line name. */
#define MICROVM_MMIO_BASE  0xfeb00000u
#define MICROVM_MMIO_SLOTS 24
#define MICROVM_MMIO_SIZE  512u
/* QEMU reserves 1 MiB for the DTB at the start of RAM; our image begins
 * 2 MiB in, so 2 MiB bounds it. */
#define BOOT_FDT_MAX 0x200000u

struct slot {
	struct virtio_dev dev;
	int used;
	struct pci_func f;              /* PCI: what the accessors read */
	struct virtio_pci_access acc;
};

static struct slot slots[BV_VIRTIO_MAX_DEVICES];
static int scanned;

const struct fdt *discover_boot_fdt(void)
{
	static struct fdt dt;
	static int state;   /* 0 unknown, 1 have, -1 none */
	if (state == 0) {
		const struct bv_boot_info *bi = arch_boot_info();
		state = -1;
		if (bi && bi->fdt) {
			int rc = fdt_open(&dt, bi->fdt, BOOT_FDT_MAX);
			if (rc < 0)
				bv_panic("discover: device tree at %p is malformed (%s)", bi->fdt, bv_strerror(rc));
			state = 1;
		}
	}
	return state > 0 ? &dt : NULL;
}

static struct slot *slot_alloc(const char *what, uint64_t where)
{
	for (unsigned i = 0; i < BV_VIRTIO_MAX_DEVICES; i++)
		if (!slots[i].used)
			return &slots[i];
	bv_logf("discover: device table full (BV_VIRTIO_MAX_DEVICES=%u), skipping %s 0x%llx\n",
		(unsigned)BV_VIRTIO_MAX_DEVICES, what, (unsigned long long)where);
	return NULL;
}

static int mmio_known(uint64_t base)
{
	for (unsigned i = 0; i < BV_VIRTIO_MAX_DEVICES; i++)
		if (slots[i].used && slots[i].dev.transport != VIRTIO_TRANSPORT_PCI && slots[i].dev.t.mmio.base == base)
			return 1;
	return 0;
}

/* Attach whatever sits at base, with its interrupt line when known (irq >=
 * 0); 1 if a device was added. */
static int mmio_slot(uint64_t base, const char *src, int64_t irq, unsigned irq_flags)
{
	if (base > (uint64_t)UINTPTR_MAX) {
		bv_logf("discover: mmio@0x%llx (%s) is beyond this CPU's reach, skipped\n",
			(unsigned long long)base, src);
		return 0;
	}
	if (mmio_known(base))
		return 0;
	struct slot *s = slot_alloc("mmio", base);
	if (!s || virtio_mmio_attach(&s->dev, (uintptr_t)base) < 0)
		return 0;
	s->used = 1;
	if (irq >= 0)
		virtio_set_irq_line(&s->dev, (uint32_t)irq, irq_flags);
	bv_snprintf(s->dev.where, sizeof(s->dev.where), "mmio@0x%llx (%s)", (unsigned long long)base, src);
	return 1;
}

static int scan_pci(const struct fdt *dt)
{
	struct pci_func fs[BV_PCI_MAX_FUNCS];
	if (pci_init(dt) < 0)
		return 0;
	int n = pci_scan(fs, BV_PCI_MAX_FUNCS), found = 0;
	for (int i = 0; i < n; i++) {
		const struct pci_func *f = &fs[i];
		if (f->vendor != VIRTIO_PCI_VENDOR || f->device < VIRTIO_PCI_DEVICE_FIRST ||
		    f->device > VIRTIO_PCI_DEVICE_LAST)
			continue;
		if (pci_enable(f) < 0)
			continue;
		struct slot *s = slot_alloc("pci function", (uint64_t)f->dev << 3 | f->fn);
		if (!s)
			break;
		s->f = *f;
		pci_access(&s->f, &s->acc);
		if (virtio_pci_attach(&s->dev, &s->acc, NULL) < 0)
			continue;
		s->used = 1;
		/* INTx, for when the port has no MSI: the DT's interrupt-map on
		 * Arm, the firmware's routing on x86. */
		uint8_t pin = pci_read8(f, PCI_INTERRUPT_PIN);
		uint32_t irq;
		unsigned fl;
		if (pin >= 1 && pin <= 4 &&
		    (dt ? discover_dt_pci_intx(dt, f->bus, f->dev, f->fn, pin, &irq, &fl)
			: discover_pci_line(pci_read8(f, PCI_INTERRUPT_LINE), &irq, &fl)) == BV_OK)
			virtio_set_irq_line(&s->dev, irq, fl);
		bv_snprintf(s->dev.where, sizeof(s->dev.where), "pci %02x:%02x.%x (%s) common@0x%llx",
			    f->bus, f->dev, f->fn, pci_host_desc(), (unsigned long long)s->dev.t.pci.common);
		found++;
	}
	return found;
}

static void cmdline_dev(void *ctx, const struct mmio_cmdline_dev *dev)
{
	int *found = ctx;
	if (dev->size < VIRTIO_MMIO_MIN_SIZE)
		bv_logf("discover: virtio_mmio.device at 0x%llx is %llu bytes, smaller than the %u the registers take; using it anyway\n",
			(unsigned long long)dev->base, (unsigned long long)dev->size, VIRTIO_MMIO_MIN_SIZE);
	*found += mmio_slot(dev->base, "cmdline", dev->irq, BV_IRQ_LEVEL);
}

static int scan_mmio(const struct fdt *dt)
{
	int found = 0;
	const char *cmdline = NULL;
	if (dt) {
		for (int n = fdt_find_compatible(dt, -1, "virtio,mmio"); n >= 0;
		     n = fdt_find_compatible(dt, n, "virtio,mmio")) {
			uint64_t a, sz;
			uint32_t irq = 0;
			unsigned fl = 0;
			if (fdt_reg(dt, n, 0, &a, &sz) == BV_OK)
				found += mmio_slot(a, "dt", discover_dt_irq(dt, n, &irq, &fl) == BV_OK ? (int64_t)irq : NO_IRQ, fl);
		}
		cmdline = fdt_bootargs(dt);
	}
	const struct bv_boot_info *bi = arch_boot_info();
	if (bi && bi->cmdline)
		cmdline = bi->cmdline;
	int listed = mmio_cmdline_scan(cmdline, cmdline_dev, &found);
#if defined(__x86_64__)
	/* QEMU's microvm only appends virtio_mmio.device= entries to the command
	 * line when ACPI is off; with ACPI on (its default) they are in the DSDT,
	 * which we do not parse. Its layout is fixed, so on an x86 machine
	 * without PCI and without a listed device, probe that layout by magic. */
	if (!dt && listed == 0 && pci_init(NULL) == BV_ENODEV) {
		for (unsigned i = 0; i < MICROVM_MMIO_SLOTS; i++)
			found += mmio_slot(MICROVM_MMIO_BASE + MICROVM_MMIO_SIZE * i, "microvm layout",
					   x86_microvm_mmio_gsi(i), BV_IRQ_LEVEL);
	}
#else
	(void)listed;
#endif
	return found;
}

int virtio_probe(uint32_t device_id, unsigned nth, struct virtio_dev **out)
{
	if (!scanned) {
		scanned = 1;
		const struct fdt *dt = discover_boot_fdt();
		scan_pci(dt);
		scan_mmio(dt);
	}
	for (unsigned i = 0; i < BV_VIRTIO_MAX_DEVICES; i++) {
		if (slots[i].used && slots[i].dev.device_id == device_id && nth-- == 0) {
			*out = &slots[i].dev;
			return BV_OK;
		}
	}
	return BV_ENODEV;
}
