/* SPDX-License-Identifier: BSD-2-Clause */
/* Minimal read-only flattened device tree (DTB, version 17) reader, for the
 * -kernel images' discovery (not part of the library).
 * Scope: header checks, node walk, find by compatible, props, reg, parents.
 * Non-goals: writing, phandle resolution, overlays. Every read is bounds-checked:
 * a malformed blob gives BV_EIO, never a fault. */
#ifndef BV_DISCOVER_FDT_H
#define BV_DISCOVER_FDT_H

#include <stdint.h>
#include <stddef.h>

#define FDT_MAGIC 0xd00dfeedu

struct fdt {
	const uint8_t *blob;
	uint32_t size;                     /* totalsize, checked against the caller's bound */
	uint32_t off_struct, size_struct;
	uint32_t off_strings, size_strings;
};

/* Check the header of a blob of at most `maxlen` bytes. BV_EIO if malformed. */
int fdt_open(struct fdt *f, const void *blob, size_t maxlen);

/* Node offsets are >= 0. The root is fdt_next_node(f, -1, &depth) with depth 0.
 * Returns the next node in document order (depth updated), BV_ENODEV at the
 * end, BV_EIO on a malformed structure block. */
int fdt_next_node(const struct fdt *f, int node, int *depth);

/* Node name ("" for the root), or NULL if malformed. */
const char *fdt_node_name(const struct fdt *f, int node);

/* Property value and length, or NULL if absent/malformed. */
const void *fdt_getprop(const struct fdt *f, int node, const char *name, uint32_t *len);

/* 1 if the node's "compatible" string list contains `compat`. */
int fdt_is_compatible(const struct fdt *f, int node, const char *compat);

/* Next node after `from` (-1: from the start) that is compatible with compat. */
int fdt_find_compatible(const struct fdt *f, int from, const char *compat);

/* Parent of a node (BV_ENODEV for the root). */
int fdt_parent(const struct fdt *f, int node);

/* Node by absolute path like "/chosen". */
int fdt_path(const struct fdt *f, const char *path);

/* #address-cells / #size-cells a node gives its children (defaults 2 / 1). */
uint32_t fdt_address_cells(const struct fdt *f, int node);
uint32_t fdt_size_cells(const struct fdt *f, int node);

/* Big-endian cell helpers: read `cells` (1 or 2) cells at p. */
uint64_t fdt_read_cells(const void *p, uint32_t cells);

/* Entry idx of a node's "reg", using its parent's cell counts.
 * BV_ENODEV if there is no such entry, BV_EIO if malformed. */
int fdt_reg(const struct fdt *f, int node, unsigned idx, uint64_t *addr, uint64_t *size);

/* /chosen/bootargs, or NULL. */
const char *fdt_bootargs(const struct fdt *f);

#endif
