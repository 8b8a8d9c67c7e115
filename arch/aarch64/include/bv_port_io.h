/* SPDX-License-Identifier: BSD-2-Clause */
/* aarch64 half of the port's inline I/O (see bv/port.h): barriers and MMIO
 * accessors. Each accessor is one ldr/str in inline asm, so the compiler can
 * neither split, merge nor reorder it against other MMIO; ordering against
 * memory is the barriers' job. Not here: cache maintenance (port functions). */
#ifndef BV_PORT_IO_H
#define BV_PORT_IO_H

#include <stdint.h>

/* Which shareability domain each barrier covers, and why.
 * A DMA master (a real PCIe or AXI device) sits in the Outer Shareable
 * domain; "dmb ish" only orders accesses as seen by observers in the Inner
 * Shareable domain (the other CPUs), so it promises nothing to a device.
 * The ring barriers therefore use the OSH forms, as Linux's dma_*mb() do.
 * (Under QEMU the "device" is another host thread and ISH would happen to
 * work; these are right on hardware too.)
 *   bv_mb   dmb osh     store->load included: avail.idx, then used.flags
 *   bv_rmb  dmb oshld   load->load/store: used.idx, then the used entry
 *   bv_wmb  dmb oshst   store->store: descriptors, then avail.idx
 * Memory against device registers: a store to Normal memory and a later
 * store to a Device-nGnRE register are ordered for an OSH observer by
 * dmb oshst, which is what Linux's arm64 writel() puts in front of the store
 * since it relaxed its I/O barriers (a dsb is not needed for ordering, only
 * for completion, which a doorbell does not ask for). A register read before
 * later memory loads is ordered by dmb oshld likewise. */
#define bv_mb()     __asm__ volatile("dmb osh" ::: "memory")
#define bv_rmb()    __asm__ volatile("dmb oshld" ::: "memory")
#define bv_wmb()    __asm__ volatile("dmb oshst" ::: "memory")
#define bv_io_wmb() __asm__ volatile("dmb oshst" ::: "memory")
#define bv_io_rmb() __asm__ volatile("dmb oshld" ::: "memory")

static inline uint8_t bv_mmio_read8(uintptr_t a)
{
	uint8_t v;
	__asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint16_t bv_mmio_read16(uintptr_t a)
{
	uint16_t v;
	__asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint32_t bv_mmio_read32(uintptr_t a)
{
	uint32_t v;
	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void bv_mmio_write8(uintptr_t a, uint8_t v)
{
	__asm__ volatile("strb %w0, [%1]" :: "rZ"(v), "r"(a) : "memory");
}

static inline void bv_mmio_write16(uintptr_t a, uint16_t v)
{
	__asm__ volatile("strh %w0, [%1]" :: "rZ"(v), "r"(a) : "memory");
}

static inline void bv_mmio_write32(uintptr_t a, uint32_t v)
{
	__asm__ volatile("str %w0, [%1]" :: "rZ"(v), "r"(a) : "memory");
}

#endif
