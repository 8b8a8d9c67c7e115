# SPDX-License-Identifier: BSD-2-Clause
# barevsock's source lists, for projects that compile the library in their
# own build instead of linking libbarevsock.a (as lwIP's Filelists.mk).
# Include it after setting BAREVSOCK_DIR to the tree's root (default: the
# directory this file is in), then compile $(BAREVSOCK_SRCS) with
# $(BAREVSOCK_INCLUDES) plus -I<dir of your bv_port_io.h>, and link your port
# (bv/port.h). Sets only BAREVSOCK_* variables.
#
#   BAREVSOCK_SRCS           the library: virtio core, transports, vsock
#   BAREVSOCK_INCLUDES       -I flags for it (yours add the port's directory)
#   BAREVSOCK_DISCOVER_SRCS  optional: the -kernel images' discovery (PCI
#                            enumeration, FDT, command line); needs bv/arch.h's
#                            arch_boot_info and a libc (strcmp, strlen, ...)
#   BAREVSOCK_HEADERS        the public headers (what make install copies)
BAREVSOCK_DIR ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

include $(BAREVSOCK_DIR)/vsock/vsock.mk

# Relative to BAREVSOCK_DIR (the in-tree Makefile uses these directly).
BAREVSOCK_LIB_FILES := base/log.c base/strerror.c \
	drivers/virtq.c drivers/virtio.c drivers/virtio_mmio.c drivers/virtio_pci.c \
	$(BAREVSOCK_VSOCK_FILES)
BAREVSOCK_DISCOVER_FILES := discover/probe.c discover/vsock_init.c discover/pci.c \
	discover/fdt.c discover/mmio_cmdline.c discover/irq.c
BAREVSOCK_HEADER_FILES := include/bv/port.h include/bv/config.h include/bv/err.h \
	include/bv/log.h include/bv/time.h \
	drivers/virtq.h drivers/virtio.h drivers/virtio_mmio.h drivers/virtio_pci.h drivers/pci_regs.h \
	vsock/vsock.h vsock/vsock_dev.h vsock/vsock_engine.h vsock/vsock_buf.h vsock/vsock_wire.h vsock/vsock_rpc.h vsock/vsock_diag.h

BAREVSOCK_SRCS := $(addprefix $(BAREVSOCK_DIR)/,$(BAREVSOCK_LIB_FILES))
BAREVSOCK_DISCOVER_SRCS := $(addprefix $(BAREVSOCK_DIR)/,$(BAREVSOCK_DISCOVER_FILES))
BAREVSOCK_HEADERS := $(addprefix $(BAREVSOCK_DIR)/,$(BAREVSOCK_HEADER_FILES))
BAREVSOCK_INCLUDES := -I$(BAREVSOCK_DIR)/include -I$(BAREVSOCK_DIR)
