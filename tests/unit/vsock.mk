# SPDX-License-Identifier: BSD-2-Clause
# Unit tests of vsock/ (protocol engine and socket API against a scripted
# peer), native with ASan/UBSan and the engine's test hooks.
UNIT_TESTS += $(HOSTBUILD)/test_vsock_engine

# The engine and socket API: no device glue, nothing on top.
VSOCK_CORE_SRCS := vsock/vsock_engine.c vsock/vsock_socket.c
VSOCK_CORE_HDRS := vsock/vsock_engine.h vsock/vsock_conn.h vsock/vsock_buf.h vsock/vsock.h \
	vsock/vsock_wire.h include/bv/config.h include/bv/err.h

$(HOSTBUILD)/test_vsock_engine: tests/unit/test_vsock_engine.c $(VSOCK_CORE_SRCS) $(VSOCK_CORE_HDRS)
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -DBV_VSOCK_TEST_HOOKS -o $@ $< $(VSOCK_CORE_SRCS)
