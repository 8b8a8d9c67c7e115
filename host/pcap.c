/* SPDX-License-Identifier: BSD-2-Clause */
/* Packet capture writer: pcap (LINKTYPE_VSOCK) in the vsockmon frame layout.
 * Records are buffered and written whole, so the file on disk always ends on
 * a record boundary: valid after a clean exit, and after a SIGKILL it lacks
 * at most what was buffered (BVPCAP_FLUSH_MS). Non-goals: reading captures,
 * pcapng, nanosecond timestamps, capture filters. */
#define _GNU_SOURCE
#include "host/pcap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_CAP (256u * 1024u)   /* > the largest record (16 + 76 + 64 KiB) */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint16_t bvpcap_mon_op(uint16_t virtio_op)
{
	switch (virtio_op) {
	case VSOCK_OP_REQUEST:
	case VSOCK_OP_RESPONSE:
		return BVPCAP_MON_CONNECT;
	case VSOCK_OP_RST:
	case VSOCK_OP_SHUTDOWN:
		return BVPCAP_MON_DISCONNECT;
	case VSOCK_OP_CREDIT_UPDATE:
	case VSOCK_OP_CREDIT_REQUEST:
		return BVPCAP_MON_CONTROL;
	case VSOCK_OP_RW:
		return BVPCAP_MON_PAYLOAD;
	default:
		return BVPCAP_MON_UNKNOWN;
	}
}

/* write() all of [b, b+n); on failure cut the file back to the last whole
 * write so readers never meet half a record, and stop capturing. */
static int write_all(struct bvpcap *p, const uint8_t *b, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(p->fd, b + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			p->err = w < 0 ? errno : ENOSPC;
			/* If even this fails, readers report a cut record: nothing better to do. */
			if (ftruncate(p->fd, (off_t)p->good_off) < 0)
				p->lost++;
			return -1;
		}
		done += (size_t)w;
	}
	p->good_off += n;
	return 0;
}

int bvpcap_flush(struct bvpcap *p)
{
	if (!p->buf || p->err)
		return p->err ? -1 : 0;
	p->last_flush_ms = mono_ms();
	if (!p->used)
		return 0;
	size_t n = p->used;
	p->used = 0;
	if (write_all(p, p->buf, n) < 0) {
		fprintf(stderr, "%s: capture: write failed (%s); capture stopped, the file "
			"keeps the packets before this\n", program_invocation_short_name, strerror(p->err));
		return -1;
	}
	return 0;
}

int bvpcap_open(struct bvpcap *p, const char *path, uint32_t snaplen, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (snaplen < BVPCAP_FRAME_HDRS) {
		snprintf(err, errlen, "snap length %u is below the %zu bytes of vsockmon and virtio headers",
			 snaplen, (size_t)BVPCAP_FRAME_HDRS);
		return -1;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	p->fd = fd;
	p->snaplen = snaplen;
	p->cap = BUF_CAP;
	p->buf = malloc(p->cap);
	if (!p->buf) {
		close(fd);
		p->fd = -1;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	struct bvpcap_file_hdr fh = {
		.magic = vsock_le32(BVPCAP_MAGIC_USEC),
		.version_major = vsock_le16(2),
		.version_minor = vsock_le16(4),
		.snaplen = vsock_le32(snaplen),
		.linktype = vsock_le32(BVPCAP_LINKTYPE_VSOCK),
	};
	memcpy(p->buf, &fh, sizeof(fh));
	p->used = sizeof(fh);
	if (bvpcap_flush(p) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(p->err));
		bvpcap_close(p);
		return -1;
	}
	p->bytes = sizeof(fh);
	return 0;
}

/* Append src to the buffer, at most *room bytes of it. */
static void put(struct bvpcap *p, const void *src, uint32_t n, uint32_t *room)
{
	if (n > *room)
		n = *room;
	memcpy(p->buf + p->used, src, n);
	p->used += n;
	*room -= n;
}

void bvpcap_packet_at(struct bvpcap *p, const struct timespec *ts, const struct vsock_hdr *hdr,
		      const void *payload, uint32_t payload_len)
{
	if (!p->buf)
		return;
	if (p->err) {
		p->lost++;
		return;
	}
	if (payload_len > VSOCK_MAX_PKT_PAYLOAD)
		payload_len = VSOCK_MAX_PKT_PAYLOAD;   /* no ring carries more; keeps a record < BUF_CAP */
	uint32_t orig = (uint32_t)BVPCAP_FRAME_HDRS + payload_len;
	uint32_t incl = orig < p->snaplen ? orig : p->snaplen;
	if (p->used + sizeof(struct bvpcap_rec_hdr) + incl > p->cap && bvpcap_flush(p) < 0) {
		p->lost++;
		return;
	}
	struct bvpcap_rec_hdr rh = {
		.ts_sec = vsock_le32((uint32_t)ts->tv_sec),
		.ts_usec = vsock_le32((uint32_t)(ts->tv_nsec / 1000)),
		.incl_len = vsock_le32(incl),
		.orig_len = vsock_le32(orig),
	};
	/* The monitor header repeats the addresses exactly as the virtio header
	 * carries them (le64/le32 on both sides), as vsockmon does. */
	struct bvpcap_mon_hdr mh = {
		.src_cid = hdr->src_cid,
		.dst_cid = hdr->dst_cid,
		.src_port = hdr->src_port,
		.dst_port = hdr->dst_port,
		.op = vsock_le16(bvpcap_mon_op(vsock_le16(hdr->op))),
		.transport = vsock_le16(BVPCAP_TRANSPORT_VIRTIO),
		.len = vsock_le16(VSOCK_HDR_SIZE),
	};
	uint32_t room = UINT32_MAX;
	put(p, &rh, sizeof(rh), &room);
	room = incl;
	put(p, &mh, sizeof(mh), &room);
	put(p, hdr, VSOCK_HDR_SIZE, &room);
	if (payload_len)
		put(p, payload, payload_len, &room);
	p->pkts++;
	p->bytes += sizeof(rh) + incl;
}

void bvpcap_packet(struct bvpcap *p, const struct vsock_hdr *hdr, const void *payload, uint32_t payload_len)
{
	if (!p->buf)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	bvpcap_packet_at(p, &ts, hdr, payload, payload_len);
}

void bvpcap_tick(struct bvpcap *p, uint64_t now_ms)
{
	if (p->buf && p->used && now_ms - p->last_flush_ms >= BVPCAP_FLUSH_MS)
		bvpcap_flush(p);
}

int bvpcap_close(struct bvpcap *p)
{
	if (!p->buf)
		return 0;
	bvpcap_flush(p);
	int rc = p->err || p->lost ? -1 : 0;
	if (p->fd >= 0)
		close(p->fd);
	free(p->buf);
	p->buf = NULL;
	p->fd = -1;
	p->used = 0;
	return rc;
}
