# SPDX-License-Identifier: BSD-2-Clause
# Unit test of vsock/vsock_dev.c: the real device glue, engine and
# virtqueues against a hostile fake device (the test supplies a transport
# under the real drivers/virtio.c), native with ASan/UBSan and the test hooks.
UNIT_TESTS += $(HOSTBUILD)/test_vsock_dev

$(HOSTBUILD)/test_vsock_dev: tests/unit/test_vsock_dev.c vsock/vsock_dev.c vsock/vsock_dev.h \
		$(BAREVSOCK_VSOCK_FILES) $(wildcard vsock/*.h) \
		drivers/virtq.c drivers/virtq.h drivers/virtio.c drivers/virtio.h base/strerror.c base/log.c arch/host/port.c \
		include/bv/config.h include/bv/err.h include/bv/port.h include/bv/time.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -DBV_VSOCK_TEST_HOOKS -o $@ $< $(BAREVSOCK_VSOCK_FILES) \
		drivers/virtq.c drivers/virtio.c base/strerror.c base/log.c arch/host/port.c
