/* SPDX-License-Identifier: BSD-2-Clause */
/* arm32 CPU layer on QEMU virt: generic timer through CP15, entry mode and
 * the semihosting exit. The board (console, DTB, clock) is shared with
 * aarch64 in arch/arm-common/virt.c; the MMU and HYP exit are in start.S. */
#include <stdint.h>
#include "bv/arch.h"
#include "arch/arm-common/virt.h"

uint64_t arm_counter(void)
{
	uint32_t lo, hi;
	/* isb keeps the read from being hoisted above earlier instructions. */
	__asm__ volatile("isb; mrrc p15, 1, %0, %1, c14" : "=r"(lo), "=r"(hi) :: "memory");
	return (uint64_t)hi << 32 | lo;
}

uint32_t arm_counter_freq(void)
{
	uint32_t f;
	__asm__ volatile("mrc p15, 0, %0, c14, c0, 0" : "=r"(f));
	return f;
}

int arm_entry_level(void)
{
	uint32_t mode;
	__asm__ volatile("mrc p15, 0, %0, c13, c0, 4" : "=r"(mode));   /* TPIDRPRW, from start.S */
	return (int)mode;
}

_Noreturn void arch_exit(int status)
{
	/* Semihosting SYS_EXIT_EXTENDED: plain SYS_EXIT on A32 cannot carry a
	 * status. Block = ADP_Stopped_ApplicationExit, status. */
	static volatile uint32_t block[2];

	block[0] = 0x20026;
	block[1] = (uint32_t)status;
	register uint32_t r0 __asm__("r0") = 0x20;
	register volatile uint32_t *r1 __asm__("r1") = block;
#ifdef __thumb__
	__asm__ volatile("svc 0xab" : "+r"(r0) : "r"(r1) : "memory");
#else
	__asm__ volatile("svc 0x123456" : "+r"(r0) : "r"(r1) : "memory");
#endif
	for (;;)
		__asm__ volatile("wfi");
}
