/* SPDX-License-Identifier: BSD-2-Clause */
/* base/log.c (bv_logf, bv_snprintf) against the host's snprintf for every
 * conversion, flag and length the library's formatter claims, plus
 * truncation, and bv_logf's chunking into bv_port_log (captured here). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#define CHECK_MAIN
#include "tests/unit/check.h"
#include "bv/log.h"
#include "bv/port.h"

static char logged[4096];
static size_t nlogged, calls, longest;

void bv_port_log(const char *s, size_t n)
{
	CHECK(nlogged + n < sizeof(logged));
	if (nlogged + n < sizeof(logged)) {
		memcpy(logged + nlogged, s, n);
		nlogged += n;
	}
	calls++;
	if (n > longest)
		longest = n;
}

#define SAME(...) do { char a_[256], b_[256]; \
	int na_ = bv_snprintf(a_, sizeof(a_), __VA_ARGS__); \
	int nb_ = snprintf(b_, sizeof(b_), __VA_ARGS__); \
	CHECK_EQ(na_, nb_); \
	if (strcmp(a_, b_)) printf("  bv \"%s\" libc \"%s\"\n", a_, b_); \
	CHECK(strcmp(a_, b_) == 0); } while (0)

int main(void)
{
	SAME("plain");
	SAME("%d %d %d %i", 0, -1, 2147483647, -2147483647 - 1);
	SAME("%u %u %x %X", 0u, 4294967295u, 0xdeadbeefu, 0xabcdefu);
	SAME("%ld %lu %lx", -5L, 77UL, 0xfffUL);
	SAME("%lld %llu %llx", -9223372036854775807LL - 1, 18446744073709551615ULL, 0x123456789abcdefULL);
	SAME("%zu %zx", (size_t)12345, (size_t)0xabc);
	SAME("%02x:%02x.%x", 0u, 0x1fu, 7u);
	SAME("[%5d] [%-5d] [%05d] [%5u] [%-4x] [%08llx]", 42, 42, -42, 7u, 0xau, 0x1234ULL);
	SAME("[%s] [%8s] [%-8s] [%c] [%3c] [%-3c] %%", "abc", "abc", "abc", 'x', 'y', 'z');
	SAME("%p", (void *)(uintptr_t)0x1234);
	SAME("vsock: cid %llu on %s at %s, queues %u/%u/%u", 3ULL, "pci", "pci 00:03.0", 128u, 128u, 64u);

	char small[8];
	CHECK_EQ(bv_snprintf(small, sizeof(small), "%s", "0123456789"), 10);
	CHECK(strcmp(small, "0123456") == 0);
	CHECK_EQ(bv_snprintf(NULL, 0, "%d", 123), 3);
	char x[1] = { 'q' };
	CHECK_EQ(bv_snprintf(x, 1, "abc"), 3);
	CHECK_EQ(x[0], 0);

	/* Unsupported conversions are visible, not silently wrong. */
	char u[32];
	const char *fmt_f = "a%fb";   /* not a literal: keep -Wformat out of it */
	CHECK_EQ(bv_snprintf(u, sizeof(u), fmt_f, 1.0), 4);
	CHECK(strcmp(u, "a%?b") == 0);

	bv_logf("hello %s %u\n", "log", 7u);
	CHECK_EQ(calls, 1);
	CHECK(nlogged == 12 && memcmp(logged, "hello log 7\n", 12) == 0);

	/* Longer than one chunk: several calls, none over BV_LOG_CHUNK, the text intact. */
	char big[600];
	for (int i = 0; i < 599; i++)
		big[i] = (char)('a' + i % 26);
	big[599] = 0;
	nlogged = calls = longest = 0;
	bv_logf("<%s>\n", big);
	CHECK_EQ(nlogged, 602);
	CHECK(calls >= 5);
	CHECK(longest <= BV_LOG_CHUNK);
	CHECK(logged[0] == '<' && memcmp(logged + 1, big, 599) == 0 && logged[600] == '>' && logged[601] == '\n');
	return check_report("test_log");
}
