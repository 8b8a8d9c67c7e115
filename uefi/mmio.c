/* SPDX-License-Identifier: BSD-2-Clause */
/* virtio-mmio devices under ArmVirtQemu, through what the firmware
 * publishes. Its VirtioFdtDxe gives every DT "virtio,mmio" node a handle
 * whose device path is a hardware vendor node (GUID 837dca9e-..., then the
 * u64 register base) carrying OvmfPkg's virtio device protocol; we find
 * those, match the device ID in the registers, and hold that protocol
 * BY_DRIVER|EXCLUSIVE while we drive the registers ourselves, so no firmware
 * driver binds the device meanwhile. Transports the firmware did not publish
 * (its virtio-mmio layer refuses some register versions) are taken from the
 * device tree in the configuration table, when the firmware installed one:
 * nobody else drives those. Given back on exit: reset, protocol closed.
 * Non-goals: x86 microvm (no UEFI firmware there), interrupts. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "bv/err.h"
#include "discover/fdt.h"
#include "drivers/virtio_mmio.h"
#include "uefi/uefi.h"

#define MMIO_MAGIC_VALUE 0x74726976u   /* "virt" */
#define MMIO_REG_MAGIC   0x000
#define MMIO_REG_VERSION 0x004
#define MMIO_REG_DEVICE  0x008
#define FDT_MAX_BYTES    0x200000u     /* sanity bound for the table's blob */

/* The firmware's published transport bases, so the DT pass skips them. */
#define MAX_PUBLISHED 64
static uint64_t published[MAX_PUBLISHED];
static unsigned n_published;

static uint32_t reg32(uint64_t base, unsigned off)
{
	return *(volatile const uint32_t *)(uintptr_t)(base + off);
}

/* Base of the virtio-mmio transport a device path names, or 0. */
static uint64_t transport_base(const uint8_t *dp)
{
	for (unsigned guard = 0; guard < 32; guard++) {
		struct efi_device_path node;
		memcpy(&node, dp, sizeof(node));
		unsigned len = node.length[0] | node.length[1] << 8;
		if (node.type == EFI_DP_TYPE_END || len < sizeof(node))
			return 0;
		if (node.type == EFI_DP_TYPE_HARDWARE && node.subtype == EFI_DP_HW_VENDOR &&
		    len >= sizeof(struct efi_dp_vendor) + 8) {
			struct efi_guid g;
			memcpy(&g, dp + offsetof(struct efi_dp_vendor, guid), sizeof(g));
			if (uefi_guid_eq(&g, &uefi_guid_ovmf_virtio_mmio)) {
				uint64_t base;
				memcpy(&base, dp + sizeof(struct efi_dp_vendor), 8);
				return base;
			}
		}
		dp += len;
	}
	return 0;
}

/* 1 if a virtio-mmio device with this ID answers at base. */
static int matches(uint64_t base, uint32_t virtio_id)
{
	if (!base || base + VIRTIO_MMIO_MIN_SIZE - 1 > (uint64_t)UINTPTR_MAX)
		return 0;
	return reg32(base, MMIO_REG_MAGIC) == MMIO_MAGIC_VALUE && reg32(base, MMIO_REG_DEVICE) == virtio_id;
}

static int attach(struct uefi_claim *c, uint64_t base)
{
	snprintf(c->name, sizeof(c->name), "mmio@0x%llx", (unsigned long long)base);
	int rc = virtio_mmio_attach(&c->dev, (uintptr_t)base);
	if (rc < 0) {
		printf("uefi: %s: virtio_mmio_attach failed (%s)\n", c->name, bv_strerror(rc));
		return rc;
	}
	return BV_OK;
}

/* The firmware's handles: VirtioFdtDxe's transports. */
static int claim_published(uint32_t virtio_id, unsigned *nth, struct uefi_claim *c)
{
	efi_handle *handles = NULL;
	efi_uintn n = 0;
	n_published = 0;
	if (uefi_bs->locate_handle_buffer(EFI_BY_PROTOCOL, &uefi_guid_ovmf_virtio, NULL, &n, &handles) != EFI_SUCCESS)
		return BV_ENODEV;
	int rc = BV_ENODEV, done = 0;
	for (efi_uintn i = 0; i < n; i++) {
		const uint8_t *dp;
		if (uefi_bs->handle_protocol(handles[i], &uefi_guid_device_path, (void **)&dp) != EFI_SUCCESS)
			continue;
		uint64_t base = transport_base(dp);   /* 0 for PCI virtio (Virtio10Dxe's) */
		if (!base)
			continue;
		if (n_published < MAX_PUBLISHED)
			published[n_published++] = base;
		if (done || !matches(base, virtio_id) || (*nth)-- != 0)
			continue;
		done = 1;
		memset(c, 0, sizeof(*c));
		c->virtio_id = virtio_id;
		c->handle = handles[i];
		c->proto = &uefi_guid_ovmf_virtio;
		struct efi_open_protocol_information_entry *info = NULL;
		efi_uintn ni = 0;
		if (uefi_bs->open_protocol_information(c->handle, c->proto, &info, &ni) == EFI_SUCCESS) {
			for (efi_uintn k = 0; k < ni; k++)
				if (info[k].attributes & EFI_OPEN_PROTOCOL_BY_DRIVER)
					c->had_driver = 1;
			uefi_bs->free_pool(info);
		}
		void *iface;
		efi_status s = uefi_bs->open_protocol(c->handle, c->proto, &iface, uefi_image, c->handle,
						      EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE);
		if (s != EFI_SUCCESS) {
			printf("uefi: could not take mmio@0x%llx from the firmware: OpenProtocol(BY_DRIVER|EXCLUSIVE) %s\n",
			       (unsigned long long)base, uefi_strerror(s));
			c->handle = NULL;
			rc = BV_EIO;
			continue;
		}
		rc = attach(c, base);
		if (rc == BV_OK)
			printf("uefi: %s (version %u) taken from the firmware's virtio-mmio transport (%s)\n",
			       c->name, (unsigned)reg32(base, MMIO_REG_VERSION),
			       c->had_driver ? "its driver disconnected" : "no driver had bound it");
		else
			uefi_mmio_release(c);
	}
	uefi_bs->free_pool(handles);
	return rc;
}

/* Transports only the device tree names. */
static int claim_from_dt(uint32_t virtio_id, unsigned *nth, struct uefi_claim *c)
{
	const uint8_t *blob = uefi_config_table(&uefi_guid_dtb);
	if (!blob)
		return BV_ENODEV;
	uint32_t total = (uint32_t)blob[4] << 24 | (uint32_t)blob[5] << 16 | (uint32_t)blob[6] << 8 | blob[7];
	struct fdt dt;
	if (fdt_open(&dt, blob, total < FDT_MAX_BYTES ? total : FDT_MAX_BYTES) < 0) {
		printf("uefi: the device tree in the configuration table is malformed; not used\n");
		return BV_ENODEV;
	}
	for (int node = fdt_find_compatible(&dt, -1, "virtio,mmio"); node >= 0;
	     node = fdt_find_compatible(&dt, node, "virtio,mmio")) {
		uint64_t base, size;
		if (fdt_reg(&dt, node, 0, &base, &size) != BV_OK)
			continue;
		int seen = 0;
		for (unsigned i = 0; i < n_published; i++)
			seen |= published[i] == base;
		if (seen || !matches(base, virtio_id) || (*nth)-- != 0)
			continue;
		memset(c, 0, sizeof(*c));
		c->virtio_id = virtio_id;
		int rc = attach(c, base);
		if (rc == BV_OK)
			printf("uefi: %s (version %u) from the device tree: the firmware publishes no transport for it\n",
			       c->name, (unsigned)reg32(base, MMIO_REG_VERSION));
		return rc;
	}
	return BV_ENODEV;
}

int uefi_mmio_claim(uint32_t virtio_id, unsigned *nth, struct uefi_claim *c)
{
	/* Load option uefi.mmio=dt: the device tree only, skipping the published
	 * handles (to exercise that path where the firmware publishes all). */
	char v[8];
	if (uefi_option("uefi.mmio", v, sizeof(v)) && strcmp(v, "dt") == 0) {
		n_published = 0;
		return claim_from_dt(virtio_id, nth, c);
	}
	int rc = claim_published(virtio_id, nth, c);
	if (rc != BV_ENODEV)
		return rc;
	return claim_from_dt(virtio_id, nth, c);
}

void uefi_mmio_release(struct uefi_claim *c)
{
	if (!c->dev.ops && !c->handle)
		return;
	int reset = c->dev.ops ? c->dev.ops->reset(&c->dev) : BV_OK;
	efi_status cl = EFI_SUCCESS, re = EFI_SUCCESS;
	if (c->handle) {
		cl = uefi_bs->close_protocol(c->handle, c->proto, uefi_image, c->handle);
		if (c->had_driver)
			re = uefi_bs->connect_controller(c->handle, NULL, NULL, 1);
	}
	printf("uefi: %s given back: device reset %s%s%s%s%s\n", c->name, reset == BV_OK ? "ok" : "FAILED",
	       c->handle ? ", closed " : "", c->handle ? uefi_strerror(cl) : "",
	       c->had_driver ? ", firmware driver reconnected: " : "", c->had_driver ? uefi_strerror(re) : "");
	c->handle = NULL;
	c->dev.ops = NULL;
}
