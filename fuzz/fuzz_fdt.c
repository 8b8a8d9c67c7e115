/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the device-tree reader (discover/fdt.c) on arbitrary
 * blobs. The blob is a heap copy of exactly the input, so ASan catches any
 * read outside it. Every node is walked and asked for what the drivers ask:
 * name, parent, cells, compatible, reg entries, ranges, a path lookup and
 * /chosen bootargs. The walk must terminate (bounded by the blob size). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "discover/fdt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *blob = malloc(size ? size : 1);
	if (!blob)
		return 0;
	memcpy(blob, data, size);
	struct fdt f;
	if (fdt_open(&f, blob, size) == 0) {
		int depth = 0, steps = 0;
		for (int node = fdt_next_node(&f, -1, &depth); node >= 0;
		     node = fdt_next_node(&f, node, &depth)) {
			if (++steps > (int)size + 1)
				abort();   /* more nodes than bytes: the walk is looping */
			const char *name = fdt_node_name(&f, node);
			if (name)
				(void)strlen(name);
			(void)fdt_parent(&f, node);
			(void)fdt_address_cells(&f, node);
			(void)fdt_size_cells(&f, node);
			(void)fdt_is_compatible(&f, node, "virtio,mmio");
			uint32_t len = 0;
			const void *r = fdt_getprop(&f, node, "ranges", &len);
			if (r && len >= 4)
				(void)fdt_read_cells(r, 1);
			uint64_t a, s;
			for (unsigned i = 0; i < 4 && fdt_reg(&f, node, i, &a, &s) == 0; i++)
				;
		}
		(void)fdt_find_compatible(&f, -1, "pci-host-ecam-generic");
		(void)fdt_find_compatible(&f, 0, "virtio,mmio");
		(void)fdt_path(&f, "/chosen");
		const char *args = fdt_bootargs(&f);
		if (args)
			(void)strlen(args);
	}
	free(blob);
	return 0;
}
