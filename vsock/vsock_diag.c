/* SPDX-License-Identifier: BSD-2-Clause */
/* The connection table and the stall log (vsock_diag.h). Reads the stack
 * only through vsock_conn_info, vsock_engine_stats and vsock_dev_stats;
 * formats with bv_snprintf/bv_logf. Its only memory is one small record per
 * pool entry, for the stall episodes. Non-goals: changing anything it
 * looks at. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include "bv/config.h"
#include "bv/err.h"
#include "bv/log.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"
#include "vsock/vsock_diag.h"
#include "vsock/vsock_engine.h"

#define NENT BV_VSOCK_MAX_CONNS

/* ------------------------------------------------------------------ stall episodes */

/* What vsock_diag_poll remembers of the connection in one pool entry. */
struct episode {
	uint32_t local_port, peer_cid, peer_port;   /* whose record this is */
	uint8_t used;
	uint8_t tx_logged;     /* this TX stall has had its line */
	uint8_t rx_on;         /* our window is zero as the peer sees it ... */
	uint8_t rx_logged;     /* ... and that has had its line */
	uint64_t tx_since;     /* ms: start of the TX stall that was logged */
	uint64_t rx_since;     /* ms: our window zero since then */
};
static struct episode eps[NENT];
static uint64_t last_poll_ms;
static int polled;

static int same_conn(const struct episode *e, const struct vsock_conn_info *ci)
{
	return e->used && e->local_port == ci->local_port && e->peer_cid == ci->peer_cid &&
	       e->peer_port == ci->peer_port;
}

/* The peer's window is used up by what it sent and we have not yet
 * announced as forwarded: it may send nothing more until we do. */
static int rx_window_zero(const struct vsock_conn_info *ci)
{
	return ci->state == VSOCK_STATE_ESTABLISHED && !(ci->shut_local & VSOCK_SHUTDOWN_RCV) &&
	       ci->rx_cnt - ci->fwd_cnt_sent >= ci->buf_alloc;
}

/* "host port P" for the host, "cid C port P" for any other peer: host/'s
 * lines name the ends the same way. */
static const char *peer_name(char *buf, size_t n, uint32_t cid, uint32_t port)
{
	if (cid == VSOCK_CID_HOST)
		bv_snprintf(buf, n, "host port %u", (unsigned)port);
	else
		bv_snprintf(buf, n, "cid %u port %u", (unsigned)cid, (unsigned)port);
	return buf;
}

/* The line that ends a logged stall whose connection is no longer
 * ESTABLISHED (closing, over, or freed: state NULL). */
static void over_ended(const struct episode *e, int tx, const char *state, uint64_t since, uint64_t now)
{
	char pn[40], g[24];
	peer_name(pn, sizeof(pn), e->peer_cid, e->peer_port);
	bv_snprintf(g, sizeof(g), "guest port %u", (unsigned)e->local_port);
	bv_logf("vsock: stall over: %s <-> %s: connection %s after %llu ms\n", tx ? g : pn, tx ? pn : g,
		state ? state : "gone", (unsigned long long)(now - since));
}

/* The engine-clock ms at which this connection's TX stall gets its line
 * (UINT64_MAX: no stall, no lines, or its line is out). One rule for
 * vsock_diag_poll, which logs once it is reached, and for
 * vsock_diag_next_deadline_ms, which wakes a halted guest for it. A record
 * whose logged episode is over (credit came, or a new one began) is reset
 * by tx_episode before it asks. */
static uint64_t tx_log_at(const struct episode *e, const struct vsock_conn_info *ci)
{
	if (!BV_VSOCK_STALL_LOG_MS || !ci->tx_stalled)
		return UINT64_MAX;
	uint64_t since = ci->now_ms - ci->tx_stall_ms;
	if (e->tx_logged && since == e->tx_since)
		return UINT64_MAX;
	return since + BV_VSOCK_STALL_LOG_MS;
}

/* The same for our window as the peer sees it; an episode no poll has seen
 * yet starts at the next one. */
static uint64_t rx_log_at(const struct episode *e, const struct vsock_conn_info *ci)
{
	if (!BV_VSOCK_STALL_LOG_MS || !rx_window_zero(ci) || e->rx_logged)
		return UINT64_MAX;
	return (e->rx_on ? e->rx_since : ci->now_ms) + BV_VSOCK_STALL_LOG_MS;
}

static void tx_episode(struct episode *e, const struct vsock_conn_info *ci)
{
	char pn[40];
	uint64_t now = ci->now_ms;
	uint64_t since = now - ci->tx_stall_ms;
	peer_name(pn, sizeof(pn), ci->peer_cid, ci->peer_port);
	if (e->tx_logged && (!ci->tx_stalled || since != e->tx_since)) {
		/* Credit came (a new episode may have begun since), or the
		 * connection moved on. */
		if (ci->state == VSOCK_STATE_ESTABLISHED)
			bv_logf("vsock: stall over: guest port %u <-> %s: credit again after %llu ms "
				"(peer buf_alloc %u, peer fwd_cnt %u, our tx_cnt %u)\n",
				(unsigned)ci->local_port, pn, (unsigned long long)(now - e->tx_since),
				(unsigned)ci->peer_buf_alloc, (unsigned)ci->peer_fwd_cnt, (unsigned)ci->tx_cnt);
		else
			over_ended(e, 1, vsock_diag_state_name(ci->state), e->tx_since, now);
		e->tx_logged = 0;
	}
	if (now < tx_log_at(e, ci))
		return;
	e->tx_logged = 1;
	e->tx_since = since;
	/* The engine asks at once and again every BV_VSOCK_CREDIT_RETRY_MS:
	 * when it last did says more than whether it did. */
	char req[48];
	if (ci->credit_req_ago_ms == UINT64_MAX)
		bv_snprintf(req, sizeof(req), "not sent");
	else
		bv_snprintf(req, sizeof(req), "sent %llu ms ago", (unsigned long long)ci->credit_req_ago_ms);
	bv_logf("vsock: stall: guest port %u -> %s: %u bytes waiting on zero credit for %llu ms "
		"(peer buf_alloc %u, peer fwd_cnt %u, our tx_cnt %u: %u in flight; CREDIT_REQUEST %s)\n",
		(unsigned)ci->local_port, pn, (unsigned)ci->unsent, (unsigned long long)ci->tx_stall_ms,
		(unsigned)ci->peer_buf_alloc, (unsigned)ci->peer_fwd_cnt, (unsigned)ci->tx_cnt,
		(unsigned)(ci->tx_cnt - ci->peer_fwd_cnt), req);
}

static void rx_episode(struct episode *e, const struct vsock_conn_info *ci)
{
	char pn[40];
	uint64_t now = ci->now_ms;
	peer_name(pn, sizeof(pn), ci->peer_cid, ci->peer_port);
	if (!rx_window_zero(ci)) {
		if (e->rx_logged && ci->state == VSOCK_STATE_ESTABLISHED)
			bv_logf("vsock: stall over: %s <-> guest port %u: window open again after %llu ms "
				"(our buf_alloc %u, our fwd_cnt %u, told the peer %u, our rx_cnt %u)\n",
				pn, (unsigned)ci->local_port, (unsigned long long)(now - e->rx_since),
				(unsigned)ci->buf_alloc, (unsigned)ci->fwd_cnt, (unsigned)ci->fwd_cnt_sent,
				(unsigned)ci->rx_cnt);
		else if (e->rx_logged)
			over_ended(e, 0, vsock_diag_state_name(ci->state), e->rx_since, now);
		e->rx_on = 0;
		e->rx_logged = 0;
		return;
	}
	if (!e->rx_on) {
		e->rx_on = 1;
		e->rx_since = now;
	}
	if (now < rx_log_at(e, ci))
		return;
	e->rx_logged = 1;
	bv_logf("vsock: stall: %s -> guest port %u: our window zero for %llu ms "
		"(our buf_alloc %u, our fwd_cnt %u, told the peer %u, our rx_cnt %u: %u unread by the app)\n",
		pn, (unsigned)ci->local_port, (unsigned long long)(now - e->rx_since), (unsigned)ci->buf_alloc,
		(unsigned)ci->fwd_cnt, (unsigned)ci->fwd_cnt_sent, (unsigned)ci->rx_cnt, (unsigned)ci->unread);
}

void vsock_diag_poll(void)
{
	uint64_t now = vsock_engine_now_ms();
	if (polled && now == last_poll_ms)
		return;   /* nothing can have aged: at most one look per millisecond */
	polled = 1;
	last_poll_ms = now;
	for (int i = 0; i < NENT; i++) {
		struct vsock_conn_info ci;
		struct episode *e = &eps[i];
		int live = vsock_conn_info(i, &ci) == 0 && ci.state != VSOCK_STATE_LISTEN;
		if (!live || !same_conn(e, &ci)) {
			/* Free, a listener, or another connection: the one before is
			 * gone, and so is any stall it had. */
			if (e->tx_logged)
				over_ended(e, 1, NULL, e->tx_since, now);
			if (e->rx_logged)
				over_ended(e, 0, NULL, e->rx_since, now);
			memset(e, 0, sizeof(*e));
			if (!live)
				continue;
			e->used = 1;
			e->local_port = ci.local_port;
			e->peer_cid = ci.peer_cid;
			e->peer_port = ci.peer_port;
		}
		tx_episode(e, &ci);
		rx_episode(e, &ci);
	}
}

/* When vsock_diag_poll next has a line to write if nothing changes: the
 * earliest stall not yet logged that reaches BV_VSOCK_STALL_LOG_MS. A
 * halted guest (vsock_wait) runs no poll until something wakes it, so the
 * stall log is a timer like the engine's. */
uint64_t vsock_diag_next_deadline_ms(void)
{
	uint64_t d = UINT64_MAX;
	if (!BV_VSOCK_STALL_LOG_MS)
		return d;
	static const struct episode fresh;   /* a connection no poll has seen */
	for (int i = 0; i < NENT; i++) {
		struct vsock_conn_info ci;
		if (vsock_conn_info(i, &ci) != 0 || ci.state == VSOCK_STATE_LISTEN)
			continue;
		const struct episode *e = same_conn(&eps[i], &ci) ? &eps[i] : &fresh;
		uint64_t t = tx_log_at(e, &ci), r = rx_log_at(e, &ci);
		if (t < d)
			d = t;
		if (r < d)
			d = r;
	}
	return d;
}

/* ------------------------------------------------------------------ the table */

/* Where the text goes: the caller's buffer (snprintf rules) or bv_logf. */
struct out {
	char *buf;
	size_t size, len;
	int to_log;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (o->to_log) {
		bv_vlogf(fmt, ap);
	} else {
		size_t room = o->len < o->size ? o->size - o->len : 0;
		o->len += (size_t)bv_vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	}
	va_end(ap);
}

const char *vsock_diag_state_name(int state)
{
	switch (state) {
	case VSOCK_STATE_LISTEN:      return "LISTEN";
	case VSOCK_STATE_CONNECTING:  return "CONNECTING";
	case VSOCK_STATE_ESTABLISHED: return "ESTABLISHED";
	case VSOCK_STATE_CLOSING:     return "CLOSING";
	case VSOCK_STATE_DONE:        return "DONE";
	default:                      return "?";
	}
}

/* Errors a connection can end with, by their errno names (one word, for
 * the flags column). */
static const char *err_name(int err)
{
	switch (err) {
	case BV_ECONNRESET:   return "ECONNRESET";
	case BV_ECONNREFUSED: return "ECONNREFUSED";
	case BV_ETIMEDOUT:    return "ETIMEDOUT";
	case BV_EPROTO:       return "EPROTO";
	case BV_ENOBUFS:      return "ENOBUFS";
	case BV_EPIPE:        return "EPIPE";
	case BV_EIO:          return "EIO";
	default:              return "EOTHER";
	}
}

static const char *shut_name(uint32_t s)
{
	static const char *const names[4] = { "-", "R", "S", "RS" };
	return names[s & VSOCK_SHUTDOWN_BOTH];
}

/* A comma-separated list of tokens in a small buffer; "-" when empty. */
struct list {
	char s[112];
	size_t n;
};

static void add(struct list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct list *l, const char *fmt, ...)
{
	if (l->n >= sizeof(l->s) - 1)
		return;
	if (l->n)
		l->s[l->n++] = ',';
	va_list ap;
	va_start(ap, fmt);
	int w = bv_vsnprintf(l->s + l->n, sizeof(l->s) - l->n, fmt, ap);
	va_end(ap);
	l->n += (size_t)w;
	if (l->n >= sizeof(l->s))
		l->n = sizeof(l->s) - 1;   /* cut short; still NUL-terminated */
}

static const char *text(struct list *l)
{
	if (!l->n)
		return "-";
	l->s[l->n] = 0;
	return l->s;
}

static void flags_of(const struct vsock_conn_info *ci, struct list *l)
{
	if (ci->owned)
		add(l, "app");
	else if (ci->listener >= 0)
		add(l, "acceptq=%d", ci->listener);
	if (ci->state == VSOCK_STATE_LISTEN)
		add(l, "backlog=%u/%u", (unsigned)ci->pending, (unsigned)ci->backlog);
	if (ci->outgoing)
		add(l, "out");
	if (ci->shut_local)
		add(l, "shut=%s", shut_name(ci->shut_local));
	if (ci->shut_sent != ci->shut_local)
		add(l, "shut_sent=%s", shut_name(ci->shut_sent));
	if (ci->peer_shut)
		add(l, "peer_shut=%s", shut_name(ci->peer_shut));
	if (ci->credit_req_sent)
		add(l, "credreq");
	if (ci->msgs_unread)
		add(l, "msgs=%u", (unsigned)ci->msgs_unread);
	if (ci->state == VSOCK_STATE_DONE) {
		if (ci->err)
			add(l, "err=%s", err_name(ci->err));
		else
			add(l, "orderly");
	}
}

static void timers_of(const struct vsock_conn_info *ci, const struct episode *e, struct list *l)
{
	if (ci->timer)
		add(l, "%s=%llums", ci->timer == VSOCK_TIMER_CONNECT ? "connect" : "close",
		    (unsigned long long)ci->timer_ms);
	if (ci->tx_stalled) {
		add(l, "tx_stall=%llums", (unsigned long long)ci->tx_stall_ms);
		if (ci->credit_req_sent)
			add(l, "credreq_retry=%llums", (unsigned long long)ci->credit_req_retry_ms);
	}
	if (rx_window_zero(ci)) {
		if (same_conn(e, ci) && e->rx_on)
			add(l, "rx_stall=%llums", (unsigned long long)(ci->now_ms - e->rx_since));
		else
			add(l, "rx_stall");   /* vsock_diag_poll has not seen it yet */
	}
}

/* One format for the column names and the rows, so they line up. */
#define ROW "%3s %-11s %-9s %-14s %-16s %14s %12s %10s %10s %10s %10s %10s %10s %10s %-20s %s\n"

static const char *u32s(char *b, uint32_t v)
{
	bv_snprintf(b, 12, "%u", (unsigned)v);
	return b;
}

static void row(struct out *o, int idx, const struct vsock_conn_info *ci)
{
	char h[8], local[24], peer[24], n[9][12];
	struct list fl = { .n = 0 }, tl = { .n = 0 };
	flags_of(ci, &fl);
	timers_of(ci, &eps[idx], &tl);
	bv_snprintf(h, sizeof(h), "%d", idx);
	bv_snprintf(local, sizeof(local), "%u:%u", (unsigned)ci->local_cid, (unsigned)ci->local_port);
	const char *type = ci->type == VSOCK_SEQPACKET ? "SEQPACKET" : "STREAM";
	if (ci->state == VSOCK_STATE_LISTEN) {
		outf(o, ROW, h, "LISTEN", type, local, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-",
		     text(&fl), text(&tl));
		return;
	}
	bv_snprintf(peer, sizeof(peer), "%u:%u", (unsigned)ci->peer_cid, (unsigned)ci->peer_port);
	outf(o, ROW, h, vsock_diag_state_name(ci->state), type, local, peer,
	     u32s(n[0], ci->peer_buf_alloc), u32s(n[1], ci->peer_fwd_cnt), u32s(n[2], ci->tx_cnt),
	     u32s(n[3], ci->credit), u32s(n[4], ci->unsent), u32s(n[5], ci->buf_alloc),
	     u32s(n[6], ci->fwd_cnt), u32s(n[7], ci->fwd_cnt_sent), u32s(n[8], ci->unread),
	     text(&fl), text(&tl));
}

static int table(struct out *o)
{
	struct vsock_conn_info ci;
	struct vsock_stats st;
	struct vsock_dev_stats ds;
	vsock_engine_stats(&st);
	vsock_dev_stats(&ds);
	outf(o, "vsock: cid %llu, %u of %u entries in use, clock %llu ms, stall log after %u ms\n",
	     (unsigned long long)vsock_local_cid(), (unsigned)st.conns_in_use, (unsigned)NENT,
	     (unsigned long long)vsock_engine_now_ms(), (unsigned)BV_VSOCK_STALL_LOG_MS);
	outf(o, ROW, "h", "state", "type", "local", "peer", "peer_buf_alloc", "peer_fwd_cnt", "tx_cnt",
	     "credit", "unsent", "buf_alloc", "fwd_cnt", "fwd_sent", "unread", "flags", "timers");
	int r;
	for (int i = 0; (r = vsock_conn_info(i, &ci)) != BV_EINVAL; i++)
		if (r == 0)
			row(o, i, &ci);
	outf(o, "vsock: engine: rx_pkts=%u rx_bytes=%llu tx_pkts=%u tx_bytes=%llu rx_merged=%u "
	     "credit_updates_sent=%u credit_requests_sent=%u rst_sent=%u rst_rcvd=%u\n",
	     (unsigned)st.rx_pkts, (unsigned long long)st.rx_bytes, (unsigned)st.tx_pkts,
	     (unsigned long long)st.tx_bytes, (unsigned)st.rx_merged, (unsigned)st.credit_updates_sent,
	     (unsigned)st.credit_requests_sent, (unsigned)st.rst_sent, (unsigned)st.rst_rcvd);
	outf(o, "vsock: engine: conns_in_use=%u conns_peak=%u conns_refused_full=%u conns_refused_backlog=%u "
	     "rx_bufs_held=%u tx_bufs_free=%u/%u\n",
	     (unsigned)st.conns_in_use, (unsigned)st.conns_peak, (unsigned)st.conns_refused_full,
	     (unsigned)st.conns_refused_backlog, (unsigned)st.rx_bufs_held, (unsigned)st.tx_bufs_free,
	     (unsigned)st.tx_bufs_total);
	outf(o, "vsock: engine: rx_dropped_malformed=%u rx_dropped_badcid=%u rx_dropped_own_cid=%u "
	     "rx_overflow=%u rx_unknown_op=%u rst_dropped=%u tx_bad_token=%u\n",
	     (unsigned)st.rx_dropped_malformed, (unsigned)st.rx_dropped_badcid, (unsigned)st.rx_dropped_own_cid,
	     (unsigned)st.rx_overflow, (unsigned)st.rx_unknown_op, (unsigned)st.rst_dropped,
	     (unsigned)st.tx_bad_token);
	outf(o, "vsock: device: rx_bufs=%llu tx_bufs=%llu events=%llu kicks=%llu/%llu/%llu "
	     "kicks_suppressed=%llu/%llu/%llu tx_free=%u/%u rx_posted=%u/%u\n",
	     (unsigned long long)ds.rx_bufs, (unsigned long long)ds.tx_bufs, (unsigned long long)ds.events,
	     (unsigned long long)ds.kicks[VSOCK_VQ_RX], (unsigned long long)ds.kicks[VSOCK_VQ_TX],
	     (unsigned long long)ds.kicks[VSOCK_VQ_EVENT], (unsigned long long)ds.kicks_suppressed[VSOCK_VQ_RX],
	     (unsigned long long)ds.kicks_suppressed[VSOCK_VQ_TX],
	     (unsigned long long)ds.kicks_suppressed[VSOCK_VQ_EVENT], (unsigned)ds.tx_free, (unsigned)ds.tx_total,
	     (unsigned)ds.rx_posted, (unsigned)ds.rx_total);
	outf(o, "vsock: device: rx_short=%llu rx_bad_len=%llu bad_used=%llu ev_dropped=%llu transport_resets=%llu\n",
	     (unsigned long long)ds.rx_short, (unsigned long long)ds.rx_bad_len, (unsigned long long)ds.bad_used,
	     (unsigned long long)ds.ev_dropped, (unsigned long long)ds.transport_resets);
	return (int)o->len;
}

int vsock_diag_table(char *buf, size_t size)
{
	struct out o = { .buf = buf, .size = buf ? size : 0 };
	if (buf && size)
		buf[0] = 0;
	return table(&o);
}

void vsock_diag_log(void)
{
	struct out o = { .to_log = 1 };
	table(&o);
}
