/* SPDX-License-Identifier: BSD-2-Clause */
/* BV_CONFIG for the busy-poll variant (make busypoll): vsock_wait spins on
 * the rings instead of halting, and the device is never asked to interrupt.
 * The lowest latency at the price of a whole host CPU while idle; bench/
 * compares it with the halting default. */
#define BV_VSOCK_BUSY_POLL 1
