/* SPDX-License-Identifier: BSD-2-Clause */
/* arm32 pieces of the interrupt support (arch/arm-common/arm_irq.h): the PL1
 * virtual timer through CP15, WFI, and the GICv3 CPU interface's AArch32
 * system registers. We run in SVC (start.S leaves HYP). */
#include <stdint.h>
#include "arch/arm-common/arm_irq.h"

#define CNTV_CTL_ENABLE 1u

void arm_vtimer_arm(uint64_t cval)
{
	__asm__ volatile("mcrr p15, 3, %0, %1, c14" :: "r"((uint32_t)cval), "r"((uint32_t)(cval >> 32)));  /* CNTV_CVAL */
	__asm__ volatile("mcr p15, 0, %0, c14, c3, 1; isb" :: "r"(CNTV_CTL_ENABLE) : "memory");             /* CNTV_CTL */
}

void arm_vtimer_stop(void)
{
	__asm__ volatile("mcr p15, 0, %0, c14, c3, 1; isb" :: "r"(0u) : "memory");
}

void arm_wfi(void)
{
	__asm__ volatile("dsb; wfi" ::: "memory");
}

void arm_icc_enable(void)
{
	uint32_t sre;
	__asm__ volatile("mrc p15, 0, %0, c12, c12, 5" : "=r"(sre));             /* ICC_SRE */
	__asm__ volatile("mcr p15, 0, %0, c12, c12, 5; isb" :: "r"(sre | 1));
	__asm__ volatile("mcr p15, 0, %0, c4, c6, 0" :: "r"(0xf0u));             /* ICC_PMR */
	__asm__ volatile("mcr p15, 0, %0, c12, c12, 3" :: "r"(0u));              /* ICC_BPR1 */
	__asm__ volatile("mcr p15, 0, %0, c12, c12, 7; isb" :: "r"(1u));         /* ICC_IGRPEN1 */
}

uint32_t arm_icc_iar1(void)
{
	uint32_t v;
	__asm__ volatile("mrc p15, 0, %0, c12, c12, 0" : "=r"(v) :: "memory");   /* ICC_IAR1 */
	return v;
}

void arm_icc_eoir1(uint32_t intid)
{
	__asm__ volatile("mcr p15, 0, %0, c12, c12, 1; isb" :: "r"(intid) : "memory");  /* ICC_EOIR1 */
}
