/* SPDX-License-Identifier: BSD-2-Clause */
/* arm32 (ARMv7-A) barriers and MMIO accessors for drivers/ and vsock/.
 * Every accessor is one ldr/str in inline asm so the compiler can neither
 * split, merge nor reorder it against other MMIO. Ordering between ring
 * memory and a doorbell write is the caller's job: bv_wmb() first. */
#ifndef BV_ARCH_IO_H
#define BV_ARCH_IO_H

#include <stdint.h>

/* ARMv7 has no load-only dmb, so the read barrier is a full one. */
#define bv_mb()  __asm__ volatile("dmb ish" ::: "memory")
#define bv_rmb() __asm__ volatile("dmb ish" ::: "memory")
#define bv_wmb() __asm__ volatile("dmb ishst" ::: "memory")

static inline uint8_t mmio_read8(uintptr_t a)
{
	uint8_t v;
	__asm__ volatile("ldrb %0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint16_t mmio_read16(uintptr_t a)
{
	uint16_t v;
	__asm__ volatile("ldrh %0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint32_t mmio_read32(uintptr_t a)
{
	uint32_t v;
	__asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void mmio_write8(uintptr_t a, uint8_t v)
{
	__asm__ volatile("strb %0, [%1]" :: "r"(v), "r"(a) : "memory");
}

static inline void mmio_write16(uintptr_t a, uint16_t v)
{
	__asm__ volatile("strh %0, [%1]" :: "r"(v), "r"(a) : "memory");
}

static inline void mmio_write32(uintptr_t a, uint32_t v)
{
	__asm__ volatile("str %0, [%1]" :: "r"(v), "r"(a) : "memory");
}

#endif
