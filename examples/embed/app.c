/* SPDX-License-Identifier: BSD-2-Clause */
/* The firmware's vsock service, on libbarevsock alone: attach the virtio-mmio
 * device the board says is there, hand it to the vsock glue, and echo every
 * connection to port 1234 (a few at a time) from one polling loop. */
#include "bv/err.h"
#include "bv/log.h"
#include "drivers/virtio_mmio.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "board.h"

#define FW_ECHO_PORT 1234
#define FW_CONNS     4

/* The library keeps using the device after attach: static storage. */
static struct virtio_dev fw_vsock;

static struct {
	int h;
	uint32_t len, off;          /* bytes received and not yet sent back */
	uint64_t echoed;
	uint8_t buf[2048];
} conn[FW_CONNS];

static void fw_close(int i, int why)
{
	bv_logf("fw: connection %d closed (%s), %llu bytes echoed\n", conn[i].h,
		why ? bv_strerror(why) : "end of stream", (unsigned long long)conn[i].echoed);
	vsock_close(conn[i].h);
	conn[i].h = -1;
}

/* Move connection i along without waiting. */
static void fw_serve(int i)
{
	if (conn[i].off == conn[i].len) {
		int n = vsock_recv(conn[i].h, conn[i].buf, sizeof(conn[i].buf));
		if (n == BV_EAGAIN)
			return;
		if (n <= 0) {
			fw_close(i, n);
			return;
		}
		conn[i].len = (uint32_t)n;
		conn[i].off = 0;
	}
	int n = vsock_send(conn[i].h, conn[i].buf + conn[i].off, conn[i].len - conn[i].off);
	if (n > 0) {
		conn[i].off += (uint32_t)n;
		conn[i].echoed += (uint32_t)n;
	} else if (n != BV_EAGAIN) {
		fw_close(i, n);
	}
}

void fw_main(void)
{
	board_init();
	uintptr_t base = board_vsock_base();
	bv_logf("fw: %s, looking for virtio-vsock at 0x%llx\n", board_name(), (unsigned long long)base);

	int rc = virtio_mmio_attach(&fw_vsock, base);
	if (rc == BV_OK)
		rc = vsock_dev_attach(&fw_vsock);
	if (rc < 0) {
		bv_logf("fw: no vsock (%s); halting\n", bv_strerror(rc));
		for (;;)
			board_relax();
	}
	int lh = vsock_listen(FW_ECHO_PORT, VSOCK_STREAM, 0);
	bv_logf("fw: echo listening on port %d (cid %llu)\n", FW_ECHO_PORT, (unsigned long long)vsock_local_cid());
	for (int i = 0; i < FW_CONNS; i++)
		conn[i].h = -1;

	for (;;) {
		vsock_poll();
		int h = vsock_accept(lh, NULL, NULL);
		if (h >= 0) {
			int i = 0;
			while (i < FW_CONNS && conn[i].h >= 0)
				i++;
			if (i == FW_CONNS) {
				vsock_close(h);     /* busy: the peer sees a reset */
			} else {
				conn[i].h = h;
				conn[i].len = conn[i].off = 0;
				conn[i].echoed = 0;
				bv_logf("fw: connection %d accepted\n", h);
			}
		}
		for (int i = 0; i < FW_CONNS; i++)
			if (conn[i].h >= 0)
				fw_serve(i);
	}
}
