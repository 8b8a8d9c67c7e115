/* SPDX-License-Identifier: BSD-2-Clause */
/* Native (host) build of the portable code, for unit tests and fuzzing:
 * barriers are C11 fences and "MMIO" is plain volatile memory. */
#ifndef BV_ARCH_IO_H
#define BV_ARCH_IO_H

#include <stdint.h>

#define bv_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define bv_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define bv_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

static inline uint8_t  mmio_read8(uintptr_t a)  { return *(volatile uint8_t *)a; }
static inline uint16_t mmio_read16(uintptr_t a) { return *(volatile uint16_t *)a; }
static inline uint32_t mmio_read32(uintptr_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write8(uintptr_t a, uint8_t v)   { *(volatile uint8_t *)a = v; }
static inline void mmio_write16(uintptr_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void mmio_write32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }

#endif
