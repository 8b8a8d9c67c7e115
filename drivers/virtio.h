/* SPDX-License-Identifier: BSD-2-Clause */
/* Device-independent virtio: one transport interface (PCI modern, MMIO v1/v2),
 * the common initialisation sequence and device config reads, and the
 * device's interrupt when the driver wants one to wake the CPU (MSI-X, PCI
 * INTx or the mmio line; the handler only acknowledges). A device gets
 * here already attached to its transport (virtio_mmio_attach,
 * virtio_pci_attach); finding it, and where its wired interrupt line
 * arrives, is not this layer's business (the -kernel images' discover/ does
 * that). Non-goals: packed rings, hot-plug, PCI legacy, work in interrupts. */
#ifndef BV_VIRTIO_H
#define BV_VIRTIO_H

#include <stdint.h>
#include "bv/config.h"
#include "drivers/virtq.h"

/* Device status bits (spec 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE  1
#define VIRTIO_STATUS_DRIVER       2
#define VIRTIO_STATUS_DRIVER_OK    4
#define VIRTIO_STATUS_FEATURES_OK  8
#define VIRTIO_STATUS_NEEDS_RESET  64
#define VIRTIO_STATUS_FAILED       128

/* Transport-independent feature bits. */
#define VIRTIO_F_VERSION_1   32

/* Device IDs of devices without a header of their own (VIRTIO_ID_VSOCK is
 * in vsock/vsock_wire.h, next to the rest of that device's wire format). */
#define VIRTIO_ID_RNG    4

enum virtio_transport {
	VIRTIO_TRANSPORT_PCI = 1,
	VIRTIO_TRANSPORT_MMIO_V1,   /* legacy: 32 feature bits, PFN queues, no FEATURES_OK */
	VIRTIO_TRANSPORT_MMIO_V2,
};

/* Polls of the status register before a reset counts as stuck. */
#define VIRTIO_RESET_POLLS 1000000

/* Reads of a 64-bit config field before a changing generation is ignored. */
#define VIRTIO_CFG_RETRIES 1000

/* Queues whose PCI doorbell offset is cached (vsock uses 3). */
#define VIRTIO_PCI_CACHED_QUEUES 8

struct virtio_dev;
struct virtio_pci_access;

/* What every transport implements. Config offsets are device-config relative. */
struct virtio_ops {
	int (*reset)(struct virtio_dev *d);  /* BV_OK once status reads 0, BV_EIO if it never does */
	uint8_t (*get_status)(struct virtio_dev *d);
	void (*set_status)(struct virtio_dev *d, uint8_t s);
	uint64_t (*get_features)(struct virtio_dev *d);      /* device features */
	void (*set_features)(struct virtio_dev *d, uint64_t f);
	unsigned (*queue_max)(struct virtio_dev *d, unsigned idx);  /* 0: no such queue */
	int (*setup_queue)(struct virtio_dev *d, struct virtq *q);  /* q already virtq_init'ed */
	void (*notify)(struct virtio_dev *d, unsigned idx);
	uint8_t (*cfg_read8)(struct virtio_dev *d, unsigned off);
	uint16_t (*cfg_read16)(struct virtio_dev *d, unsigned off);
	uint32_t (*cfg_read32)(struct virtio_dev *d, unsigned off);
	uint32_t (*cfg_generation)(struct virtio_dev *d);     /* legacy: always 0 */
	/* Interrupts (optional: NULL means the transport has none). irq_setup
	 * routes the device's interrupt to virtio_irq_handler before the queues
	 * are set up; irq_ack acknowledges a line interrupt at the device and
	 * returns the ISR bits it found (0: not ours). */
	void (*irq_setup)(struct virtio_dev *d);
	uint32_t (*irq_ack)(struct virtio_dev *d);
};

/* How the device's interrupt reaches us (virtio_dev.irq.mode). */
enum virtio_irq_mode {
	VIRTIO_IRQ_NONE = 0,    /* none: the driver wakes itself on a timer */
	VIRTIO_IRQ_MSIX,        /* PCI MSI-X, vector 0 for every queue */
	VIRTIO_IRQ_LINE,        /* a wired line: PCI INTx or the mmio interrupt */
};

/* Consecutive line interrupts with an empty ISR before the line is masked for
 * good (a device, or a neighbour on a shared line, that never lets go). */
#define VIRTIO_IRQ_STORM 1000

struct virtio_irq {
	/* Set before virtio_init: by the driver (wanted), and by whoever found
	 * the device for a wired line (virtio_set_irq_line). */
	uint8_t wanted;
	uint8_t has_line;
	uint8_t line_flags;     /* BV_IRQ_* */
	uint32_t line;          /* as bv_port_irq_line numbers it */
	/* After virtio_init. */
	uint8_t mode;           /* enum virtio_irq_mode */
	uint8_t storm;          /* the line was masked by the storm guard */
	uint8_t attached;       /* handle is valid (kept across a re-init) */
	int handle;             /* the port's */
	uint64_t msi_addr;      /* MSI-X: the message the port gave us */
	uint32_t msi_data;
	uint32_t spurious_run;
	uint64_t count;         /* handler runs */
	uint64_t spurious;      /* line interrupts with nothing in the ISR */
};

/* One attached device. The caller owns the storage (static, typically) and
 * keeps it for as long as the device is in use. */
struct virtio_dev {
	const struct virtio_ops *ops;
	enum virtio_transport transport;
	uint32_t device_id;
	uint64_t features;          /* negotiated, valid after virtio_init */
	char where[64];             /* for messages; attach fills it, the caller may refine it */
	struct virtio_irq irq;
	union {
		struct {
			uintptr_t common, notify, isr, device;
			uint32_t notify_mult;
			uint16_t notify_off[VIRTIO_PCI_CACHED_QUEUES];  /* read once at setup */
			const struct virtio_pci_access *cfg;   /* the caller's, kept for later use */
			/* Where each structure is as (BAR, offset), for cfg->bar_read/bar_write;
			 * indexed like the capability types: [1] common .. [4] device. */
			uint8_t bar[5];
			uint32_t bar_off[5];
			/* MSI-X table: CPU address, or (BAR, offset) for bar_write;
			 * msix_cap is its config-space offset, 0 without the capability. */
			uintptr_t msix_table;
			uint8_t msix_bar, msix_cap;
			uint32_t msix_off;
		} pci;
		struct {
			uintptr_t base;
		} mmio;
	} t;
};

/* Name of a transport for messages: "pci", "mmio v1", "mmio v2". */
const char *virtio_transport_name(enum virtio_transport t);

/* The spec's init sequence (3.1.1): reset, ACKNOWLEDGE, DRIVER, features
 * (VERSION_1 where offered plus those of `wanted` the device offers),
 * FEATURES_OK read back (modern), the interrupt if d->irq.wanted (never
 * required: without one, d->irq.mode stays VIRTIO_IRQ_NONE), then each queue
 * i of qs[0..nq) gets virtq_init with min(device max, BV_VIRTQ_MAX_SIZE)
 * entries (and EVENT_IDX rules when VIRTIO_RING_F_EVENT_IDX was negotiated)
 * and is given to the device, then DRIVER_OK. On failure logs which step failed, sets FAILED,
 * returns <0. `required` feature bits that the device lacks fail with
 * BV_ENOTSUP. */
int virtio_init(struct virtio_dev *d, uint64_t wanted, uint64_t required,
		struct virtq *const *qs, unsigned nq);

/* Where the device's wired interrupt arrives (after attach, before
 * virtio_init), for whoever found it: irq as bv_port_irq_line takes it
 * (x86: GSI; Arm: GIC INTID), flags BV_IRQ_*. MSI-X needs nothing here. */
void virtio_set_irq_line(struct virtio_dev *d, uint32_t irq, unsigned flags);

/* The interrupt handler every transport attaches: counts, acknowledges a line
 * interrupt at the device (irq_ack) and returns. It never touches the rings:
 * the driver looks at them once the CPU is awake. A level line whose ISR
 * stays empty VIRTIO_IRQ_STORM times in a row is turned off for good. */
void virtio_irq_handler(void *ctx);

/* Device config space reads; read64 retries across config_generation changes. */
uint8_t virtio_cfg_read8(struct virtio_dev *d, unsigned off);
uint16_t virtio_cfg_read16(struct virtio_dev *d, unsigned off);
uint32_t virtio_cfg_read32(struct virtio_dev *d, unsigned off);
uint64_t virtio_cfg_read64(struct virtio_dev *d, unsigned off);

#endif
