# SPDX-License-Identifier: BSD-2-Clause
# Unit tests of vsock/ (protocol engine and socket API against a scripted
# peer), native with ASan/UBSan and the engine's test hooks.
UNIT_TESTS += $(HOSTBUILD)/test_vsock_engine

$(HOSTBUILD)/test_vsock_engine: tests/unit/test_vsock_engine.c vsock/vsock_engine.c vsock/vsock_engine.h \
		vsock/vsock.h vsock/vsock_wire.h include/bv/config.h include/bv/err.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -DBV_VSOCK_TEST_HOOKS -o $@ $< vsock/vsock_engine.c
