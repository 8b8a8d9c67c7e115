/* SPDX-License-Identifier: BSD-2-Clause */
/* DMA for the UEFI platform. The library's device-visible memory is its own
 * static storage, inside our image, which image.c keeps below 4 GiB in
 * loader memory. OVMF and ArmVirtQemu map RAM 1:1 and put no IOMMU in the
 * way, so the bus address is the CPU address. (We do not use
 * PciIo->AllocateBuffer/Map: that memory is boot-services memory, gone at
 * ExitBootServices, and the library has no allocator to hand it to.)
 * Under UEFI the Arm MMU is on and RAM is cacheable, so unlike the -kernel
 * images cache maintenance is real here: clean (and, for device-written
 * memory, clean+invalidate) to the point of coherency by line, then a dsb.
 * Harmless on QEMU's coherent devices; needed on a non-coherent SoC.
 * Non-goals: IOMMU/SEV/TDX translation (would need PciIo->Map). */
#include <stddef.h>
#include <stdint.h>
#include "bv/port.h"

uint64_t bv_port_dma_addr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

#if defined(__aarch64__)
static uintptr_t dline(void)
{
	uint64_t ctr;
	__asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
	return (uintptr_t)4 << ((ctr >> 16) & 0xf);
}
#define DC_CLEAN(p)      __asm__ volatile("dc cvac, %0" :: "r"(p) : "memory")
#define DC_CLEAN_INV(p)  __asm__ volatile("dc civac, %0" :: "r"(p) : "memory")
#define DMA_DSB()        __asm__ volatile("dsb sy" ::: "memory")
#elif defined(__arm__)
static uintptr_t dline(void)
{
	uint32_t ctr;
	__asm__ volatile("mrc p15, 0, %0, c0, c0, 1" : "=r"(ctr));
	return (uintptr_t)4 << ((ctr >> 16) & 0xf);
}
#define DC_CLEAN(p)      __asm__ volatile("mcr p15, 0, %0, c7, c10, 1" :: "r"(p) : "memory")  /* DCCMVAC */
#define DC_CLEAN_INV(p)  __asm__ volatile("mcr p15, 0, %0, c7, c14, 1" :: "r"(p) : "memory")  /* DCCIMVAC */
#define DMA_DSB()        __asm__ volatile("dsb sy" ::: "memory")
#endif

void bv_port_dma_clean(const void *p, size_t n)
{
#if defined(__aarch64__) || defined(__arm__)
	uintptr_t line = dline(), a = (uintptr_t)p & ~(line - 1), end = (uintptr_t)p + n;
	for (; a < end; a += line)
		DC_CLEAN(a);
	DMA_DSB();
#else
	/* x86 DMA snoops the caches. */
	(void)p;
	(void)n;
#endif
}

void bv_port_dma_invalidate(const void *p, size_t n)
{
#if defined(__aarch64__) || defined(__arm__)
	/* Clean+invalidate rather than invalidate: a line the CPU dirtied can
	 * never be lost, and the library's buffers never share a line with
	 * anything else (BV_DMA_ALIGN). */
	uintptr_t line = dline(), a = (uintptr_t)p & ~(line - 1), end = (uintptr_t)p + n;
	for (; a < end; a += line)
		DC_CLEAN_INV(a);
	DMA_DSB();
#else
	(void)p;
	(void)n;
#endif
}
