/* SPDX-License-Identifier: BSD-2-Clause */
/* bv-pingpong: the host side of bench/'s latency figure, in C so the
 * client's own cost stays small next to the guest's round trip.
 *   bv-pingpong FD N       N sequential 1-byte round trips on the connected
 *                          stream socket FD (after 50 warm-up trips); prints
 *                          "p50_ns p99_ns" and exits 0
 *   bv-pingpong --echo FD  echo every byte on FD until EOF (the host-only
 *                          floor: the same client against a host process)
 * bench/run.py makes the connection (CONNECT through the back end) and
 * passes it down as FD. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WARMUP 50

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int trip(int fd)
{
	char c = (char)0xa5, r = 0;
	if (write(fd, &c, 1) != 1 || read(fd, &r, 1) != 1 || r != c)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--echo") == 0) {
		int fd = atoi(argv[2]);
		char c;
		while (read(fd, &c, 1) == 1)
			if (write(fd, &c, 1) != 1)
				return 1;
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: bv-pingpong FD N | bv-pingpong --echo FD\n");
		return 2;
	}
	int fd = atoi(argv[1]);
	long n = atol(argv[2]);
	if (n < 1) {
		fprintf(stderr, "bv-pingpong: N must be at least 1\n");
		return 2;
	}
	uint64_t *rtt = calloc((size_t)n, sizeof(*rtt));
	if (!rtt)
		return 1;
	for (int i = 0; i < WARMUP; i++)
		if (trip(fd) < 0) {
			fprintf(stderr, "bv-pingpong: warm-up trip %d failed\n", i);
			return 1;
		}
	for (long i = 0; i < n; i++) {
		uint64_t t = now_ns();
		if (trip(fd) < 0) {
			fprintf(stderr, "bv-pingpong: trip %ld failed\n", i);
			return 1;
		}
		rtt[i] = now_ns() - t;
	}
	qsort(rtt, (size_t)n, sizeof(*rtt), cmp_u64);
	long p99 = n * 99 / 100;
	printf("%llu %llu\n", (unsigned long long)rtt[n / 2],
	       (unsigned long long)rtt[p99 < n ? p99 : n - 1]);
	return 0;
}
