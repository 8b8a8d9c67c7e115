/* SPDX-License-Identifier: BSD-2-Clause */
/* Flattened device tree reader: every offset is checked against the structure
 * or strings block before it is dereferenced, so truncated or hostile blobs
 * come back as BV_EIO. Non-goals: editing, phandles. */
#include <string.h>
#include "bv/err.h"
#include "discover/fdt.h"

#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE   2u
#define FDT_PROP       3u
#define FDT_NOP        4u
#define FDT_END        9u
#define FDT_MAX_DEPTH  32

/* The blob is big-endian; read bytes so alignment never matters. */
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t fdt_read_cells(const void *p, uint32_t cells)
{
	const uint8_t *b = p;
	uint64_t v = 0;
	for (uint32_t i = 0; i < cells; i++)
		v = (v << 32) | be32(b + 4 * i);
	return v;
}

int fdt_open(struct fdt *f, const void *blob, size_t maxlen)
{
	const uint8_t *b = blob;
	if (b == NULL || maxlen < 40 || be32(b) != FDT_MAGIC)
		return BV_EIO;
	uint32_t total = be32(b + 4), off_struct = be32(b + 8), off_strings = be32(b + 12);
	uint32_t version = be32(b + 20), last_comp = be32(b + 24);
	uint32_t size_strings = be32(b + 32), size_struct = be32(b + 36);
	if (total < 40 || total > maxlen || version < 17 || last_comp > 17)
		return BV_EIO;
	if (off_struct > total || size_struct > total - off_struct || (off_struct & 3))
		return BV_EIO;
	if (off_strings > total || size_strings > total - off_strings)
		return BV_EIO;
	f->blob = b;
	f->size = total;
	f->off_struct = off_struct;
	f->size_struct = size_struct;
	f->off_strings = off_strings;
	f->size_strings = size_strings;
	return BV_OK;
}

/* Token at structure-relative offset off, or -1 when out of bounds. */
static int64_t token(const struct fdt *f, uint32_t off)
{
	if ((off & 3) || off > f->size_struct || f->size_struct - off < 4)
		return -1;
	return be32(f->blob + f->off_struct + off);
}

/* Length of a NUL-terminated string starting at p within `avail` bytes, or -1. */
static int64_t bounded_strlen(const uint8_t *p, uint32_t avail)
{
	const uint8_t *z = memchr(p, 0, avail);
	return z ? (int64_t)(z - p) : -1;
}

/* Offset just past the token at off, or BV_EIO. *tok receives the token. */
static int64_t skip(const struct fdt *f, uint32_t off, uint32_t *tok)
{
	int64_t t = token(f, off);
	if (t < 0)
		return BV_EIO;
	*tok = (uint32_t)t;
	uint32_t p = off + 4;
	switch (t) {
	case FDT_BEGIN_NODE: {
		int64_t n = bounded_strlen(f->blob + f->off_struct + p, f->size_struct - p);
		if (n < 0)
			return BV_EIO;
		return (p + (uint32_t)n + 1 + 3) & ~3u;
	}
	case FDT_PROP: {
		if (f->size_struct - p < 8)
			return BV_EIO;
		uint32_t len = be32(f->blob + f->off_struct + p);
		p += 8;
		if (len > f->size_struct - p)
			return BV_EIO;
		return ((uint64_t)p + len + 3) & ~3ull;
	}
	case FDT_END_NODE:
	case FDT_NOP:
	case FDT_END:
		return p;
	default:
		return BV_EIO;
	}
}

int fdt_next_node(const struct fdt *f, int node, int *depth)
{
	uint32_t tok;
	int64_t off;
	if (node < 0) {
		/* The structure block starts with the root (after NOPs). */
		off = 0;
		for (;;) {
			int64_t t = token(f, (uint32_t)off);
			if (t == FDT_BEGIN_NODE) {
				*depth = 0;
				return (int)off;
			}
			if (t != FDT_NOP)
				return BV_EIO;
			off += 4;
		}
	}
	off = skip(f, (uint32_t)node, &tok);
	if (off < 0 || tok != FDT_BEGIN_NODE)
		return BV_EIO;
	int d = *depth;
	for (;;) {
		uint32_t at = (uint32_t)off;
		off = skip(f, at, &tok);
		if (off < 0)
			return BV_EIO;
		if (tok == FDT_BEGIN_NODE) {
			*depth = d + 1;
			return (int)at;
		}
		if (tok == FDT_END_NODE) {
			if (--d < -1)
				return BV_EIO;
		} else if (tok == FDT_END) {
			return BV_ENODEV;
		}
	}
}

const char *fdt_node_name(const struct fdt *f, int node)
{
	if (node < 0 || token(f, (uint32_t)node) != FDT_BEGIN_NODE)
		return NULL;
	uint32_t p = (uint32_t)node + 4;
	if (bounded_strlen(f->blob + f->off_struct + p, f->size_struct - p) < 0)
		return NULL;
	return (const char *)f->blob + f->off_struct + p;
}

const void *fdt_getprop(const struct fdt *f, int node, const char *name, uint32_t *len)
{
	uint32_t tok;
	if (node < 0)
		return NULL;
	int64_t off = skip(f, (uint32_t)node, &tok);
	if (off < 0 || tok != FDT_BEGIN_NODE)
		return NULL;
	for (;;) {
		uint32_t at = (uint32_t)off;
		off = skip(f, at, &tok);
		if (off < 0)
			return NULL;
		if (tok == FDT_NOP)
			continue;
		if (tok != FDT_PROP)
			return NULL;    /* properties come before subnodes */
		const uint8_t *p = f->blob + f->off_struct + at + 4;
		uint32_t plen = be32(p), nameoff = be32(p + 4);
		if (nameoff >= f->size_strings)
			return NULL;
		const char *pname = (const char *)f->blob + f->off_strings + nameoff;
		int64_t nl = bounded_strlen((const uint8_t *)pname, f->size_strings - nameoff);
		if (nl < 0)
			return NULL;
		if (strcmp(pname, name) == 0) {
			if (len)
				*len = plen;
			return p + 8;
		}
	}
}

int fdt_is_compatible(const struct fdt *f, int node, const char *compat)
{
	uint32_t len;
	const char *p = fdt_getprop(f, node, "compatible", &len);
	size_t cl = strlen(compat);
	while (p && len > 0) {
		const char *z = memchr(p, 0, len);
		size_t n = z ? (size_t)(z - p) : len;
		if (n == cl && memcmp(p, compat, cl) == 0)
			return 1;
		if (!z)
			break;
		len -= (uint32_t)(n + 1);
		p = z + 1;
	}
	return 0;
}

int fdt_find_compatible(const struct fdt *f, int from, const char *compat)
{
	int depth = 0, node = from;
	if (from >= 0) {
		/* Depth is irrelevant to the search; start it anywhere non-negative. */
		depth = 1;
	}
	for (;;) {
		node = fdt_next_node(f, node, &depth);
		if (node < 0)
			return node;
		if (fdt_is_compatible(f, node, compat))
			return node;
	}
}

int fdt_parent(const struct fdt *f, int node)
{
	int stack[FDT_MAX_DEPTH];
	int depth = 0, n = -1;
	for (;;) {
		n = fdt_next_node(f, n, &depth);
		if (n < 0)
			return n;
		if (depth < 0 || depth >= FDT_MAX_DEPTH)
			return BV_EIO;
		stack[depth] = n;
		if (n == node)
			return depth == 0 ? BV_ENODEV : stack[depth - 1];
		if (n > node)
			return BV_ENODEV;
	}
}

int fdt_path(const struct fdt *f, const char *path)
{
	int depth = 0, n = fdt_next_node(f, -1, &depth);
	if (n < 0 || path[0] != '/')
		return n < 0 ? n : BV_EINVAL;
	const char *comp = path + 1;
	while (*comp) {
		const char *end = strchr(comp, '/');
		size_t cl = end ? (size_t)(end - comp) : strlen(comp);
		int want = depth + 1, found = BV_ENODEV;
		for (;;) {
			n = fdt_next_node(f, n, &depth);
			if (n < 0 || depth < want)
				break;
			if (depth != want)
				continue;
			const char *name = fdt_node_name(f, n);
			/* "node" matches "node@addr" when no unit address was given. */
			if (name && strncmp(name, comp, cl) == 0 &&
			    (name[cl] == 0 || (name[cl] == '@' && !memchr(comp, '@', cl)))) {
				found = n;
				break;
			}
		}
		if (found < 0)
			return n == BV_EIO ? BV_EIO : BV_ENODEV;
		n = found;
		if (!end)
			break;
		comp = end + 1;
	}
	return n;
}

static uint32_t cells_prop(const struct fdt *f, int node, const char *name, uint32_t dflt)
{
	uint32_t len;
	const uint8_t *p = fdt_getprop(f, node, name, &len);
	if (!p || len != 4)
		return dflt;
	return be32(p);
}

uint32_t fdt_address_cells(const struct fdt *f, int node) { return cells_prop(f, node, "#address-cells", 2); }
uint32_t fdt_size_cells(const struct fdt *f, int node) { return cells_prop(f, node, "#size-cells", 1); }

int fdt_reg(const struct fdt *f, int node, unsigned idx, uint64_t *addr, uint64_t *size)
{
	int parent = fdt_parent(f, node);
	if (parent < 0)
		return parent == BV_ENODEV ? BV_EIO : parent;
	uint32_t ac = fdt_address_cells(f, parent), sc = fdt_size_cells(f, parent);
	if (ac < 1 || ac > 2 || sc > 2)
		return BV_EIO;
	uint32_t len;
	const uint8_t *p = fdt_getprop(f, node, "reg", &len);
	if (!p)
		return BV_ENODEV;
	uint32_t entry = 4 * (ac + sc);
	if ((uint64_t)(idx + 1) * entry > len)
		return BV_ENODEV;
	p += idx * entry;
	*addr = fdt_read_cells(p, ac);
	*size = sc ? fdt_read_cells(p + 4 * ac, sc) : 0;
	return BV_OK;
}

const char *fdt_bootargs(const struct fdt *f)
{
	int n = fdt_path(f, "/chosen");
	uint32_t len;
	const char *s = n >= 0 ? fdt_getprop(f, n, "bootargs", &len) : NULL;
	if (!s || len == 0 || s[len - 1] != 0)
		return NULL;
	return s;
}
