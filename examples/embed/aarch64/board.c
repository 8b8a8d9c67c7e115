/* SPDX-License-Identifier: BSD-2-Clause */
/* The firmware's board layer for QEMU's Arm virt machine (aarch64): the
 * PL011 UART, the generic timer's virtual counter, and the virtio-mmio slot
 * QEMU gives the first -device (the last of its 32 slots). */
#include <stdint.h>
#include "board.h"

#define PL011_DR    0x09000000u
#define PL011_FR    0x09000018u
#define FR_TXFF     (1u << 5)
#define VIRT_VSOCK_SLOT 0x0a003e00u

static uint64_t cnt_start, cnt_hz;

static uint64_t counter(void)
{
	uint64_t v;
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v) :: "memory");
	return v;
}

void board_init(void)
{
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(cnt_hz));
	if (cnt_hz == 0)
		cnt_hz = 62500000;              /* QEMU's rate, if firmware left CNTFRQ unset */
	cnt_start = counter();
}

void board_putc(char c)
{
	while (*(volatile uint32_t *)(uintptr_t)PL011_FR & FR_TXFF)
		;
	*(volatile uint32_t *)(uintptr_t)PL011_DR = (uint8_t)c;
}

uint64_t board_now_us(void)
{
	uint64_t t = counter() - cnt_start;
	return t / cnt_hz * 1000000u + t % cnt_hz * 1000000u / cnt_hz;
}

void board_relax(void) { __asm__ volatile("yield"); }
const char *board_name(void) { return "Arm virt (aarch64)"; }
uintptr_t board_vsock_base(void) { return VIRT_VSOCK_SLOT; }
