/* SPDX-License-Identifier: BSD-2-Clause */
/* QEMU Arm "virt" board, the part aarch64 and arm32 share: boot info with
 * the DTB QEMU leaves at the start of RAM, the PL011 console and the clock
 * built on the generic timer, which is also the port's (bv_port_now_us,
 * bv_port_relax; bv/port.h). CPU-specific code (timer registers, semihosting
 * exit, entry) stays in arch/<arch>/. Not here: interrupts, other boards. */
#include <stdint.h>
#include "bv/arch.h"
#include "libc-glue/picolibc/glue.h"
#include "arch/arm-common/virt.h"
#include "discover/fdt.h"    /* FDT_MAGIC */

#define VIRT_RAM_BASE   0x40000000UL
#define VIRT_PL011      0x09000000UL
#define PL011_DR        0x00
#define PL011_FR        0x18        /* flags: read-only */
#define PL011_FR_RXFE   (1u << 4)
#define PL011_FR_TXFF   (1u << 5)
#define QEMU_CNTFRQ     62500000u   /* what QEMU's timer runs at if CNTFRQ reads 0 */

static struct bv_boot_info virt_bi;
static uint64_t virt_cnt0;
static uint32_t virt_cntfrq;

static uint32_t virt_be32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

void arch_init(void)
{
	virt_cntfrq = arm_counter_freq();
	if (virt_cntfrq == 0)
		virt_cntfrq = QEMU_CNTFRQ;   /* never divide by zero */
	virt_cnt0 = arm_counter();

	virt_bi.el = arm_entry_level();
	virt_bi.ram_base = VIRT_RAM_BASE;
	/* QEMU only puts the DTB there when the image does not overlap it. */
	if (virt_be32((const void *)VIRT_RAM_BASE) == FDT_MAGIC)
		virt_bi.fdt = (const void *)VIRT_RAM_BASE;
}

const struct bv_boot_info *arch_boot_info(void)
{
	return &virt_bi;
}

void arch_putc(char c)
{
	while (bv_mmio_read32(VIRT_PL011 + PL011_FR) & PL011_FR_TXFF)
		bv_port_relax();
	bv_mmio_write32(VIRT_PL011 + PL011_DR, (uint8_t)c);
}

int arch_getc(void)
{
	while (bv_mmio_read32(VIRT_PL011 + PL011_FR) & PL011_FR_RXFE)
		bv_port_relax();
	return (int)(bv_mmio_read32(VIRT_PL011 + PL011_DR) & 0xff);
}

uint64_t bv_port_now_us(void)
{
	uint64_t ticks = arm_counter() - virt_cnt0;

	/* Split the division so ticks * 1e6 cannot overflow. */
	return ticks / virt_cntfrq * 1000000u + ticks % virt_cntfrq * 1000000u / virt_cntfrq;
}

void bv_port_relax(void)
{
	__asm__ volatile("yield" ::: "memory");
}
