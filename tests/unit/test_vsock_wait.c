/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of vsock_wait() (vsock/vsock_dev.c), the virtqueue notification
 * rules under it (drivers/virtq.c) and the interrupt handler with its storm
 * guard (drivers/virtio.c), built natively with the real engine and virtio
 * core, against a fake transport and device and a fake port: the fake
 * bv_port_idle() moves a fake clock, lets the device act while the "CPU"
 * halts, and runs the attached handler when the device raises its line, as
 * a real port does. The device may interrupt properly, never, or for
 * nothing (a line it keeps asserted with an empty ISR); it may honour
 * VIRTIO_F_EVENT_IDX or let its avail_event go stale. Asserted:
 * no lost wake-up (the guest never halts while a used entry sits on a queue
 * whose notifications it turned on), every wait ends by its bound (a missed
 * or spurious interrupt costs latency, never a hang), interrupts stay
 * suppressed while the guest is not waiting, engine timers end the wait on
 * time, a stale avail_event is overcome by the kick watchdog, and a line
 * that never lets go is turned off and replaced by timed wake-ups.
 * Not covered: real transports and interrupt controllers (tests/test_idle.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define CHECK_MAIN
#include "tests/unit/check.h"
#include "bv/config.h"
#include "bv/err.h"
#include "bv/port.h"
#include "drivers/virtio.h"
#include "drivers/virtq.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_engine.h"

#define HOST       2u
#define GUEST_CID  3u
#define ECHO_PORT  1234u
#define HOST_PORT  5555u
#define MS         1000ull
#define MAX_HALT_US (BV_VSOCK_WAIT_MAX_HALT_MS * MS)

/* ================================================================ clock and the now-hook */

static uint64_t fake_us;
static uint64_t hook_at = UINT64_MAX;      /* run hook once the clock is read at or after this */
static void (*hook)(void);

uint64_t bv_port_now_us(void)
{
	if (hook && fake_us >= hook_at) {
		void (*h)(void) = hook;
		hook = NULL;
		h();
	}
	return fake_us;
}

void bv_port_relax(void) { fake_us++; }

/* ================================================================ the fake device */

/* PROPER: raises its line when the rules say so; NEVER: never does;
 * SPURIOUS: wakes the CPU with nothing new; STUCK: keeps its line asserted
 * with an empty ISR (the handler's acknowledgement changes nothing). */
enum irq_style { IRQ_PROPER, IRQ_NEVER, IRQ_SPURIOUS, IRQ_STUCK };

struct dq {
	struct virtq *q;
	uint16_t last_avail;
	uint16_t signalled;         /* used.idx at our last signal decision (EVENT_IDX) */
	int signalled_valid;
	unsigned notifies;
};

static struct {
	struct virtio_dev vd;
	uint8_t status;
	uint64_t offered;
	struct dq q[3];
	enum irq_style irq;
	int stale_avail_event;      /* EVENT_IDX device that stops moving avail_event */
	int irq_pending;            /* the line is asserted */
	uint32_t isr;               /* InterruptStatus: bit 0 used buffer */
	unsigned signals;           /* interrupts the device raised */
	unsigned tx_seen;           /* TX packets it took */
	unsigned tx_rw_bytes;       /* RW payload bytes among them */
	uint16_t last_tx_op;
	uint32_t host_fwd;          /* what the host's "application" consumed */
} dev;

static struct {
	unsigned halts, early;      /* bv_port_idle calls, and those an interrupt ended */
	unsigned taken;             /* handler runs */
	unsigned lost_wakeups;      /* halts with a used entry pending on an armed queue */
} port;

static int need_event(uint16_t ev, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - ev - 1) < (uint16_t)(new_idx - old);
}

static volatile uint16_t *used_event_of(struct virtq *q) { return (volatile uint16_t *)((uintptr_t)q->avail + 4u + 2u * q->size); }
static volatile uint16_t *avail_event_of(struct virtq *q) { return (volatile uint16_t *)((uintptr_t)q->used + 4u + 8u * q->size); }

/* After pushing used entries: would a real device interrupt now? */
static void dev_signal(struct dq *d)
{
	struct virtq *q = d->q;
	uint16_t now_used = q->used->idx;
	int want;
	if (dev.offered & (1ull << VIRTIO_RING_F_EVENT_IDX) && q->event_idx) {
		want = !d->signalled_valid || need_event(*used_event_of(q), now_used, d->signalled);
		d->signalled = now_used;
		d->signalled_valid = 1;
	} else {
		want = !(q->avail->flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	if (!want)
		return;
	dev.signals++;
	if (dev.irq != IRQ_NEVER) {
		dev.isr |= 1;
		dev.irq_pending = 1;
	}
}

static void dev_push(struct dq *d, uint16_t head, uint32_t len)
{
	struct virtq *q = d->q;
	uint16_t u = q->used->idx;
	q->used->ring[u & (q->size - 1)] = (struct virtq_used_elem){ head, len };
	bv_wmb();
	*(volatile uint16_t *)&q->used->idx = (uint16_t)(u + 1);
	bv_mb();
	dev_signal(d);
}

/* The device publishes where it wants the next kick: after the last chain it took. */
static void dev_set_avail_event(struct dq *d)
{
	if (dev.offered & (1ull << VIRTIO_RING_F_EVENT_IDX) && !dev.stale_avail_event)
		*avail_event_of(d->q) = d->last_avail;
}

/* Deliver one packet to the guest through an RX buffer. */
static int dev_rx(uint16_t op, uint32_t src_port, uint32_t dst_port, const void *payload, uint32_t n)
{
	struct dq *d = &dev.q[0];
	struct virtq *q = d->q;
	if (d->last_avail == *(volatile uint16_t *)&q->avail->idx)
		return 0;   /* no buffer posted */
	uint16_t head = q->avail->ring[d->last_avail & (q->size - 1)];
	d->last_avail++;
	dev_set_avail_event(d);
	uint8_t *buf = (uint8_t *)(uintptr_t)q->desc[head].addr;
	struct vsock_hdr h = {
		.src_cid = HOST, .dst_cid = GUEST_CID, .src_port = src_port, .dst_port = dst_port,
		.len = n, .type = VSOCK_TYPE_STREAM, .op = op, .buf_alloc = 65536, .fwd_cnt = dev.host_fwd,
	};
	memcpy(buf, &h, sizeof(h));
	if (n)
		memcpy(buf + sizeof(h), payload, n);
	dev_push(d, head, (uint32_t)sizeof(h) + n);
	return 1;
}

/* A kick on TX: take every published packet, note it, complete it. */
static void dev_tx(void)
{
	struct dq *d = &dev.q[1];
	struct virtq *q = d->q;
	while (d->last_avail != *(volatile uint16_t *)&q->avail->idx) {
		uint16_t head = q->avail->ring[d->last_avail & (q->size - 1)];
		d->last_avail++;
		const struct vsock_hdr *h = (const struct vsock_hdr *)(uintptr_t)q->desc[head].addr;   /* identity DMA */
		dev.tx_seen++;
		dev.last_tx_op = h->op;
		if (h->op == VSOCK_OP_RW) {
			dev.tx_rw_bytes += h->len;
			dev.host_fwd += h->len;
		}
		dev_push(d, head, 0);
	}
	dev_set_avail_event(d);
}

static int f_reset(struct virtio_dev *d) { (void)d; dev.status = 0; return BV_OK; }
static uint8_t f_get_status(struct virtio_dev *d) { (void)d; return dev.status; }
static void f_set_status(struct virtio_dev *d, uint8_t s) { (void)d; dev.status = s; }
static uint64_t f_get_features(struct virtio_dev *d) { (void)d; return dev.offered; }
static void f_set_features(struct virtio_dev *d, uint64_t f) { (void)d; CHECK((f & ~dev.offered) == 0); }
static unsigned f_queue_max(struct virtio_dev *d, unsigned idx) { (void)d; return idx < 3 ? 64 : 0; }

static void f_notify_hook(struct virtq *q, void *ctx)
{
	(void)ctx;
	dev.q[q->index].notifies++;
	if (q->index == 1)
		dev_tx();
}

static int f_setup_queue(struct virtio_dev *d, struct virtq *q)
{
	(void)d;
	memset(&dev.q[q->index], 0, sizeof(dev.q[0]));
	dev.q[q->index].q = q;
	virtq_set_notify(q, f_notify_hook, NULL);
	return BV_OK;
}

static void f_notify(struct virtio_dev *d, unsigned idx) { (void)d; (void)idx; }
static uint8_t f_cfg8(struct virtio_dev *d, unsigned off) { (void)d; (void)off; return 0; }
static uint16_t f_cfg16(struct virtio_dev *d, unsigned off) { (void)d; (void)off; return 0; }
static uint32_t f_cfg32(struct virtio_dev *d, unsigned off) { (void)d; return off == 0 ? GUEST_CID : 0; }
static uint32_t f_cfg_gen(struct virtio_dev *d) { (void)d; return 0; }

/* The line, as the mmio transport does it: the port takes it, the ISR says
 * whether it was ours and acknowledging lowers it (unless the device is stuck). */
static struct { bv_port_irq_fn fn; void *ctx; unsigned attached, offs; } line;

static void f_irq_setup(struct virtio_dev *d)
{
	if (!d->irq.attached) {
		d->irq.handle = bv_port_irq_line(40, BV_IRQ_LEVEL, virtio_irq_handler, d);
		d->irq.attached = 1;
	}
	d->irq.mode = VIRTIO_IRQ_LINE;
}

static uint32_t f_irq_ack(struct virtio_dev *d)
{
	(void)d;
	uint32_t st = dev.isr;
	dev.isr = 0;
	if (dev.irq != IRQ_STUCK)
		dev.irq_pending = 0;
	return st;
}

static const struct virtio_ops fops = {
	.reset = f_reset, .get_status = f_get_status, .set_status = f_set_status,
	.get_features = f_get_features, .set_features = f_set_features,
	.queue_max = f_queue_max, .setup_queue = f_setup_queue, .notify = f_notify,
	.cfg_read8 = f_cfg8, .cfg_read16 = f_cfg16, .cfg_read32 = f_cfg32,
	.cfg_generation = f_cfg_gen,
	.irq_setup = f_irq_setup, .irq_ack = f_irq_ack,
};

/* ================================================================ the fake port */

/* Scheduled device actions while the CPU halts: at time `at`, deliver. */
static struct { uint64_t at; uint16_t op; const char *data; int done; } sched[4];
static unsigned nsched;

static void schedule(uint64_t at, uint16_t op, const char *data)
{
	sched[nsched].at = at;
	sched[nsched].op = op;
	sched[nsched].data = data;
	sched[nsched].done = 0;
	nsched++;
}

/* What a port does when the line is up: run the handler, which must
 * acknowledge the device; a level line still up afterwards fires again. */
static int take_interrupt(void)
{
	if (!dev.irq_pending || line.offs)
		return 0;
	if (port.taken > 10 * VIRTIO_IRQ_STORM) {
		CHECK(!"the line was never turned off: the guest would never sleep");
		line.offs++;        /* stop here instead of spinning for ever */
		return 0;
	}
	port.early++;
	port.taken++;
	line.fn(line.ctx);
	return 1;
}

void bv_port_idle(uint64_t deadline_us)
{
	port.halts++;
	/* The lost wake-up: an entry already in a queue whose notifications
	 * the guest asked for. The device saw them off and will not signal. */
	for (int i = 0; i < 3; i++)
		if (dev.q[i].q && dev.q[i].q->irq_on && virtq_has_used(dev.q[i].q))
			port.lost_wakeups++;
	CHECK(deadline_us > fake_us);
	if (take_interrupt())
		return;
	if (dev.irq == IRQ_SPURIOUS) {
		fake_us += 100;      /* "an interrupt" that brought nothing */
		port.early++;
		return;
	}
	for (;;) {
		unsigned next = nsched;
		for (unsigned i = 0; i < nsched; i++)
			if (!sched[i].done && sched[i].at <= deadline_us && (next == nsched || sched[i].at < sched[next].at))
				next = i;
		if (next == nsched)
			break;
		if (sched[next].at > fake_us)
			fake_us = sched[next].at;
		sched[next].done = 1;
		const char *p = sched[next].data;
		dev_rx(sched[next].op, HOST_PORT, ECHO_PORT, p, p ? (uint32_t)strlen(p) : 0);
		if (take_interrupt())
			return;
	}
	fake_us = deadline_us;
}

int bv_port_irq_line(uint32_t irq, unsigned flags, bv_port_irq_fn fn, void *ctx)
{
	(void)irq; (void)flags;
	line.fn = fn;
	line.ctx = ctx;
	line.attached++;
	return 7;
}

int bv_port_irq_msi(bv_port_irq_fn fn, void *ctx, uint64_t *addr, uint32_t *data)
{
	(void)fn; (void)ctx; (void)addr; (void)data;
	return BV_ENOTSUP;
}

void bv_port_irq_off(int handle)
{
	CHECK_EQ(handle, 7);
	line.offs++;
}

/* The log, kept so the stall log's lines can be checked (the weak one in
 * arch/host/port.c prints). */
static char logtext[8192];
static size_t loglen;

void bv_port_log(const char *s, size_t n)
{
	if (n > sizeof(logtext) - 1 - loglen)
		n = sizeof(logtext) - 1 - loglen;
	memcpy(logtext + loglen, s, n);
	loglen += n;
	logtext[loglen] = 0;
}

/* ================================================================ the guest app */

static int lh = -1, conn = -1;

/* One round of the echo app: poll, accept, echo. Returns work done. */
static int app_round(void)
{
	int work = vsock_poll();
	int h = vsock_accept(lh, NULL, NULL);
	if (h >= 0) {
		conn = h;
		work++;
	}
	if (conn >= 0) {
		char buf[256];
		int n = vsock_recv(conn, buf, sizeof(buf));
		if (n > 0) {
			CHECK_EQ(vsock_send(conn, buf, (uint32_t)n), n);
			work++;
		}
	}
	return work;
}

/* Run the app until it has nothing left to do right now. */
static void app_settle(void)
{
	for (int i = 0; i < 100 && app_round(); i++)
		;
}

static void boot(uint64_t offered, enum irq_style irq)
{
	memset(&dev, 0, sizeof(dev));
	memset(&port, 0, sizeof(port));
	memset(&line, 0, sizeof(line));
	nsched = 0;
	hook = NULL;
	hook_at = UINT64_MAX;
	dev.vd.ops = &fops;
	dev.vd.transport = VIRTIO_TRANSPORT_MMIO_V2;
	dev.vd.device_id = VIRTIO_ID_VSOCK;
	dev.offered = offered | 1ull << VIRTIO_F_VERSION_1;
	dev.irq = irq;
	dev.irq_pending = irq == IRQ_STUCK;   /* stuck high from the start */
	fake_us += 10 * 1000 * MS;    /* every scenario starts well clear of the last */
	CHECK_EQ(vsock_dev_attach(&dev.vd), BV_OK);
	CHECK_EQ(line.attached, 1);
	lh = vsock_listen(ECHO_PORT, VSOCK_STREAM, 4);
	CHECK(lh >= 0);
	conn = -1;
	app_settle();
}

/* Connect from the host, settle, and leave the TX ring drained. */
static void connect_host(void)
{
	CHECK(dev_rx(VSOCK_OP_REQUEST, HOST_PORT, ECHO_PORT, NULL, 0));
	app_settle();
	CHECK(conn >= 0);
	CHECK_EQ(dev.last_tx_op, VSOCK_OP_RESPONSE);
	app_settle();
}

static struct vsock_dev_stats dstats(void)
{
	struct vsock_dev_stats s;
	vsock_dev_stats(&s);
	return s;
}

/* ================================================================ scenarios */

/* A proper device: a packet during the halt wakes the guest at once. */
static void test_interrupt_wakes(uint64_t feat)
{
	boot(feat, IRQ_PROPER);
	uint64_t forced = dstats().forced_kicks;   /* the counters live across boots */
	connect_host();
	unsigned signals = dev.signals;
	/* Traffic while the guest is not waiting: no interrupt requested. */
	for (int i = 0; i < 5; i++) {
		CHECK(dev_rx(VSOCK_OP_RW, HOST_PORT, ECHO_PORT, "abc", 3));
		app_settle();
	}
	CHECK_EQ(dev.signals, signals);
	CHECK_EQ(dev.tx_rw_bytes, 15);

	uint64_t t0 = fake_us;
	schedule(t0 + 7 * MS, VSOCK_OP_RW, "hello");
	CHECK_EQ(vsock_wait(VSOCK_WAIT_FOREVER), 1);
	CHECK_EQ(fake_us, t0 + 7 * MS);          /* woken by the interrupt, not a timer */
	CHECK(port.early >= 1);
	CHECK_EQ(port.lost_wakeups, 0);
	app_settle();
	CHECK_EQ(dev.tx_rw_bytes, 20);
	/* Awake again: suppressed again. */
	signals = dev.signals;
	CHECK(dev_rx(VSOCK_OP_RW, HOST_PORT, ECHO_PORT, "x", 1));
	CHECK_EQ(dev.signals, signals);
	app_settle();
	CHECK_EQ(dstats().forced_kicks, forced);
}

/* A device that never interrupts: each wait still ends within one bounded
 * halt of the packet's arrival. */
static void test_never_interrupts(void)
{
	boot(0, IRQ_NEVER);
	connect_host();
	for (int i = 0; i < 3; i++) {
		uint64_t t0 = fake_us;
		uint64_t at = t0 + (uint64_t)(i + 1) * 13 * MS;
		schedule(at, VSOCK_OP_RW, "late");
		CHECK_EQ(vsock_wait(10000), 1);
		CHECK(fake_us >= at && fake_us <= at + MAX_HALT_US);
		app_settle();
	}
	CHECK_EQ(dev.tx_rw_bytes, 12);
	CHECK(dev.signals > 0);         /* it would have signalled: we asked */
	CHECK_EQ(port.early, 0);
	CHECK_EQ(port.lost_wakeups, 0);
}

/* A device that interrupts for nothing: the caller's timeout still holds,
 * and the wait says "nothing" rather than waking the app for nothing. */
static void test_spurious_interrupts(void)
{
	boot(0, IRQ_SPURIOUS);
	connect_host();
	uint64_t t0 = fake_us;
	CHECK_EQ(vsock_wait(50), 0);
	CHECK(fake_us >= t0 + 50 * MS && fake_us < t0 + 51 * MS);
	CHECK(port.halts > 100);
	CHECK_EQ(port.lost_wakeups, 0);
}

/* The race the re-check after enabling closes: the device fills an RX
 * buffer just before the guest asks for interrupts, sees them off and
 * does not signal. The guest must notice instead of halting. */
static void race_deliver(void) { CHECK(dev_rx(VSOCK_OP_RW, HOST_PORT, ECHO_PORT, "race", 4)); }

static void test_no_lost_wakeup(uint64_t feat)
{
	boot(feat, IRQ_PROPER);
	connect_host();
	unsigned halts = port.halts, signals = dev.signals;
	/* After the polling window, on the clock read right before arming. */
	hook_at = fake_us + BV_VSOCK_WAIT_SPIN_US;
	hook = race_deliver;
	uint64_t t0 = fake_us;
	CHECK_EQ(vsock_wait(VSOCK_WAIT_FOREVER), 1);
	CHECK(hook == NULL);                         /* it did fire */
	CHECK_EQ(dev.signals, signals);              /* with interrupts still off */
	CHECK_EQ(port.halts, halts);                 /* and the guest did not halt on it */
	CHECK(fake_us < t0 + MS);
	CHECK_EQ(port.lost_wakeups, 0);
	app_settle();
	CHECK_EQ(dev.tx_rw_bytes, 4);
}

/* Engine timers end the wait: an unanswered connect times out on time. */
static void test_engine_timer(void)
{
	boot(0, IRQ_PROPER);
	int h = vsock_connect(HOST, 9999, VSOCK_STREAM);
	CHECK(h >= 0);
	app_settle();
	CHECK_EQ(dev.last_tx_op, VSOCK_OP_REQUEST);
	uint64_t due = (vsock_engine_now_ms() + BV_VSOCK_CONNECT_TIMEOUT_MS) * MS;
	fake_us += 7 * MS;      /* so the deadline falls between two bounded halts */
	CHECK_EQ(vsock_wait(VSOCK_WAIT_FOREVER), 1);
	CHECK(fake_us >= due && fake_us <= due + MS);
	app_settle();
	CHECK(vsock_events(h) & VSOCK_EV_ERROR);
	CHECK_EQ(vsock_error(h), BV_ETIMEDOUT);
	/* and the caller's own timeout, with nothing armed */
	vsock_close(h);
	app_settle();
	uint64_t t0 = fake_us;
	CHECK_EQ(vsock_wait(30), 0);
	CHECK(fake_us >= t0 + 30 * MS && fake_us <= t0 + 31 * MS);
	CHECK_EQ(port.lost_wakeups, 0);
}

/* A peer that grants no more credit and answers nothing: the CREDIT_REQUEST
 * retry and the stall log are timers too. A guest halted in vsock_wait must
 * wake for each at its time, or it would never ask again and never say why
 * it is stuck (found in the end-to-end stall test). */
static void test_stall_timers(void)
{
	boot(0, IRQ_PROPER);
	connect_host();
	static char big[65536 + 4096];   /* the host grants 65536 and never forwards */
	uint32_t off = 0;
	for (int i = 0; i < 16 && off < sizeof(big); i++) {
		int n = vsock_send(conn, big + off, (uint32_t)(sizeof(big) - off));
		if (n > 0)
			off += (uint32_t)n;
		app_settle();
	}
	CHECK_EQ(off, (uint32_t)sizeof(big));
	CHECK_EQ(dev.tx_rw_bytes, 65536);
	CHECK_EQ(dev.last_tx_op, VSOCK_OP_CREDIT_REQUEST);
	uint64_t stalled = fake_us;
	loglen = 0;
	logtext[0] = 0;

	/* 1: the retry, BV_VSOCK_CREDIT_RETRY_MS after the first request */
	dev.last_tx_op = 0;
	uint64_t want = stalled + (uint64_t)BV_VSOCK_CREDIT_RETRY_MS * MS;
	while (dev.last_tx_op != VSOCK_OP_CREDIT_REQUEST && fake_us < want + 100 * MS) {
		CHECK_EQ(vsock_wait(VSOCK_WAIT_FOREVER), 1);
		app_settle();
	}
	CHECK_EQ(dev.last_tx_op, VSOCK_OP_CREDIT_REQUEST);
	CHECK(fake_us + MS >= want && fake_us <= want + MS);

	/* 2: the stall line, BV_VSOCK_STALL_LOG_MS after the stall began */
	if (BV_VSOCK_STALL_LOG_MS) {
		want = stalled + (uint64_t)BV_VSOCK_STALL_LOG_MS * MS;
		while (!strstr(logtext, "vsock: stall: guest port") && fake_us < want + 100 * MS) {
			CHECK_EQ(vsock_wait(VSOCK_WAIT_FOREVER), 1);
			app_settle();
		}
		CHECK(strstr(logtext, "vsock: stall: guest port 1234 -> host port") != NULL);
		CHECK(fake_us + MS >= want && fake_us <= want + MS);
	}
	CHECK_EQ(dev.tx_rw_bytes, 65536);   /* nothing sent past the credit */
	CHECK_EQ(port.lost_wakeups, 0);
	vsock_close(conn);
	conn = -1;
	app_settle();
}

/* EVENT_IDX with a device whose avail_event never moves after the first
 * kick (firecracker-microvm/firecracker#5969): the guest's next TX publish
 * does not pass it, so no kick; the packet would sit forever. The wait's
 * watchdog rings the doorbell anyway. */
static void test_stale_avail_event(void)
{
	boot(1ull << VIRTIO_RING_F_EVENT_IDX, IRQ_PROPER);
	CHECK(dstats().event_idx);
	uint64_t forced = dstats().forced_kicks;
	dev.stale_avail_event = 1;
	connect_host();                       /* RESPONSE: the first kick still passes 0 */
	unsigned seen = dev.tx_seen;
	CHECK(dev_rx(VSOCK_OP_RW, HOST_PORT, ECHO_PORT, "stuck?", 6));
	app_settle();
	CHECK_EQ(dev.tx_seen, seen);          /* the echo is published but never kicked */
	uint64_t t0 = fake_us;
	/* Short waits, so a guest without the watchdog fails here instead of
	 * hanging the test. */
	while (dev.tx_seen == seen && fake_us < t0 + 10 * 1000 * MS) {
		vsock_wait(100);
		app_round();
	}
	CHECK_EQ(dev.tx_rw_bytes, 6);
	CHECK(fake_us <= t0 + BV_VSOCK_KICK_WATCHDOG_MS * MS + MAX_HALT_US);
	CHECK(dstats().forced_kicks > forced);
	CHECK_EQ(port.lost_wakeups, 0);
}

/* EVENT_IDX with an honest device: kicks only when the device asks, and
 * interrupts only while the guest waits. */
static void test_event_idx_honest(void)
{
	boot(1ull << VIRTIO_RING_F_EVENT_IDX, IRQ_PROPER);
	uint64_t forced = dstats().forced_kicks;
	connect_host();
	unsigned kicks = dev.q[1].notifies;
	for (int i = 0; i < 4; i++) {
		CHECK(dev_rx(VSOCK_OP_RW, HOST_PORT, ECHO_PORT, "evidx", 5));
		app_settle();
	}
	CHECK_EQ(dev.tx_rw_bytes, 20);
	CHECK(dev.q[1].notifies > kicks);     /* each echo needed its kick: the device drained every time */
	unsigned signals = dev.signals;
	uint64_t t0 = fake_us;
	schedule(t0 + 3 * MS, VSOCK_OP_RW, "wake");
	CHECK_EQ(vsock_wait(VSOCK_WAIT_FOREVER), 1);
	CHECK_EQ(fake_us, t0 + 3 * MS);
	CHECK_EQ(dev.signals, signals + 1);
	app_settle();
	CHECK_EQ(dev.tx_rw_bytes, 24);
	CHECK_EQ(dstats().forced_kicks, forced);
	CHECK_EQ(port.lost_wakeups, 0);
}

/* virtq alone: the EVENT_IDX kick rule at the u16 wrap. */
static struct virtq wq;
static unsigned wq_kicks;
static void wq_notify(struct virtq *q, void *ctx) { (void)q; (void)ctx; wq_kicks++; }

static void test_kick_rule_wraps(void)
{
	static uint8_t buf[16];
	CHECK_EQ(virtq_init(&wq, 0, 8), BV_OK);
	virtq_set_event_idx(&wq, 1);
	virtq_set_notify(&wq, wq_notify, NULL);
	struct virtq_seg s = virtq_seg(buf, sizeof(buf));
	/* Walk avail.idx across 65535 -> 0 with the device asking for a kick
	 * at every index: each publish must ring. */
	uint16_t last = 0;
	for (unsigned n = 0; n < 70000; n++) {
		CHECK(virtq_add(&wq, &s, 1, 0, buf) == BV_OK || !"add");
		*avail_event_of(&wq) = last;      /* device: kick me when you pass `last` */
		unsigned before = wq_kicks;
		virtq_kick(&wq);
		if (wq_kicks != before + 1) {
			CHECK(!"EVENT_IDX kick missed");
			break;
		}
		/* complete it so the ring never fills */
		wq.used->ring[wq.used->idx & 7] = (struct virtq_used_elem){ (uint32_t)(wq.avail->ring[last & 7]), 0 };
		wq.used->idx++;
		void *tok;
		uint32_t len;
		CHECK_EQ(virtq_pop_used(&wq, &tok, &len), 1);
		last++;
	}
	/* A device that asked for a kick at an index already passed gets none. */
	CHECK(virtq_add(&wq, &s, 1, 0, buf) == BV_OK);
	*avail_event_of(&wq) = (uint16_t)(last - 5);
	unsigned before = wq_kicks;
	virtq_kick(&wq);
	CHECK_EQ(wq_kicks, before);
	CHECK_EQ(wq.stats.notifies_suppressed, 1);
	virtq_kick_force(&wq);                /* nothing new: still rings */
	CHECK_EQ(wq_kicks, before + 1);
	/* used_event: enable names the next entry, disable one behind. */
	CHECK_EQ(virtq_irq_enable(&wq), 0);
	CHECK_EQ(*used_event_of(&wq), wq.last_used);
	virtq_irq_disable(&wq);
	CHECK_EQ(*used_event_of(&wq), (uint16_t)(wq.last_used - 1));
	CHECK_EQ(wq.avail->flags, 0);         /* EVENT_IDX: the flag stays 0 */
}

/* A line that stays up with nothing in the ISR: the handler turns it off
 * after VIRTIO_IRQ_STORM tries, and the guest falls back to timed wake-ups:
 * it still sees a packet within one poll period, and the wait still ends. */
static void test_stuck_line(void)
{
	boot(0, IRQ_STUCK);
	connect_host();
	uint64_t t0 = fake_us;
	CHECK_EQ(vsock_wait(200), 0);
	CHECK(fake_us >= t0 + 200 * MS && fake_us <= t0 + 201 * MS);
	CHECK_EQ(line.offs, 1);
	struct vsock_dev_stats st = dstats();
	CHECK_EQ(st.irq_mode, VIRTIO_IRQ_NONE);
	CHECK(st.irqs_spurious >= VIRTIO_IRQ_STORM);
	CHECK_EQ(port.taken, VIRTIO_IRQ_STORM);
	/* Now on timed wake-ups: a packet is seen within a poll period. */
	t0 = fake_us;
	schedule(t0 + 3 * MS, VSOCK_OP_RW, "bc");
	CHECK_EQ(vsock_wait(VSOCK_WAIT_FOREVER), 1);
	CHECK(fake_us >= t0 + 3 * MS && fake_us <= t0 + 3 * MS + BV_VSOCK_WAIT_POLL_MS * MS);
	app_settle();
	CHECK_EQ(dev.tx_rw_bytes, 2);
	CHECK_EQ(port.lost_wakeups, 0);
}

int main(void)
{
	test_kick_rule_wraps();
	test_interrupt_wakes(0);
	test_interrupt_wakes(1ull << VIRTIO_RING_F_EVENT_IDX);
	test_never_interrupts();
	test_spurious_interrupts();
	test_no_lost_wakeup(0);
	test_no_lost_wakeup(1ull << VIRTIO_RING_F_EVENT_IDX);
	test_engine_timer();
	test_stall_timers();
	test_stale_avail_event();
	test_event_idx_honest();
	test_stuck_line();
	return check_report("test_vsock_wait");
}
