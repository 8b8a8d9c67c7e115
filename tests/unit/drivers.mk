# SPDX-License-Identifier: BSD-2-Clause
# Unit tests of drivers/ (virtqueues) and discover/ (device-tree reader, the
# virtio_mmio.device= parser), native with ASan/UBSan.
UNIT_TESTS += $(HOSTBUILD)/test_virtq $(HOSTBUILD)/test_fdt $(HOSTBUILD)/test_mmio_cmdline

$(HOSTBUILD)/test_virtq: tests/unit/test_virtq.c drivers/virtq.c drivers/virtq.h include/bv/config.h tests/unit/check.h \
		arch/host/port.c
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< drivers/virtq.c arch/host/port.c

$(HOSTBUILD)/test_fdt: tests/unit/test_fdt.c discover/fdt.c discover/fdt.h tests/unit/check.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< discover/fdt.c

$(HOSTBUILD)/test_mmio_cmdline: tests/unit/test_mmio_cmdline.c discover/mmio_cmdline.c discover/mmio_cmdline.h \
		base/log.c arch/host/port.c tests/unit/check.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< discover/mmio_cmdline.c base/log.c arch/host/port.c

# The DMA hook and cache hooks, proven: the library (transports, virtio,
# virtqueues, vsock) against the shared fake device's DMA-offset and cache model.
FAKE_VIRTIO := tests/unit/fake_virtio.c tests/unit/fake_virtio.h
UNIT_TESTS += $(HOSTBUILD)/test_dma
$(HOSTBUILD)/test_dma: tests/unit/test_dma.c $(FAKE_VIRTIO) $(BAREVSOCK_LIB_FILES) arch/host/port.c \
		tests/unit/check.h include/bv/port.h include/bv/config.h drivers/virtio_mmio.h drivers/virtio_pci.h \
		drivers/virtio.h drivers/virtq.h vsock/vsock_dev.h vsock/vsock.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< tests/unit/fake_virtio.c $(BAREVSOCK_LIB_FILES) arch/host/port.c
