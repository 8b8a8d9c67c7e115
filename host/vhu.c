/* SPDX-License-Identifier: BSD-2-Clause */
/* vhost-user message handling for the vsock back end. Every field QEMU sends
 * is checked (sizes, indices, ring sizes, memory regions) before it changes
 * state; the framing itself (recvmsg with SCM_RIGHTS) lives in the event loop.
 * Non-goals: migration/dirty logging, multiqueue, inflight fds, backend channel. */
#define _GNU_SOURCE
#include "host/vhu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vsock/vsock_wire.h"

uint64_t vhu_offered_features(const struct vhu_dev *d)
{
	return (1ull << VHU_F_VERSION_1) | (1ull << VHU_F_PROTOCOL_FEATURES) | d->vsock_features |
	       (d->no_event_idx ? 0 : 1ull << VRING_F_EVENT_IDX);
}

uint64_t vhu_offered_protocol_features(const struct vhu_dev *d)
{
	return (1ull << VHU_PF_CONFIG) | (1ull << VHU_PF_REPLY_ACK) |
	       (d->offer_backend_req ? 1ull << VHU_PF_BACKEND_REQ : 0);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void unmap_all(struct vhu_dev *d)
{
	for (unsigned i = 0; i < VR_MAX_REGIONS; i++) {
		if (d->map_base[i])
			munmap(d->map_base[i], d->map_len[i]);
		d->map_base[i] = NULL;
		d->map_len[i] = 0;
	}
	memset(&d->mem, 0, sizeof(d->mem));
}

void vhu_dev_init(struct vhu_dev *d, uint64_t guest_cid, uint32_t max_queue_size)
{
	memset(d, 0, sizeof(*d));
	d->guest_cid = guest_cid;
	d->max_queue_size = max_queue_size;
	d->vsock_features = VHU_DEFAULT_VSOCK_FEATURES;
	d->backend_fd = -1;
	for (int i = 0; i < VHU_NUM_QUEUES; i++)
		d->vq[i].kick_fd = d->vq[i].call_fd = d->vq[i].err_fd = -1;
}

static void vq_clear(struct vhu_dev *d, int i)
{
	struct vhu_vq *v = &d->vq[i];
	if (v->kick_fd >= 0)
		d->kick_changed |= 1u << i;
	close_fd(&v->kick_fd);
	close_fd(&v->call_fd);
	close_fd(&v->err_fd);
	memset(v, 0, sizeof(*v));
	v->kick_fd = v->call_fd = v->err_fd = -1;
}

void vhu_dev_reset(struct vhu_dev *d)
{
	for (int i = 0; i < VHU_NUM_QUEUES; i++)
		vq_clear(d, i);
	unmap_all(d);
	close_fd(&d->backend_fd);
	d->features = d->protocol_features = 0;
	d->owner = false;
	d->rings_stopped = true;
	d->rings_changed = true;
}

static int fail(struct vhu_dev *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	return -1;
}

bool vhu_vq_ready(const struct vhu_dev *d, int i)
{
	return d->vq[i].ready && !d->vq[i].q.broken;
}

/* Recompute whether queue i can run, translating its ring addresses through
 * the current memory table. Keeps ring progress across a table change. */
static void vq_prepare(struct vhu_dev *d, int i)
{
	struct vhu_vq *v = &d->vq[i];
	bool enabled = v->enabled || !(d->features & (1ull << VHU_F_PROTOCOL_FEATURES));
	if (!v->num || !v->addr_set || !d->mem.n || !v->started || !enabled) {
		if (v->ready)
			v->base = v->q.last_avail;
		v->ready = false;
		return;
	}
	void *desc = vr_uva(&d->mem, v->addr.desc, 16ull * v->num);
	/* with room for used_event / avail_event after the rings */
	void *avail = vr_uva(&d->mem, v->addr.avail, 6ull + 2ull * v->num);
	void *used = vr_uva(&d->mem, v->addr.used, 6ull + 8ull * v->num);
	if (!desc || !avail || !used || (v->addr.desc & 15) || (v->addr.avail & 1) || (v->addr.used & 3)) {
		if (v->ready)
			v->base = v->q.last_avail;
		v->ready = false;
		fprintf(stderr, "bv-vhost-vsock: queue %d: ring addresses are not in the memory table "
			"or misaligned; queue stays stopped\n", i);
		return;
	}
	if (v->ready) {
		v->q.desc = desc;
		v->q.avail = avail;
		v->q.used = used;
	} else {
		vr_init(&v->q, (uint16_t)v->num, desc, avail, used, v->base);
		v->ready = true;
	}
	v->q.event_idx = (d->features >> VRING_F_EVENT_IDX) & 1;
	d->rings_changed = true;
}

static void prepare_all(struct vhu_dev *d)
{
	for (int i = 0; i < VHU_NUM_QUEUES; i++)
		vq_prepare(d, i);
}

static int set_mem_table(struct vhu_dev *d, const struct vhu_msg *m, int *fds, int nfds)
{
	const struct vhu_memory *mt = &m->u.mem;
	if (m->hdr.size < 8)
		return fail(d, "SET_MEM_TABLE: payload of %u bytes is too short", m->hdr.size);
	uint32_t n = mt->nregions;
	if (n == 0 || n > VR_MAX_REGIONS)
		return fail(d, "SET_MEM_TABLE: %u regions (1..%d allowed)", n, VR_MAX_REGIONS);
	if (m->hdr.size != 8 + n * sizeof(struct vhu_region))
		return fail(d, "SET_MEM_TABLE: size %u does not match %u regions", m->hdr.size, n);
	if ((uint32_t)nfds != n)
		return fail(d, "SET_MEM_TABLE: %d fds for %u regions", nfds, n);
	struct vr_mem mem = { .n = n };
	void *base[VR_MAX_REGIONS] = { 0 };
	uint64_t len[VR_MAX_REGIONS] = { 0 };
	for (uint32_t i = 0; i < n; i++) {
		const struct vhu_region *r = &mt->r[i];
		if (!r->size || r->size > (1ull << 48) || r->mmap_offset > (1ull << 48) ||
		    r->gpa + r->size < r->gpa || r->uva + r->size < r->uva) {
			for (uint32_t k = 0; k < i; k++)
				munmap(base[k], len[k]);
			return fail(d, "SET_MEM_TABLE: region %u has a bad size/offset", i);
		}
		len[i] = r->size + r->mmap_offset;
		/* Pages of a mapping past the end of its file raise SIGBUS when
		 * touched: a table larger than the file it names is refused here. */
		struct stat sb;
		if (fstat(fds[i], &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size < len[i]) {
			for (uint32_t k = 0; k < i; k++)
				munmap(base[k], len[k]);
			return fail(d, "SET_MEM_TABLE: region %u needs %llu bytes of a %llu-byte file", i,
				    (unsigned long long)len[i], (unsigned long long)sb.st_size);
		}
		base[i] = mmap(NULL, len[i], PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		if (base[i] == MAP_FAILED) {
			int e = errno;
			for (uint32_t k = 0; k < i; k++)
				munmap(base[k], len[k]);
			return fail(d, "SET_MEM_TABLE: mmap of region %u (%llu bytes) failed: %s "
				    "(is guest RAM a memory-backend-memfd with share=on?)",
				    i, (unsigned long long)len[i], strerror(e));
		}
		mem.r[i].gpa = r->gpa;
		mem.r[i].uva = r->uva;
		mem.r[i].size = r->size;
		mem.r[i].hva = (uint8_t *)base[i] + r->mmap_offset;
	}
	unmap_all(d);
	d->mem = mem;
	memcpy(d->map_base, base, sizeof(base));
	memcpy(d->map_len, len, sizeof(len));
	prepare_all(d);
	return 0;
}

/* Index and fd of SET_VRING_KICK/CALL/ERR. */
static int vring_fd_msg(struct vhu_dev *d, const struct vhu_msg *m, int *fds, int nfds, int **slot,
			int *idx)
{
	if (m->hdr.size != 8)
		return fail(d, "request %u: payload must be 8 bytes, got %u", m->hdr.request, m->hdr.size);
	uint64_t v = m->u.u64;
	if (v & ~(uint64_t)(VHU_VRING_IDX_MASK | VHU_VRING_NOFD))
		return fail(d, "request %u: unknown bits in 0x%llx", m->hdr.request, (unsigned long long)v);
	*idx = (int)(v & VHU_VRING_IDX_MASK);
	if (*idx >= VHU_NUM_QUEUES)
		return fail(d, "request %u: queue %d does not exist", m->hdr.request, *idx);
	bool nofd = v & VHU_VRING_NOFD;
	if (nofd ? nfds != 0 : nfds != 1)
		return fail(d, "request %u: %d fds with nofd=%d", m->hdr.request, nfds, nofd);
	struct vhu_vq *q = &d->vq[*idx];
	*slot = m->hdr.request == VHU_SET_VRING_KICK ? &q->kick_fd :
		m->hdr.request == VHU_SET_VRING_CALL ? &q->call_fd : &q->err_fd;
	close_fd(*slot);
	if (!nofd) {
		**slot = fds[0];
		fds[0] = -1;
	}
	return 0;
}

static int expect_size(struct vhu_dev *d, const struct vhu_msg *m, uint32_t size)
{
	if (m->hdr.size != size)
		return fail(d, "request %u: payload must be %u bytes, got %u", m->hdr.request, size, m->hdr.size);
	return 0;
}

static int state_index(struct vhu_dev *d, const struct vhu_msg *m)
{
	if (expect_size(d, m, sizeof(struct vhu_state)) < 0)
		return -1;
	if (m->u.state.index >= VHU_NUM_QUEUES)
		return fail(d, "request %u: queue %u does not exist", m->hdr.request, m->u.state.index);
	return (int)m->u.state.index;
}

static void reply_u64(struct vhu_msg *reply, uint32_t req, uint64_t v)
{
	reply->hdr.request = req;
	reply->hdr.flags = VHU_VERSION | VHU_FLAG_REPLY;
	reply->hdr.size = 8;
	reply->u.u64 = v;
}

static int dispatch(struct vhu_dev *d, const struct vhu_msg *m, int *fds, int nfds, struct vhu_msg *reply)
{
	int i, *slot;
	switch (m->hdr.request) {
	case VHU_GET_FEATURES:
		if (m->hdr.size != 0 && m->hdr.size != 8)
			return fail(d, "request %u: payload must be 0 or 8 bytes, got %u", m->hdr.request, m->hdr.size);
		reply_u64(reply, m->hdr.request, vhu_offered_features(d));
		return 1;
	case VHU_SET_FEATURES:
		if (expect_size(d, m, 8) < 0)
			return -1;
		if (m->u.u64 & ~vhu_offered_features(d))
			return fail(d, "SET_FEATURES: 0x%llx has bits we did not offer (0x%llx)",
				    (unsigned long long)m->u.u64, (unsigned long long)vhu_offered_features(d));
		d->features = m->u.u64;
		prepare_all(d);
		return 0;
	case VHU_GET_PROTOCOL_FEATURES:
		if (m->hdr.size != 0 && m->hdr.size != 8)
			return fail(d, "request %u: payload must be 0 or 8 bytes, got %u", m->hdr.request, m->hdr.size);
		reply_u64(reply, m->hdr.request, vhu_offered_protocol_features(d));
		return 1;
	case VHU_SET_PROTOCOL_FEATURES:
		if (expect_size(d, m, 8) < 0)
			return -1;
		if (m->u.u64 & ~vhu_offered_protocol_features(d))
			return fail(d, "SET_PROTOCOL_FEATURES: 0x%llx has bits we did not offer",
				    (unsigned long long)m->u.u64);
		d->protocol_features = m->u.u64;
		return 0;
	case VHU_SET_OWNER:
		if (expect_size(d, m, 0) < 0)
			return -1;
		d->owner = true;
		return 0;
	case VHU_RESET_OWNER:
	case VHU_RESET_DEVICE: {
		uint64_t cid = d->guest_cid;
		uint32_t mqs = d->max_queue_size;
		vhu_dev_reset(d);
		d->guest_cid = cid;
		d->max_queue_size = mqs;
		return 0;
	}
	case VHU_GET_QUEUE_NUM:
		reply_u64(reply, m->hdr.request, VHU_NUM_QUEUES);
		return 1;
	case VHU_SET_MEM_TABLE:
		return set_mem_table(d, m, fds, nfds);
	case VHU_SET_VRING_NUM:
		if ((i = state_index(d, m)) < 0)
			return -1;
		if (!m->u.state.num || m->u.state.num > d->max_queue_size ||
		    (m->u.state.num & (m->u.state.num - 1)))
			return fail(d, "SET_VRING_NUM: size %u is not a power of 2 in 1..%u (raise --queue-size?)",
				    m->u.state.num, d->max_queue_size);
		if (d->vq[i].ready)
			return fail(d, "SET_VRING_NUM: queue %d is running", i);
		d->vq[i].num = m->u.state.num;
		vq_prepare(d, i);
		return 0;
	case VHU_SET_VRING_BASE:
		if ((i = state_index(d, m)) < 0)
			return -1;
		if (m->u.state.num > 0xffff)
			return fail(d, "SET_VRING_BASE: %u does not fit a 16-bit index", m->u.state.num);
		if (d->vq[i].ready)
			return fail(d, "SET_VRING_BASE: queue %d is running", i);
		d->vq[i].base = (uint16_t)m->u.state.num;
		return 0;
	case VHU_SET_VRING_ADDR:
		if (expect_size(d, m, sizeof(struct vhu_addr)) < 0)
			return -1;
		if (m->u.addr.index >= VHU_NUM_QUEUES)
			return fail(d, "SET_VRING_ADDR: queue %u does not exist", m->u.addr.index);
		i = (int)m->u.addr.index;
		d->vq[i].addr = m->u.addr;
		d->vq[i].addr_set = true;
		vq_prepare(d, i);
		return 0;
	case VHU_GET_VRING_BASE: {
		if ((i = state_index(d, m)) < 0)
			return -1;
		struct vhu_vq *v = &d->vq[i];
		if (v->ready)
			v->base = v->q.last_avail;
		v->ready = false;
		v->started = false;
		d->kick_changed |= 1u << i;
		close_fd(&v->kick_fd);
		d->rings_stopped = true;
		d->rings_changed = true;
		reply->hdr.request = m->hdr.request;
		reply->hdr.flags = VHU_VERSION | VHU_FLAG_REPLY;
		reply->hdr.size = sizeof(struct vhu_state);
		reply->u.state.index = (uint32_t)i;
		reply->u.state.num = v->base;
		return 1;
	}
	case VHU_SET_VRING_KICK:
		if (vring_fd_msg(d, m, fds, nfds, &slot, &i) < 0)
			return -1;
		d->vq[i].started = true;
		d->kick_changed |= 1u << i;
		vq_prepare(d, i);
		return 0;
	case VHU_SET_VRING_CALL:
	case VHU_SET_VRING_ERR:
		return vring_fd_msg(d, m, fds, nfds, &slot, &i) < 0 ? -1 : 0;
	case VHU_SET_VRING_ENABLE:
		if ((i = state_index(d, m)) < 0)
			return -1;
		if (m->u.state.num > 1)
			return fail(d, "SET_VRING_ENABLE: state %u is not 0 or 1", m->u.state.num);
		d->vq[i].enabled = m->u.state.num;
		vq_prepare(d, i);
		if (!d->vq[i].enabled)
			d->rings_changed = true;
		return 0;
	case VHU_GET_CONFIG: {
		const struct vhu_config *c = &m->u.config;
		if (m->hdr.size < 12 || m->hdr.size > sizeof(struct vhu_config))
			return fail(d, "GET_CONFIG: payload size %u out of range", m->hdr.size);
		if (c->size != m->hdr.size - 12 || c->offset > VHU_CONFIG_MAX || c->size > VHU_CONFIG_MAX - c->offset)
			return fail(d, "GET_CONFIG: offset %u size %u do not match the payload", c->offset, c->size);
		uint8_t space[VHU_CONFIG_MAX] = { 0 };
		uint64_t cid = vsock_le64(d->guest_cid);
		memcpy(space, &cid, sizeof(cid));
		reply->hdr.request = m->hdr.request;
		reply->hdr.flags = VHU_VERSION | VHU_FLAG_REPLY;
		reply->hdr.size = m->hdr.size;
		reply->u.config.offset = c->offset;
		reply->u.config.size = c->size;
		reply->u.config.flags = c->flags;
		memcpy(reply->u.config.region, space + c->offset, c->size);
		d->config_reads++;
		return 1;
	}
	case VHU_SET_BACKEND_REQ_FD:
		if (!(d->protocol_features & (1ull << VHU_PF_BACKEND_REQ)))
			return fail(d, "SET_BACKEND_REQ_FD: the back-end channel was not negotiated");
		if (expect_size(d, m, 0) < 0)
			return -1;
		if (nfds != 1)
			return fail(d, "SET_BACKEND_REQ_FD: %d fds, want 1", nfds);
		close_fd(&d->backend_fd);
		d->backend_fd = fds[0];
		fds[0] = -1;
		return 0;
	case VHU_SET_CONFIG:
		/* vsock config is read-only: accept and ignore. */
		return 0;
	case VHU_SET_LOG_BASE:
	case VHU_SET_LOG_FD:
		return fail(d, "request %u: dirty logging was not offered", m->hdr.request);
	default:
		return fail(d, "request %u is not supported by this back end", m->hdr.request);
	}
}

int vhu_config_changed(struct vhu_dev *d)
{
	if (d->backend_fd < 0)
		return -1;
	/* No NEED_REPLY: QEMU answers only after its GET_CONFIG round trip,
	 * which needs this process's event loop to run. */
	struct vhu_hdr h = { .request = VHU_BACKEND_CONFIG_CHANGE_MSG, .flags = VHU_VERSION, .size = 0 };
	return send(d->backend_fd, &h, sizeof(h), MSG_NOSIGNAL) == (ssize_t)sizeof(h) ? 0 : -1;
}

int vhu_handle(struct vhu_dev *d, const struct vhu_msg *m, int *fds, int nfds, struct vhu_msg *reply)
{
	int ret;
	d->err[0] = 0;
	if ((m->hdr.flags & VHU_FLAG_VERSION) != VHU_VERSION || (m->hdr.flags & VHU_FLAG_REPLY)) {
		ret = fail(d, "request %u: bad flags 0x%x", m->hdr.request, m->hdr.flags);
	} else if (m->hdr.size > sizeof(m->u)) {
		ret = fail(d, "request %u: payload of %u bytes is too large", m->hdr.request, m->hdr.size);
	} else if (nfds < 0 || nfds > VHU_MAX_FDS) {
		ret = fail(d, "request %u: %d fds", m->hdr.request, nfds);
	} else {
		ret = dispatch(d, m, fds, nfds, reply);
	}
	for (int i = 0; i < nfds; i++)
		close_fd(&fds[i]);
	bool ack = (d->protocol_features & (1ull << VHU_PF_REPLY_ACK)) &&
		   (m->hdr.flags & VHU_FLAG_NEED_REPLY);
	if (ret == 0 && ack) {
		reply_u64(reply, m->hdr.request, 0);
		return 1;
	}
	if (ret < 0 && ack && m->hdr.size <= sizeof(m->u)) {
		/* A failure QEMU asked to hear about: tell it, keep the session. */
		reply_u64(reply, m->hdr.request, 1);
		return 1;
	}
	return ret;
}
