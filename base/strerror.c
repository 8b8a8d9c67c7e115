/* SPDX-License-Identifier: BSD-2-Clause */
/* Text for the shared error enum (bv/err.h), for log lines. Part of the
 * library; no libc. */
#include "bv/err.h"

const char *bv_strerror(int err)
{
	switch (err) {
	case BV_OK:           return "ok";
	case BV_EINVAL:       return "invalid argument";
	case BV_ENOBUFS:      return "no buffer space (pool exhausted)";
	case BV_EAGAIN:       return "would block";
	case BV_ECONNREFUSED: return "connection refused";
	case BV_ECONNRESET:   return "connection reset by peer";
	case BV_ETIMEDOUT:    return "timed out";
	case BV_ENOTCONN:     return "not connected";
	case BV_EADDRINUSE:   return "port in use";
	case BV_EPIPE:        return "broken pipe (shut down for sending)";
	case BV_ENODEV:       return "no such device";
	case BV_EIO:          return "I/O error (device or malformed input)";
	case BV_EPROTO:       return "protocol error";
	case BV_ENOTSUP:      return "not supported";
	case BV_EMSGSIZE:     return "message too long";
	case BV_EBADF:        return "bad socket handle";
	default:              return err >= 0 ? "ok" : "unknown error";
	}
}
