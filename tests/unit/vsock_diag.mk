# SPDX-License-Identifier: BSD-2-Clause
# Unit test of vsock_conn_info and vsock/vsock_diag.c (the connection table
# and the stall log) on the real engine and socket API, native with
# ASan/UBSan. The device glue is not linked: the test stands in for
# vsock_dev_stats and captures bv_port_log.
UNIT_TESTS += $(HOSTBUILD)/test_vsock_diag

$(HOSTBUILD)/test_vsock_diag: tests/unit/test_vsock_diag.c vsock/vsock_diag.c vsock/vsock_diag.h \
		vsock/vsock_engine.c vsock/vsock_socket.c $(wildcard vsock/*.h) base/log.c include/bv/log.h \
		include/bv/config.h include/bv/err.h tests/unit/check.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< vsock/vsock_diag.c vsock/vsock_engine.c vsock/vsock_socket.c base/log.c
