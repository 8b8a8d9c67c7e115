/* SPDX-License-Identifier: BSD-2-Clause */
/* bv-stream: the host side of bench/'s throughput figures, in C and in a
 * process of its own, so its CPU time is measured apart from the harness and
 * stays small next to QEMU's and the back end's.
 *   bv-stream echo N FD...   on every FD at once: write N bytes of a
 *                            pseudo-random stream (another one per FD) while
 *                            reading the echo; every echoed byte is checked
 *   bv-stream sink N FD      write N bytes, shut down writing, read to EOF
 *                            (the guest closes once it has read everything)
 *   bv-stream source N FD    send N as a little-endian u64, read to EOF and
 *                            check N bytes of (7k + 1) mod 256
 * Prints the nanoseconds from the first write to the last byte (or EOF) and
 * exits 0; a short or wrong stream is an error on stderr and exit status 1.
 * bench/run.py opens the connections (CONNECT through the back end) and
 * passes them down. Non-goals: connecting, timing anything but the transfer. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS  64
#define CHUNK    (256u << 10)   /* most one write() hands over */
#define RBUF     (1u << 20)
/* The echo data: one random block, each connection reading it from its
 * own offset. Larger than a connection's window and the socket buffers, so
 * a stream that comes back shifted or reordered cannot match by accident. */
#define BLOCK    (4u << 20)

static uint8_t block[BLOCK];
static uint8_t rbuf[RBUF];
static uint8_t pattern[RBUF + 256];   /* the source's bytes from any offset mod 256 */

struct flow {
	int fd;
	uint64_t off;          /* this flow's start in block */
	uint64_t sent, got;
	int wr_done, eof;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bv-stream: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Write what the socket takes now of [f->sent, limit), as a slice of the
 * block (wrapping at its end). */
static void push(struct flow *f, uint64_t limit, const uint8_t *src, uint64_t period)
{
	while (f->sent < limit) {
		uint64_t pos = (f->off + f->sent) % period;
		uint64_t n = limit - f->sent;
		if (n > CHUNK)
			n = CHUNK;
		if (n > period - pos)
			n = period - pos;
		ssize_t w = send(f->fd, src + pos, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			die("write failed after %llu bytes: %s", (unsigned long long)f->sent, strerror(errno));
		}
		f->sent += (uint64_t)w;
	}
}

/* Check n received bytes at stream offset f->got against the block. */
static void check_echo(struct flow *f, const uint8_t *p, uint64_t n)
{
	while (n) {
		uint64_t pos = (f->off + f->got) % BLOCK;
		uint64_t k = n < BLOCK - pos ? n : BLOCK - pos;
		if (memcmp(p, block + pos, k) != 0)
			die("echo: the echo differs from what was sent within bytes %llu..%llu",
			    (unsigned long long)f->got, (unsigned long long)(f->got + k));
		f->got += k;
		p += k;
		n -= k;
	}
}

static void check_pattern(struct flow *f, const uint8_t *p, uint64_t n)
{
	if (memcmp(p, pattern + (f->got & 0xff), n) != 0)
		die("source: bytes %llu..%llu are not the pattern", (unsigned long long)f->got,
		    (unsigned long long)(f->got + n));
	f->got += n;
}

/* Read what is there; returns 1 at EOF. */
static int pull(struct flow *f, int mode)
{
	for (;;) {
		ssize_t r = recv(f->fd, rbuf, RBUF, MSG_DONTWAIT);
		if (r == 0)
			return 1;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			die("read failed after %llu bytes: %s", (unsigned long long)f->got, strerror(errno));
		}
		if (mode == 'e')
			check_echo(f, rbuf, (uint64_t)r);
		else if (mode == 'o')
			check_pattern(f, rbuf, (uint64_t)r);
		else
			f->got += (uint64_t)r;
	}
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "echo") && strcmp(argv[1], "sink") && strcmp(argv[1], "source"))) {
		fprintf(stderr, "usage: bv-stream echo N FD... | bv-stream sink N FD | bv-stream source N FD\n");
		return 2;
	}
	int mode = !strcmp(argv[1], "echo") ? 'e' : !strcmp(argv[1], "sink") ? 's' : 'o';
	uint64_t n = strtoull(argv[2], NULL, 0);
	int nf = argc - 3;
	if (n == 0 || nf > MAX_FDS || (mode != 'e' && nf != 1)) {
		fprintf(stderr, "bv-stream: N must be positive, one FD for sink/source, at most %d for echo\n",
			MAX_FDS);
		return 2;
	}
	static struct flow fl[MAX_FDS];
	struct pollfd pf[MAX_FDS];
	for (int i = 0; i < nf; i++) {
		fl[i].fd = atoi(argv[3 + i]);
		fl[i].off = (uint64_t)i * (BLOCK / MAX_FDS + 4099u);
		if (fcntl(fl[i].fd, F_GETFL) < 0)
			die("fd %d is not open", fl[i].fd);
	}
	if (mode == 'e') {
		for (size_t k = 0; k < BLOCK; k += 256)
			if (getrandom(block + k, 256, 0) != 256)
				die("getrandom: %s", strerror(errno));
	} else {
		memset(block, 0x5a, CHUNK);
		for (size_t k = 0; k < sizeof(pattern); k++)
			pattern[k] = (uint8_t)(7u * (k & 0xff) + 1u);
	}

	uint64_t t0 = now_ns();
	if (mode == 'o') {
		uint8_t hdr[8];
		for (int b = 0; b < 8; b++)
			hdr[b] = (uint8_t)(n >> (8 * b));
		if (send(fl[0].fd, hdr, 8, MSG_NOSIGNAL) != 8)
			die("source: cannot send the count: %s", strerror(errno));
		fl[0].wr_done = 1;
	}
	int left = nf;
	while (left) {
		for (int i = 0; i < nf; i++) {
			struct flow *f = &fl[i];
			pf[i].fd = f->eof ? -1 : f->fd;
			pf[i].events = POLLIN | (f->wr_done ? 0 : POLLOUT);
			pf[i].revents = 0;
		}
		if (poll(pf, (nfds_t)nf, 60000) <= 0)
			die("no progress for 60 s (%d of %d flows not done)", left, nf);
		for (int i = 0; i < nf; i++) {
			struct flow *f = &fl[i];
			if (f->eof || !pf[i].revents)
				continue;
			if (!f->wr_done) {
				push(f, n, block, mode == 'e' ? BLOCK : CHUNK);
				if (f->sent == n) {
					f->wr_done = 1;
					if (mode == 's')
						shutdown(f->fd, SHUT_WR);
				}
			}
			int at_eof = pull(f, mode);
			int done = mode == 'e' ? f->got >= n : at_eof;
			if (at_eof && !done)
				die("%s: EOF after %llu of %llu bytes", argv[1], (unsigned long long)f->got,
				    (unsigned long long)n);
			if (done) {
				f->eof = 1;
				left--;
			}
		}
	}
	uint64_t t = now_ns() - t0;
	for (int i = 0; i < nf; i++) {
		uint64_t want = mode == 's' ? 0 : n;
		if (fl[i].got != want)
			die("%s: received %llu bytes, expected %llu", argv[1], (unsigned long long)fl[i].got,
			    (unsigned long long)want);
	}
	printf("%llu\n", (unsigned long long)t);
	return 0;
}
