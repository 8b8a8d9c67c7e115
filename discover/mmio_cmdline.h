/* SPDX-License-Identifier: BSD-2-Clause */
/* Linux's virtio_mmio.device=<size>@<base>:<irq>[:<id>] kernel command-line
 * entries, as Firecracker and QEMU's microvm (acpi=off) pass virtio-mmio
 * devices. Numbers read as Linux reads them: size and base in C notation
 * (0x hex, leading 0 octal, else decimal), size with an optional K, M or G
 * suffix; irq decimal; id a decimal integer. Several entries are allowed.
 * Not part of the library (the -kernel images' discovery uses it). */
#ifndef BV_DISCOVER_MMIO_CMDLINE_H
#define BV_DISCOVER_MMIO_CMDLINE_H

#include <stddef.h>
#include <stdint.h>

#define MMIO_CMDLINE_KEY "virtio_mmio.device="
#define MMIO_CMDLINE_FORM "virtio_mmio.device=<size>[K|M|G]@<base>:<irq>[:<id>], e.g. virtio_mmio.device=4K@0xfeb00e00:12"

struct mmio_cmdline_dev {
	uint64_t size, base;
	uint32_t irq;
	int has_id;
	int32_t id;
};

/* Parse the len bytes of one entry's value (the text after the '='). BV_OK,
 * or BV_EINVAL with *why saying what is wrong. */
int mmio_cmdline_parse(const char *s, size_t len, struct mmio_cmdline_dev *out, const char **why);

/* Every virtio_mmio.device= word of cmdline (NULL: none): fn(ctx, entry)
 * for each good one, in order; each malformed one is logged with what is
 * wrong and the form expected, and skipped. Returns the number of good ones. */
int mmio_cmdline_scan(const char *cmdline,
		      void (*fn)(void *ctx, const struct mmio_cmdline_dev *dev), void *ctx);

#endif
