/* SPDX-License-Identifier: BSD-2-Clause */
/* aarch64 CPU layer on QEMU virt: generic timer registers, entry level and
 * the semihosting exit. The board (console, DTB, clock) is shared with arm32
 * in arch/arm-common/virt.c; the MMU and EL2 exit are in start.S. */
#include <stdint.h>
#include "bv/arch.h"
#include "arch/arm-common/virt.h"

uint64_t arm_counter(void)
{
	uint64_t v;
	/* isb keeps the read from being hoisted above earlier instructions,
	 * so a loop that polls the clock really sees time move. */
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v) :: "memory");
	return v;
}

uint32_t arm_counter_freq(void)
{
	uint64_t f;
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
	return (uint32_t)f;
}

int arm_entry_level(void)
{
	uint64_t el;
	__asm__ volatile("mrs %0, tpidr_el1" : "=r"(el));   /* saved by start.S */
	return (int)el;
}

_Noreturn void arch_exit(int status)
{
	/* Semihosting SYS_EXIT with the AArch64 two-word block:
	 * ADP_Stopped_ApplicationExit and the status QEMU exits with. */
	static volatile uint64_t block[2];

	block[0] = 0x20026;
	block[1] = (uint64_t)(int64_t)status;
	register uint64_t w0 __asm__("x0") = 0x18;
	register volatile uint64_t *x1 __asm__("x1") = block;
	__asm__ volatile("hlt #0xf000" :: "r"(w0), "r"(x1) : "memory");
	for (;;)
		__asm__ volatile("wfi");
}
