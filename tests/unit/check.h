/* SPDX-License-Identifier: BSD-2-Clause */
/* The one check macro family every native unit test uses: a failed check
 * prints file:line and the expression (and both values for CHECK_EQ), counts,
 * and the test goes on; check_report() turns the count into the exit status.
 * Exactly one file of each test binary defines CHECK_MAIN before including
 * this (it owns the counters); other modules of the same test, such as the
 * fake device, include it plainly and count into the same totals. */
#ifndef BV_TEST_CHECK_H
#define BV_TEST_CHECK_H

#include <stdio.h>

extern int check_failures;
extern unsigned long check_count;

#ifdef CHECK_MAIN
int check_failures;
unsigned long check_count;
#endif

#define CHECK(c) do { check_count++; if (!(c)) { \
	printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); check_failures++; } } while (0)

/* Integers of any width up to 64 bits; both sides are printed on failure. */
#define CHECK_EQ(a, b) do { check_count++; \
	unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
	if (a_ != b_) { printf("FAIL %s:%d: %s == %s (%lld/0x%llx vs %lld/0x%llx)\n", __FILE__, __LINE__, \
		#a, #b, (long long)a_, a_, (long long)b_, b_); check_failures++; } } while (0)

/* Exit status for main(): 0 when every check passed. */
static inline int check_report(const char *name)
{
	if (check_failures) {
		printf("%s: %d of %lu checks FAILED\n", name, check_failures, check_count);
		return 1;
	}
	printf("%s: all %lu checks passed\n", name, check_count);
	return 0;
}

#endif
