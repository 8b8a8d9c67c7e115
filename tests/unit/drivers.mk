# SPDX-License-Identifier: BSD-2-Clause
# Unit tests of drivers/ (virtqueues, device-tree reader), native with ASan/UBSan.
UNIT_TESTS += $(HOSTBUILD)/test_virtq $(HOSTBUILD)/test_fdt

$(HOSTBUILD)/test_virtq: tests/unit/test_virtq.c drivers/virtq.c drivers/virtq.h include/bv/config.h tests/unit/check.h \
		arch/host/port.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ $< drivers/virtq.c arch/host/port.c

$(HOSTBUILD)/test_fdt: tests/unit/test_fdt.c drivers/fdt.c drivers/fdt.h tests/unit/check.h
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ $< drivers/fdt.c
