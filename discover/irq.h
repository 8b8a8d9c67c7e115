/* SPDX-License-Identifier: BSD-2-Clause */
/* Where a device's wired interrupt arrives, as bv_port_irq_line() numbers it
 * (x86: GSI; Arm: GIC INTID), for the -kernel images' discovery to pass to
 * virtio_set_irq_line. BV_ENODEV: none described; BV_ENOTSUP: described for
 * an interrupt controller we do not know (only the GIC's three-cell form).
 * Not part of the library. */
#ifndef BV_DISCOVER_IRQ_H
#define BV_DISCOVER_IRQ_H

#include <stdint.h>

struct fdt;

/* The first entry of node's "interrupts". */
int discover_dt_irq(const struct fdt *dt, int node, uint32_t *irq, unsigned *flags);

/* INTx pin (1..4 = INTA..INTD) of bus:dev.fn through the ECAM host bridge's
 * interrupt-map (bus 0, no bridges). */
int discover_dt_pci_intx(const struct fdt *dt, uint8_t bus, uint8_t dev, uint8_t fn, uint8_t pin,
			 uint32_t *irq, unsigned *flags);

/* x86: the PCI interrupt line register as firmware set it (an ISA IRQ that
 * the I/O APIC sees as the same GSI); 0 and >= 16 mean none. */
int discover_pci_line(uint8_t line, uint32_t *irq, unsigned *flags);

#endif
