/* SPDX-License-Identifier: BSD-2-Clause */
/* What the picolibc glue needs from an Arm arch layer beyond bv/arch.h.
 * Private to libc-glue/picolibc and arch/{aarch64,arm}; apps never see it. */
#ifndef BV_GLUE_PICOLIBC_H
#define BV_GLUE_PICOLIBC_H

/* Blocking read of one byte from the console UART. */
int arch_getc(void);

#endif
