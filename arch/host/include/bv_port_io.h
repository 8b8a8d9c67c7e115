/* SPDX-License-Identifier: BSD-2-Clause */
/* Native (host) half of the port's inline I/O, for unit tests and fuzzers:
 * barriers are C11 fences, and every MMIO access goes through arch/host/port.c,
 * which hands accesses inside a window a test registered (bv_host_mmio_map)
 * to the test's fake device and does plain volatile memory access elsewhere.
 * Not here: anything a real target needs. */
#ifndef BV_PORT_IO_H
#define BV_PORT_IO_H

#include <stdint.h>
#include <stddef.h>

#define bv_mb()     __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define bv_rmb()    __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define bv_wmb()    __atomic_thread_fence(__ATOMIC_RELEASE)
#define bv_io_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define bv_io_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)

/* A fake device's register file: width is 1, 2 or 4, off is from base. */
struct bv_host_mmio_ops {
	uint32_t (*read)(void *ctx, uintptr_t off, unsigned width);
	void (*write)(void *ctx, uintptr_t off, unsigned width, uint32_t v);
};
/* Route [base, base+size) to ops (at most 8 windows; a zero-size window
 * removes an earlier one at the same base). */
void bv_host_mmio_map(uintptr_t base, size_t size, const struct bv_host_mmio_ops *ops, void *ctx);
uint32_t bv_host_mmio_read(uintptr_t a, unsigned width);
void bv_host_mmio_write(uintptr_t a, unsigned width, uint32_t v);

static inline uint8_t  bv_mmio_read8(uintptr_t a)  { return (uint8_t)bv_host_mmio_read(a, 1); }
static inline uint16_t bv_mmio_read16(uintptr_t a) { return (uint16_t)bv_host_mmio_read(a, 2); }
static inline uint32_t bv_mmio_read32(uintptr_t a) { return bv_host_mmio_read(a, 4); }
static inline void bv_mmio_write8(uintptr_t a, uint8_t v)   { bv_host_mmio_write(a, 1, v); }
static inline void bv_mmio_write16(uintptr_t a, uint16_t v) { bv_host_mmio_write(a, 2, v); }
static inline void bv_mmio_write32(uintptr_t a, uint32_t v) { bv_host_mmio_write(a, 4, v); }

#endif
