# SPDX-License-Identifier: BSD-2-Clause
# Guest-side drivers: virtqueues, virtio transports (PCI modern, MMIO v1/v2),
# PCI enumeration and the device-tree reader. Compiled into every image.
DRIVER_SRCS += drivers/virtq.c drivers/fdt.c drivers/virtio.c drivers/virtio_pci.c \
	drivers/virtio_mmio.c drivers/pci.c
