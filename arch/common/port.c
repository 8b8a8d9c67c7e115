/* SPDX-License-Identifier: BSD-2-Clause */
/* The parts of the port (bv/port.h) every -kernel image shares: QEMU's
 * targets are cache-coherent and identity-mapped, so DMA addresses are CPU
 * addresses and cache maintenance is nothing; the log goes to the console;
 * with interrupts off, idling is relaxing once. The clock and the relax hint
 * are per CPU, in arch/<arch>/. */
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

void bv_port_idle(uint64_t deadline_us)
{
	/* Nothing would wake a halted CPU yet (no interrupts); returning early
	 * is allowed, so this is a polling loop's relax. */
	(void)deadline_us;
	bv_port_relax();
}

void bv_port_log(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		arch_putc(s[i]);
}
