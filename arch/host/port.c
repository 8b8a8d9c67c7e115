/* SPDX-License-Identifier: BSD-2-Clause */
/* The port (bv/port.h) for native builds of the library: unit tests and
 * fuzzers. Defaults: the host's monotonic clock, identity DMA addresses,
 * no cache maintenance, log to stdout. Every port function is weak, so a
 * test that wants a fake clock, a DMA offset or a cache model defines its
 * own and wins at link time. Not for production use. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "bv/err.h"
#include "bv/port.h"

#define HOST_MMIO_WINDOWS 8

__attribute__((weak)) uint64_t bv_port_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

__attribute__((weak)) void bv_port_relax(void) {}

__attribute__((weak)) void bv_port_idle(uint64_t deadline_us) { (void)deadline_us; }

/* No interrupts on the host: the library then wakes itself on its timers. */
__attribute__((weak)) int bv_port_irq_line(uint32_t irq, unsigned flags, bv_port_irq_fn fn, void *ctx)
{
	(void)irq; (void)flags; (void)fn; (void)ctx;
	return BV_ENOTSUP;
}

__attribute__((weak)) int bv_port_irq_msi(bv_port_irq_fn fn, void *ctx, uint64_t *addr, uint32_t *data)
{
	(void)fn; (void)ctx; (void)addr; (void)data;
	return BV_ENOTSUP;
}

__attribute__((weak)) void bv_port_irq_off(int handle) { (void)handle; }

__attribute__((weak)) uint64_t bv_port_dma_addr(const void *p) { return (uint64_t)(uintptr_t)p; }

__attribute__((weak)) void bv_port_dma_clean(const void *p, size_t n) { (void)p; (void)n; }

__attribute__((weak)) void bv_port_dma_invalidate(const void *p, size_t n) { (void)p; (void)n; }

__attribute__((weak)) void bv_port_log(const char *s, size_t n)
{
	fwrite(s, 1, n, stdout);
	fflush(stdout);
}

static struct {
	uintptr_t base;
	size_t size;
	const struct bv_host_mmio_ops *ops;
	void *ctx;
} windows[HOST_MMIO_WINDOWS];

void bv_host_mmio_map(uintptr_t base, size_t size, const struct bv_host_mmio_ops *ops, void *ctx)
{
	int free_slot = -1;
	for (int i = 0; i < HOST_MMIO_WINDOWS; i++) {
		if (windows[i].size && windows[i].base == base)
			windows[i].size = 0;
		if (!windows[i].size && free_slot < 0)
			free_slot = i;
	}
	if (size == 0)
		return;
	if (free_slot < 0) {
		fprintf(stderr, "bv_host_mmio_map: more than %d windows\n", HOST_MMIO_WINDOWS);
		__builtin_trap();
	}
	windows[free_slot].base = base;
	windows[free_slot].size = size;
	windows[free_slot].ops = ops;
	windows[free_slot].ctx = ctx;
}

static int find(uintptr_t a, unsigned width)
{
	for (int i = 0; i < HOST_MMIO_WINDOWS; i++)
		if (windows[i].size && a >= windows[i].base && a - windows[i].base + width <= windows[i].size)
			return i;
	return -1;
}

uint32_t bv_host_mmio_read(uintptr_t a, unsigned width)
{
	int w = find(a, width);
	if (w >= 0)
		return windows[w].ops->read(windows[w].ctx, a - windows[w].base, width);
	switch (width) {
	case 1: return *(volatile uint8_t *)a;
	case 2: return *(volatile uint16_t *)a;
	default: return *(volatile uint32_t *)a;
	}
}

void bv_host_mmio_write(uintptr_t a, unsigned width, uint32_t v)
{
	int w = find(a, width);
	if (w >= 0) {
		windows[w].ops->write(windows[w].ctx, a - windows[w].base, width, v);
		return;
	}
	switch (width) {
	case 1: *(volatile uint8_t *)a = (uint8_t)v; break;
	case 2: *(volatile uint16_t *)a = (uint16_t)v; break;
	default: *(volatile uint32_t *)a = v; break;
	}
}
