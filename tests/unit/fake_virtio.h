/* SPDX-License-Identifier: BSD-2-Clause */
/* One fake virtio device for native unit tests, seen from the device side,
 * behind the library's real transport code: it answers virtio-mmio register
 * accesses (version 2 or 1) through the host port's MMIO windows
 * (bv_host_mmio_map) or, as a modern virtio-pci function, config-space
 * accessors plus a BAR window. It reaches guest memory only through DMA
 * addresses and checks each one against the DMA model below, so a test sees
 * every address the driver hands the device. Device behaviour (what to do
 * with a chain) is the test's: fv_pop / fv_read / fv_write / fv_push.
 *
 * DMA model (fv_dma_model): the port functions bv_port_dma_addr,
 * bv_port_dma_clean and bv_port_dma_invalidate are defined here (they
 * override arch/host/port.c's weak ones). A DMA address is CPU address +
 * offset; the device accepts only addresses that map back into the test
 * binary's data and bss, and counts anything else as a violation without
 * touching memory. With cache on, the device does not see CPU memory at all
 * but a model of RAM behind a write-back cache of 64-byte lines: clean copies
 * lines CPU -> RAM, invalidate copies RAM -> CPU, the device reads and
 * writes RAM only, and reading or writing a line the CPU never cleaned is a
 * violation. Forgetting a hook then breaks the exchange as it would on a
 * non-coherent machine.
 *
 * Use: fv_dma_setup(offset, cache); fv_init(&dev, &config, base); attach
 * with virtio_mmio_attach(&vd, base) or virtio_pci_attach(&vd, &dev.pci,
 * NULL); then alternate guest calls with fv_pop/fv_read/fv_write/fv_push.
 * fv_dma_setup(0, 0) is plain coherent identity DMA, for tests that only want
 * a register-level device. Link fake_virtio.c and arch/host/port.c; the
 * test's own file defines CHECK_MAIN (the fake counts into check.h's
 * totals). One device per test at a time is the
 * usual case; several may coexist (distinct bases). Single-threaded: the test
 * alternates guest calls and device steps. Not a model of timing, interrupts
 * or EVENT_IDX. */
#ifndef BV_TEST_FAKE_VIRTIO_H
#define BV_TEST_FAKE_VIRTIO_H

#include <stddef.h>
#include <stdint.h>
#include "drivers/virtio_pci.h"

#define FV_MAX_QUEUES 4
#define FV_MAX_CHAIN  16
#define FV_CFG_BYTES  64
#define FV_LINE       64

/* ---- DMA model (global: the port hooks are global) ---- */
struct fv_dma_model {
	int64_t offset;          /* device address = CPU address + offset */
	int cache;               /* model a non-coherent write-back cache */
	int port_raw;            /* broken port, for negative tests: bv_port_dma_addr returns the CPU address */
	int skip_clean;          /* broken port: clean does nothing */
	int skip_invalidate;     /* broken port: invalidate does nothing */
	/* what the device saw */
	unsigned long checked;   /* device-visible addresses checked */
	unsigned long bad_addr;  /* ... that were not DMA addresses of test memory */
	unsigned long uncleaned; /* cache on: device touched a line never cleaned */
};
extern struct fv_dma_model fv_dma;

/* Reset the model: offset, cache on/off, counters zero, RAM model empty. */
void fv_dma_setup(int64_t offset, int cache);
/* The first and one-past-last CPU address the device may reach. */
uintptr_t fv_dma_lo(void);
uintptr_t fv_dma_hi(void);

/* ---- the device ---- */
enum fv_transport { FV_MMIO_V2 = 2, FV_MMIO_V1 = 1, FV_PCI = 3 };

struct fv_config {
	enum fv_transport transport;
	uint32_t device_id;
	uint64_t features;                 /* offered */
	unsigned nqueues;
	unsigned queue_max[FV_MAX_QUEUES];
	uint8_t cfg[FV_CFG_BYTES];         /* device config space */
	unsigned cfg_len;
};

struct fv_queue {
	uint32_t num, ready, pfn, align;
	uint64_t desc, driver, device;     /* device addresses as the driver gave them */
	uint16_t last_avail;
	unsigned notifies;
};

struct fv_dev {
	struct fv_config c;
	uintptr_t base;                    /* MMIO registers, or the PCI BAR */
	uint32_t status, dev_sel, drv_sel, queue_sel, page_size, cfg_gen;
	uint64_t driver_features;
	struct fv_queue q[FV_MAX_QUEUES];
	unsigned resets;
	struct virtio_pci_access pci;      /* FV_PCI: config-space accessors for virtio_pci_attach */
	uint8_t pci_cfg[256];
};

/* A chain the device took from the avail ring, as the descriptors say.
 * Segments whose address is not a DMA address are kept (the test may look at
 * them) but count in fv_dma.bad_addr and are left out of readable/writable;
 * fv_read/fv_write stop at them. */
struct fv_seg {
	uint64_t addr;
	uint32_t len;
	int writable;
};
struct fv_chain {
	uint16_t head;
	unsigned n;
	struct fv_seg seg[FV_MAX_CHAIN];
	uint32_t readable, writable;       /* bytes of each kind */
};

/* Bring the device up at base (a unique address; nothing is stored there:
 * accesses go to the fake). FV_PCI: base is BAR0 and d->pci the accessors. */
void fv_init(struct fv_dev *d, const struct fv_config *c, uintptr_t base);
/* Unmap it. */
void fv_fini(struct fv_dev *d);

/* Queue qi is live: the driver gave it valid rings and enabled it. */
int fv_queue_live(const struct fv_dev *d, unsigned qi);
/* Take the next published chain: 1 and *out, or 0 when there is none. */
int fv_pop(struct fv_dev *d, unsigned qi, struct fv_chain *out);
/* Copy from the chain's device-readable bytes at off; returns bytes copied. */
uint32_t fv_read(struct fv_dev *d, const struct fv_chain *c, uint32_t off, void *dst, uint32_t n);
/* Copy into the chain's device-writable bytes at off; returns bytes copied. */
uint32_t fv_write(struct fv_dev *d, const struct fv_chain *c, uint32_t off, const void *src, uint32_t n);
/* Complete the chain with len bytes written. */
void fv_push(struct fv_dev *d, unsigned qi, uint16_t head, uint32_t len);
/* Change device config bytes (bumps the generation). */
void fv_set_config(struct fv_dev *d, unsigned off, const void *src, unsigned n);

#endif
