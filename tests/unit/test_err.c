/* SPDX-License-Identifier: BSD-2-Clause */
/* bv/err.h against the host's <errno.h> (glibc: Linux numbering): each BV_E*
 * is the negated errno of its name, in both the default (built-in Linux
 * numbers) and the BV_ERR_FROM_ERRNO_H build, and bv_strerror() has its own
 * text for each. Built twice by tests/unit/lib.mk, once per mode. */
#include <errno.h>
#include <string.h>
#define CHECK_MAIN
#include "tests/unit/check.h"
#include "bv/err.h"

#define E(name) { BV_##name, name, #name }
static const struct { int bv, posix; const char *name; } codes[] = {
	E(EIO), E(EBADF), E(EAGAIN), E(ENODEV), E(EINVAL), E(EPIPE), E(EPROTO),
	E(EMSGSIZE), E(ENOTSUP), E(EADDRINUSE), E(ECONNRESET), E(ENOBUFS),
	E(ENOTCONN), E(ETIMEDOUT), E(ECONNREFUSED),
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

int main(void)
{
	CHECK_EQ(BV_OK, 0);
	for (unsigned i = 0; i < NCODES; i++) {
		if (codes[i].bv != -codes[i].posix)
			printf("BV_%s is %d, -%s is %d\n", codes[i].name, codes[i].bv, codes[i].name, -codes[i].posix);
		CHECK_EQ(codes[i].bv, -codes[i].posix);
		const char *t = bv_strerror(codes[i].bv);
		CHECK(t && strcmp(t, "unknown error") != 0 && strcmp(t, "ok") != 0);
		for (unsigned j = 0; j < i; j++) {
			CHECK(codes[j].bv != codes[i].bv);
			CHECK(strcmp(bv_strerror(codes[j].bv), t) != 0);
		}
	}
	CHECK(strcmp(bv_strerror(BV_OK), "ok") == 0);
	CHECK(strcmp(bv_strerror(7), "ok") == 0);             /* a count is success */
	CHECK(strcmp(bv_strerror(-1), "unknown error") == 0);  /* EPERM: not ours */
	return check_report("test_err");
}
