/* SPDX-License-Identifier: BSD-2-Clause */
/* x86_64 arch layer on QEMU q35, pc and microvm: PVH boot info, COM1
 * console, isa-debug-exit, and a TSC clock calibrated against the PIT that is
 * also the port's clock (bv_port_now_us, bv_port_relax; bv/port.h).
 * Long mode and paging are set up earlier, in start.S. Not here:
 * interrupts (we poll), ACPI parsing, multiple CPUs. */
#include <stdint.h>
#include "bv/arch.h"

/* hvm_start_info, as QEMU's PVH loader fills it (Xen's public ABI). */
#define PVH_MAGIC          0x336ec578u
#define PVH_OFF_MAGIC      0
#define PVH_OFF_CMDLINE    24   /* u64 physical address of a C string, or 0 */
#define PVH_OFF_RSDP       32   /* u64 */
#define PVH_OFF_MEMMAP     40   /* u64 address of the e820-style table */
#define PVH_OFF_MEMMAP_N   48   /* u32 entries, each {u64 addr, u64 size, u32 type, u32 pad} */
#define PVH_MEMMAP_RAM     1

/* 16550 UART at COM1: registers are byte ports from its base. */
#define COM1               0x3f8
#define UART_THR           0    /* write: transmit holding */
#define UART_IER           1
#define UART_FCR           2
#define UART_LCR           3
#define UART_MCR           4
#define UART_LSR           5    /* read: bit 5 = room to transmit */
#define UART_LSR_THRE      0x20
#define UART_LCR_DLAB      0x80

#define DEBUG_EXIT_PORT    0xf4 /* -device isa-debug-exit,iobase=0xf4: QEMU exits (v << 1) | 1 */

/* The PIT counts down at a fixed 1.193182 MHz on every machine we boot on
 * (microvm has no speaker gate at port 0x61, so use channel 0 and latch its
 * count rather than watch channel 2's output pin). Interrupts are off, so
 * channel 0 raising IRQ0 does no harm. */
#define PIT_HZ             1193182u
#define PIT_CH0            0x40
#define PIT_CMD            0x43
#define PIT_CAL_MS         10u

extern uint32_t arch_pvh_start_info;   /* saved by start.S */

static struct bv_boot_info arch_bi;
static uint64_t arch_tsc0, arch_tsc_khz;

static uint64_t arch_rdtsc(void)
{
	uint32_t lo, hi;
	/* lfence keeps the read from being hoisted above earlier loads. */
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return (uint64_t)hi << 32 | lo;
}

static uint64_t arch_rd64(uint64_t pa) { return *(const volatile uint64_t *)(uintptr_t)pa; }
static uint32_t arch_rd32(uint64_t pa) { return *(const volatile uint32_t *)(uintptr_t)pa; }

static void arch_uart_init(void)
{
	bv_pio_out8(COM1 + UART_IER, 0);          /* we poll */
	bv_pio_out8(COM1 + UART_LCR, UART_LCR_DLAB);
	bv_pio_out8(COM1 + 0, 1);                 /* divisor 1: 115200 baud */
	bv_pio_out8(COM1 + 1, 0);
	bv_pio_out8(COM1 + UART_LCR, 0x03);       /* 8N1 */
	bv_pio_out8(COM1 + UART_FCR, 0x07);       /* FIFOs on and cleared */
	bv_pio_out8(COM1 + UART_MCR, 0x03);
}

static uint16_t arch_pit_read(void)
{
	bv_pio_out8(PIT_CMD, 0x00);                /* latch channel 0 */
	uint8_t lo = bv_pio_in8(PIT_CH0);
	return (uint16_t)(lo | bv_pio_in8(PIT_CH0) << 8);
}

/* Count TSC ticks over PIT_CAL_MS of PIT time; 0 if the PIT is not there. */
static uint64_t arch_calibrate_tsc_khz(void)
{
	const uint16_t span = (uint16_t)(PIT_HZ / 1000u * PIT_CAL_MS);

	bv_pio_out8(PIT_CMD, 0x30);                /* ch0, lo/hi, mode 0: count down once */
	bv_pio_out8(PIT_CH0, 0xff);
	bv_pio_out8(PIT_CH0, 0xff);
	uint16_t start = arch_pit_read();
	uint64_t t0 = arch_rdtsc();
	/* Bounded: a missing PIT reads a constant, and then we give up. */
	for (uint64_t spins = 0; (uint16_t)(start - arch_pit_read()) < span; spins++)
		if (spins > 50000000u)
			return 0;
	return (arch_rdtsc() - t0) / PIT_CAL_MS;
}

void arch_init(void)
{
	uint64_t info = arch_pvh_start_info;

	arch_uart_init();
	if (info && arch_rd32(info + PVH_OFF_MAGIC) == PVH_MAGIC) {
		uint64_t cmd = arch_rd64(info + PVH_OFF_CMDLINE);
		uint64_t map = arch_rd64(info + PVH_OFF_MEMMAP);
		uint32_t n = arch_rd32(info + PVH_OFF_MEMMAP_N);

		arch_bi.cmdline = cmd ? (const char *)(uintptr_t)cmd : 0;
		arch_bi.rsdp = arch_rd64(info + PVH_OFF_RSDP);
		/* The table is not always sorted: take the RAM entry at 1 MiB,
		 * where we run, as "our" RAM. */
		for (uint32_t i = 0; map && i < n; i++) {
			uint64_t e = map + 24u * i;
			uint64_t base = arch_rd64(e), size = arch_rd64(e + 8);
			if (arch_rd32(e + 16) == PVH_MEMMAP_RAM && base <= 0x100000 && base + size > 0x100000) {
				arch_bi.ram_base = base;
				arch_bi.ram_size = size;
			}
		}
	}
	arch_tsc_khz = arch_calibrate_tsc_khz();
	if (arch_tsc_khz == 0) {
		/* Timeouts will be off; say so rather than divide by zero. */
		for (const char *m = "arch: no PIT to calibrate the TSC, assuming 1 GHz\n"; *m; m++)
			arch_putc(*m);
		arch_tsc_khz = 1000000;
	}
	arch_tsc0 = arch_rdtsc();
}

const struct bv_boot_info *arch_boot_info(void)
{
	return &arch_bi;
}

void arch_putc(char c)
{
	while (!(bv_pio_in8(COM1 + UART_LSR) & UART_LSR_THRE))
		bv_port_relax();
	bv_pio_out8(COM1 + UART_THR, (uint8_t)c);
}

_Noreturn void arch_exit(int status)
{
	bv_pio_out32(DEBUG_EXIT_PORT, (uint32_t)status);
	/* Only reached without isa-debug-exit: stop here, quietly. */
	for (;;)
		__asm__ volatile("cli; hlt");
}

uint64_t bv_port_now_us(void)
{
	uint64_t ticks = arch_rdtsc() - arch_tsc0;

	/* Split the division so ticks * 1000 cannot overflow. */
	return ticks / arch_tsc_khz * 1000u + ticks % arch_tsc_khz * 1000u / arch_tsc_khz;
}

void bv_port_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}
