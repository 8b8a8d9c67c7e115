# SPDX-License-Identifier: BSD-2-Clause
# host/: the vhost-user vsock back end (bv-vhost-vsock). Included by the top Makefile.
# bv-vhost-vsock is built with the sanitizers (HOST_CFLAGS) for tests;
# bv-vhost-vsock-fast is the same code at -O2 without them, for benchmarks.
HOST_VSOCK_LIB_SRCS := host/vring.c host/vhu.c host/conn.c host/ring.c host/uds.c host/raw.c host/pcap.c
HOST_VSOCK_HDRS := host/vring.h host/vhu.h host/conn.h host/ring.h host/uds.h host/raw.h host/pcap.h vsock/vsock_wire.h
HOST_FAST_CFLAGS := -std=gnu11 -O2 -g $(WARN) -Iinclude -I. -Iarch/host/include

HOST_TOOLS += $(HOSTBUILD)/bv-vhost-vsock $(HOSTBUILD)/bv-vhost-vsock-fast

$(HOSTBUILD)/bv-vhost-vsock: host/main.c $(HOST_VSOCK_LIB_SRCS) $(HOST_VSOCK_HDRS)
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ host/main.c $(HOST_VSOCK_LIB_SRCS)

$(HOSTBUILD)/bv-vhost-vsock-fast: host/main.c $(HOST_VSOCK_LIB_SRCS) $(HOST_VSOCK_HDRS)
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_FAST_CFLAGS) -o $@ host/main.c $(HOST_VSOCK_LIB_SRCS)
