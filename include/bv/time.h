/* SPDX-License-Identifier: BSD-2-Clause */
/* Time helpers on top of arch_now_us(). */
#ifndef BV_TIME_H
#define BV_TIME_H

#include <stdint.h>
#include "bv/arch.h"

static inline uint64_t bv_now_us(void) { return arch_now_us(); }
static inline uint64_t bv_now_ms(void) { return arch_now_us() / 1000; }

static inline void bv_delay_us(uint64_t us)
{
	uint64_t end = arch_now_us() + us;
	while (arch_now_us() < end)
		arch_relax();
}

#endif
