/* SPDX-License-Identifier: BSD-2-Clause */
/* The firmware's own board layer, one per target in <arch>/board.c: what
 * any small firmware already has before it adds vsock. Nothing here comes
 * from barevsock. */
#ifndef FW_BOARD_H
#define FW_BOARD_H

#include <stdint.h>

void board_init(void);                 /* console and clock ready */
void board_putc(char c);               /* blocking console output */
uint64_t board_now_us(void);           /* monotonic microseconds */
void board_relax(void);                /* spin-loop hint */
const char *board_name(void);
uintptr_t board_vsock_base(void);      /* where this board's virtio-mmio vsock device sits */

/* The firmware proper (app.c), entered from <arch>/entry.S. */
void fw_main(void);

#endif
