/* SPDX-License-Identifier: BSD-2-Clause */
/* Logical exit statuses of this project's -kernel images (not the library,
 * which never exits). The test harness maps QEMU's exit code back to these
 * (x86 isa-debug-exit reports (status << 1) | 1). Keep them below 128 so every
 * architecture can carry them. */
#ifndef BV_EXIT_H
#define BV_EXIT_H

#define BV_EXIT_OK          0
#define BV_EXIT_FAIL        1   /* an app/test reported a failure */
#define BV_EXIT_PANIC       77  /* bv_panic(): an unrecoverable guest error */

_Noreturn void bv_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
