/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the back end's vhost-user message handler (host/vhu.c)
 * fed arbitrary message sequences, exactly as they would arrive from the
 * socket (header, payload, passed fds), without the socket. Memory-table
 * fds are small memfds, so a table that claims more than the file holds
 * must be refused rather than mapped (touching it would SIGBUS). Checked:
 * no crash or sanitizer report, a reply is never larger than a message,
 * and every fd handed over is consumed (closed or kept) by the handler.
 * Input per message: request(1) flags(1) size(2) nfds(1) payload(size). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "host/vhu.h"

#define FUZZ_MEMFD_SIZE (64 * 1024)

static struct vhu_dev dev;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vhu_dev_init(&dev, 3, 1024);
	size_t off = 0;
	while (off + 5 <= size) {
		struct vhu_msg m, reply;
		memset(&m, 0, sizeof(m));
		m.hdr.request = data[off] % 48;
		m.hdr.flags = data[off + 1];
		uint32_t len = (uint32_t)(data[off + 2] | data[off + 3] << 8) % (sizeof(m.u) + 1);
		int nfds = data[off + 4] % 4;
		off += 5;
		if (len > size - off)
			len = (uint32_t)(size - off);
		m.hdr.size = len;
		memcpy(&m.u, data + off, len);
		off += len;

		int fds[VHU_MAX_FDS];
		for (int i = 0; i < nfds; i++) {
			fds[i] = memfd_create("fuzz", MFD_CLOEXEC);
			if (fds[i] < 0 || ftruncate(fds[i], FUZZ_MEMFD_SIZE) != 0)
				abort();
		}
		memset(&reply, 0, sizeof(reply));
		int rc = vhu_handle(&dev, &m, fds, nfds, &reply);
		if (rc == 1 && reply.hdr.size > sizeof(reply.u))
			abort();   /* a reply larger than a message */
		if (rc < 0)
			vhu_dev_reset(&dev);   /* the event loop drops the front end */
	}
	vhu_dev_reset(&dev);
	return 0;
}
