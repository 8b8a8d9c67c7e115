/* SPDX-License-Identifier: BSD-2-Clause */
/* Logical exit statuses of a guest image. The test harness maps QEMU's exit
 * code back to these (x86 isa-debug-exit reports (status << 1) | 1). Keep them
 * below 128 so every architecture can carry them. */
#ifndef BV_EXIT_H
#define BV_EXIT_H

#define BV_EXIT_OK          0
#define BV_EXIT_FAIL        1   /* an app/test reported a failure */
#define BV_EXIT_PANIC       77  /* bv_panic(): an unrecoverable guest error */
#define BV_EXIT_INVARIANT   78  /* bv_invariant(): an internal invariant broke */

_Noreturn void bv_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Check an invariant; on failure print what and where and exit distinctly. */
#define bv_invariant(cond) \
	do { if (!(cond)) bv_invariant_failed(#cond, __FILE__, __LINE__); } while (0)
_Noreturn void bv_invariant_failed(const char *what, const char *file, int line);

#endif
