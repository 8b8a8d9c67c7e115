/* SPDX-License-Identifier: BSD-2-Clause */
/* The packet buffers the device glue and the protocol engine share.
 * An RX buffer is one write-only descriptor: the device writes a header and
 * up to BV_VSOCK_RX_BUF_SIZE bytes of payload. While the engine holds one
 * (its bytes are still unread), hdr.len and hdr.flags describe what it holds;
 * the device never sees it again until the engine gives it back.
 * Non-goals: TX buffers (the engine owns those), anything transport-specific. */
#ifndef BV_VSOCK_BUF_H
#define BV_VSOCK_BUF_H

#include <stdint.h>
#include "bv/config.h"
#include "vsock/vsock_wire.h"

/* Whole cache lines, so a buffer the CPU is writing never shares a line with
 * one the device is writing (matters on non-coherent DMA). */
#define VSOCK_BUF_ALIGN BV_DMA_ALIGN

struct vsock_rxbuf {
	struct vsock_hdr hdr;
	uint8_t data[BV_VSOCK_RX_BUF_SIZE];
} __attribute__((aligned(VSOCK_BUF_ALIGN)));

/* Bytes of one RX buffer the device may write. */
#define VSOCK_RXBUF_BYTES (VSOCK_HDR_SIZE + BV_VSOCK_RX_BUF_SIZE)

/* One packet the engine wants sent: its header (filled in by the engine,
 * in wire order) and a payload slice of an engine-owned TX buffer, which
 * stays untouched until vsock_engine_tx_done(token). */
struct vsock_txpkt {
	const uint8_t *data;   /* NULL when len == 0 */
	uint32_t len;
	uint32_t token;        /* 0: nothing to give back */
};

#endif
