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
