# SPDX-License-Identifier: BSD-2-Clause
# Unit test of vsock_wait() and the virtqueue notification rules: the real
# device glue, engine, socket API, virtio core and virtqueues against a fake
# transport and device that interrupt properly, never, for nothing or without
# end, and a fake port that moves the clock while the guest "halts". Native
# with ASan/UBSan.
UNIT_TESTS += $(HOSTBUILD)/test_vsock_wait

$(HOSTBUILD)/test_vsock_wait: tests/unit/test_vsock_wait.c $(BAREVSOCK_VSOCK_FILES) $(wildcard vsock/*.h) \
		drivers/virtq.c drivers/virtq.h drivers/virtio.c drivers/virtio.h base/strerror.c base/log.c \
		arch/host/port.c tests/unit/check.h include/bv/config.h include/bv/err.h include/bv/port.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< $(BAREVSOCK_VSOCK_FILES) \
		drivers/virtq.c drivers/virtio.c base/strerror.c base/log.c arch/host/port.c
