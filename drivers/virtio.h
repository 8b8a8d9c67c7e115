/* SPDX-License-Identifier: BSD-2-Clause */
/* Device-independent virtio: one transport interface (PCI modern, MMIO v1/v2),
 * the probe that finds devices by virtio device ID, and the common init sequence.
 * Non-goals: interrupts/MSI-X, EVENT_IDX, packed rings, hot-plug, PCI legacy. */
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

/* Device IDs we know by name. */
#define VIRTIO_ID_RNG    4
#define VIRTIO_ID_VSOCK  19

enum virtio_transport {
	VIRTIO_TRANSPORT_PCI = 1,
	VIRTIO_TRANSPORT_MMIO_V1,   /* legacy: 32 feature bits, PFN queues, no FEATURES_OK */
	VIRTIO_TRANSPORT_MMIO_V2,
};

/* Polls of the status register before a reset counts as stuck. */
#define VIRTIO_RESET_POLLS 1000000

/* Queues whose PCI doorbell offset is cached (vsock uses 3). */
#define VIRTIO_PCI_CACHED_QUEUES 8

struct virtio_dev;

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

struct virtio_dev {
	const struct virtio_ops *ops;
	enum virtio_transport transport;
	uint32_t device_id;
	uint64_t features;          /* negotiated, valid after virtio_init */
	char where[64];             /* human-readable location, e.g. "pci 00:03.0" */
	union {
		struct {
			uintptr_t common, notify, isr, device;
			uint32_t notify_mult;
			uint16_t notify_off[VIRTIO_PCI_CACHED_QUEUES];  /* read once at setup */
			uint8_t bus, dev, fn;
		} pci;
		struct {
			uintptr_t base;
		} mmio;
	} t;
};

/* Name of a transport for messages: "pci", "mmio v1", "mmio v2". */
const char *virtio_transport_name(enum virtio_transport t);

/* Find the nth (0-based) device with this virtio device ID on any transport.
 * Scans PCI (x86: port I/O; Arm: ECAM from the DT) and virtio-mmio (Arm: DT;
 * x86 microvm: kernel command line). BV_ENODEV when there is none. */
int virtio_probe(uint32_t device_id, unsigned nth, struct virtio_dev **out);

/* The spec's init sequence: reset, ACKNOWLEDGE, DRIVER, features (VERSION_1
 * where offered plus those of `wanted` the device offers), FEATURES_OK read
 * back (modern), then each queue i of qs[0..nq) gets virtq_init with
 * min(device max, BV_VIRTQ_MAX_SIZE) entries and is given to the device, then
 * DRIVER_OK. On failure prints which step failed, sets FAILED, returns <0.
 * `required` feature bits that the device lacks fail with BV_ENOTSUP. */
int virtio_init(struct virtio_dev *d, uint64_t wanted, uint64_t required,
		struct virtq *const *qs, unsigned nq);

/* Device config space reads; read64 retries across config_generation changes. */
uint8_t virtio_cfg_read8(struct virtio_dev *d, unsigned off);
uint16_t virtio_cfg_read16(struct virtio_dev *d, unsigned off);
uint32_t virtio_cfg_read32(struct virtio_dev *d, unsigned off);
uint64_t virtio_cfg_read64(struct virtio_dev *d, unsigned off);

/* Transport probes, used by virtio_probe (exposed for tests and messages).
 * Each returns devices found into the shared table; not for apps. */
int virtio_pci_scan(void);
int virtio_mmio_scan(void);
/* Called by the scanners to claim a slot in the device table (NULL if full). */
struct virtio_dev *virtio_dev_alloc(void);

/* The boot device tree, checked once (panics on a malformed blob); NULL on
 * machines without one (x86). */
struct fdt;
const struct fdt *virtio_boot_fdt(void);

#endif
