/* SPDX-License-Identifier: BSD-2-Clause */
/* The guest explains itself: the connection table as text (every listener
 * and connection with its credit numbers and timers, then the engine's and
 * the device glue's counters), and the stall log (a connection stuck on zero
 * credit, either way, for BV_VSOCK_STALL_LOG_MS gets one line). Built on
 * vsock_conn_info (vsock.h), vsock_engine_stats and vsock_dev_stats only.
 * Never allocates, never blocks. Non-goals: packet traces (host/ --pcap
 * records those), any input: it only reports. */
#ifndef BV_VSOCK_DIAG_H
#define BV_VSOCK_DIAG_H

#include <stddef.h>
#include <stdint.h>

/* Write the table into buf as snprintf does: at most size - 1 characters
 * and a NUL (when size > 0; buf may be NULL when size is 0). Returns the
 * length of the whole table; a result >= size means it was cut short, and
 * a buffer of result + 1 bytes holds it all. One snapshot: nothing moves
 * while it is written. README.md, "Debugging a connection", explains every
 * column. */
int vsock_diag_table(char *buf, size_t size);

/* The same table through bv_logf, one line per call. */
void vsock_diag_log(void);

/* "LISTEN", "CONNECTING", "ESTABLISHED", "CLOSING", "DONE" for a
 * VSOCK_STATE_*, "?" for anything else. */
const char *vsock_diag_state_name(int state);

/* The stall log. vsock_poll() calls it after each engine tick; it looks at
 * the connections at most once per millisecond of the engine's clock and
 * logs, once per episode:
 *   - data waiting on zero credit (the peer's window is full) for
 *     BV_VSOCK_STALL_LOG_MS, with the peer's buf_alloc and fwd_cnt, our
 *     tx_cnt and the bytes waiting, in the words of host/'s --stall-log-ms;
 *   - our window zero as the peer sees it (received and not forwarded by the
 *     fwd_cnt we last sent: the app does not read, or we did not say it did)
 *     for as long, with our buf_alloc, fwd_cnt (and what we told the peer)
 *     and rx_cnt;
 * and one "stall over" line when such a stall ends. It also keeps the age of
 * the receive-side stall that the table shows. BV_VSOCK_STALL_LOG_MS = 0:
 * no lines (the table still shows the ages). */
void vsock_diag_poll(void);

/* The engine-clock millisecond at which vsock_diag_poll will next log a
 * stall if nothing changes (UINT64_MAX: none pending); vsock_wait wakes for
 * it as for the engine's own timers. */
uint64_t vsock_diag_next_deadline_ms(void);

#endif
