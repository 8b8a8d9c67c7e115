/* SPDX-License-Identifier: BSD-2-Clause */
/* x86_64 half of the port's inline I/O (see bv/port.h): barriers, MMIO and
 * port I/O accessors. Each accessor is one mov/in/out in inline asm, so the
 * compiler can neither split, merge nor reorder it against other I/O. */
#ifndef BV_PORT_IO_H
#define BV_PORT_IO_H

#include <stdint.h>

/* Why compiler barriers and one locked op are enough here.
 * Device DMA on x86 is cache-coherent (the device's accesses snoop the CPU
 * caches), so ordering is the only question, and x86's memory model (TSO)
 * already keeps stores in order with stores and loads in order with loads,
 * including stores to uncached MMIO after stores to write-back memory. So
 * bv_wmb, bv_rmb, bv_io_wmb and bv_io_rmb only have to stop the compiler.
 * The one reordering TSO allows is a later load passing an earlier store
 * (store buffer forwarding); bv_mb must forbid it (publish avail.idx, then
 * read used.flags). Any locked instruction drains the store buffer and is a
 * full barrier for write-back memory; it is cheaper than mfence, which is
 * only needed for non-temporal stores and write-combining memory, neither of
 * which the library uses. The locked add of 0 below the stack pointer
 * changes nothing in memory (Linux's smp_mb does the same). */
#define bv_mb()     __asm__ volatile("lock; addl $0, -4(%%rsp)" ::: "memory", "cc")
#define bv_rmb()    __asm__ volatile("" ::: "memory")
#define bv_wmb()    __asm__ volatile("" ::: "memory")
#define bv_io_wmb() __asm__ volatile("" ::: "memory")
#define bv_io_rmb() __asm__ volatile("" ::: "memory")

static inline uint8_t bv_mmio_read8(uintptr_t a)
{
	uint8_t v;
	__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(a) : "memory");
	return v;
}

static inline uint16_t bv_mmio_read16(uintptr_t a)
{
	uint16_t v;
	__asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint32_t bv_mmio_read32(uintptr_t a)
{
	uint32_t v;
	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void bv_mmio_write8(uintptr_t a, uint8_t v)
{
	__asm__ volatile("movb %0, (%1)" :: "q"(v), "r"(a) : "memory");
}

static inline void bv_mmio_write16(uintptr_t a, uint16_t v)
{
	__asm__ volatile("movw %0, (%1)" :: "r"(v), "r"(a) : "memory");
}

static inline void bv_mmio_write32(uintptr_t a, uint32_t v)
{
	__asm__ volatile("movl %0, (%1)" :: "r"(v), "r"(a) : "memory");
}

/* Port I/O, port first and value second. */
#define BV_PORT_HAS_PIO 1

static inline uint8_t bv_pio_in8(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint16_t bv_pio_in16(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint32_t bv_pio_in32(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline void bv_pio_out8(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port) : "memory");
}

static inline void bv_pio_out16(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port) : "memory");
}

static inline void bv_pio_out32(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port) : "memory");
}

#endif
