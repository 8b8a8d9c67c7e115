/* SPDX-License-Identifier: BSD-2-Clause */
/* This firmware's barevsock port (bv/port.h): a few lines on top of its own
 * board layer. QEMU's Arm virt and x86 microvm give devices cache-coherent
 * DMA to physical addresses, and this firmware runs identity-mapped, so the
 * DMA hooks are the identity and nothing. */
#include "bv/err.h"
#include "bv/port.h"
#include "board.h"

uint64_t bv_port_now_us(void) { return board_now_us(); }
void bv_port_relax(void) { board_relax(); }

/* No interrupts in this firmware: returning early is allowed, and the
 * library wakes itself on its own timers. */
void bv_port_idle(uint64_t deadline_us) { (void)deadline_us; board_relax(); }
int bv_port_irq_line(uint32_t irq, unsigned flags, bv_port_irq_fn fn, void *ctx)
{
	(void)irq; (void)flags; (void)fn; (void)ctx;
	return BV_ENOTSUP;
}
int bv_port_irq_msi(bv_port_irq_fn fn, void *ctx, uint64_t *addr, uint32_t *data)
{
	(void)fn; (void)ctx; (void)addr; (void)data;
	return BV_ENOTSUP;
}
void bv_port_irq_off(int handle) { (void)handle; }

uint64_t bv_port_dma_addr(const void *p) { return (uint64_t)(uintptr_t)p; }
void bv_port_dma_clean(const void *p, size_t n) { (void)p; (void)n; }
void bv_port_dma_invalidate(const void *p, size_t n) { (void)p; (void)n; }

void bv_port_log(const char *s, size_t n)
{
	while (n--)
		board_putc(*s++);
}
