/* SPDX-License-Identifier: BSD-2-Clause */
/* Device-independent virtio: one transport interface (PCI modern, MMIO v1/v2),
 * the common initialisation sequence and device config reads. A device gets
 * here already attached to its transport (virtio_mmio_attach,
 * virtio_pci_attach); finding it is not this layer's business (the -kernel
 * images' discover/ does that). Non-goals: interrupts/MSI-X, EVENT_IDX,
 * packed rings, hot-plug, PCI legacy. */
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
};

/* One attached device. The caller owns the storage (static, typically) and
 * keeps it for as long as the device is in use. */
struct virtio_dev {
	const struct virtio_ops *ops;
	enum virtio_transport transport;
	uint32_t device_id;
	uint64_t features;          /* negotiated, valid after virtio_init */
	char where[64];             /* for messages; attach fills it, the caller may refine it */
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
 * FEATURES_OK read back (modern), then each queue i of qs[0..nq) gets
 * virtq_init with min(device max, BV_VIRTQ_MAX_SIZE) entries and is given to
 * the device, then DRIVER_OK. On failure logs which step failed, sets FAILED,
 * returns <0. `required` feature bits that the device lacks fail with
 * BV_ENOTSUP. */
int virtio_init(struct virtio_dev *d, uint64_t wanted, uint64_t required,
		struct virtq *const *qs, unsigned nq);

/* Device config space reads; read64 retries across config_generation changes. */
uint8_t virtio_cfg_read8(struct virtio_dev *d, unsigned off);
uint16_t virtio_cfg_read16(struct virtio_dev *d, unsigned off);
uint32_t virtio_cfg_read32(struct virtio_dev *d, unsigned off);
uint64_t virtio_cfg_read64(struct virtio_dev *d, unsigned off);

#endif
