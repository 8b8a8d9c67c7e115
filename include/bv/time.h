/* SPDX-License-Identifier: BSD-2-Clause */
/* Time helpers on top of the port's clock (bv_port_now_us). */
#ifndef BV_TIME_H
#define BV_TIME_H

#include <stdint.h>
#include "bv/port.h"

static inline uint64_t bv_now_us(void) { return bv_port_now_us(); }
static inline uint64_t bv_now_ms(void) { return bv_port_now_us() / 1000; }

static inline void bv_delay_us(uint64_t us)
{
	uint64_t end = bv_port_now_us() + us;
	while (bv_port_now_us() < end)
		bv_port_relax();
}

#endif
