/* SPDX-License-Identifier: BSD-2-Clause */
/* The raw-packet host: a test client on a control socket plays the host at
 * the packet level (see raw.h for the protocol). Nothing here interprets a
 * vsock packet beyond what a capture needs: the test decides every byte, and
 * hears every TX chain. The guest's rings are still checked (a bad chain is
 * reported, never followed). TRANSPORT_RESET is written into the event
 * queue's posted buffer by us, because QEMU owns that queue and only posts
 * the event after a migration, which vhost-user-vsock refuses. Non-goals:
 * protocol logic, several clients, more than one PUT in flight. */
#define _GNU_SOURCE
#include "host/raw.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LOG(...) fprintf(stderr, "bv-vhost-vsock: raw: " __VA_ARGS__)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void) { return now_ns() / 1000000u; }

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void drop_client(struct raw_host *r, const char *why)
{
	if (r->cli_fd < 0)
		return;
	LOG("control client gone (%s)\n", why);
	close(r->cli_fd);
	r->cli_fd = -1;
	r->in_len = 0;
	free(r->put);
	free(r->put_report);
	r->put = r->put_report = NULL;
	r->cid_wait = false;
}

/* One frame to the client; a client that cannot take it within the socket's
 * send timeout is dropped rather than stalling the guest's rings. */
static void emit(struct raw_host *r, uint32_t kind, uint32_t seq, uint64_t t, const void *a, uint32_t alen,
		 const void *b, uint32_t blen)
{
	if (r->cli_fd < 0)
		return;
	uint8_t h[20];
	put32(h, 16 + alen + blen);
	put32(h + 4, kind);
	put32(h + 8, seq);
	memcpy(h + 12, &t, 8);
	struct iovec iov[3] = { { h, sizeof(h) }, { (void *)a, alen }, { (void *)b, blen } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };
	size_t want = sizeof(h) + alen + blen;
	ssize_t n = sendmsg(r->cli_fd, &mh, MSG_NOSIGNAL);
	if (n != (ssize_t)want)
		drop_client(r, n < 0 ? strerror(errno) : "short write");
}

static void reply_ok(struct raw_host *r, uint32_t seq) { emit(r, RAW_E_OK, seq, now_ns(), NULL, 0, NULL, 0); }

static void reply_err(struct raw_host *r, uint32_t seq, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reply_err(struct raw_host *r, uint32_t seq, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	emit(r, RAW_E_ERROR, seq, now_ns(), msg, (uint32_t)n, NULL, 0);
}

/* A capture record for a packet as it was on the ring: the first 44 bytes are
 * the header (zero-filled when the packet is shorter), the rest its payload. */
static void capture(struct raw_host *r, const uint8_t *b, uint32_t n)
{
	struct vsock_hdr h;
	memset(&h, 0, sizeof(h));
	memcpy(&h, b, n < VSOCK_HDR_SIZE ? n : VSOCK_HDR_SIZE);
	const uint8_t *payload = n > VSOCK_HDR_SIZE ? b + VSOCK_HDR_SIZE : NULL;
	uint32_t plen = n > VSOCK_HDR_SIZE ? n - VSOCK_HDR_SIZE : 0;
	bvpcap_packet(&r->cap, &h, payload, plen);
	if (r->all)
		bvpcap_packet(r->all, &h, payload, plen);
}

static struct vr_queue *ready_q(struct raw_host *r, int i)
{
	return vhu_vq_ready(r->dev, i) ? &r->dev->vq[i].q : NULL;
}

static void signal_call(struct raw_host *r, int i)
{
	struct vhu_vq *v = &r->dev->vq[i];
	if (v->ready && v->call_fd >= 0)
		eventfd_write(v->call_fd, 1);
}

/* ------------------------------------------------------------ TX ring --- */

static void tx_drain(struct raw_host *r)
{
	struct vr_queue *q = ready_q(r, VSOCK_VQ_TX);
	if (!q || r->tx_hold)
		return;
	for (;;) {
		int st = vr_pop(q, &r->dev->mem, false, 0, &r->chain);
		if (st == VR_EMPTY)
			break;
		uint8_t meta[8];
		if (st == VR_EBROKEN) {
			memset(meta, 0, sizeof(meta));
			meta[2] = VR_EBROKEN;
			emit(r, RAW_E_TX, 0, now_ns(), meta, sizeof(meta), NULL, 0);
			LOG("the guest corrupted its TX ring; it is no longer served\n");
			break;
		}
		uint64_t t = now_ns();
		uint32_t n = 0;
		if (st == VR_OK) {
			n = r->chain.total < sizeof(r->pkt) ? r->chain.total : (uint32_t)sizeof(r->pkt);
			vr_chain_read(&r->chain, 0, r->pkt, n);
			if (n >= VSOCK_HDR_SIZE) {
				uint32_t hl = get32(r->pkt + 24);
				uint32_t carried = n - VSOCK_HDR_SIZE;
				capture(r, r->pkt, VSOCK_HDR_SIZE + (hl < carried ? hl : carried));
			} else {
				capture(r, r->pkt, n);
			}
		}
		uint16_t head = r->chain.head, status = (uint16_t)st;
		memcpy(meta, &head, 2);
		memcpy(meta + 2, &status, 2);
		put32(meta + 4, r->chain.total);
		emit(r, RAW_E_TX, 0, t, meta, sizeof(meta), r->pkt, n);
		vr_push(q, head, 0);
	}
	if (vr_should_notify(q))
		signal_call(r, VSOCK_VQ_TX);
}

/* ------------------------------------------------------- event queue --- */

static void evq_forget(struct raw_host *r)
{
	r->evq_set = false;
	memset(&r->evq, 0, sizeof(r->evq));
}

static int evq_attach(struct raw_host *r, const uint64_t gpa[3], uint32_t num, char *err, size_t errlen)
{
	if (!num || num > VR_MAX_QUEUE || (num & (num - 1))) {
		snprintf(err, errlen, "event queue size %u is not a power of 2 in 1..%u", num, VR_MAX_QUEUE);
		return -1;
	}
	void *desc = vr_gpa(&r->dev->mem, gpa[0], 16ull * num);
	void *avail = vr_gpa(&r->dev->mem, gpa[1], 6ull + 2ull * num);
	void *used = vr_gpa(&r->dev->mem, gpa[2], 6ull + 8ull * num);
	if (!desc || !avail || !used) {
		snprintf(err, errlen, "event queue rings are not in guest memory (is the guest up?)");
		return -1;
	}
	/* QEMU never completed an event buffer: the driver's used index is ours to continue. */
	uint16_t used_idx = ((volatile struct vr_used *)used)->idx;
	vr_init(&r->evq, (uint16_t)num, desc, avail, used, used_idx);
	memcpy(r->evq_gpa, gpa, sizeof(r->evq_gpa));
	r->evq_num = num;
	r->evq_set = true;
	return 0;
}

/* Complete one posted event buffer with TRANSPORT_RESET. */
static int evq_reset_event(struct raw_host *r, char *err, size_t errlen)
{
	if (!r->evq_set) {
		snprintf(err, errlen, "the event queue is not known: send EVQ first");
		return -1;
	}
	/* The memory table may have been replaced since EVQ: translate again. */
	uint32_t num = r->evq_num;
	r->evq.desc = vr_gpa(&r->dev->mem, r->evq_gpa[0], 16ull * num);
	r->evq.avail = vr_gpa(&r->dev->mem, r->evq_gpa[1], 6ull + 2ull * num);
	r->evq.used = vr_gpa(&r->dev->mem, r->evq_gpa[2], 6ull + 8ull * num);
	if (!r->evq.desc || !r->evq.avail || !r->evq.used) {
		evq_forget(r);
		snprintf(err, errlen, "the event queue is no longer in guest memory: send EVQ again");
		return -1;
	}
	for (;;) {
		int st = vr_pop(&r->evq, &r->dev->mem, true, 0, &r->chain);
		if (st == VR_EMPTY || st == VR_EBROKEN) {
			snprintf(err, errlen, "the guest has no event buffer posted (%s)", vr_strstatus(st));
			return -1;
		}
		if (st == VR_OK && r->chain.total >= sizeof(struct vsock_event)) {
			struct vsock_event ev = { .id = vsock_le32(VSOCK_EVENT_TRANSPORT_RESET) };
			vr_chain_write(&r->chain, 0, &ev, sizeof(ev));
			vr_push(&r->evq, r->chain.head, sizeof(ev));
			return 0;
		}
		LOG("event buffer %u unusable (%s); returned empty\n", r->chain.head,
		    st == VR_OK ? "shorter than an event" : vr_strstatus(st));
		vr_push(&r->evq, r->chain.head, 0);
	}
}

/* ---------------------------------------------------------------- PUT --- */

static uint32_t rx_avail(struct vr_queue *q)
{
	return (uint16_t)(q->avail->idx - q->last_avail);
}

/* Pop the next RX chain the guest posted; unusable ones go back empty. */
static int rx_pop(struct raw_host *r, struct vr_queue *q)
{
	for (;;) {
		int st = vr_pop(q, &r->dev->mem, true, 0, &r->chain);
		if (st == VR_OK)
			return 0;
		if (st == VR_EMPTY || st == VR_EBROKEN)
			return -1;
		LOG("RX chain %u unusable (%s); returned empty\n", r->chain.head, vr_strstatus(st));
		vr_push(q, r->chain.head, 0);
	}
}

/* The next entry of the PUT into the chain just popped; its used entry is
 * written but not published. */
static void put_entry(struct raw_host *r, struct vr_queue *q)
{
	const uint8_t *e = r->put + r->put_off;
	uint32_t used = get32(e), n = get32(e + 4);
	const uint8_t *bytes = e + 8;
	uint32_t written = n < r->chain.total ? n : r->chain.total;
	vr_chain_write(&r->chain, 0, bytes, written);
	if (used == RAW_USED_AUTO)
		used = written;
	vr_push_deferred(q, r->chain.head, used);
	capture(r, bytes, written);
	uint8_t *rep = r->put_report + 12u * r->put_done;
	put32(rep, r->chain.total);
	put32(rep + 4, written);
	put32(rep + 8, used);
	r->put_off += 8 + n;
	r->put_done++;
}

static void put_finish(struct raw_host *r, uint64_t t)
{
	uint8_t cnt[4];
	put32(cnt, r->put_count);
	emit(r, RAW_E_PUT_DONE, r->put_seq, t, cnt, 4, r->put_report, 12u * r->put_count);
	free(r->put);
	free(r->put_report);
	r->put = r->put_report = NULL;
}

/* Deliver as much of the waiting PUT as the posted buffers allow. */
static void put_progress(struct raw_host *r)
{
	if (!r->put)
		return;
	struct vr_queue *q = ready_q(r, VSOCK_VQ_RX);
	if (!q)
		return;
	uint32_t left = r->put_count - r->put_done;
	bool batch = r->put_flags & RAW_PUT_BATCH;
	if (left && (batch ? rx_avail(q) < left : rx_avail(q) == 0))
		return;
	bool evented = false;
	if ((r->put_flags & RAW_PUT_RESET_FIRST) && r->put_done == 0) {
		char err[160];
		if (evq_reset_event(r, err, sizeof(err)) < 0) {
			reply_err(r, r->put_seq, "PUT: %s", err);
			free(r->put);
			free(r->put_report);
			r->put = r->put_report = NULL;
			return;
		}
		evented = true;
	}
	while (r->put_done < r->put_count && rx_pop(r, q) == 0) {
		put_entry(r, q);
		if (!batch)
			vr_publish(q);
	}
	vr_publish(q);
	uint64_t t = now_ns();
	bool rx_wants = vr_should_notify(q);
	bool ev_wants = evented && !(r->evq.avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
	/* A Linux guest shares one MSI-X vector among its vsock queues, so the RX
	 * call eventfd also makes it look at the event queue. */
	if (!(r->put_flags & RAW_PUT_NO_NOTIFY) && (rx_wants || ev_wants))
		signal_call(r, VSOCK_VQ_RX);
	if (r->put_done == r->put_count)
		put_finish(r, t);
}

static void cmd_put(struct raw_host *r, uint32_t seq, const uint8_t *b, uint32_t n)
{
	if (r->put) {
		reply_err(r, seq, "PUT: another PUT is still waiting for RX buffers");
		return;
	}
	if (n < 8) {
		reply_err(r, seq, "PUT: body too short");
		return;
	}
	uint32_t flags = get32(b), count = get32(b + 4);
	uint32_t off = 8;
	for (uint32_t i = 0; i < count; i++) {
		if (n - off < 8 || get32(b + off + 4) > n - off - 8) {
			reply_err(r, seq, "PUT: entry %u runs past the frame", i);
			return;
		}
		off += 8 + get32(b + off + 4);
	}
	if (off != n || count > VR_MAX_QUEUE * 64u) {
		reply_err(r, seq, "PUT: %u bytes after the last entry (or too many entries)", n - off);
		return;
	}
	if ((flags & RAW_PUT_BATCH) && ready_q(r, VSOCK_VQ_RX) && count > r->dev->vq[VSOCK_VQ_RX].q.num) {
		reply_err(r, seq, "PUT: a batch of %u cannot fit a ring of %u", count, r->dev->vq[VSOCK_VQ_RX].q.num);
		return;
	}
	r->put = malloc(n);
	r->put_report = malloc(12u * count + 1);
	if (!r->put || !r->put_report) {
		free(r->put);
		free(r->put_report);
		r->put = r->put_report = NULL;
		reply_err(r, seq, "PUT: out of memory");
		return;
	}
	memcpy(r->put, b, n);
	r->put_len = n;
	r->put_seq = seq;
	r->put_flags = flags;
	r->put_count = count;
	r->put_done = 0;
	r->put_off = 8;
	r->put_deadline = now_ms() + RAW_WAIT_MS;
	put_progress(r);
}

/* ----------------------------------------------------------- commands --- */

static void cmd_rxinfo(struct raw_host *r, uint32_t seq)
{
	uint8_t b[32] = { 0 };
	struct vr_queue *q = ready_q(r, VSOCK_VQ_RX);
	if (q) {
		put32(b, 1);
		put32(b + 4, rx_avail(q));
		if (vr_pop(q, &r->dev->mem, true, 0, &r->chain) == VR_OK) {
			put32(b + 8, r->chain.total);
			vr_unpop(q);
		} else if (rx_avail(q)) {
			/* a bad chain was popped: it cannot be put back unread, return it empty */
			vr_push(q, r->chain.head, 0);
		}
	}
	put32(b + 12, ready_q(r, VSOCK_VQ_TX) != NULL);
	memcpy(b + 16, &r->dev->guest_cid, 8);
	memcpy(b + 24, &r->dev->features, 8);
	emit(r, RAW_E_RXINFO, seq, now_ns(), b, sizeof(b), NULL, 0);
}

static void command(struct raw_host *r, const uint8_t *f, uint32_t n)
{
	if (n < 8) {
		reply_err(r, 0, "frame of %u bytes has no command", n);
		return;
	}
	uint32_t cmd = get32(f), seq = get32(f + 4);
	const uint8_t *b = f + 8;
	uint32_t bn = n - 8;
	char err[200];
	switch (cmd) {
	case RAW_C_PUT:
		cmd_put(r, seq, b, bn);
		break;
	case RAW_C_EVQ: {
		if (bn != 28) {
			reply_err(r, seq, "EVQ: body must be 28 bytes");
			break;
		}
		uint64_t gpa[3] = { get64(b), get64(b + 8), get64(b + 16) };
		if (evq_attach(r, gpa, get32(b + 24), err, sizeof(err)) < 0)
			reply_err(r, seq, "EVQ: %s", err);
		else
			reply_ok(r, seq);
		break;
	}
	case RAW_C_SET_CID: {
		if (bn != 8) {
			reply_err(r, seq, "SET_CID: body must be 8 bytes");
			break;
		}
		if (r->cid_wait) {
			reply_err(r, seq, "SET_CID: the previous change is still being read");
			break;
		}
		r->dev->guest_cid = get64(b);
		r->cid_reads = r->dev->config_reads;
		if (vhu_config_changed(r->dev) < 0) {
			reply_err(r, seq, "SET_CID: QEMU gave no back-end channel (or it broke); GET_CONFIG "
				  "answers the new CID but the guest was not told");
			break;
		}
		r->cid_wait = true;
		r->cid_seq = seq;
		r->cid_deadline = now_ms() + RAW_WAIT_MS;
		break;
	}
	case RAW_C_CAPTURE:
		bvpcap_close(&r->cap);
		if (bn) {
			char path[512];
			if (bn >= sizeof(path)) {
				reply_err(r, seq, "CAPTURE: path too long");
				break;
			}
			memcpy(path, b, bn);
			path[bn] = 0;
			if (bvpcap_open(&r->cap, path, BVPCAP_DEFAULT_SNAPLEN, err, sizeof(err)) < 0) {
				reply_err(r, seq, "CAPTURE: %s", err);
				break;
			}
		}
		reply_ok(r, seq);
		break;
	case RAW_C_TX:
		if (bn != 4) {
			reply_err(r, seq, "TX: body must be 4 bytes");
			break;
		}
		r->tx_hold = get32(b) != 0;
		reply_ok(r, seq);
		tx_drain(r);
		break;
	case RAW_C_RXINFO:
		cmd_rxinfo(r, seq);
		break;
	case RAW_C_NOTIFY:
		signal_call(r, VSOCK_VQ_RX);
		signal_call(r, VSOCK_VQ_TX);
		reply_ok(r, seq);
		break;
	default:
		reply_err(r, seq, "unknown command %u", cmd);
	}
}

static void client_read(struct raw_host *r)
{
	for (;;) {
		if (r->in_cap - r->in_len < 65536) {
			uint32_t cap = r->in_cap ? r->in_cap * 2 : 262144;
			uint8_t *p = cap <= RAW_MAX_FRAME + 8 ? realloc(r->in, cap) : NULL;
			if (!p) {
				drop_client(r, "frame too large");
				return;
			}
			r->in = p;
			r->in_cap = cap;
		}
		ssize_t n = recv(r->cli_fd, r->in + r->in_len, r->in_cap - r->in_len, MSG_DONTWAIT);
		if (n == 0) {
			drop_client(r, "EOF");
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				drop_client(r, strerror(errno));
			break;
		}
		r->in_len += (uint32_t)n;
	}
	uint32_t off = 0;
	while (r->cli_fd >= 0 && r->in_len - off >= 4) {
		uint32_t len = get32(r->in + off);
		if (len > RAW_MAX_FRAME) {
			drop_client(r, "frame too large");
			return;
		}
		if (r->in_len - off - 4 < len)
			break;
		command(r, r->in + off + 4, len);
		off += 4 + len;
	}
	if (r->cli_fd >= 0 && off) {
		memmove(r->in, r->in + off, r->in_len - off);
		r->in_len -= off;
	}
}

/* ------------------------------------------------------------- public --- */

int raw_init(struct raw_host *r, struct vhu_dev *dev, int epfd, const char *path, uint64_t listen_tag,
	     uint64_t cli_tag, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->dev = dev;
	r->epfd = epfd;
	r->cli_fd = -1;
	r->path = path;
	r->listen_tag = listen_tag;
	r->cli_tag = cli_tag;
	dev->offer_backend_req = true;   /* SET_CID needs the back-end channel */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path is longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	strcpy(sa.sun_path, path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; pick another path", path);
			return -1;
		}
		unlink(path);
	}
	r->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(r->listen_fd, 4) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		return -1;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = listen_tag };
	epoll_ctl(epfd, EPOLL_CTL_ADD, r->listen_fd, &ev);
	return 0;
}

void raw_fini(struct raw_host *r)
{
	drop_client(r, "exiting");
	bvpcap_close(&r->cap);
	if (r->listen_fd >= 0) {
		close(r->listen_fd);
		unlink(r->path);
	}
	free(r->in);
}

void raw_event(struct raw_host *r, uint64_t tag)
{
	if (tag == r->listen_tag) {
		int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (r->cli_fd >= 0) {
			LOG("a second control client was refused (one at a time)\n");
			close(fd);
			return;
		}
		struct timeval tv = { .tv_sec = 5 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		r->cli_fd = fd;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = r->cli_tag };
		epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev);
		/* tell the new client where the device stands */
		uint8_t up[4];
		put32(up, r->up);
		emit(r, RAW_E_DEVICE, 0, now_ns(), up, 4, NULL, 0);
		return;
	}
	if (tag == r->cli_tag && r->cli_fd >= 0)
		client_read(r);
}

void raw_pump(struct raw_host *r)
{
	bool up = ready_q(r, VSOCK_VQ_RX) && ready_q(r, VSOCK_VQ_TX);
	if (up != r->up) {
		r->up = up;
		uint8_t b[4];
		put32(b, up);
		emit(r, RAW_E_DEVICE, 0, now_ns(), b, 4, NULL, 0);
	}
	tx_drain(r);
	put_progress(r);
	uint64_t ms = now_ms();
	if (r->put && ms > r->put_deadline) {
		reply_err(r, r->put_seq, "PUT: delivered %u of %u packets in %u ms: the guest posted no more RX "
			  "buffers%s", r->put_done, r->put_count, RAW_WAIT_MS,
			  (r->put_flags & RAW_PUT_BATCH) ? " (a batch needs them all at once)" : "");
		free(r->put);
		free(r->put_report);
		r->put = r->put_report = NULL;
	}
	if (r->cid_wait && r->dev->config_reads != r->cid_reads) {
		r->cid_wait = false;
		reply_ok(r, r->cid_seq);
	} else if (r->cid_wait && ms > r->cid_deadline) {
		r->cid_wait = false;
		reply_err(r, r->cid_seq, "SET_CID: QEMU did not re-read the config within %u ms", RAW_WAIT_MS);
	}
	bvpcap_tick(&r->cap, ms);
}

void raw_device_reset(struct raw_host *r)
{
	evq_forget(r);
	if (r->put) {
		reply_err(r, r->put_seq, "PUT: the device was reset after %u of %u packets", r->put_done,
			  r->put_count);
		free(r->put);
		free(r->put_report);
		r->put = r->put_report = NULL;
	}
	raw_pump(r);   /* reports the rings going down */
}
