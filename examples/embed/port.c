/* SPDX-License-Identifier: BSD-2-Clause */
/* This firmware's barevsock port (bv/port.h): a few lines on top of its own
 * board layer. QEMU's Arm virt and x86 microvm give devices cache-coherent
 * DMA to physical addresses, and this firmware runs identity-mapped, so the
 * DMA hooks are the identity and nothing. */
#include "bv/port.h"
#include "board.h"

uint64_t bv_port_now_us(void) { return board_now_us(); }
void bv_port_relax(void) { board_relax(); }

/* No interrupts in this firmware: returning early is allowed. */
void bv_port_idle(uint64_t deadline_us) { (void)deadline_us; board_relax(); }

uint64_t bv_port_dma_addr(const void *p) { return (uint64_t)(uintptr_t)p; }
void bv_port_dma_clean(const void *p, size_t n) { (void)p; (void)n; }
void bv_port_dma_invalidate(const void *p, size_t n) { (void)p; (void)n; }

void bv_port_log(const char *s, size_t n)
{
	while (n--)
		board_putc(*s++);
}
