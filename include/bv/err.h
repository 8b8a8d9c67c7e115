/* SPDX-License-Identifier: BSD-2-Clause */
/* One error space for every layer: 0 or a positive count is success,
 * a negative value is one of these. */
#ifndef BV_ERR_H
#define BV_ERR_H

enum bv_err {
	BV_OK            = 0,
	BV_EINVAL        = -1,   /* bad argument */
	BV_ENOBUFS       = -2,   /* a fixed pool is exhausted */
	BV_EAGAIN        = -3,   /* would block: try again after vsock_poll() */
	BV_ECONNREFUSED  = -4,   /* peer answered the request with RST */
	BV_ECONNRESET    = -5,   /* peer reset an established connection */
	BV_ETIMEDOUT     = -6,   /* connect or close timer expired */
	BV_ENOTCONN      = -7,   /* socket is not connected */
	BV_EADDRINUSE    = -8,   /* port already bound */
	BV_EPIPE         = -9,   /* send after shutdown (ours or the peer's) */
	BV_ENODEV        = -10,  /* no such device */
	BV_EIO           = -11,  /* device reported failure / malformed input */
	BV_EPROTO        = -12,  /* protocol violation by the peer */
	BV_ENOTSUP       = -13,  /* feature not offered by the device */
	BV_EMSGSIZE      = -14,  /* message too large (SEQPACKET) */
	BV_EBADF         = -15,  /* not a valid socket handle */
	BV_ECLOSED       = -16,  /* socket is closing or closed */
};

const char *bv_strerror(int err);

#endif
