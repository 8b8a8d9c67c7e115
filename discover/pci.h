/* SPDX-License-Identifier: BSD-2-Clause */
/* PCI for the -kernel images: reach configuration space (x86_64: port I/O
 * 0xCF8/0xCFC; Arm: ECAM from the DT "pci-host-ecam-generic" node), scan
 * bus 0, assign memory BARs the firmware left unassigned, and hand a function
 * to the virtio-pci transport as config-space accessors. Only bus 0 is
 * scanned (QEMU puts every -device there); no bridges, no IO BARs assigned,
 * no interrupts. Not part of the library. */
#ifndef BV_DISCOVER_PCI_H
#define BV_DISCOVER_PCI_H

#include <stdint.h>
#include "bv/config.h"
#include "drivers/pci_regs.h"
#include "drivers/virtio_pci.h"

struct fdt;

struct pci_func {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
};

/* Find the config mechanism: x86 probes port I/O (dt unused); Arm takes ECAM
 * and the 32-bit memory window from the device tree dt (NULL: no PCI).
 * BV_ENODEV if the machine has no PCI host we can reach. Idempotent. */
int pci_init(const struct fdt *dt);

uint32_t pci_read32(const struct pci_func *f, unsigned off);
uint16_t pci_read16(const struct pci_func *f, unsigned off);
uint8_t pci_read8(const struct pci_func *f, unsigned off);
void pci_write32(const struct pci_func *f, unsigned off, uint32_t v);
void pci_write16(const struct pci_func *f, unsigned off, uint16_t v);

/* Functions on bus 0, at most max. Returns the count, or BV_ENODEV before a
 * successful pci_init. */
int pci_scan(struct pci_func *out, unsigned max);

/* Give every unassigned memory BAR an address from the free window (sizing
 * with all-ones, 64-bit BARs as pairs), then turn on MEM decoding and bus
 * mastering. SeaBIOS assigns BARs but leaves bus mastering off; qboot
 * assigns nothing. */
int pci_enable(const struct pci_func *f);

/* Config-space accessors for virtio_pci_attach, reading f (which must stay
 * valid as long as *out is used). */
void pci_access(const struct pci_func *f, struct virtio_pci_access *out);

/* Human-readable description of the config mechanism ("ecam@0x..."). */
const char *pci_host_desc(void);

#endif
