/* SPDX-License-Identifier: BSD-2-Clause */
/* x86_64 barriers, MMIO and port I/O for drivers/ and vsock/.
 * x86 keeps stores in order and loads in order, so write and read barriers
 * only have to stop the compiler; a full barrier must also order an earlier
 * store before a later load (publish avail->idx, then read used->flags). */
#ifndef BV_ARCH_IO_H
#define BV_ARCH_IO_H

#include <stdint.h>

#define bv_mb()  __asm__ volatile("mfence" ::: "memory")
#define bv_rmb() __asm__ volatile("" ::: "memory")
#define bv_wmb() __asm__ volatile("" ::: "memory")

/* One mov each, so the compiler cannot split or merge a register access. */
static inline uint8_t mmio_read8(uintptr_t a)
{
	uint8_t v;
	__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(a) : "memory");
	return v;
}

static inline uint16_t mmio_read16(uintptr_t a)
{
	uint16_t v;
	__asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint32_t mmio_read32(uintptr_t a)
{
	uint32_t v;
	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void mmio_write8(uintptr_t a, uint8_t v)
{
	__asm__ volatile("movb %0, (%1)" :: "q"(v), "r"(a) : "memory");
}

static inline void mmio_write16(uintptr_t a, uint16_t v)
{
	__asm__ volatile("movw %0, (%1)" :: "r"(v), "r"(a) : "memory");
}

static inline void mmio_write32(uintptr_t a, uint32_t v)
{
	__asm__ volatile("movl %0, (%1)" :: "r"(v), "r"(a) : "memory");
}

/* Port I/O, port first (the order drivers read naturally). */
static inline void port_out8(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t port_in8(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline void port_out32(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port) : "memory");
}

#endif
