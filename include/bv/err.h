/* SPDX-License-Identifier: BSD-2-Clause */
/* One error space for every layer: 0 or a positive count is success, a
 * negative value is one of these. Each BV_E* is the negative of the errno it
 * is named after, so an embedding can hand it straight to its own errno.
 * Not here: errno itself (the library never touches a global). */
#ifndef BV_ERR_H
#define BV_ERR_H

/* By default the numbers are Linux's (asm-generic/errno.h; glibc and musl
 * agree). newlib and picolibc share the classic ones (EIO .. EPIPE) but number
 * the networking ones differently (ETIMEDOUT is 116 there, not 110): define
 * BV_ERR_FROM_ERRNO_H (in BV_CONFIG_FILE or with -D) and the values come from
 * your toolchain's <errno.h> instead. The numbers are only ever compared by
 * name inside the library, so either choice works unchanged. */
#ifdef BV_ERR_FROM_ERRNO_H
#include <errno.h>
#define BV_ERRNO_(name, linux_value) (-(name))
#else
#define BV_ERRNO_(name, linux_value) (-(linux_value))
#endif

enum bv_err {
	BV_OK            = 0,
	BV_EIO           = BV_ERRNO_(EIO, 5),            /* device reported failure / malformed input */
	BV_EBADF         = BV_ERRNO_(EBADF, 9),          /* not a valid socket handle */
	BV_EAGAIN        = BV_ERRNO_(EAGAIN, 11),        /* would block: try again after vsock_poll() */
	BV_ENODEV        = BV_ERRNO_(ENODEV, 19),        /* no such device */
	BV_EINVAL        = BV_ERRNO_(EINVAL, 22),        /* bad argument */
	BV_EPIPE         = BV_ERRNO_(EPIPE, 32),         /* send after shutdown (ours or the peer's) */
	BV_EPROTO        = BV_ERRNO_(EPROTO, 71),        /* protocol violation by the peer */
	BV_EMSGSIZE      = BV_ERRNO_(EMSGSIZE, 90),      /* message too large (SEQPACKET) */
	BV_ENOTSUP       = BV_ERRNO_(ENOTSUP, 95),       /* feature not offered by the device */
	BV_EADDRINUSE    = BV_ERRNO_(EADDRINUSE, 98),    /* port already bound */
	BV_ECONNRESET    = BV_ERRNO_(ECONNRESET, 104),   /* peer reset an established connection */
	BV_ENOBUFS       = BV_ERRNO_(ENOBUFS, 105),      /* a fixed pool is exhausted */
	BV_ENOTCONN      = BV_ERRNO_(ENOTCONN, 107),     /* socket is not connected */
	BV_ETIMEDOUT     = BV_ERRNO_(ETIMEDOUT, 110),    /* connect or close timer expired */
	BV_ECONNREFUSED  = BV_ERRNO_(ECONNREFUSED, 111), /* peer answered the request with RST */
};

/* Text for a BV_E* value ("unknown error" for anything else below 0). */
const char *bv_strerror(int err);

#endif
