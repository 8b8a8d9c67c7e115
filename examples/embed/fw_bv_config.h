/* SPDX-License-Identifier: BSD-2-Clause */
/* This firmware's barevsock sizes (BV_CONFIG=, as lwIP's lwipopts.h): a few
 * connections and small buffers instead of the defaults' 64 x 16 KiB, for
 * about a twentieth of the RAM (PORTING.md, section 5). make install records
 * it next to the headers, so this firmware's code sees the same sizes. */
#define BV_VSOCK_MAX_CONNS   4
#define BV_VSOCK_RXBUF_SIZE  4096
#define BV_VSOCK_TXBUF_SIZE  4096
#define BV_VSOCK_RX_BUFS     8
#define BV_VSOCK_TX_BUFS     8
#define BV_VIRTQ_MAX_SIZE    64
