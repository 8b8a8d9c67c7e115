/* SPDX-License-Identifier: BSD-2-Clause */
/* The parts of the port (bv/port.h) every -kernel image shares: QEMU's
 * targets are cache-coherent and identity-mapped, so DMA addresses are CPU
 * addresses and cache maintenance is nothing; the log goes to the console.
 * The clock, the relax hint, idling and interrupts are per CPU, in
 * arch/<arch>/ (x86_64/irq.c, arm-common/gic.c). */
#include "bv/arch.h"
#include "bv/port.h"

uint64_t bv_port_dma_addr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

void bv_port_dma_clean(const void *p, size_t n)
{
	(void)p;
	(void)n;
}

void bv_port_dma_invalidate(const void *p, size_t n)
{
	(void)p;
	(void)n;
}

void bv_port_log(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		arch_putc(s[i]);
}
