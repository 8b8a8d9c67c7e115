/* SPDX-License-Identifier: BSD-2-Clause */
/* PCI configuration space: the offsets and bits both the virtio-pci
 * transport (capabilities, BARs, command register) and the -kernel images'
 * PCI enumeration (discover/pci.c) use, defined once. All little-endian.
 * Not here: any way of reaching config space (that is the caller's). */
#ifndef BV_PCI_REGS_H
#define BV_PCI_REGS_H

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

#define PCI_BAR_IO          0x1  /* bit 0 of a BAR: I/O space */
#define PCI_BAR_TYPE_64     0x4  /* bits 2:1 == 2: a 64-bit memory BAR (pair) */
#define PCI_BAR_MEM_MASK    (~0xfu)

#endif
