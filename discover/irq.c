/* SPDX-License-Identifier: BSD-2-Clause */
/* Where a device's wired interrupt arrives, for the -kernel images'
 * discovery, in the numbering the port's bv_port_irq_line() takes: from the
 * device tree (a node's "interrupts", or a PCI function's INTx through the
 * host bridge's "interrupt-map") with the Arm GIC's three-cell specifier, or
 * from x86 firmware's PCI interrupt line. Not here: routing the interrupt
 * (the port), acknowledging it (the transports), PCI bridges, other
 * interrupt controllers (a parent that is not a three-cell GIC is reported
 * as unsupported). Not part of the library. */
#include <stdint.h>
#include "bv/err.h"
#include "bv/port.h"
#include "discover/fdt.h"
#include "discover/irq.h"

#define GIC_SPI           0
#define GIC_PPI           1
#define DT_IRQ_EDGE_RISE  1u
#define DT_IRQ_EDGE_FALL  2u
#define DT_IRQ_LEVEL_HIGH 4u
#define DT_IRQ_LEVEL_LOW  8u

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int prop_u32(const struct fdt *dt, int node, const char *name, uint32_t *v)
{
	uint32_t len;
	const uint8_t *p = fdt_getprop(dt, node, name, &len);
	if (!p || len != 4)
		return BV_ENODEV;
	*v = be32(p);
	return BV_OK;
}

static int node_by_phandle(const struct fdt *dt, uint32_t ph)
{
	int depth = 0;
	for (int n = fdt_next_node(dt, -1, &depth); n >= 0; n = fdt_next_node(dt, n, &depth)) {
		uint32_t v;
		if ((prop_u32(dt, n, "phandle", &v) == BV_OK || prop_u32(dt, n, "linux,phandle", &v) == BV_OK) && v == ph)
			return n;
	}
	return BV_ENODEV;
}

/* The interrupt parent of a node: its own or its nearest ancestor's
 * "interrupt-parent". */
static int irq_parent(const struct fdt *dt, int node)
{
	for (int n = node; n >= 0; n = fdt_parent(dt, n)) {
		uint32_t ph;
		if (prop_u32(dt, n, "interrupt-parent", &ph) == BV_OK)
			return node_by_phandle(dt, ph);
	}
	return BV_ENODEV;
}

static int is_gic(const struct fdt *dt, int node)
{
	uint32_t cells;
	return node >= 0 && fdt_getprop(dt, node, "interrupt-controller", NULL) &&
	       prop_u32(dt, node, "#interrupt-cells", &cells) == BV_OK && cells == 3 &&
	       (fdt_is_compatible(dt, node, "arm,cortex-a15-gic") || fdt_is_compatible(dt, node, "arm,gic-400") ||
		fdt_is_compatible(dt, node, "arm,gic-v3") || fdt_is_compatible(dt, node, "arm,cortex-a9-gic"));
}

/* GIC binding: <type number flags>; SPI n is INTID 32 + n, PPI n is 16 + n. */
static int gic_spec(const uint8_t *c, uint32_t *irq, unsigned *flags)
{
	uint32_t type = be32(c), num = be32(c + 4), f = be32(c + 8) & 0xf;
	if (type == GIC_SPI && num < 988)
		*irq = 32 + num;
	else if (type == GIC_PPI && num < 16)
		*irq = 16 + num;
	else
		return BV_ENOTSUP;
	*flags = 0;
	if (f & (DT_IRQ_LEVEL_HIGH | DT_IRQ_LEVEL_LOW))
		*flags |= BV_IRQ_LEVEL;
	if (f & (DT_IRQ_LEVEL_LOW | DT_IRQ_EDGE_FALL))
		*flags |= BV_IRQ_LOW;
	return BV_OK;
}

int discover_dt_irq(const struct fdt *dt, int node, uint32_t *irq, unsigned *flags)
{
	uint32_t len;
	const uint8_t *p = fdt_getprop(dt, node, "interrupts", &len);
	if (!p || len < 12)
		return BV_ENODEV;
	if (!is_gic(dt, irq_parent(dt, node)))
		return BV_ENOTSUP;
	return gic_spec(p, irq, flags);
}

int discover_dt_pci_intx(const struct fdt *dt, uint8_t bus, uint8_t dev, uint8_t fn, uint8_t pin,
		       uint32_t *irq, unsigned *flags)
{
	int host = fdt_find_compatible(dt, -1, "pci-host-ecam-generic");
	uint32_t mlen, len, acells, icells;
	if (host < 0)
		return BV_ENODEV;
	const uint8_t *mask = fdt_getprop(dt, host, "interrupt-map-mask", &mlen);
	const uint8_t *map = fdt_getprop(dt, host, "interrupt-map", &len);
	if (!mask || !map || mlen != 16 ||
	    prop_u32(dt, host, "#address-cells", &acells) != BV_OK || acells != 3 ||
	    prop_u32(dt, host, "#interrupt-cells", &icells) != BV_OK || icells != 1)
		return BV_ENOTSUP;
	/* The child's unit address (phys.hi carries bus/device/function) and its pin. */
	uint32_t key[4] = { (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8, 0, 0, pin };
	for (int i = 0; i < 4; i++)
		key[i] &= be32(mask + 4 * i);
	uint32_t o = 0;
	while (o + 20 <= len) {
		int match = 1;
		for (int i = 0; i < 4; i++)
			match &= be32(map + o + 4 * i) == key[i];
		int parent = node_by_phandle(dt, be32(map + o + 16));
		uint32_t pac = 0, pic;
		if (parent < 0 || prop_u32(dt, parent, "#interrupt-cells", &pic) != BV_OK)
			return BV_ENOTSUP;
		prop_u32(dt, parent, "#address-cells", &pac);   /* absent means 0 here */
		uint32_t next = o + 20 + 4 * (pac + pic);
		if (next > len || pac > 3 || pic > 4)
			return BV_ENOTSUP;
		if (match) {
			if (!is_gic(dt, parent))
				return BV_ENOTSUP;
			return gic_spec(map + o + 20 + 4 * pac, irq, flags);
		}
		o = next;
	}
	return BV_ENODEV;
}

int discover_pci_line(uint8_t line, uint32_t *irq, unsigned *flags)
{
	/* x86 firmware writes the ISA IRQ it routed INTx to; 0 and 0xff mean
	 * none. ISA IRQs keep their number as I/O APIC inputs here (the one
	 * override, IRQ 0 -> GSI 2, is never a PCI interrupt). */
	if (line == 0 || line >= 16)
		return BV_ENODEV;
	*irq = line;
	*flags = BV_IRQ_LEVEL;
	return BV_OK;
}
