/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of vsock/vsock_dev.c, built natively with the real engine
 * (vsock_engine.c) and virtqueues (drivers/virtq.c), against a hostile fake
 * virtio-vsock device. The test supplies a transport (struct virtio_ops) over
 * the fake, driven by the real drivers/virtio.c; the fake device works on the
 * guest's rings in plain memory from the device side: it takes chains from
 * the avail ring, writes packets into RX buffers, reads TX buffers and writes
 * used entries, and it can forge any of those. A small echo app on the
 * socket API (vsock.h) is the guest application; a scripted peer on the
 * device side keeps credit books and checks every payload byte.
 *
 * Each scenario asserts: the good connection keeps echoing byte-exact, a
 * connection the device abuses is at most reset, the drop counters
 * (vsock_dev_stats, vsock_engine_stats) move by exactly what was injected,
 * the RX and event rings stay stocked (minus chains the virtqueue leaves
 * outstanding after a bad used length), and TX buffers are never freed
 * twice. Not covered here: real transports (tests/test_vsock_*.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bv/arch.h"
#include "bv/config.h"
#include "bv/err.h"
#include "drivers/virtio.h"
#include "drivers/virtq.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_engine.h"

static int failures;
static unsigned long checks;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)
#define CHECK_EQ(a, b) do { checks++; long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { printf("FAIL %s:%d: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a, #b, a_, b_); \
		failures++; } } while (0)

#define HOST      2u
#define GUEST_CID 3u
#define RXPKT     VSOCK_RXBUF_BYTES                          /* one posted RX buffer */
#define TXPKT     (VSOCK_HDR_SIZE + BV_VSOCK_TX_BUF_SIZE)     /* the largest TX chain */
#define ECHO_PORT 1234u    /* the app echoes connections to this port */
#define HOLD_PORT 1300u    /* the app accepts these and leaves them to the test */

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint8_t pat(uint32_t seed, uint64_t off) { return (uint8_t)(off * 131u + seed * 7u + (off >> 9)); }

/* ================================================================ clock */

static uint64_t fake_us;
uint64_t bv_port_now_us(void) { return fake_us; }

/* ================================================================ the fake device */

/* One queue seen from the device side. */
struct fq {
	struct virtq *q;            /* the guest's queue, handed over by setup_queue */
	unsigned max;               /* QueueNumMax we report */
	uint16_t last_avail;        /* next avail entry we will take */
	unsigned nheld;             /* chains taken and not completed, oldest first */
	uint16_t held[BV_VIRTQ_MAX_SIZE];
	uint64_t held_addr[BV_VIRTQ_MAX_SIZE];
	unsigned notifies;
};

static struct {
	struct virtio_dev vd;
	uint8_t status;
	uint64_t offered, accepted;
	uint8_t cfg[8];             /* guest_cid, le64 */
	uint32_t gen;
	struct fq q[3];
	int tolerate_republish;     /* after forging a used.idx jump */
	unsigned republished;
} fd;

static void set_cid(uint64_t cid)
{
	for (int i = 0; i < 8; i++)
		fd.cfg[i] = (uint8_t)(cid >> (8 * i));
	fd.gen++;
}

static uint64_t cur_cid(void)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)fd.cfg[i] << (8 * i);
	return v;
}

static void fq_clear(struct fq *f)
{
	f->q = NULL;
	f->last_avail = 0;
	f->nheld = 0;
	f->notifies = 0;
}

static int f_reset(struct virtio_dev *d)
{
	(void)d;
	fd.status = 0;
	for (int i = 0; i < 3; i++)
		fq_clear(&fd.q[i]);
	return BV_OK;
}
static uint8_t f_get_status(struct virtio_dev *d) { (void)d; return fd.status; }
static void f_set_status(struct virtio_dev *d, uint8_t s) { (void)d; fd.status = s; }
static uint64_t f_get_features(struct virtio_dev *d) { (void)d; return fd.offered; }
static void f_set_features(struct virtio_dev *d, uint64_t f)
{
	(void)d;
	CHECK((f & ~fd.offered) == 0);
	fd.accepted = f;
}
static unsigned f_queue_max(struct virtio_dev *d, unsigned idx) { (void)d; return idx < 3 ? fd.q[idx].max : 0; }

static void f_notify(struct virtio_dev *d, unsigned idx)
{
	(void)d;
	CHECK(idx < 3);
	if (idx < 3)
		fd.q[idx].notifies++;
}

/* The transports' notify hook: ring the queue's doorbell. */
static void f_notify_hook(struct virtq *q, void *ctx)
{
	struct virtio_dev *d = ctx;
	d->ops->notify(d, q->index);
}

static int f_setup_queue(struct virtio_dev *d, struct virtq *q)
{
	CHECK(q->index < 3);
	if (q->index >= 3)
		return BV_EINVAL;
	struct fq *f = &fd.q[q->index];
	CHECK(q->size && q->size <= f->max && (q->size & (q->size - 1)) == 0);
	fq_clear(f);
	f->q = q;
	virtq_set_notify(q, f_notify_hook, d);
	return BV_OK;
}

static uint32_t cfg_read(unsigned off, unsigned n)
{
	CHECK(off + n <= sizeof(fd.cfg));
	uint32_t v = 0;
	for (unsigned i = 0; i < n && off + i < sizeof(fd.cfg); i++)
		v |= (uint32_t)fd.cfg[off + i] << (8 * i);
	return v;
}
static uint8_t f_cfg8(struct virtio_dev *d, unsigned off) { (void)d; return (uint8_t)cfg_read(off, 1); }
static uint16_t f_cfg16(struct virtio_dev *d, unsigned off) { (void)d; return (uint16_t)cfg_read(off, 2); }
static uint32_t f_cfg32(struct virtio_dev *d, unsigned off) { (void)d; return cfg_read(off, 4); }
static uint32_t f_cfg_gen(struct virtio_dev *d) { (void)d; return fd.gen; }

static const struct virtio_ops fops = {
	.reset = f_reset, .get_status = f_get_status, .set_status = f_set_status,
	.get_features = f_get_features, .set_features = f_set_features,
	.queue_max = f_queue_max, .setup_queue = f_setup_queue, .notify = f_notify,
	.cfg_read8 = f_cfg8, .cfg_read16 = f_cfg16, .cfg_read32 = f_cfg32,
	.cfg_generation = f_cfg_gen,
};

/* ---- device-side ring work ---- */

static int fq_find(const uint16_t *list, unsigned n, uint16_t head)
{
	for (unsigned k = 0; k < n; k++)
		if (list[k] == head)
			return (int)k;
	return -1;
}

static uint16_t fq_take(struct fq *f, unsigned k);

/* Take every chain the guest published since last time; returns how many. */
static unsigned fq_pull(struct fq *f)
{
	struct virtq *q = f->q;
	unsigned n = 0;
	uint16_t avail_idx = *(volatile uint16_t *)&q->avail->idx;
	bv_rmb();
	while (f->last_avail != avail_idx) {
		uint16_t head = q->avail->ring[f->last_avail & (q->size - 1)];
		f->last_avail++;
		if (head >= q->size || f->nheld >= q->size) {
			CHECK(!"guest published a head out of range, or more chains than the ring holds");
			continue;
		}
		/* The guest must never publish a chain it already gave us, unless
		 * we told it (with a stale used entry) that we were done with it. */
		int k = fq_find(f->held, f->nheld, head);
		if (k >= 0 && fd.tolerate_republish) {
			fd.republished++;
			fq_take(f, (unsigned)k);
		} else {
			CHECK(k < 0);
		}
		f->held[f->nheld] = head;
		f->held_addr[f->nheld] = q->desc[head].addr;
		f->nheld++;
		n++;
	}
	return n;
}

static uint16_t fq_take(struct fq *f, unsigned k)
{
	uint16_t head = f->held[k];
	f->nheld--;
	memmove(&f->held[k], &f->held[k + 1], (f->nheld - k) * sizeof(f->held[0]));
	memmove(&f->held_addr[k], &f->held_addr[k + 1], (f->nheld - k) * sizeof(f->held_addr[0]));
	return head;
}

/* Write one used entry, whatever it says. */
static void fq_put(struct fq *f, uint32_t id, uint32_t len)
{
	struct virtq *q = f->q;
	uint16_t u = q->used->idx;
	q->used->ring[u & (q->size - 1)] = (struct virtq_used_elem){ id, len };
	bv_wmb();
	*(volatile uint16_t *)&q->used->idx = (uint16_t)(u + 1);
}

/* Complete held chain k with a length beyond its buffer. The chain is the
 * guest's again: it must repost the buffer, or the ring runs short. */
static uint16_t fq_put_badlen(struct fq *f, unsigned k, uint32_t len)
{
	uint16_t head = fq_take(f, k);
	fq_put(f, head, len);
	return head;
}

/* A head in range that is no chain of the guest's: not one we hold or
 * kept, and not one we completed that the guest has yet to reap (peeking at
 * the guest's last_used: the test's oracle, not something a device sees). */
static uint16_t fq_free_id(struct fq *f)
{
	const struct virtq *q = f->q;
	for (uint16_t id = 0; id < q->size; id++) {
		int busy = fq_find(f->held, f->nheld, id) >= 0;
		for (uint16_t u = q->last_used; u != q->used->idx && !busy; u++)
			busy = q->used->ring[u & (q->size - 1)].id == id;
		if (!busy)
			return id;
	}
	CHECK(!"no free id");
	return 0;
}

#define RXQ (&fd.q[VSOCK_VQ_RX])
#define TXQ (&fd.q[VSOCK_VQ_TX])
#define EVQ (&fd.q[VSOCK_VQ_EVENT])

/* RX buffers the device can fill right now. */
static unsigned rx_posted(void)
{
	fq_pull(RXQ);
	return RXQ->nheld;
}

/* Copy a packet into the oldest RX buffer we hold (header, then n bytes of
 * data) and take it off our list; the caller writes the used entry.
 * Returns the head, or -1 if the guest has posted nothing. */
static int rx_fill(const struct vsock_hdr *h, const void *data, uint32_t n, uint64_t *addr)
{
	struct fq *f = RXQ;
	fq_pull(f);
	if (f->nheld == 0)
		return -1;
	struct virtq_desc *d = &f->q->desc[f->held[0]];
	CHECK(d->flags == VIRTQ_DESC_F_WRITE);
	CHECK(d->len == RXPKT);
	CHECK(d->addr == f->held_addr[0]);
	CHECK(VSOCK_HDR_SIZE + n <= d->len);
	uint8_t *p = (uint8_t *)(uintptr_t)d->addr;
	memcpy(p, h, VSOCK_HDR_SIZE);
	if (n)
		memcpy(p + VSOCK_HDR_SIZE, data, min32(n, d->len - VSOCK_HDR_SIZE));
	if (addr)
		*addr = f->held_addr[0];
	return fq_take(f, 0);
}

static unsigned long rx_good;   /* well-formed completions we made */

/* Deliver a packet with a used length of our choosing. */
static int rx_raw(const struct vsock_hdr *h, const void *data, uint32_t n, uint32_t used_len)
{
	int head = rx_fill(h, data, n, NULL);
	if (head >= 0) {
		fq_put(RXQ, (uint32_t)head, used_len);
		if (used_len >= VSOCK_HDR_SIZE && used_len <= RXPKT)
			rx_good++;
	}
	return head;
}

/* Deliver a packet but claim more bytes than the buffer holds. Returns the head. */
static int rx_badlen(const struct vsock_hdr *h, const void *data, uint32_t n, uint32_t used_len)
{
	uint64_t addr = 0;
	int head = rx_fill(h, data, n, &addr);
	CHECK(head >= 0);
	if (head < 0)
		return -1;
	fq_put(RXQ, (uint32_t)head, used_len);
	return head;
}

/* Complete the event buffer we hold longest, claiming used_len bytes. */
static int ev_put(uint32_t id, uint32_t used_len)
{
	struct fq *f = EVQ;
	fq_pull(f);
	CHECK(f->nheld > 0);
	if (f->nheld == 0)
		return -1;
	struct virtq_desc *d = &f->q->desc[f->held[0]];
	CHECK(d->flags == VIRTQ_DESC_F_WRITE && d->len == sizeof(struct vsock_event));
	memcpy((void *)(uintptr_t)d->addr, &id, sizeof(id));
	if (used_len > sizeof(struct vsock_event))
		return fq_put_badlen(f, 0, used_len);
	uint16_t head = fq_take(f, 0);
	fq_put(f, head, used_len);
	return head;
}

static unsigned ev_posted(void)
{
	fq_pull(EVQ);
	return EVQ->nheld;
}

/* ================================================================ the peer behind the device */

struct flow {
	uint32_t hport, gport;
	uint16_t type;
	uint64_t gcid;              /* the guest CID this flow talks to */
	int est;                    /* RESPONSE seen, no RST since */
	uint32_t buf_alloc, fwd_cnt, rx_cnt, tx_cnt;
	uint32_t adv_buf_alloc, adv_fwd_cnt;   /* what we last told the guest */
	uint32_t g_buf_alloc, g_fwd_cnt;       /* what the guest last told us */
	uint32_t seed;              /* our data: pat(seed, out_off...) */
	uint64_t out_off;
	uint32_t in_seed;           /* the data we expect from the guest */
	uint64_t in_off;
	int auto_consume;           /* our app reads at once */
	int credit_due;             /* owe a CREDIT_UPDATE */
	unsigned n_op[8];           /* guest packets on this flow, by op */
	unsigned foreign;           /* guest packets on our ports with another type (dropped, as Linux) */
	unsigned bad_data, over_credit;
};

#define MAXFLOWS 32
static struct flow *flows[MAXFLOWS];
static int nflows;
static unsigned tx_unmatched;
static unsigned long tx_seen;

static void flow_init(struct flow *f, uint32_t hport, uint32_t gport, uint32_t seed)
{
	memset(f, 0, sizeof(*f));
	f->hport = hport;
	f->gport = gport;
	f->type = VSOCK_TYPE_STREAM;
	f->gcid = cur_cid();
	f->buf_alloc = 256 * 1024;
	f->seed = seed;
	f->in_seed = seed;          /* echo: we get our own bytes back */
	f->auto_consume = 1;
	CHECK(nflows < MAXFLOWS);
	if (nflows < MAXFLOWS)
		flows[nflows++] = f;
}

static struct vsock_hdr flow_hdr(const struct flow *f, uint16_t op, uint32_t flags, uint32_t len)
{
	struct vsock_hdr h;
	memset(&h, 0, sizeof(h));
	h.src_cid = HOST;
	h.dst_cid = f->gcid;
	h.src_port = f->hport;
	h.dst_port = f->gport;
	h.len = len;
	h.type = f->type;
	h.op = op;
	h.flags = flags;
	h.buf_alloc = f->buf_alloc;
	h.fwd_cnt = f->fwd_cnt;
	return h;
}

/* Send a well-formed packet on the flow; -1 if the guest has no RX buffer posted. */
static int flow_pkt(struct flow *f, uint16_t op, uint32_t flags, const void *data, uint32_t n)
{
	struct vsock_hdr h = flow_hdr(f, op, flags, n);
	int head = rx_raw(&h, data, n, VSOCK_HDR_SIZE + n);
	if (head >= 0) {
		f->adv_buf_alloc = f->buf_alloc;
		f->adv_fwd_cnt = f->fwd_cnt;
		if (op == VSOCK_OP_RW)
			f->tx_cnt += n;
	}
	return head;
}

/* The next n bytes of our data stream (n <= one RX buffer). */
static const uint8_t *flow_data(const struct flow *f, uint32_t n)
{
	static uint8_t b[BV_VSOCK_RX_BUF_SIZE];
	for (uint32_t i = 0; i < n && i < sizeof(b); i++)
		b[i] = pat(f->seed, f->out_off + i);
	return b;
}

static int flow_send(struct flow *f, uint32_t n)
{
	int head = flow_pkt(f, VSOCK_OP_RW, 0, flow_data(f, n), n);
	if (head >= 0)
		f->out_off += n;
	return head;
}

static uint32_t flow_credit(const struct flow *f)
{
	return vsock_peer_free(f->g_buf_alloc, f->g_fwd_cnt, f->tx_cnt);
}

/* A packet the guest transmitted. */
static void peer_input(const struct vsock_hdr *h, const uint8_t *data, uint32_t n)
{
	tx_seen++;
	CHECK(h->op >= VSOCK_OP_REQUEST && h->op <= VSOCK_OP_CREDIT_REQUEST);
	CHECK(h->dst_cid == HOST);
	CHECK(h->src_cid == cur_cid());
	struct flow *f = NULL;
	for (int i = 0; i < nflows && !f; i++)
		if (flows[i]->gport == h->src_port && flows[i]->hport == h->dst_port &&
		    flows[i]->gcid == h->src_cid)
			f = flows[i];
	if (!f) {
		tx_unmatched++;
		return;
	}
	if (h->type != f->type) {
		f->foreign++;
		return;
	}
	f->n_op[h->op & 7]++;
	if (h->op != VSOCK_OP_RST) {
		CHECK(h->buf_alloc == BV_VSOCK_BUF_ALLOC);
		f->g_buf_alloc = h->buf_alloc;
		f->g_fwd_cnt = h->fwd_cnt;
	}
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		CHECK(!f->est);
		f->est = 1;
		break;
	case VSOCK_OP_RST:
		f->est = 0;
		break;
	case VSOCK_OP_RW:
		CHECK(f->est);
		/* never beyond the credit we last granted, however odd it was */
		if (n > vsock_peer_free(f->adv_buf_alloc, f->adv_fwd_cnt, f->rx_cnt))
			f->over_credit++;
		for (uint32_t i = 0; i < n; i++)
			if (data[i] != pat(f->in_seed, f->in_off + i)) {
				f->bad_data++;
				break;
			}
		f->in_off += n;
		f->rx_cnt += n;
		if (f->auto_consume)
			f->fwd_cnt += n;
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		f->credit_due = 1;
		break;
	default:
		break;
	}
}

/* ---- TX side of the device ---- */

static int tx_hold;           /* take TX chains but do not complete them */
static unsigned tx_total, rx_total, ev_total;

static void dev_tx(void)
{
	struct fq *f = TXQ;
	unsigned n = fq_pull(f);
	for (unsigned k = f->nheld - n; k < f->nheld; k++) {
		const struct virtq_desc *d = &f->q->desc[f->held[k]];
		/* the header alone, device-readable, then (if there is payload)
		 * one device-readable descriptor with all of it */
		CHECK(d->len == VSOCK_HDR_SIZE && !(d->flags & VIRTQ_DESC_F_WRITE));
		if (d->len != VSOCK_HDR_SIZE)
			continue;
		struct vsock_hdr h;
		memcpy(&h, (const void *)(uintptr_t)d->addr, sizeof(h));
		const uint8_t *p = NULL;
		uint32_t plen = 0;
		if (d->flags & VIRTQ_DESC_F_NEXT) {
			const struct virtq_desc *dd = &f->q->desc[d->next];
			CHECK(dd->flags == 0 && dd->len > 0 && dd->len <= TXPKT - VSOCK_HDR_SIZE);
			p = (const uint8_t *)(uintptr_t)dd->addr;
			plen = dd->len;
		}
		CHECK(h.len == plen);
		peer_input(&h, p, plen);
	}
	if (!tx_hold)
		while (f->nheld)
			fq_put(f, fq_take(f, 0), 0);   /* like vhost: nothing written */
}

static void dev_step(void)
{
	dev_tx();
	for (int i = 0; i < nflows; i++) {
		struct flow *f = flows[i];
		if (f->credit_due && f->est && flow_pkt(f, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0) >= 0)
			f->credit_due = 0;
	}
}

/* Every TX buffer is in exactly one place: the glue's free list, a chain the
 * device holds, or published but not yet taken. A
 * buffer freed twice shows up twice, or both free and on the device. Valid
 * right after vsock_poll(), which reaps every TX completion. */
static void check_tx_books(void)
{
	const void *fl[BV_VSOCK_TX_PKTS + 1];
	unsigned n = vsock_dev_test_tx_free(fl, BV_VSOCK_TX_PKTS + 1);
	CHECK(n <= BV_VSOCK_TX_PKTS);
	if (n > BV_VSOCK_TX_PKTS)
		n = BV_VSOCK_TX_PKTS;
	struct fq *f = TXQ;
	unsigned unpulled = (uint16_t)(f->q->avail->idx - f->last_avail);
	CHECK_EQ(n + f->nheld + unpulled, tx_total);
	for (unsigned i = 0; i < n; i++) {
		for (unsigned j = 0; j < i; j++)
			CHECK(fl[i] != fl[j]);
		for (unsigned k = 0; k < f->nheld; k++)
			CHECK((uintptr_t)fl[i] != f->held_addr[k]);
	}
}

/* ================================================================ the guest app */

/* Echo connections from odd host ports use the zero-copy calls (as
 * apps/echo does), from even ones the copying calls: every scenario below
 * runs both paths against the same hostile device. */
enum { MODE_ECHO = 1, MODE_HOLD = 2, MODE_ZC = 3 };
struct app {
	int h;                      /* -1: free slot */
	int mode;
	uint32_t peer_port;
	uint32_t off, len;
	uint8_t buf[8192];
};
static struct app apps[BV_VSOCK_MAX_CONNS];
static int lh_echo = -1, lh_hold = -1;

struct ended { uint32_t peer_port; int err; };
static struct ended endlog[256];
static int nend;

static void app_accept(int lh, int mode)
{
	for (;;) {
		struct app *a = NULL;
		for (int i = 0; i < BV_VSOCK_MAX_CONNS && !a; i++)
			if (apps[i].h < 0)
				a = &apps[i];
		if (!a)
			return;
		int h = vsock_accept(lh, NULL, &a->peer_port);
		if (h < 0)
			return;
		a->h = h;
		a->mode = mode == MODE_ECHO && (a->peer_port & 1) ? MODE_ZC : mode;
		a->off = a->len = 0;
	}
}

static void app_finish(struct app *a, int err)
{
	if (nend < 256)
		endlog[nend++] = (struct ended){ a->peer_port, err };
	CHECK(vsock_close(a->h) == 0);
	a->h = -1;
}

static void app_echo(struct app *a)
{
	for (;;) {
		if (a->len) {
			int n = vsock_send(a->h, a->buf + a->off, a->len);
			if (n == BV_EAGAIN)
				return;
			if (n < 0) {
				app_finish(a, n);
				return;
			}
			a->off += (uint32_t)n;
			a->len -= (uint32_t)n;
			continue;
		}
		int n = vsock_recv(a->h, a->buf, sizeof(a->buf));
		if (n == BV_EAGAIN)
			return;
		if (n <= 0) {
			app_finish(a, n);
			return;
		}
		a->off = 0;
		a->len = (uint32_t)n;
	}
}

/* Borrowed bytes straight into reserved TX room: one copy. */
static void app_echo_zc(struct app *a)
{
	for (;;) {
		const void *p;
		int n = vsock_recv_borrow(a->h, &p, NULL);
		if (n == BV_EAGAIN)
			return;
		if (n <= 0) {
			app_finish(a, n);
			return;
		}
		void *d;
		int room = vsock_send_reserve(a->h, 1, &d);
		if (room == BV_EAGAIN)
			return;   /* the bytes wait where the device put them */
		if (room < 0) {
			app_finish(a, room);
			return;
		}
		uint32_t m = min32((uint32_t)n, (uint32_t)room);
		memcpy(d, p, m);
		CHECK_EQ(vsock_send_commit(a->h, m, 0), m);
		CHECK_EQ(vsock_recv_release(a->h, m), 0);
	}
}

static void app_step(void)
{
	if (lh_echo >= 0)
		app_accept(lh_echo, MODE_ECHO);
	if (lh_hold >= 0)
		app_accept(lh_hold, MODE_HOLD);
	for (int i = 0; i < BV_VSOCK_MAX_CONNS; i++)
		if (apps[i].h >= 0 && apps[i].mode == MODE_ECHO)
			app_echo(&apps[i]);
		else if (apps[i].h >= 0 && apps[i].mode == MODE_ZC)
			app_echo_zc(&apps[i]);
}

static int app_handle(uint32_t peer_port)
{
	for (int i = 0; i < BV_VSOCK_MAX_CONNS; i++)
		if (apps[i].h >= 0 && apps[i].peer_port == peer_port)
			return apps[i].h;
	return -1;
}

/* How the app's connection from peer_port ended: 1 and *err, or 0 if it has not. */
static int app_ended(uint32_t peer_port, int *err)
{
	for (int i = nend - 1; i >= 0; i--)
		if (endlog[i].peer_port == peer_port) {
			*err = endlog[i].err;
			return 1;
		}
	return 0;
}

/* The app writes n bytes of pat(seed) on a connection it holds. */
static int app_send_pattern(int h, uint32_t seed, uint64_t *off, uint32_t n)
{
	static uint8_t b[(BV_VSOCK_CONN_TX_BUFS * BV_VSOCK_TX_BUF_SIZE)];
	n = min32(n, sizeof(b));
	for (uint32_t i = 0; i < n; i++)
		b[i] = pat(seed, *off + i);
	int r = vsock_send(h, b, n);
	if (r > 0)
		*off += (uint32_t)r;
	return r;
}

/* ================================================================ driving */

static void step(void)
{
	vsock_poll();
	check_tx_books();
	const char *why = vsock_dev_test_books();
	if (why) {
		printf("FAIL %s:%d: buffers: %s\n", __FILE__, __LINE__, why);
		failures++;
	}
	app_step();
	dev_step();
	fake_us += 1000;
}

static void run(int n)
{
	while (n-- > 0)
		step();
}

/* Guest-only progress: polls and the app, the device does nothing. */
static void settle(void)
{
	for (int i = 0; i < 3; i++) {
		vsock_poll();
		check_tx_books();
		app_step();
	}
}

/* After the guest has caught up, the device should hold `want` RX buffers. */
static void check_rx_ring(unsigned want, int line)
{
	for (int i = 0; i < 4; i++) {
		vsock_poll();
		check_tx_books();
	}
	unsigned got = rx_posted();
	checks++;
	if (got != want) {
		printf("FAIL %s:%d: device holds %u RX buffers, expected %u\n", __FILE__, line, got, want);
		failures++;
	}
}
#define CHECK_RX_RING(want) check_rx_ring((want), __LINE__)

/* Send up to n bytes on f without running the guest (data in flight). */
static void prime(struct flow *f, uint32_t n)
{
	while (n) {
		uint32_t c = min32(min32(n, flow_credit(f)), BV_VSOCK_RX_BUF_SIZE);
		if (!c || flow_send(f, c) < 0)
			return;
		n -= c;
	}
}

/* n more bytes through the echo flow f; everything sent so far must come
 * back byte-exact. */
static void echo_line(struct flow *f, uint32_t n, int line)
{
	uint64_t target = f->out_off + n;
	int r;
	for (r = 0; r < 20000 && f->in_off < target; r++) {
		while (f->out_off < target) {
			uint32_t c = min32(min32(flow_credit(f), BV_VSOCK_RX_BUF_SIZE),
					   (uint32_t)(target - f->out_off));
			if (!c || flow_send(f, c) < 0)
				break;
		}
		step();
	}
	checks++;
	if (f->in_off != target || f->bad_data || f->over_credit || !f->est) {
		printf("FAIL %s:%d: echo on port %u: %llu of %llu bytes back, %u mismatches, %u over credit, est %d\n",
		       __FILE__, line, f->hport, (unsigned long long)f->in_off, (unsigned long long)target,
		       f->bad_data, f->over_credit, f->est);
		failures++;
	}
}
#define ECHO(f, n) echo_line((f), (n), __LINE__)

/* Connect flow f to its guest port; returns the app's handle. */
static int flow_open(struct flow *f)
{
	CHECK(flow_pkt(f, VSOCK_OP_REQUEST, 0, NULL, 0) >= 0);
	for (int r = 0; r < 10 && !(f->est && app_handle(f->hport) >= 0); r++)
		step();
	CHECK(f->est && f->n_op[VSOCK_OP_RESPONSE] == 1);
	int h = app_handle(f->hport);
	CHECK(h >= 0);
	return h;
}

/* ---- counters ---- */

struct want {
	uint32_t malformed, badcid, unknown_op, rst_sent, overflow, own_cid;
	uint64_t bad_used, rx_short, rx_bad_len, ev_dropped;
};
static struct vsock_stats e0;
static struct vsock_dev_stats d0;

static void snap(void)
{
	vsock_engine_stats(&e0);
	vsock_dev_stats(&d0);
}

static void expect_moved(const char *what, int line, struct want w)
{
	struct vsock_stats e;
	struct vsock_dev_stats d;
	vsock_engine_stats(&e);
	vsock_dev_stats(&d);
#define MOVED(name, now, then, exp) do { checks++; \
	if ((uint64_t)((now) - (then)) != (uint64_t)(exp)) { \
		printf("FAIL %s:%d (%s): %s moved by %llu, expected %llu\n", __FILE__, line, what, name, \
		       (unsigned long long)((now) - (then)), (unsigned long long)(exp)); \
		failures++; } } while (0)
	MOVED("rx_dropped_malformed", e.rx_dropped_malformed, e0.rx_dropped_malformed, w.malformed);
	MOVED("rx_dropped_badcid", e.rx_dropped_badcid, e0.rx_dropped_badcid, w.badcid);
	MOVED("rx_unknown_op", e.rx_unknown_op, e0.rx_unknown_op, w.unknown_op);
	MOVED("rst_sent", e.rst_sent, e0.rst_sent, w.rst_sent);
	MOVED("bad_used", d.bad_used, d0.bad_used, w.bad_used);
	MOVED("rx_short", d.rx_short, d0.rx_short, w.rx_short);
	MOVED("rx_bad_len", d.rx_bad_len, d0.rx_bad_len, w.rx_bad_len);
	MOVED("rx_overflow", e.rx_overflow, e0.rx_overflow, w.overflow);
	MOVED("rx_dropped_own_cid", e.rx_dropped_own_cid, e0.rx_dropped_own_cid, w.own_cid);
	MOVED("rst_dropped", e.rst_dropped, e0.rst_dropped, 0);
	MOVED("ev_dropped", d.ev_dropped, d0.ev_dropped, w.ev_dropped);
#undef MOVED
}
#define EXPECT(what, ...) expect_moved((what), __LINE__, (struct want){ __VA_ARGS__ })

static struct vsock_stats estats(void)
{
	struct vsock_stats s;
	vsock_engine_stats(&s);
	return s;
}

static struct vsock_dev_stats dstats(void)
{
	struct vsock_dev_stats s;
	vsock_dev_stats(&s);
	return s;
}

/* ---- scenario setup ---- */

static unsigned pow2_size(unsigned max)
{
	unsigned size = BV_VIRTQ_MAX_SIZE;
	while (size > max)
		size >>= 1;
	return size;
}

/* A fresh device whose queues allow rxmax/txmax/evmax entries, the stack
 * initialised on it and the app listening. */
static uint64_t next_offer;   /* features the next setup() offers; 0: the usual */

static void setup(unsigned rxmax, unsigned txmax, unsigned evmax)
{
	memset(&fd, 0, sizeof(fd));   /* tolerate_republish off */
	fd.vd.ops = &fops;
	fd.vd.transport = VIRTIO_TRANSPORT_MMIO_V2;
	fd.vd.device_id = VIRTIO_ID_VSOCK;
	strcpy(fd.vd.where, "fake");
	fd.offered = next_offer ? next_offer :
		(1ull << VIRTIO_F_VERSION_1) | (1ull << VSOCK_F_STREAM) | (1ull << VSOCK_F_SEQPACKET);
	next_offer = 0;
	set_cid(GUEST_CID);
	fd.q[VSOCK_VQ_RX].max = rxmax;
	fd.q[VSOCK_VQ_TX].max = txmax;
	fd.q[VSOCK_VQ_EVENT].max = evmax;
	nflows = 0;
	tx_unmatched = 0;
	tx_hold = 0;
	nend = 0;
	for (int i = 0; i < BV_VSOCK_MAX_CONNS; i++)
		apps[i].h = -1;

	CHECK(vsock_dev_attach(&fd.vd) == BV_OK);
	CHECK(fd.status & VIRTIO_STATUS_DRIVER_OK);
	CHECK(fd.accepted & (1ull << VIRTIO_F_VERSION_1));
	CHECK(vsock_local_cid() == GUEST_CID);
	CHECK_EQ(RXQ->q->size, pow2_size(rxmax));
	rx_total = min32(BV_VSOCK_RX_BUFS, RXQ->q->size);
	tx_total = min32(BV_VSOCK_TX_PKTS, TXQ->q->size / 2u);   /* two descriptors a packet */
	ev_total = min32(4, EVQ->q->size);
	/* stocked and kicked before anything happened */
	CHECK(RXQ->notifies >= 1 && EVQ->notifies >= 1);
	CHECK_EQ(rx_posted(), rx_total);
	CHECK_EQ(ev_posted(), ev_total);
	check_tx_books();
	CHECK_EQ(vsock_dev_test_tx_free(NULL, 0), tx_total);

	lh_echo = vsock_listen(ECHO_PORT, VSOCK_STREAM, 0);
	lh_hold = vsock_listen(HOLD_PORT, VSOCK_STREAM, 0);
	CHECK(lh_echo >= 0 && lh_hold >= 0);
}

/* The device shuts a flow down both ways; the guest must answer RST. */
static void flow_close(struct flow *f)
{
	unsigned rst0 = f->n_op[VSOCK_OP_RST];
	CHECK(flow_pkt(f, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_BOTH, NULL, 0) >= 0);
	for (int r = 0; r < 10 && f->n_op[VSOCK_OP_RST] == rst0; r++)
		step();
	CHECK(f->n_op[VSOCK_OP_RST] == rst0 + 1);
}

/* Nothing but the two listeners left in the pool. */
static void check_pool_idle(int line)
{
	run(3);
	struct vsock_stats s = estats();
	checks++;
	if (s.conns_in_use != 2) {
		printf("FAIL %s:%d: %u pool entries in use, expected the 2 listeners\n", __FILE__, line,
		       (unsigned)s.conns_in_use);
		failures++;
	}
}
#define CHECK_POOL_IDLE() check_pool_idle(__LINE__)

/* ================================================================ scenarios */

/* Baseline: a device REQUEST to the echo port gets RESPONSE, data echoes
 * byte-exact, the close handshake ends in RST and the pool is idle again.
 * Nothing counted as dropped. */
static void test_baseline(void)
{
	setup(256, 256, 8);
	snap();
	struct flow a, b;
	flow_init(&a, 5000, ECHO_PORT, 11);
	flow_init(&b, 5001, ECHO_PORT, 12);
	int ha = flow_open(&a);
	CHECK(vsock_events(ha) & VSOCK_EV_CONNECTED);
	CHECK(a.g_buf_alloc == BV_VSOCK_BUF_ALLOC);
	flow_open(&b);
	ECHO(&a, 1);
	ECHO(&a, 200000);
	ECHO(&b, 70000);
	ECHO(&a, 5000);
	CHECK_RX_RING(rx_total);
	CHECK(ev_posted() == ev_total);
	EXPECT("clean traffic", 0);
	CHECK(tx_unmatched == 0);
	struct vsock_dev_stats d = dstats();
	CHECK(d.rx_bufs > 0 && d.tx_bufs > 0 && d.events == 0 && d.transport_resets == 0);
	flow_close(&a);
	flow_close(&b);
	int err = 1;
	CHECK(app_ended(a.hport, &err) && err == 0);
	CHECK_POOL_IDLE();
	EXPECT("clean close", .rst_sent = 2);
}

/* Same, on queues smaller than the buffer pools: the glue posts what fits. */
static void test_small_queues(void)
{
	setup(16, 8, 2);
	CHECK_EQ(rx_total, 16);
	CHECK_EQ(tx_total, 4);   /* two descriptors a packet */
	CHECK_EQ(ev_total, 2);
	snap();
	struct flow a, b;
	flow_init(&a, 5010, ECHO_PORT, 21);
	flow_init(&b, 5011, ECHO_PORT, 22);
	flow_open(&a);
	flow_open(&b);
	for (int i = 0; i < 8; i++) {
		ECHO(&a, 9000);
		ECHO(&b, 7000);
	}
	CHECK_RX_RING(rx_total);
	EXPECT("small queues", 0);
	flow_close(&a);
	flow_close(&b);
	CHECK_POOL_IDLE();
}

/* Forged RX used entries while A is transferring. */
static void test_rx_bad_used(void)
{
	setup(256, 256, 8);
	struct flow a;
	flow_init(&a, 5021, ECHO_PORT, 31);
	flow_open(&a);
	ECHO(&a, 20000);
	CHECK_RX_RING(rx_total);
	struct fq *rx = RXQ;
	uint16_t size = rx->q->size;

	/* ids out of range */
	prime(&a, 6000);
	snap();
	fq_put(rx, size, VSOCK_HDR_SIZE);
	fq_put(rx, 0xFFFFFFFFu, VSOCK_HDR_SIZE + 10);
	fq_put(rx, 0x10000u, VSOCK_HDR_SIZE);
	settle();
	EXPECT("used ids out of range", .bad_used = 3);
	CHECK_EQ(rx->q->stats.bad_id, 3);
	ECHO(&a, 9000);
	CHECK_RX_RING(rx_total);

	/* an id in range that is no chain head we were given */
	prime(&a, 3000);
	snap();
	fq_put(rx, fq_free_id(rx), VSOCK_HDR_SIZE + 100);
	settle();
	EXPECT("used id not in flight", .bad_used = 1);
	ECHO(&a, 9000);
	CHECK_RX_RING(rx_total);

	/* the same id twice in one batch: handed to the engine once (a
	 * duplicate would break the byte-exact echo) */
	unsigned long good0 = rx_good;
	uint32_t pk0 = estats().rx_pkts;
	prime(&a, 2000);
	snap();
	int head = flow_send(&a, 1000);
	CHECK(head >= 0);
	fq_put(rx, (uint32_t)head, VSOCK_HDR_SIZE + 1000);
	settle();
	EXPECT("repeated used id", .bad_used = 1);
	CHECK_EQ(estats().rx_pkts - pk0, rx_good - good0);
	ECHO(&a, 9000);
	CHECK_RX_RING(rx_total);

	/* a posted buffer completed though the device never wrote it: it still
	 * holds the packet it carried last time (A data), which must not be
	 * taken again */
	head = flow_send(&a, 700);
	CHECK(head >= 0);
	uint64_t addr = rx->q->desc[head].addr;
	settle();   /* the guest takes the data and reposts the buffer */
	snap();
	int k = -1;
	fq_pull(rx);
	for (unsigned i = 0; i < rx->nheld; i++)
		if (rx->held_addr[i] == addr)
			k = (int)i;
	CHECK(k >= 0);
	if (k >= 0)
		fq_put(rx, fq_take(rx, (unsigned)k), VSOCK_HDR_SIZE + 700);
	settle();
	EXPECT("stale buffer completed", .badcid = 1);
	ECHO(&a, 9000);
	CHECK_RX_RING(rx_total);

	/* a used length beyond the posted buffer: counted, the packet in it is
	 * not trusted (never reaches the engine), and the buffer goes straight
	 * back on the ring with a zeroed header, so the device is never short */
	good0 = rx_good;
	pk0 = estats().rx_pkts;
	prime(&a, 3000);
	snap();
	struct vsock_hdr h = flow_hdr(&a, VSOCK_OP_RW, 0, 1000);
	head = rx_badlen(&h, flow_data(&a, 1000), 1000, RXPKT + 1);
	settle();
	EXPECT("used length beyond the buffer", .bad_used = 1, .rx_bad_len = 1);
	CHECK_EQ(rx->q->stats.bad_len, 1);
	CHECK_EQ(estats().rx_pkts - pk0, rx_good - good0);
	CHECK_RX_RING(rx_total);
	ECHO(&a, 9000);   /* the dropped bytes were never A's: its stream is whole */

	/* a late "proper" completion of that head now names a reposted buffer
	 * whose header was cleared: dropped as addressed to nobody */
	snap();
	int kh = fq_find(rx->held, rx->nheld, (uint16_t)head);
	if (kh >= 0) {
		fq_put(rx, fq_take(rx, (unsigned)kh), VSOCK_HDR_SIZE + 1000);
		settle();
		EXPECT("late completion of the bad head", .badcid = 1);
	}
	CHECK_RX_RING(rx_total);

	/* many of them, up to every buffer the device holds twice over, huge
	 * lengths included: none is lost, the guest never goes deaf */
	for (unsigned i = 0; i < 2 * rx_total; i++) {
		h = flow_hdr(&a, VSOCK_OP_CREDIT_UPDATE, 0, 0);
		CHECK(rx_badlen(&h, NULL, 0, (i & 1) ? 0xFFFFFFFFu : RXPKT + 45) >= 0);
		if (i % 16 == 15)
			settle();
	}
	settle();
	CHECK_EQ(rx->q->stats.bad_len, 1 + 2 * rx_total);
	CHECK_RX_RING(rx_total);
	ECHO(&a, 30000);

	/* used lengths below a header: counted as short, the buffers go back.
	 * The bytes there are a REQUEST, which must not open anything. */
	struct flow z;
	flow_init(&z, 6000, ECHO_PORT, 0);
	prime(&a, 2000);
	snap();
	uint32_t pool0 = estats().conns_in_use;
	h = flow_hdr(&z, VSOCK_OP_REQUEST, 0, 0);
	rx_raw(&h, NULL, 0, 0);
	rx_raw(&h, NULL, 0, 10);
	rx_raw(&h, NULL, 0, VSOCK_HDR_SIZE - 1);
	settle();
	EXPECT("used length below a header", .rx_short = 3);
	CHECK_EQ(estats().conns_in_use, pool0);
	ECHO(&a, 9000);
	CHECK(z.n_op[VSOCK_OP_RESPONSE] == 0);
	CHECK_RX_RING(rx_total);
	flow_close(&a);
	CHECK_POOL_IDLE();
}

/* used.idx moved far past the entries the device wrote: the guest walks
 * around the used ring reading stale entries. Each is dropped by the
 * virtqueue or names a buffer the guest had posted; such a buffer was never
 * written again, so its header is the cleared one and the packet is dropped
 * as not addressed to us. No old packet is replayed into A. */
static void test_used_idx_jump(void)
{
	setup(256, 256, 8);
	struct flow a;
	flow_init(&a, 5061, ECHO_PORT, 71);
	flow_open(&a);
	ECHO(&a, 100000);
	CHECK_RX_RING(rx_total);
	unsigned long g0 = rx_good;
	prime(&a, BV_VSOCK_RX_BUF_SIZE + 6000);
	const uint64_t primed = rx_good - g0;
	CHECK(primed >= 2);
	snap();
	struct vsock_dev_stats d1 = dstats();
	const unsigned jump = 1000;
	struct virtq *q = RXQ->q;
	*(volatile uint16_t *)&q->used->idx = (uint16_t)(q->used->idx + jump);
	fd.tolerate_republish = 1;
	fd.republished = 0;
	for (int i = 0; i < 100; i++) {
		vsock_poll();
		app_step();
	}
	struct vsock_dev_stats d2 = dstats();
	struct vsock_stats e2 = estats();
	uint64_t popped = d2.rx_bufs - d1.rx_bufs;
	CHECK(popped > 0 && popped < jump);
	/* the primed packets are among them, and the rest are drops */
	CHECK_EQ(popped + (d2.bad_used - d1.bad_used), jump + primed);
	CHECK_EQ(popped - primed, (e2.rx_dropped_badcid - e0.rx_dropped_badcid) + (d2.rx_short - d1.rx_short));
	CHECK_EQ(e2.rx_dropped_malformed - e0.rx_dropped_malformed, 0);
	CHECK_EQ(e2.rst_sent - e0.rst_sent, 0);
	CHECK_EQ(rx_posted(), rx_total);
	CHECK_EQ(fd.republished, popped - primed);
	fd.tolerate_republish = 0;
	ECHO(&a, 50000);
	CHECK_RX_RING(rx_total);
	flow_close(&a);
	CHECK_POOL_IDLE();
}

/* Bad headers while A is transferring; B gets odd credit, C overruns its
 * credit and is reset. */
static void test_rx_bad_headers(void)
{
	setup(256, 256, 8);
	struct flow a, b, c, z;
	flow_init(&a, 5030, ECHO_PORT, 41);
	flow_init(&b, 5031, HOLD_PORT, 42);
	int ha = flow_open(&a);
	int hb = flow_open(&b);
	ECHO(&a, 10000);
	static uint8_t junk[BV_VSOCK_RX_BUF_SIZE];
	memset(junk, 0xEE, sizeof(junk));
	struct vsock_hdr h;
	unsigned rst_a = a.n_op[VSOCK_OP_RST];

	/* dst_cid not ours */
	prime(&a, 5000);
	snap();
	h = flow_hdr(&a, VSOCK_OP_RW, 0, 100);
	h.dst_cid = GUEST_CID + 1;
	rx_raw(&h, junk, 100, VSOCK_HDR_SIZE + 100);
	h.dst_cid = GUEST_CID | (1ull << 32);
	rx_raw(&h, junk, 100, VSOCK_HDR_SIZE + 100);
	h.dst_cid = VSOCK_CID_ANY;
	rx_raw(&h, junk, 100, VSOCK_HDR_SIZE + 100);
	settle();
	EXPECT("dst_cid not ours", .badcid = 3);
	ECHO(&a, 8000);

	/* src_cid above 32 bits: its low half names A's peer */
	prime(&a, 5000);
	snap();
	h = flow_hdr(&a, VSOCK_OP_RW, 0, 100);
	h.src_cid = HOST | (1ull << 32);
	rx_raw(&h, junk, 100, VSOCK_HDR_SIZE + 100);
	h.src_cid = ~0ull;
	rx_raw(&h, junk, 100, VSOCK_HDR_SIZE + 100);
	settle();
	EXPECT("src_cid above 32 bits", .malformed = 2);
	ECHO(&a, 8000);

	/* hdr.len beyond the bytes the device says it wrote */
	prime(&a, 5000);
	snap();
	h = flow_hdr(&a, VSOCK_OP_RW, 0, 100);
	rx_raw(&h, junk, 50, VSOCK_HDR_SIZE + 50);
	h.len = 1;
	rx_raw(&h, NULL, 0, VSOCK_HDR_SIZE);
	/* ... beyond 64 KiB, and all ones */
	h.len = VSOCK_MAX_PKT_PAYLOAD + 1;
	rx_raw(&h, junk, BV_VSOCK_RX_BUF_SIZE, RXPKT);
	h.len = 0xFFFFFFFFu;
	rx_raw(&h, junk, BV_VSOCK_RX_BUF_SIZE, RXPKT);
	settle();
	EXPECT("hdr.len beyond the buffer", .malformed = 4);
	ECHO(&a, 8000);

	/* unknown ops on A's flow: counted, otherwise ignored (Linux too) */
	prime(&a, 5000);
	snap();
	h = flow_hdr(&a, 99, 0, 0);
	rx_raw(&h, NULL, 0, VSOCK_HDR_SIZE);
	h = flow_hdr(&a, 0xFFFF, 0, 100);
	rx_raw(&h, junk, 100, VSOCK_HDR_SIZE + 100);
	h = flow_hdr(&a, VSOCK_OP_INVALID, 0, 0);
	rx_raw(&h, NULL, 0, VSOCK_HDR_SIZE);
	settle();
	EXPECT("unknown ops on A", .unknown_op = 3);
	ECHO(&a, 8000);
	CHECK(a.n_op[VSOCK_OP_RST] == rst_a && vsock_error(ha) == 0);

	/* an unknown op on no flow is answered RST; an RST on no flow is not */
	flow_init(&z, 6001, 4321, 0);
	snap();
	h = flow_hdr(&z, 99, 0, 0);
	rx_raw(&h, NULL, 0, VSOCK_HDR_SIZE);
	h = flow_hdr(&z, VSOCK_OP_RST, 0, 0);
	rx_raw(&h, NULL, 0, VSOCK_HDR_SIZE);
	settle();
	run(2);
	EXPECT("unknown op and RST on no flow", .unknown_op = 1, .rst_sent = 1);
	CHECK(z.n_op[VSOCK_OP_RST] == 1);

	/* unknown type on A's flow: malformed, answered with an RST of that
	 * type; the other known type: answered RST of that type. Neither
	 * names A's STREAM flow, so the peer drops them (the fake counts them
	 * as foreign) and A goes on. */
	prime(&a, 5000);
	snap();
	h = flow_hdr(&a, VSOCK_OP_RW, 0, 100);
	h.type = 9;
	rx_raw(&h, junk, 100, VSOCK_HDR_SIZE + 100);
	h.type = VSOCK_TYPE_SEQPACKET;
	rx_raw(&h, junk, 100, VSOCK_HDR_SIZE + 100);
	settle();
	run(2);
	EXPECT("wrong types on A", .malformed = 1, .rst_sent = 2);
	CHECK_EQ(a.foreign, 2);
	CHECK(a.n_op[VSOCK_OP_RST] == rst_a && vsock_error(ha) == 0);
	ECHO(&a, 8000);

	/* B: the app has 12 KiB for the device, which grants 4 KiB and then
	 * stops consuming: one CREDIT_REQUEST, then nothing */
	b.auto_consume = 0;
	b.in_seed = 77;
	b.buf_alloc = 4096;
	CHECK(flow_pkt(&b, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0) >= 0);
	run(2);
	uint64_t boff = 0;
	CHECK_EQ(app_send_pattern(hb, 77, &boff, 12288), 12288);
	run(5);
	CHECK_EQ(b.rx_cnt, 4096);
	CHECK_EQ(b.n_op[VSOCK_OP_CREDIT_REQUEST], 1);
	snap();
	/* fwd_cnt far ahead of what the guest sent, small buf_alloc: the
	 * difference wraps to "all in flight": still no credit */
	h = flow_hdr(&b, VSOCK_OP_CREDIT_UPDATE, 0, 0);
	h.buf_alloc = 1000;
	h.fwd_cnt = b.rx_cnt + 5000;
	CHECK(rx_raw(&h, NULL, 0, VSOCK_HDR_SIZE) >= 0);
	b.adv_buf_alloc = h.buf_alloc;
	b.adv_fwd_cnt = h.fwd_cnt;
	run(5);
	CHECK_EQ(b.rx_cnt, 4096);
	/* half the counter space ahead with buf_alloc all ones: 2^31 - 1 of
	 * credit, which only lets out what is queued */
	h.buf_alloc = 0xFFFFFFFFu;
	h.fwd_cnt = b.rx_cnt + 0x80000000u;
	CHECK(rx_raw(&h, NULL, 0, VSOCK_HDR_SIZE) >= 0);
	b.adv_buf_alloc = h.buf_alloc;
	b.adv_fwd_cnt = h.fwd_cnt;
	run(5);
	CHECK_EQ(b.rx_cnt, 12288);
	CHECK_EQ(app_send_pattern(hb, 77, &boff, 16384), 16384);
	run(5);
	CHECK_EQ(b.rx_cnt, 12288 + 16384);
	CHECK(b.bad_data == 0 && b.over_credit == 0 && b.est);
	EXPECT("odd credit on B", 0);
	CHECK(vsock_error(hb) == 0);
	ECHO(&a, 9000);

	/* C: the app does not read; a window of 4 KiB packets fills exactly
	 * the space the guest holds (they share RX buffers), one byte more
	 * overflows it: C is reset (ENOBUFS) */
	flow_init(&c, 5032, HOLD_PORT, 43);
	int hc = flow_open(&c);
	prime(&a, 5000);
	for (int i = 0; i < BV_VSOCK_BUF_ALLOC / 4096; i++) {
		CHECK(flow_send(&c, 4096) >= 0);
		if (i % 8 == 7)
			run(1);
	}
	run(3);
	CHECK(estats().rx_bufs_held <= 2 * BV_VSOCK_BUF_ALLOC / BV_VSOCK_RX_BUF_SIZE + 1);
	CHECK_EQ(flow_credit(&c), 0);
	CHECK(vsock_error(hc) == 0);
	snap();
	h = flow_hdr(&c, VSOCK_OP_RW, 0, 1);
	CHECK(rx_raw(&h, flow_data(&c, 1), 1, VSOCK_HDR_SIZE + 1) >= 0);
	run(3);
	EXPECT("data beyond the space held", .overflow = 1, .rst_sent = 1);
	CHECK(c.n_op[VSOCK_OP_RST] == 1 && !c.est);
	CHECK_EQ(vsock_error(hc), BV_ENOBUFS);
	/* what fitted stays readable, then the error */
	static uint8_t rb[BV_VSOCK_BUF_ALLOC];
	CHECK_EQ(vsock_recv(hc, rb, sizeof(rb)), BV_VSOCK_BUF_ALLOC);
	for (uint32_t i = 0; i < BV_VSOCK_BUF_ALLOC; i++)
		if (rb[i] != pat(c.seed, i)) {
			CHECK(!"C's data before the reset");
			break;
		}
	CHECK_EQ(vsock_recv(hc, rb, 1), BV_ENOBUFS);
	CHECK(vsock_close(hc) == 0);
	CHECK(vsock_error(ha) == 0 && vsock_error(hb) == 0);
	ECHO(&a, 20000);
	CHECK_RX_RING(rx_total);
	CHECK_EQ(tx_unmatched, 0);

	flow_close(&a);
	flow_close(&b);
	CHECK(vsock_close(hb) == 0);
	CHECK_POOL_IDLE();
}

/* The event queue: short and unknown events are dropped and counted, one
 * with a bad length stays outstanding, a real TRANSPORT_RESET with a new CID
 * resets connections and nothing else. */
static void test_events(void)
{
	setup(256, 256, 8);
	struct flow a;
	flow_init(&a, 5040, ECHO_PORT, 51);
	int ha = flow_open(&a);
	ECHO(&a, 10000);
	CHECK_EQ(ev_posted(), ev_total);

	/* two short ones (the bytes say TRANSPORT_RESET) and an unknown id */
	prime(&a, 3000);
	snap();
	struct vsock_dev_stats d1 = dstats();
	ev_put(VSOCK_EVENT_TRANSPORT_RESET, 2);
	ev_put(VSOCK_EVENT_TRANSPORT_RESET, 0);
	ev_put(7, sizeof(struct vsock_event));
	settle();
	EXPECT("short and unknown events", .ev_dropped = 3);
	CHECK_EQ(dstats().events - d1.events, 3);
	CHECK_EQ(dstats().transport_resets - d1.transport_resets, 0);
	CHECK(vsock_error(ha) == 0 && vsock_local_cid() == GUEST_CID);
	CHECK_EQ(ev_posted(), ev_total);
	ECHO(&a, 9000);

	/* longer than the buffer: not trusted (no reset though the bytes say
	 * TRANSPORT_RESET), counted, and the buffer goes back on the ring */
	snap();
	d1 = dstats();
	ev_put(VSOCK_EVENT_TRANSPORT_RESET, 5);
	settle();
	EXPECT("event length beyond the buffer", .bad_used = 1, .ev_dropped = 1);
	CHECK_EQ(dstats().transport_resets - d1.transport_resets, 0);
	CHECK(vsock_error(ha) == 0);
	CHECK_EQ(ev_posted(), ev_total);
	ECHO(&a, 9000);

	/* TRANSPORT_RESET and a new CID: A fails with ECONNRESET and nothing
	 * goes out for it, the listeners stay, the old CID is not ours */
	run(2);
	unsigned long seen0 = tx_seen;
	set_cid(42);
	snap();
	d1 = dstats();
	ev_put(VSOCK_EVENT_TRANSPORT_RESET, sizeof(struct vsock_event));
	settle();
	run(3);
	EXPECT("transport reset", 0);
	CHECK_EQ(dstats().transport_resets - d1.transport_resets, 1);
	CHECK_EQ(vsock_local_cid(), 42);
	int err = 0;
	CHECK(app_ended(a.hport, &err) && err == BV_ECONNRESET);
	CHECK_EQ(tx_seen, seen0);
	CHECK_EQ(estats().conns_in_use, 2);
	snap();
	struct vsock_hdr h = flow_hdr(&a, VSOCK_OP_REQUEST, 0, 0);   /* to CID 3 */
	rx_raw(&h, NULL, 0, VSOCK_HDR_SIZE);
	settle();
	EXPECT("packet to the old CID", .badcid = 1);
	struct flow a2;
	flow_init(&a2, 5041, ECHO_PORT, 52);
	CHECK(a2.gcid == 42);
	flow_open(&a2);
	ECHO(&a2, 50000);
	CHECK_EQ(ev_posted(), ev_total);
	CHECK_RX_RING(rx_total);
	flow_close(&a2);
	CHECK_POOL_IDLE();
}

/* TX completions forged by the device: duplicates, ids out of range or not
 * in flight, a length on a chain with nothing writable (accepted: it means
 * nothing there), completions out of order, and no completions at all for a while. No TX buffer is ever free
 * twice or free while the device holds it (check_tx_books after every
 * poll), and the echo stays byte-exact. */
static void test_tx_forged(void)
{
	setup(256, 256, 8);
	struct flow a;
	flow_init(&a, 5050, ECHO_PORT, 61);
	flow_open(&a);
	ECHO(&a, 10000);
	struct fq *tx = TXQ;
	uint16_t size = tx->q->size;

	/* the device sits on TX for a while */
	tx_hold = 1;
	prime(&a, 4 * BV_VSOCK_RX_BUF_SIZE);
	run(4);
	CHECK(tx->nheld >= 4);
	uint64_t bufs0 = dstats().tx_bufs;
	snap();
	uint16_t h0 = fq_take(tx, 0);
	fq_put(tx, h0, 0);
	fq_put(tx, h0, 0);                  /* again, same batch */
	fq_put(tx, size + 3u, 0);           /* out of range */
	fq_put(tx, fq_free_id(tx), 0);      /* not in flight */
	/* TX chains have nothing writable, so a length there is meaningless
	 * (legacy devices often report the bytes they read): the chain completes. */
	fq_put(tx, fq_take(tx, 0), VSOCK_HDR_SIZE);
	vsock_poll();
	check_tx_books();
	EXPECT("forged TX completions", .bad_used = 3);
	CHECK_EQ(tx->q->stats.bad_id, 1);
	CHECK_EQ(tx->q->stats.not_in_flight, 2);
	CHECK_EQ(tx->q->stats.bad_len, 0);
	CHECK_EQ(dstats().tx_bufs - bufs0, 2);
	/* the rest completed newest first */
	while (tx->nheld)
		fq_put(tx, fq_take(tx, tx->nheld - 1), 0);
	vsock_poll();
	check_tx_books();

	/* no completions at all: the guest runs out of TX buffers and waits */
	for (int r = 0; r < 40; r++) {
		prime(&a, 16384);
		step();
	}
	CHECK_EQ(vsock_dev_test_tx_free(NULL, 0), 0);
	CHECK_EQ(tx->nheld, tx_total);
	snap();
	/* and a duplicate of every chain it holds, each in its own batch */
	unsigned n0 = tx->nheld;
	CHECK_EQ(n0, tx_total);
	for (unsigned i = 0; i < n0; i++) {
		uint16_t hd = tx->held[0];
		fq_take(tx, 0);
		fq_put(tx, hd, 0);
		fq_put(tx, hd, 0);
		vsock_poll();
		check_tx_books();
		/* the guest filled it again at once: take (and read) that */
		dev_tx();
	}
	EXPECT("duplicate TX completions", .bad_used = tx_total);

	tx_hold = 0;
	ECHO(&a, 30000);
	CHECK_RX_RING(rx_total);
	flow_close(&a);
	CHECK_POOL_IDLE();
}

/* Many connections, and forged packets and used entries mixed into their
 * traffic at random: every echo stays byte-exact and every drop is counted
 * where it belongs. */
static void test_mixed(void)
{
	setup(256, 256, 8);
	enum { NF = 12 };
	static struct flow f[NF];
	for (int i = 0; i < NF; i++) {
		flow_init(&f[i], 7000 + (uint32_t)i, ECHO_PORT, 100 + (uint32_t)i);
		flow_open(&f[i]);
	}
	static uint8_t junk[BV_VSOCK_RX_BUF_SIZE];
	memset(junk, 0x5A, sizeof(junk));
	struct want w = { 0 };
	uint32_t x = 12345;
	snap();
	for (int round = 0; round < 3000; round++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		struct flow *fl = &f[x % NF];
		uint32_t n = 1 + (x >> 8) % BV_VSOCK_RX_BUF_SIZE;
		n = min32(n, flow_credit(fl));
		if (n)
			flow_send(fl, n);
		struct vsock_hdr h = flow_hdr(fl, VSOCK_OP_RW, 0, 64);
		switch ((x >> 24) % 16) {
		case 0:
			h.dst_cid = 77;
			if (rx_raw(&h, junk, 64, VSOCK_HDR_SIZE + 64) >= 0)
				w.badcid++;
			break;
		case 1:
			h.src_cid |= 1ull << 40;
			if (rx_raw(&h, junk, 64, VSOCK_HDR_SIZE + 64) >= 0)
				w.malformed++;
			break;
		case 2:
			h.len = 65;
			if (rx_raw(&h, junk, 64, VSOCK_HDR_SIZE + 64) >= 0)
				w.malformed++;
			break;
		case 3:
			h.op = (uint16_t)(8 + (x & 0xFF));
			if (rx_raw(&h, junk, 64, VSOCK_HDR_SIZE + 64) >= 0)
				w.unknown_op++;
			break;
		case 4:
			if (rx_raw(&h, junk, 64, (x >> 4) % VSOCK_HDR_SIZE) >= 0)
				w.rx_short++;
			break;
		case 5:
			fq_put(RXQ, fq_free_id(RXQ), VSOCK_HDR_SIZE);
			w.bad_used++;
			break;
		case 6:
			fq_put(RXQ, RXQ->q->size + (x & 0xFFF), VSOCK_HDR_SIZE);
			w.bad_used++;
			break;
		default:
			break;
		}
		step();
	}
	for (int i = 0; i < NF; i++)
		ECHO(&f[i], 3000);
	expect_moved("mixed", __LINE__, w);
	CHECK_RX_RING(rx_total);
	for (int i = 0; i < NF; i++)
		flow_close(&f[i]);
	CHECK_POOL_IDLE();
}


/* Issue 11, in the glue: feature bits, the packet right behind a
 * TRANSPORT_RESET, and replies that back up. */
static void test_issue11_glue(void)
{
	/* every type bit we know is taken; bit 3 and above never (DGRAM and
	 * multi-device proposals), nor device bits we do not know */
	next_offer = (1ull << VIRTIO_F_VERSION_1) | 0xFFFFFFull;
	setup(256, 256, 8);
	CHECK_EQ(fd.accepted & 0xFFFFFFull, 7);
	/* SEQPACKET with NO_IMPLIED_STREAM: no STREAM listener possible */
	next_offer = (1ull << VIRTIO_F_VERSION_1) | (1ull << VSOCK_F_SEQPACKET) |
		     (1ull << VSOCK_F_NO_IMPLIED_STREAM);
	memset(&fd, 0, sizeof(fd));
	fd.vd.ops = &fops;
	fd.vd.transport = VIRTIO_TRANSPORT_MMIO_V2;
	fd.vd.device_id = VIRTIO_ID_VSOCK;
	strcpy(fd.vd.where, "fake");
	fd.offered = next_offer;
	next_offer = 0;
	set_cid(GUEST_CID);
	fd.q[VSOCK_VQ_RX].max = fd.q[VSOCK_VQ_TX].max = 64;
	fd.q[VSOCK_VQ_EVENT].max = 8;
	CHECK(vsock_dev_attach(&fd.vd) == BV_OK);
	CHECK_EQ(vsock_listen(7100, VSOCK_STREAM, 0), BV_ENOTSUP);
	CHECK(vsock_listen(7101, VSOCK_SEQPACKET, 0) >= 0);

	/* TRANSPORT_RESET with a new CID, and a REQUEST to that CID completed
	 * before the event in the same batch: the host that connects right
	 * after a migration is answered */
	setup(256, 256, 8);
	struct flow a;
	flow_init(&a, 7200, ECHO_PORT, 71);
	flow_open(&a);
	ECHO(&a, 5000);
	set_cid(77);
	struct flow b;
	flow_init(&b, 7201, ECHO_PORT, 72);
	CHECK(b.gcid == 77);
	snap();
	CHECK(flow_pkt(&b, VSOCK_OP_REQUEST, 0, NULL, 0) >= 0);
	ev_put(VSOCK_EVENT_TRANSPORT_RESET, sizeof(struct vsock_event));
	run(3);
	EXPECT("REQUEST right behind a TRANSPORT_RESET", 0);
	CHECK(b.est && b.n_op[VSOCK_OP_RESPONSE] == 1);
	CHECK_EQ(vsock_local_cid(), 77);
	ECHO(&b, 20000);
	flow_close(&b);

	/* replies back up: the device takes TX chains and completes none, while
	 * far more packets to unknown flows arrive than the TX ring and the
	 * reply queue hold. RX work stops while the RSTs wait; once the device
	 * completes TX again, every one is answered: none dropped */
	setup(256, 256, 8);
	tx_hold = 1;
	unsigned long unm0 = tx_unmatched;
	snap();
	const unsigned total = 600;
	unsigned sent = 0;
	for (int round = 0; round < 200 && sent < total; round++) {
		while (sent < total && RXQ->nheld + fq_pull(RXQ) > 0) {
			/* a flow nobody tracks: its RST counts as unmatched */
			struct vsock_hdr h = { .src_cid = HOST, .dst_cid = cur_cid(), .src_port = 20000 + sent,
					       .dst_port = 9999, .len = 1, .type = VSOCK_TYPE_STREAM,
					       .op = VSOCK_OP_RW, .buf_alloc = 4096 };
			if (rx_raw(&h, "z", 1, VSOCK_HDR_SIZE + 1) < 0)
				break;
			sent++;
		}
		step();
		if (round == 20)
			tx_hold = 0;
	}
	run(20);
	CHECK_EQ(sent, total);
	CHECK_EQ(tx_unmatched - unm0, total);
	CHECK_EQ(estats().rst_dropped, 0);
	EXPECT("unknown flows while TX is held", .rst_sent = total);
	CHECK_RX_RING(rx_total);
	CHECK_POOL_IDLE();
}

int main(void)
{
	test_baseline();
	test_small_queues();
	test_rx_bad_used();
	test_used_idx_jump();
	test_rx_bad_headers();
	test_events();
	test_tx_forged();
	test_mixed();
	test_issue11_glue();
	if (failures) {
		printf("test_vsock_dev: %d of %lu checks FAILED\n", failures, checks);
		return 1;
	}
	printf("test_vsock_dev: all %lu checks passed\n", checks);
	return 0;
}
