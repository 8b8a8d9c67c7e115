/* SPDX-License-Identifier: BSD-2-Clause */
/* This firmware's barevsock sizes (BV_CONFIG=, as lwIP's lwipopts.h): four
 * connections with a 16 KiB window, 4 KiB packets, small pools, for about a
 * twentieth of the defaults' RAM (PORTING.md, section 5). make install
 * records it next to the headers, so this firmware's code sees the same
 * sizes. It is also the "small profile" that tests/ and bench/ build the
 * echo server with. */
#define BV_VSOCK_MAX_CONNS     4
#define BV_VSOCK_BUF_ALLOC     16384
#define BV_VSOCK_RX_BUF_SIZE   4096
#define BV_VSOCK_RX_BUFS       16
#define BV_VSOCK_TX_BUF_SIZE   4096
#define BV_VSOCK_TX_BUFS       8
#define BV_VSOCK_CONN_TX_BUFS  2
#define BV_VSOCK_TX_PKTS       16
#define BV_VSOCK_SEQ_MSGS      16
#define BV_VIRTQ_MAX_SIZE      64
