/* SPDX-License-Identifier: BSD-2-Clause */
/* arm32 (ARMv7-A) half of the port's inline I/O (see bv/port.h): barriers
 * and MMIO accessors. Each accessor is one ldr/str in inline asm, so the
 * compiler can neither split, merge nor reorder it against other MMIO;
 * ordering against memory is the barriers' job. Not here: cache maintenance. */
#ifndef BV_PORT_IO_H
#define BV_PORT_IO_H

#include <stdint.h>

/* Which shareability domain each barrier covers, and why.
 * As on aarch64, a DMA master is an Outer Shareable observer and "dmb ish"
 * orders nothing for it, so the ring barriers use the OSH forms (Linux's
 * arm32 dma_rmb/dma_wmb are dmb osh / dmb oshst). ARMv7 has no load-only
 * dmb, so the read barrier is the full one.
 *   bv_mb   dmb osh     store->load included: avail.idx, then used.flags
 *   bv_rmb  dmb osh     used.idx, then the used entry
 *   bv_wmb  dmb oshst   descriptors, then avail.idx
 * Memory against device registers: ARMv7 systems commonly put an outer
 * cache controller (PL310) with its own store buffer between the CPU and
 * memory, which a dmb does not drain; Linux's arm32 writel()/readl() use
 * dsb st / dsb for that reason, and so do we before a doorbell and after a
 * status read. */
#define bv_mb()     __asm__ volatile("dmb osh" ::: "memory")
#define bv_rmb()    __asm__ volatile("dmb osh" ::: "memory")
#define bv_wmb()    __asm__ volatile("dmb oshst" ::: "memory")
#define bv_io_wmb() __asm__ volatile("dsb st" ::: "memory")
#define bv_io_rmb() __asm__ volatile("dsb" ::: "memory")

static inline uint8_t bv_mmio_read8(uintptr_t a)
{
	uint8_t v;
	__asm__ volatile("ldrb %0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint16_t bv_mmio_read16(uintptr_t a)
{
	uint16_t v;
	__asm__ volatile("ldrh %0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint32_t bv_mmio_read32(uintptr_t a)
{
	uint32_t v;
	__asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void bv_mmio_write8(uintptr_t a, uint8_t v)
{
	__asm__ volatile("strb %0, [%1]" :: "r"(v), "r"(a) : "memory");
}

static inline void bv_mmio_write16(uintptr_t a, uint16_t v)
{
	__asm__ volatile("strh %0, [%1]" :: "r"(v), "r"(a) : "memory");
}

static inline void bv_mmio_write32(uintptr_t a, uint32_t v)
{
	__asm__ volatile("str %0, [%1]" :: "r"(v), "r"(a) : "memory");
}

#endif
