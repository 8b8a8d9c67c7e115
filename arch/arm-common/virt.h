/* SPDX-License-Identifier: BSD-2-Clause */
/* What arch/arm-common/virt.c (QEMU's Arm "virt" board, shared by aarch64
 * and arm32) needs from the CPU-specific arch.c: the generic timer and the
 * level we were entered at. Private to arch/{aarch64,arm,arm-common}. */
#ifndef BV_ARM_VIRT_H
#define BV_ARM_VIRT_H

#include <stdint.h>

uint64_t arm_counter(void);        /* virtual count, ordered after earlier code */
uint32_t arm_counter_freq(void);   /* CNTFRQ; 0 if firmware never set it */
int arm_entry_level(void);         /* EL (aarch64) or mode (arm32) start.S saw */

#endif
