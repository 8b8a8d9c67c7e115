# SPDX-License-Identifier: BSD-2-Clause
# Unit tests of the library's shared pieces (bv/err.h and its text, the
# bv_logf formatter), native with ASan/UBSan. test_err runs twice: built-in
# Linux numbers, and numbers taken from <errno.h> (BV_ERR_FROM_ERRNO_H).
UNIT_TESTS += $(HOSTBUILD)/test_err $(HOSTBUILD)/test_err_errno_h

$(HOSTBUILD)/test_err: tests/unit/test_err.c base/strerror.c include/bv/err.h tests/unit/check.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< base/strerror.c

$(HOSTBUILD)/test_err_errno_h: tests/unit/test_err.c base/strerror.c include/bv/err.h tests/unit/check.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -DBV_ERR_FROM_ERRNO_H -o $@ $< base/strerror.c

UNIT_TESTS += $(HOSTBUILD)/test_log
$(HOSTBUILD)/test_log: tests/unit/test_log.c base/log.c include/bv/log.h arch/host/port.c tests/unit/check.h
	@mkdir -p $(dir $@)
	$(msg) HOSTCC $@
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< base/log.c arch/host/port.c
