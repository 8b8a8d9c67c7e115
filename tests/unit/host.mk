# SPDX-License-Identifier: BSD-2-Clause
# Unit tests of host/ (the vhost-user vsock back end), native with ASan/UBSan.
HOST_UNIT_DEPS := host/vring.c host/vhu.c host/conn.c host/ring.c host/uds.c host/pcap.c host/vring.h host/vhu.h host/conn.h \
	host/ring.h host/uds.h host/pcap.h \
	vsock/vsock_wire.h tests/unit/test_host_fakeguest.h tests/unit/check.h

UNIT_TESTS += $(HOSTBUILD)/test_host_vring $(HOSTBUILD)/test_host_vhu $(HOSTBUILD)/test_host_conn \
	$(HOSTBUILD)/test_host_pcap

$(HOSTBUILD)/test_host_vring: tests/unit/test_host_vring.c $(HOST_UNIT_DEPS)
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< host/vring.c

$(HOSTBUILD)/test_host_vhu: tests/unit/test_host_vhu.c $(HOST_UNIT_DEPS)
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< host/vring.c host/vhu.c

$(HOSTBUILD)/test_host_conn: tests/unit/test_host_conn.c $(HOST_UNIT_DEPS)
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< host/vring.c host/vhu.c host/conn.c host/ring.c host/uds.c host/pcap.c

$(HOSTBUILD)/test_host_pcap: tests/unit/test_host_pcap.c host/pcap.c host/pcap.h vsock/vsock_wire.h tests/unit/check.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< host/pcap.c
