/* SPDX-License-Identifier: BSD-2-Clause */
/* sink: the guest side of bench/'s host->guest throughput. Accepts on port
 * 1235, reads and discards everything, and when the peer has finished
 * sending prints "sink: <n> bytes" for that connection and closes it.
 * Serves up to SINK_MAX_CONNS connections at once; runs until QEMU is killed. */
#include <stdint.h>
#include <stdio.h>
#include "bv/arch.h"
#include "bv/config.h"
#include "bv/err.h"
#include "bv/exit.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "discover/discover.h"  /* vsock_dev_init */

#define SINK_PORT       1235
#define SINK_MAX_CONNS  8
static struct { int h; uint64_t bytes; } conn[SINK_MAX_CONNS];

/* Read whatever is there, where it lies (zero-copy: borrow and release).
 * Returns 1 if anything happened. */
static int drain(int i)
{
	int moved = 0;
	for (;;) {
		const void *p;
		int n = vsock_recv_borrow(conn[i].h, &p, NULL);
		if (n > 0) {
			vsock_recv_release(conn[i].h, (uint32_t)n);
			conn[i].bytes += (uint32_t)n;
			moved = 1;
			continue;
		}
		if (n == BV_EAGAIN)
			return moved;
		if (n == 0)
			printf("sink: %llu bytes\n", (unsigned long long)conn[i].bytes);
		else
			printf("sink: connection failed after %llu bytes: %s\n",
			       (unsigned long long)conn[i].bytes, bv_strerror(n));
		vsock_close(conn[i].h);
		conn[i].h = -1;
		return 1;
	}
}

int main(void)
{
	for (int i = 0; i < SINK_MAX_CONNS; i++)
		conn[i].h = -1;
	if (vsock_dev_init() < 0)
		return BV_EXIT_FAIL;   /* it said why */
	int lh = vsock_listen(SINK_PORT, VSOCK_STREAM, 0);
	if (lh < 0) {
		printf("sink: cannot listen on port %d: %s\n", SINK_PORT, bv_strerror(lh));
		return BV_EXIT_FAIL;
	}
	printf("sink: listening on port %d\n", SINK_PORT);
	for (;;) {
		int work = vsock_poll();
		if (work < 0) {
			printf("sink: device failed: %s\n", bv_strerror(work));
			return BV_EXIT_FAIL;
		}
		for (;;) {
			int h = vsock_accept(lh, 0, 0);
			if (h < 0)
				break;
			int i = 0;
			while (i < SINK_MAX_CONNS && conn[i].h >= 0)
				i++;
			if (i == SINK_MAX_CONNS) {
				vsock_close(h);   /* all slots busy: refuse by closing at once */
				continue;
			}
			conn[i].h = h;
			conn[i].bytes = 0;
		}
		for (int i = 0; i < SINK_MAX_CONNS; i++)
			if (conn[i].h >= 0)
				work += drain(i);
		if (!work)
			vsock_wait(VSOCK_WAIT_FOREVER);   /* halt until the device or a timer needs us */
	}
}
