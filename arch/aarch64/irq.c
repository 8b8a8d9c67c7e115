/* SPDX-License-Identifier: BSD-2-Clause */
/* aarch64 pieces of the interrupt support (arch/arm-common/arm_irq.h): the
 * EL1 virtual timer, WFI, and the GICv3 CPU interface registers. We run at
 * EL1 (start.S leaves EL2), where all of these are ours. */
#include <stdint.h>
#include "arch/arm-common/arm_irq.h"

#define CNTV_CTL_ENABLE 1u

void arm_vtimer_arm(uint64_t cval)
{
	__asm__ volatile("msr cntv_cval_el0, %0; msr cntv_ctl_el0, %1; isb"
			 :: "r"(cval), "r"((uint64_t)CNTV_CTL_ENABLE) : "memory");
}

void arm_vtimer_stop(void)
{
	__asm__ volatile("msr cntv_ctl_el0, xzr; isb" ::: "memory");
}

void arm_wfi(void)
{
	/* Every store (a doorbell, a ring update) is out before we sleep. */
	__asm__ volatile("dsb sy; wfi" ::: "memory");
}

/* ICC_*_EL1 by their encodings, so an assembler without GICv3 names works. */
void arm_icc_enable(void)
{
	uint64_t sre;
	__asm__ volatile("mrs %0, S3_0_C12_C12_5" : "=r"(sre));          /* ICC_SRE_EL1 */
	__asm__ volatile("msr S3_0_C12_C12_5, %0; isb" :: "r"(sre | 1));
	__asm__ volatile("msr S3_0_C4_C6_0, %0" :: "r"((uint64_t)0xf0));  /* ICC_PMR_EL1 */
	__asm__ volatile("msr S3_0_C12_C12_3, xzr");                      /* ICC_BPR1_EL1 */
	__asm__ volatile("msr S3_0_C12_C12_7, %0; isb" :: "r"((uint64_t)1)); /* ICC_IGRPEN1_EL1 */
}

uint32_t arm_icc_iar1(void)
{
	uint64_t v;
	__asm__ volatile("mrs %0, S3_0_C12_C12_0" : "=r"(v) :: "memory");  /* ICC_IAR1_EL1 */
	return (uint32_t)v;
}

void arm_icc_eoir1(uint32_t intid)
{
	__asm__ volatile("msr S3_0_C12_C12_1, %0; isb" :: "r"((uint64_t)intid) : "memory");  /* ICC_EOIR1_EL1 */
}
