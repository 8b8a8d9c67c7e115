# SPDX-License-Identifier: BSD-2-Clause
# Unit tests of issue 13's firmware helpers: apps/fetch's SHA-256 (FIPS 180-4
# vectors) and vsock/vsock_rpc.c (connect retry and length-prefixed messages)
# against the shared fake device, native with ASan/UBSan.
UNIT_TESTS += $(HOSTBUILD)/test_sha256 $(HOSTBUILD)/test_vsock_rpc

$(HOSTBUILD)/test_sha256: tests/unit/test_sha256.c apps/fetch/sha256.c apps/fetch/sha256.h tests/unit/check.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< apps/fetch/sha256.c

$(HOSTBUILD)/test_vsock_rpc: tests/unit/test_vsock_rpc.c vsock/vsock_rpc.h $(FAKE_VIRTIO) $(BAREVSOCK_LIB_FILES) \
		arch/host/port.c tests/unit/check.h include/bv/port.h include/bv/config.h vsock/vsock.h vsock/vsock_dev.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< tests/unit/fake_virtio.c $(BAREVSOCK_LIB_FILES) arch/host/port.c
