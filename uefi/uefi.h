/* SPDX-License-Identifier: BSD-2-Clause */
/* Internal interface of the UEFI platform (uefi/): the firmware tables the
 * entry point saved, helpers over them, and the hooks its modules share.
 * Apps never include this; they see bv/arch.h and the socket API as on the
 * -kernel images. Non-goals: anything after ExitBootServices (the platform
 * lives on boot services: console, stall, PciIo). */
#ifndef BV_UEFI_H
#define BV_UEFI_H

#include <stdint.h>
#include "drivers/virtio.h"
#include "drivers/virtio_pci.h"
#include "uefi/efi.h"

extern efi_handle uefi_image;
extern struct efi_system_table *uefi_st;
extern struct efi_boot_services *uefi_bs;

extern const struct efi_guid uefi_guid_loaded_image, uefi_guid_device_path, uefi_guid_pci_io,
	uefi_guid_dtb, uefi_guid_acpi20, uefi_guid_ovmf_virtio,
	uefi_guid_ovmf_virtio_mmio;

int uefi_guid_eq(const struct efi_guid *a, const struct efi_guid *b);

/* Short name of a status for messages ("EFI_NOT_FOUND", or the number). */
const char *uefi_strerror(efi_status s);

/* The configuration table with this GUID, or NULL. */
void *uefi_config_table(const struct efi_guid *g);

/* The value of "key=" in the load options (the -append / shell command line),
 * copied into buf; NULL when absent. A bare "key" yields "". */
const char *uefi_option(const char *key, char *buf, unsigned size);

/* Console (console.c): write everything buffered so far to ConOut. */
void uefi_console_flush(void);

/* Clock (clock.c): calibrate once, before anything asks for the time. */
void uefi_clock_init(void);

/* Image placement (image.c): when the firmware loaded us above 4 GiB, move
 * into loader pages below it and run entry there; 1 (and *status) if it did. */
int uefi_move_below_4g(efi_handle image, struct efi_system_table *st,
		       efi_status (*entry)(efi_handle, struct efi_system_table *), efi_status *status);
extern uintptr_t uefi_moved_from;
extern void (*uefi_exit_via)(efi_status s);

/* A virtio device the platform took from the firmware (discover.c, pci.c,
 * mmio.c). Found through the firmware's own protocols, opened
 * BY_DRIVER|EXCLUSIVE so no firmware driver touches it while we do, and
 * given back (reset, state restored, protocol closed, the firmware's driver
 * reconnected) when the image leaves. */
struct uefi_claim {
	struct virtio_dev dev;
	uint32_t virtio_id;
	efi_handle handle;              /* NULL: from the device tree only, no firmware handle */
	const struct efi_guid *proto;   /* the protocol we hold BY_DRIVER|EXCLUSIVE */
	int had_driver;                 /* a firmware driver held it before us */
	char name[40];                  /* for messages: "pci 0000:01:00.0", "mmio@0xa003e00" */
	/* PCI only */
	struct efi_pci_io *io;
	uint64_t attrs_before;          /* PciIo attributes as we found them */
	struct virtio_pci_access acc;
};

/* Take the nth device (counting from *nth, which is lowered by every match
 * passed over) with this virtio device ID. BV_OK: *c is attached and ours;
 * BV_ENODEV: no (further) match; other errors: the match could not be taken. */
int uefi_pci_claim(uint32_t virtio_id, unsigned *nth, struct uefi_claim *c);
int uefi_mmio_claim(uint32_t virtio_id, unsigned *nth, struct uefi_claim *c);
/* Reset the device and give it back to the firmware. */
void uefi_pci_release(struct uefi_claim *c);
void uefi_mmio_release(struct uefi_claim *c);

/* Called on the way out, last registered first, before the image leaves
 * (devices are reset and given back to the firmware here). */
#define UEFI_MAX_EXIT_HOOKS 8
int uefi_at_exit(void (*fn)(void));

#endif
