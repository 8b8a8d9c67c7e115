/* SPDX-License-Identifier: BSD-2-Clause */
/* bvbench: the Linux guest's side of bench/. PID 1 of the bench initramfs
 * (started by bench/linux/init after the vsock modules are in), built with
 * the host gcc -static. Serves the same ports as barevsock's apps:
 *   1234 echo    every byte read is written back (ping-pong uses it too)
 *   1235 sink    reads to EOF, discards, prints "sink: <n> bytes", closes
 *   1236 source  reads a little-endian u64 N, sends N bytes, then shuts down
 * Echo has ECHO_WORKERS processes, each accepting and serving one
 * connection at a time (the 8-connection figure needs that many at once,
 * and forking per connection would put fork() inside the timed transfer);
 * sink and source one process each. Never exits (it is PID 1); a fatal
 * error powers the VM off so the harness sees QEMU exit. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define ECHO_PORT   1234
#define SINK_PORT   1235
#define SOURCE_PORT 1236
#define BUF_SIZE    65536
#define ECHO_WORKERS 8

static char buf[BUF_SIZE];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (n > 0 && write(1, line, (size_t)n) < 0) {
		/* nowhere else to report it */
	}
}

static void fatal(const char *what)
{
	say("bvbench: FATAL: %s: %s\n", what, strerror(errno));
	sync();
	if (getpid() == 1)
		reboot(RB_POWER_OFF);   /* QEMU runs with -no-reboot: it exits */
	_exit(1);
}

static int listen_on(unsigned port)
{
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		fatal("socket(AF_VSOCK)");
	struct sockaddr_vm a;
	memset(&a, 0, sizeof(a));
	a.svm_family = AF_VSOCK;
	a.svm_cid = VMADDR_CID_ANY;
	a.svm_port = port;
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		fatal("bind");
	if (listen(s, 8) < 0)
		fatal("listen");
	return s;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void serve_echo(int c)
{
	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_all(c, buf, (size_t)n) < 0)
			return;
	}
}

static void serve_sink(int c)
{
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (uint64_t)n;
	}
	say("sink: %llu bytes\n", (unsigned long long)total);
}

static void serve_source(int c)
{
	unsigned char hdr[8];
	size_t got = 0;
	while (got < sizeof(hdr)) {
		ssize_t n = read(c, hdr + got, sizeof(hdr) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		got += (size_t)n;
	}
	uint64_t want = 0;
	for (int i = 7; i >= 0; i--)
		want = want << 8 | hdr[i];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 1);
	uint64_t sent = 0;
	while (sent < want) {
		size_t n = want - sent < sizeof(buf) ? (size_t)(want - sent) : sizeof(buf);
		if (write_all(c, buf, n) < 0)
			break;
		sent += n;
	}
	shutdown(c, SHUT_WR);
	/* Wait for the host to finish reading (it closes); whatever it sends is dropped. */
	while (read(c, buf, sizeof(buf)) > 0)
		;
	say("source: %llu bytes\n", (unsigned long long)sent);
}

static void serve_forever(int ls, void (*serve)(int))
{
	for (;;) {
		int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fatal("accept");
		}
		serve(c);
		close(c);
	}
}

int main(void)
{
	static const struct { unsigned port; void (*serve)(int); int workers; } ports[] = {
		{ ECHO_PORT, serve_echo, ECHO_WORKERS }, { SINK_PORT, serve_sink, 1 },
		{ SOURCE_PORT, serve_source, 1 },
	};
	int ls[3];
	for (int i = 0; i < 3; i++)
		ls[i] = listen_on(ports[i].port);
	for (int i = 0; i < 3; i++) {
		for (int w = 0; w < ports[i].workers; w++) {
			pid_t p = fork();
			if (p < 0)
				fatal("fork");
			if (p == 0)
				serve_forever(ls[i], ports[i].serve);
		}
	}
	say("bvbench: listening on %u (echo) %u (sink) %u (source)\n", ECHO_PORT, SINK_PORT,
	    SOURCE_PORT);
	/* PID 1 reaps; a server that dies is fatal (the harness would hang on it). */
	for (;;) {
		int st;
		pid_t p = wait(&st);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			fatal("wait");
		errno = 0;
		say("bvbench: server %d ended (status 0x%x)\n", (int)p, st);
		fatal("a server process ended");
	}
}
