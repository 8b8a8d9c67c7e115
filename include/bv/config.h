/* SPDX-License-Identifier: BSD-2-Clause */
/* Every size that fixes the library's memory, in one place. The library has
 * no heap, so these bound its worst-case RAM at link time (PORTING.md has the
 * bytes per knob). Override any of them without editing the tree: put your
 * values in a header and build with -DBV_CONFIG_FILE='"my_bv_config.h"' (as
 * lwIP's lwipopts.h), or pass single -D options. */
#ifndef BV_CONFIG_H
#define BV_CONFIG_H

#ifdef BV_CONFIG_FILE
#include BV_CONFIG_FILE
#endif

/* ---- DMA ---- */
/* Cache line size the DMA buffers are aligned and padded to, so a port's
 * clean/invalidate (rounded to whole lines) never touches a neighbour.
 * 64 on every core the project targets; raise it for 128-byte lines. */
#ifndef BV_DMA_ALIGN
#define BV_DMA_ALIGN 64
#endif

/* ---- virtqueues (drivers/) ---- */
/* Largest ring the driver will set up; the device's maximum may be lower. Power of 2. */
#ifndef BV_VIRTQ_MAX_SIZE
#define BV_VIRTQ_MAX_SIZE 128
#endif

/* ---- discovery (discover/: the -kernel images only, not libbarevsock.a) ---- */
/* How many virtio devices virtio_probe's table holds at once. */
#ifndef BV_VIRTIO_MAX_DEVICES
#define BV_VIRTIO_MAX_DEVICES 4
#endif
/* PCI functions on bus 0 one scan can list. */
#ifndef BV_PCI_MAX_FUNCS
#define BV_PCI_MAX_FUNCS 32
#endif

/* ---- vsock (vsock/) ---- */
/* Connections (including listeners) held at once; one more is refused with RST. */
#ifndef BV_VSOCK_MAX_CONNS
#define BV_VSOCK_MAX_CONNS 64
#endif
/* Connections a listener keeps waiting for vsock_accept() when the app
 * passes backlog <= 0; one more is accepted and then RSTs go out, as Linux
 * counts its backlog. */
#ifndef BV_VSOCK_BACKLOG
#define BV_VSOCK_BACKLOG 16
#endif
/* The receive window of each connection: the buf_alloc we advertise, and
 * the most unread data one connection may hold (Linux: 256 KiB). */
#ifndef BV_VSOCK_BUF_ALLOC
#define BV_VSOCK_BUF_ALLOC 262144
#endif
/* Payload bytes per posted RX buffer (plus the 44-byte header): the largest
 * packet the device may deliver (at most 64 KiB). Received data stays in
 * these until read; a small packet is copied onto the end of the one before. */
#ifndef BV_VSOCK_RX_BUF_SIZE
#define BV_VSOCK_RX_BUF_SIZE 65536
#endif
/* RX buffers, shared by all connections. One connection filling its window
 * holds up to 2 * BUF_ALLOC / RX_BUF_SIZE + 1 of them; if more connections
 * than fit stop reading at once, the device waits for buffers until one
 * reads or closes. Must exceed that per-connection worst case (checked). */
#ifndef BV_VSOCK_RX_BUFS
#define BV_VSOCK_RX_BUFS 32
#endif
/* Payload bytes per TX buffer = the largest packet we send (at most 64 KiB,
 * Linux's limit; 16384 for hosts that want smaller packets). */
#ifndef BV_VSOCK_TX_BUF_SIZE
#define BV_VSOCK_TX_BUF_SIZE 65536
#endif
/* TX buffers, shared by all connections: data written and not yet sent. */
#ifndef BV_VSOCK_TX_BUFS
#define BV_VSOCK_TX_BUFS 32
#endif
/* Buffers kept posted on the event queue (transport resets; capped by the queue size). */
#ifndef BV_VSOCK_EVENT_BUFS
#define BV_VSOCK_EVENT_BUFS 4
#endif
/* TX buffers one connection may fill (its send buffer), so a peer that
 * stops reading cannot take the pool from the others. */
#ifndef BV_VSOCK_CONN_TX_BUFS
#define BV_VSOCK_CONN_TX_BUFS 4
#endif
/* Packets on the TX queue at once (each a header slot; capped by the queue). */
#ifndef BV_VSOCK_TX_PKTS
#define BV_VSOCK_TX_PKTS 64
#endif
/* SEQPACKET messages one connection may have received and not read. */
#ifndef BV_VSOCK_SEQ_MSGS
#define BV_VSOCK_SEQ_MSGS 64
#endif
/* Most RX packets one vsock_poll() hands to the engine: bounds one call's work. */
#ifndef BV_VSOCK_POLL_BUDGET
#define BV_VSOCK_POLL_BUDGET 32
#endif
/* Milliseconds between CREDIT_REQUESTs while data waits on zero credit
 * (the first goes at once; Linux sends none and waits for the peer). */
#ifndef BV_VSOCK_CREDIT_RETRY_MS
#define BV_VSOCK_CREDIT_RETRY_MS 4000
#endif
/* Milliseconds a connection may wait on zero credit, either way (our data
 * on the peer's full window, or the peer's on ours), before the stall log
 * (vsock_diag.h) says so, once per stall; host/'s --stall-log-ms has the
 * same default. 0: never. */
#ifndef BV_VSOCK_STALL_LOG_MS
#define BV_VSOCK_STALL_LOG_MS 5000
#endif
/* Milliseconds before an unanswered REQUEST gives up. */
#ifndef BV_VSOCK_CONNECT_TIMEOUT_MS
#define BV_VSOCK_CONNECT_TIMEOUT_MS 2000
#endif
/* Milliseconds after SHUTDOWN before we send RST ourselves (Linux: 8 s). */
#ifndef BV_VSOCK_CLOSE_TIMEOUT_MS
#define BV_VSOCK_CLOSE_TIMEOUT_MS 8000
#endif

/* ---- idle (vsock_wait) ---- */
/* Microseconds vsock_wait keeps polling after the device last gave something
 * back before it halts: a reply that follows quickly then costs no wake-up
 * (the halt-polling trade: some CPU per burst of traffic, none while idle). */
#ifndef BV_VSOCK_WAIT_SPIN_US
#define BV_VSOCK_WAIT_SPIN_US 200
#endif
/* The most that polling window grows to: it doubles while halts keep ending
 * in work sooner than this (a device slower than the window, as under nested
 * virtualization) and drops back after a longer halt. */
#ifndef BV_VSOCK_WAIT_SPIN_MAX_US
#define BV_VSOCK_WAIT_SPIN_MAX_US 2000
#endif
/* Longest halt before vsock_wait looks at the rings again although no
 * interrupt came: what a device that never interrupts costs in latency. */
#ifndef BV_VSOCK_WAIT_MAX_HALT_MS
#define BV_VSOCK_WAIT_MAX_HALT_MS 50
#endif
/* The same when the device has no interrupt we can use (the port has none,
 * or its line was masked as a storm): the guest then polls at this period
 * (no shorter than a UEFI firmware's 10 ms timer tick, or it cannot sleep). */
#ifndef BV_VSOCK_WAIT_POLL_MS
#define BV_VSOCK_WAIT_POLL_MS 10
#endif
/* Waiting this long with nothing back from the device, ring its doorbells
 * whatever it asked (a stale avail_event or NO_NOTIFY would hang us). */
#ifndef BV_VSOCK_KICK_WATCHDOG_MS
#define BV_VSOCK_KICK_WATCHDOG_MS 1000
#endif
/* Define BV_VSOCK_BUSY_POLL (to 1) and vsock_wait never halts and the
 * device never interrupts: it spins on the rings as the first releases did,
 * for the lowest latency at the price of a host CPU (make busypoll). */

#endif
