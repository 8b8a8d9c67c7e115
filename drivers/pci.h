/* SPDX-License-Identifier: BSD-2-Clause */
/* PCI configuration access and enumeration for the virtio-pci transport.
 * x86_64: port I/O 0xCF8/0xCFC; Arm: ECAM from the DT "pci-host-ecam-generic"
 * node. Only bus 0 is scanned (QEMU puts every -device there); no bridges,
 * no IO BARs assigned, no interrupts. */
#ifndef BV_PCI_H
#define BV_PCI_H

#include <stdint.h>
#include "bv/config.h"

/* Config space offsets (all little-endian). */
#define PCI_VENDOR_ID   0x00    /* 16 */
#define PCI_DEVICE_ID   0x02    /* 16 */
#define PCI_COMMAND     0x04    /* 16 */
#define PCI_STATUS      0x06    /* 16 */
#define PCI_HEADER_TYPE 0x0e    /* 8 */
#define PCI_BAR0        0x10    /* 6 x 32 */
#define PCI_SUBSYS_ID   0x2e    /* 16 */
#define PCI_CAP_PTR     0x34    /* 8 */

#define PCI_COMMAND_IO     0x1
#define PCI_COMMAND_MEM    0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_STATUS_CAP_LIST 0x10

struct pci_func {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
};

/* Find the config mechanism (and on Arm the MMIO window). BV_ENODEV if the
 * machine has no PCI host we can reach. Idempotent. */
int pci_init(void);

uint32_t pci_read32(const struct pci_func *f, unsigned off);
uint16_t pci_read16(const struct pci_func *f, unsigned off);
uint8_t pci_read8(const struct pci_func *f, unsigned off);
void pci_write32(const struct pci_func *f, unsigned off, uint32_t v);
void pci_write16(const struct pci_func *f, unsigned off, uint16_t v);

/* Functions on bus 0, at most max. Returns the count (or <0). */
int pci_scan(struct pci_func *out, unsigned max);

/* Give every unassigned memory BAR an address from the free window (sizing
 * with all-ones, 64-bit BARs as pairs), then turn on MEM decoding and bus
 * mastering. SeaBIOS assigns BARs but leaves bus mastering off. */
int pci_enable(const struct pci_func *f);

/* CPU address of memory BAR idx (both halves for a 64-bit BAR), 0 if none. */
uint64_t pci_bar_addr(const struct pci_func *f, unsigned idx);

/* Human-readable description of the config mechanism ("ecam@0x..."). */
const char *pci_host_desc(void);

#endif
