/* SPDX-License-Identifier: BSD-2-Clause */
/* The firmware's board layer for QEMU's x86 microvm: the COM1 UART, a clock
 * from the TSC measured against the 8254 PIT once at start, and the
 * virtio-mmio slot QEMU gives the first -device (the last of its 24 slots
 * when ACPI is on, its default). */
#include <stdint.h>
#include "board.h"

#define COM1_DATA   0x3f8
#define COM1_LSR    0x3fd
#define LSR_THRE    0x20
#define PIT_CH0     0x40
#define PIT_MODE    0x43
#define PIT_HZ      1193182u
#define MICROVM_VSOCK_SLOT 0xfeb02e00u

static uint64_t tsc_start, tsc_per_ms;

static inline void out8(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t in8(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static uint64_t tsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return (uint64_t)hi << 32 | lo;
}

static uint16_t pit_count(void)
{
	out8(PIT_MODE, 0x00);               /* latch channel 0 */
	uint16_t lo = in8(PIT_CH0);
	return (uint16_t)(lo | (uint16_t)in8(PIT_CH0) << 8);
}

void board_init(void)
{
	/* Channel 0, one-shot countdown from 0xffff: 20 ms of PIT time is
	 * 23863 counts, well inside one pass. */
	out8(PIT_MODE, 0x30);
	out8(PIT_CH0, 0xff);
	out8(PIT_CH0, 0xff);
	uint16_t c0 = pit_count();
	uint64_t t0 = tsc();
	unsigned guard = 0;
	while ((uint16_t)(c0 - pit_count()) < PIT_HZ / 50 && ++guard < 100000000u)
		;
	tsc_per_ms = (tsc() - t0) / 20;
	if (tsc_per_ms == 0)
		tsc_per_ms = 1000000;           /* no PIT: guess 1 GHz rather than divide by 0 */
	tsc_start = tsc();
}

void board_putc(char c)
{
	while (!(in8(COM1_LSR) & LSR_THRE))
		;
	out8(COM1_DATA, (uint8_t)c);
}

uint64_t board_now_us(void)
{
	uint64_t t = tsc() - tsc_start;
	return t / tsc_per_ms * 1000u + t % tsc_per_ms * 1000u / tsc_per_ms;
}

void board_relax(void) { __asm__ volatile("pause"); }
const char *board_name(void) { return "x86 microvm"; }
uintptr_t board_vsock_base(void) { return MICROVM_VSOCK_SLOT; }
