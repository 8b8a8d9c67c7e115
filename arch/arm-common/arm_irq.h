/* SPDX-License-Identifier: BSD-2-Clause */
/* What arch/arm-common/gic.c needs from the CPU-specific code of the two Arm
 * ports: the EL1/PL1 virtual timer, WFI, and the GICv3 CPU interface's
 * system registers (encoded differently on AArch64 and AArch32). Private to
 * arch/{aarch64,arm,arm-common}. */
#ifndef BV_ARM_IRQ_H
#define BV_ARM_IRQ_H

#include <stdint.h>

/* The virtual timer (CNTV) asserts its PPI once the virtual count reaches
 * cval; stop lowers it again. */
void arm_vtimer_arm(uint64_t cval);
void arm_vtimer_stop(void);

/* Wait for an interrupt. IRQs stay masked in PSTATE/CPSR: WFI still wakes
 * on one pending at the CPU interface, and gic.c acknowledges it by polling,
 * so the image needs no exception vectors. */
void arm_wfi(void);

/* GICv3 CPU interface, group 1 (system registers). */
void arm_icc_enable(void);          /* SRE, priority mask, group 1 enable */
uint32_t arm_icc_iar1(void);
void arm_icc_eoir1(uint32_t intid);

#endif
