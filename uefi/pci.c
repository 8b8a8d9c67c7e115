/* SPDX-License-Identifier: BSD-2-Clause */
/* virtio-pci devices under UEFI, found and driven the way firmware drivers
 * are: LocateHandleBuffer(PciIo), match the IDs through PciIo->Pci.Read
 * (1AF4:1040+id modern, 1AF4:1000-103F transitional with the id in the
 * subsystem ID: vsock is 1053 / 1012), take the handle with
 * OpenProtocol(BY_DRIVER|EXCLUSIVE), which makes the firmware disconnect
 * whatever generic driver (OVMF's Virtio10Dxe / VirtioPciDeviceDxe) held it,
 * then turn on memory decoding and bus mastering with PciIo->Attributes,
 * which also enables the bridges above the device; never rely on the
 * firmware having done it. BAR addresses come from GetBarAttributes (a
 * modern BAR may well sit above 4 GiB) and every register access goes
 * through PciIo->Mem.Read/Write. Given back on exit: device reset,
 * attributes as found, protocol closed, the firmware's driver reconnected.
 * Non-goals: BAR assignment (the firmware's), interrupts, hot-plug. */
#include <stdio.h>
#include <string.h>
#include "bv/err.h"
#include "drivers/pci_regs.h"
#include "drivers/virtio_pci.h"
#include "uefi/uefi.h"

#define PCI_HEADER_BRIDGE   1
#define PCI_SECONDARY_BUS   0x19    /* 8, type 1 header */

static enum efi_pci_io_width io_width(unsigned width)
{
	return width == 1 ? EFI_PCI_IO_WIDTH_U8 : width == 2 ? EFI_PCI_IO_WIDTH_U16 : EFI_PCI_IO_WIDTH_U32;
}

/* PciIo transfers `width` bytes into the buffer: give it one of that size. */
static uint32_t io_cfg_read(struct efi_pci_io *io, unsigned off, unsigned width)
{
	uint8_t b = 0xff;
	uint16_t h = 0xffff;
	uint32_t w = 0xffffffffu;
	void *buf = width == 1 ? (void *)&b : width == 2 ? (void *)&h : (void *)&w;
	if (io->pci.read(io, io_width(width), off, 1, buf) != EFI_SUCCESS)
		return 0xffffffffu;
	return width == 1 ? b : width == 2 ? h : w;
}

static void io_cfg_write(struct efi_pci_io *io, unsigned off, unsigned width, uint32_t v)
{
	uint8_t b = (uint8_t)v;
	uint16_t h = (uint16_t)v;
	void *buf = width == 1 ? (void *)&b : width == 2 ? (void *)&h : (void *)&v;
	io->pci.write(io, io_width(width), off, 1, buf);
}

/* The library's accessors (virtio_pci_access), ctx = the claim. */
static uint32_t acc_cfg_read(void *ctx, unsigned off, unsigned width)
{
	return io_cfg_read(((struct uefi_claim *)ctx)->io, off, width);
}

static void acc_cfg_write(void *ctx, unsigned off, unsigned width, uint32_t v)
{
	io_cfg_write(((struct uefi_claim *)ctx)->io, off, width, v);
}

static uint32_t acc_bar_read(void *ctx, unsigned bar, uint64_t off, unsigned width)
{
	struct efi_pci_io *io = ((struct uefi_claim *)ctx)->io;
	uint8_t b = 0xff;
	uint16_t h = 0xffff;
	uint32_t w = 0xffffffffu;
	void *buf = width == 1 ? (void *)&b : width == 2 ? (void *)&h : (void *)&w;
	io->mem.read(io, io_width(width), (uint8_t)bar, off, 1, buf);
	return width == 1 ? b : width == 2 ? h : w;
}

static void acc_bar_write(void *ctx, unsigned bar, uint64_t off, unsigned width, uint32_t v)
{
	struct efi_pci_io *io = ((struct uefi_claim *)ctx)->io;
	uint8_t b = (uint8_t)v;
	uint16_t h = (uint16_t)v;
	void *buf = width == 1 ? (void *)&b : width == 2 ? (void *)&h : (void *)&v;
	io->mem.write(io, io_width(width), (uint8_t)bar, off, 1, buf);
}

/* The virtio device ID of a PCI function, or -1 if it is not virtio. */
static int64_t virtio_id_of(struct efi_pci_io *io)
{
	uint32_t id = io_cfg_read(io, PCI_VENDOR_ID, 4);
	uint16_t vendor = (uint16_t)id, device = (uint16_t)(id >> 16);
	if (vendor != VIRTIO_PCI_VENDOR || device < VIRTIO_PCI_DEVICE_FIRST || device > VIRTIO_PCI_DEVICE_LAST)
		return -1;
	if (device >= VIRTIO_PCI_DEVICE_MODERN)
		return device - VIRTIO_PCI_DEVICE_MODERN;
	return io_cfg_read(io, PCI_SUBSYS_ID, 2);
}

/* Does a driver hold this handle's protocol BY_DRIVER right now? */
static int held_by_driver(efi_handle h, const struct efi_guid *proto)
{
	struct efi_open_protocol_information_entry *info = NULL;
	efi_uintn n = 0;
	int held = 0;
	if (uefi_bs->open_protocol_information(h, proto, &info, &n) != EFI_SUCCESS)
		return 0;
	for (efi_uintn i = 0; i < n; i++)
		if (info[i].attributes & EFI_OPEN_PROTOCOL_BY_DRIVER)
			held = 1;
	uefi_bs->free_pool(info);
	return held;
}

/* BAR i's address from its ACPI resource descriptor, 0 if none / I/O. */
static uint64_t bar_address(struct efi_pci_io *io, unsigned i, uint64_t *len, int *is64)
{
	void *res = NULL;
	uint64_t addr = 0;
	*len = 0;
	*is64 = 0;
	if (io->get_bar_attributes(io, (uint8_t)i, NULL, &res) != EFI_SUCCESS || !res)
		return 0;
	const uint8_t *p = res;
	/* A list of QWORD descriptors ended by an end tag; bounded walk. */
	for (int k = 0; k < 8 && p[0] == EFI_ACPI_QWORD_TAG; k++, p += sizeof(struct efi_acpi_qword_desc)) {
		struct efi_acpi_qword_desc d;
		memcpy(&d, p, sizeof(d));
		if (d.resource_type == 0 && d.length_bytes) {
			addr = d.range_min;
			*len = d.length_bytes;
			*is64 = d.granularity == 64;
			break;
		}
	}
	uefi_bs->free_pool(res);
	return addr;
}

/* The bridge whose secondary bus is ours: its command register, for the log. */
static void report_bridge(const struct uefi_claim *c, efi_uintn seg, efi_uintn bus,
			  efi_handle *handles, efi_uintn n)
{
	for (efi_uintn i = 0; i < n; i++) {
		struct efi_pci_io *io;
		efi_uintn s, b, d, f;
		if (uefi_bs->handle_protocol(handles[i], &uefi_guid_pci_io, (void **)&io) != EFI_SUCCESS)
			continue;
		if ((io_cfg_read(io, PCI_HEADER_TYPE, 1) & 0x7f) != PCI_HEADER_BRIDGE ||
		    io_cfg_read(io, PCI_SECONDARY_BUS, 1) != bus ||
		    io->get_location(io, &s, &b, &d, &f) != EFI_SUCCESS || s != seg)
			continue;
		uint16_t cmd = (uint16_t)io_cfg_read(io, PCI_COMMAND, 2);
		printf("uefi: %s is behind bridge %02x:%02x.%x, its command 0x%04x (memory %s, bus master %s)\n",
		       c->name, (unsigned)b, (unsigned)d, (unsigned)f, cmd,
		       cmd & PCI_COMMAND_MEM ? "on" : "off", cmd & PCI_COMMAND_MASTER ? "on" : "off");
		return;
	}
}

/* Take handle h (already matched) for c; BV_OK or an error with the reason logged. */
static int take(struct uefi_claim *c, efi_handle h, efi_handle *handles, efi_uintn n)
{
	efi_status s;
	c->handle = h;
	c->proto = &uefi_guid_pci_io;
	c->had_driver = held_by_driver(h, &uefi_guid_pci_io);
	s = uefi_bs->open_protocol(h, &uefi_guid_pci_io, (void **)&c->io, uefi_image, h,
				   EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE);
	if (s != EFI_SUCCESS) {
		printf("uefi: could not take PCI virtio device %u from the firmware: OpenProtocol(BY_DRIVER|EXCLUSIVE) %s\n",
		       (unsigned)c->virtio_id, uefi_strerror(s));
		return BV_EIO;
	}
	efi_uintn seg = 0, bus = 0, dev = 0, fn = 0;
	c->io->get_location(c->io, &seg, &bus, &dev, &fn);
	snprintf(c->name, sizeof(c->name), "pci %04x:%02x:%02x.%x", (unsigned)seg, (unsigned)bus,
		 (unsigned)dev, (unsigned)fn);

	uint64_t supported = 0;
	c->io->attributes(c->io, EFI_PCI_IO_ATTR_GET, 0, &c->attrs_before);
	c->io->attributes(c->io, EFI_PCI_IO_ATTR_SUPPORTED, 0, &supported);
	uint16_t cmd_before = (uint16_t)io_cfg_read(c->io, PCI_COMMAND, 2);
	uint64_t want = (EFI_PCI_IO_ATTRIBUTE_MEMORY | EFI_PCI_IO_ATTRIBUTE_BUS_MASTER) & supported;
	s = c->io->attributes(c->io, EFI_PCI_IO_ATTR_ENABLE, want, NULL);
	uint16_t cmd = (uint16_t)io_cfg_read(c->io, PCI_COMMAND, 2);
	if (s != EFI_SUCCESS || (cmd & (PCI_COMMAND_MEM | PCI_COMMAND_MASTER)) != (PCI_COMMAND_MEM | PCI_COMMAND_MASTER)) {
		printf("uefi: %s: PciIo->Attributes(Enable memory|bus master) %s, command now 0x%04x\n",
		       c->name, uefi_strerror(s), cmd);
		return BV_EIO;
	}
	printf("uefi: %s taken from the firmware (%s), command 0x%04x -> 0x%04x (memory on, bus master on)\n",
	       c->name, c->had_driver ? "its driver disconnected" : "no driver had bound it", cmd_before, cmd);
	report_bridge(c, seg, bus, handles, n);

	uint64_t bars[6] = { 0 };
	for (unsigned i = 0; i < 6; i++) {
		uint64_t len;
		int is64;
		bars[i] = bar_address(c->io, i, &len, &is64);
		if (bars[i])
			printf("uefi: %s BAR%u at 0x%llx, %llu KiB%s%s\n", c->name, i, (unsigned long long)bars[i],
			       (unsigned long long)(len >> 10), is64 ? ", 64-bit" : "",
			       bars[i] >> 32 ? " (above 4 GiB: reached through PciIo)" : "");
	}
	c->acc = (struct virtio_pci_access){ .read = acc_cfg_read, .write = acc_cfg_write, .ctx = c,
					     .bar_read = acc_bar_read, .bar_write = acc_bar_write };
	int rc = virtio_pci_attach(&c->dev, &c->acc, bars);
	if (rc < 0)
		return rc;
	snprintf(c->dev.where, sizeof(c->dev.where), "%s via PciIo", c->name);
	return BV_OK;
}

int uefi_pci_claim(uint32_t virtio_id, unsigned *nth, struct uefi_claim *c)
{
	efi_handle *handles = NULL;
	efi_uintn n = 0;
	efi_status s = uefi_bs->locate_handle_buffer(EFI_BY_PROTOCOL, &uefi_guid_pci_io, NULL, &n, &handles);
	if (s != EFI_SUCCESS)
		return BV_ENODEV;    /* no PCI at all (EFI_NOT_FOUND) */
	int rc = BV_ENODEV;
	for (efi_uintn i = 0; i < n; i++) {
		struct efi_pci_io *io;
		/* A look only (no reference): nothing is ours until OpenProtocol. */
		if (uefi_bs->handle_protocol(handles[i], &uefi_guid_pci_io, (void **)&io) != EFI_SUCCESS)
			continue;
		if (virtio_id_of(io) != (int64_t)virtio_id)
			continue;
		if ((*nth)-- != 0)
			continue;
		memset(c, 0, sizeof(*c));
		c->virtio_id = virtio_id;
		rc = take(c, handles[i], handles, n);
		if (rc < 0)
			uefi_pci_release(c);
		break;
	}
	uefi_bs->free_pool(handles);
	return rc;
}

void uefi_pci_release(struct uefi_claim *c)
{
	if (!c->io)
		return;
	/* Stop the device first: it must not touch our memory once it is freed. */
	int reset = c->dev.ops ? c->dev.ops->reset(&c->dev) : BV_OK;
	efi_status a = c->io->attributes(c->io, EFI_PCI_IO_ATTR_SET, c->attrs_before, NULL);
	efi_status cl = uefi_bs->close_protocol(c->handle, &uefi_guid_pci_io, uefi_image, c->handle);
	efi_status re = EFI_SUCCESS;
	if (c->had_driver)
		re = uefi_bs->connect_controller(c->handle, NULL, NULL, 1);
	printf("uefi: %s given back: device reset %s, attributes 0x%llx restored (%s), closed (%s)%s%s\n",
	       c->name, reset == BV_OK ? "ok" : "FAILED", (unsigned long long)c->attrs_before,
	       uefi_strerror(a), uefi_strerror(cl), c->had_driver ? ", firmware driver reconnected: " : "",
	       c->had_driver ? uefi_strerror(re) : "");
	c->io = NULL;
	c->dev.ops = NULL;
}
