/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of discover/fdt.c: a DTB built in C at test time (no dtc), lookups
 * like the drivers do them, then truncated and corrupted copies walked in full
 * under ASan: each must give an error or a value, never a bad access. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bv/err.h"
#include "discover/fdt.h"

#define CHECK_MAIN
#include "tests/unit/check.h"

static uint8_t st[4096], strs[1024];
static uint32_t nst, nstrs;

static void put32(uint32_t v)
{
	st[nst++] = v >> 24; st[nst++] = v >> 16; st[nst++] = v >> 8; st[nst++] = v;
}
static void begin(const char *name)
{
	put32(1);
	size_t n = strlen(name) + 1;
	memcpy(st + nst, name, n);
	nst += (uint32_t)n;
	while (nst & 3) st[nst++] = 0;
}
static void end(void) { put32(2); }
static uint32_t str_off(const char *s)
{
	for (uint32_t i = 0; i < nstrs; i += (uint32_t)strlen((char *)strs + i) + 1)
		if (strcmp((char *)strs + i, s) == 0)
			return i;
	uint32_t o = nstrs;
	memcpy(strs + nstrs, s, strlen(s) + 1);
	nstrs += (uint32_t)strlen(s) + 1;
	return o;
}
static void prop(const char *name, const void *v, uint32_t len)
{
	put32(3); put32(len); put32(str_off(name));
	memcpy(st + nst, v, len);
	nst += len;
	while (nst & 3) st[nst++] = 0;
}
static void prop_cells(const char *name, const uint32_t *c, unsigned n)
{
	uint8_t b[64];
	for (unsigned i = 0; i < n; i++) {
		b[4*i] = c[i] >> 24; b[4*i+1] = c[i] >> 16; b[4*i+2] = c[i] >> 8; b[4*i+3] = c[i];
	}
	prop(name, b, 4 * n);
}
static void prop_str(const char *name, const char *s) { prop(name, s, (uint32_t)strlen(s) + 1); }

static uint8_t blob[8192];
static uint32_t blob_len;

static void wr32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

static void build(void)
{
	nst = nstrs = 0;
	begin("");
	prop_cells("#address-cells", (uint32_t[]){2}, 1);
	prop_cells("#size-cells", (uint32_t[]){2}, 1);
	prop_str("compatible", "linux,dummy-virt");
	begin("chosen");
	prop_str("bootargs", "console=ttyAMA0 x=1");
	end();
	begin("virtio_mmio@a000000");
	prop_cells("reg", (uint32_t[]){0, 0x0a000000, 0, 0x200}, 4);
	prop("compatible", "virtio,mmio", 12);
	end();
	begin("virtio_mmio@a000200");
	prop_cells("reg", (uint32_t[]){0, 0x0a000200, 0, 0x200}, 4);
	prop("compatible", "virtio,mmio", 12);
	end();
	begin("pcie@10000000");
	prop("compatible", "pci-host-ecam-generic\0pci-host-cam", 35);
	prop_cells("reg", (uint32_t[]){0x40, 0x10000000, 0, 0x10000000}, 4);
	prop_cells("#address-cells", (uint32_t[]){3}, 1);
	prop_cells("#size-cells", (uint32_t[]){2}, 1);
	prop_cells("ranges", (uint32_t[]){0x02000000, 0, 0x10000000, 0, 0x10000000, 0, 0x2eff0000}, 7);
	begin("dev@0");
	prop_cells("reg", (uint32_t[]){0, 0, 0, 0, 0}, 5);
	end();
	end();
	end();
	put32(9);
	uint32_t off_struct = 40 + 16;   /* header + one empty memory reservation */
	uint32_t off_strings = off_struct + nst;
	blob_len = off_strings + nstrs;
	memset(blob, 0, sizeof(blob));
	wr32(blob, FDT_MAGIC);
	wr32(blob + 4, blob_len);
	wr32(blob + 8, off_struct);
	wr32(blob + 12, off_strings);
	wr32(blob + 16, 40);
	wr32(blob + 20, 17);
	wr32(blob + 24, 16);
	wr32(blob + 32, nstrs);
	wr32(blob + 36, nst);
	memcpy(blob + off_struct, st, nst);
	memcpy(blob + off_strings, strs, nstrs);
}

static void test_good(void)
{
	struct fdt f;
	build();
	CHECK(fdt_open(&f, blob, blob_len) == BV_OK);
	CHECK(fdt_open(&f, blob, blob_len - 1) == BV_EIO);
	CHECK(fdt_open(&f, blob, blob_len) == BV_OK);
	const char *ba = fdt_bootargs(&f);
	CHECK(ba && strcmp(ba, "console=ttyAMA0 x=1") == 0);
	int n = fdt_find_compatible(&f, -1, "virtio,mmio");
	uint64_t a = 0, s = 0;
	CHECK(n >= 0 && fdt_reg(&f, n, 0, &a, &s) == BV_OK && a == 0x0a000000 && s == 0x200);
	CHECK(fdt_reg(&f, n, 1, &a, &s) == BV_ENODEV);
	n = fdt_find_compatible(&f, n, "virtio,mmio");
	CHECK(n >= 0 && fdt_reg(&f, n, 0, &a, &s) == BV_OK && a == 0x0a000200);
	CHECK(fdt_find_compatible(&f, n, "virtio,mmio") == BV_ENODEV);
	int pci = fdt_find_compatible(&f, -1, "pci-host-ecam-generic");
	CHECK(pci >= 0 && fdt_is_compatible(&f, pci, "pci-host-cam"));
	CHECK(fdt_reg(&f, pci, 0, &a, &s) == BV_OK && a == 0x4010000000ull && s == 0x10000000);
	CHECK(fdt_address_cells(&f, pci) == 3 && fdt_size_cells(&f, pci) == 2);
	uint32_t len;
	const uint8_t *r = fdt_getprop(&f, pci, "ranges", &len);
	CHECK(r && len == 28 && fdt_read_cells(r + 12, 2) == 0x10000000);
	CHECK(fdt_path(&f, "/pcie") == pci && fdt_path(&f, "/pcie@10000000") == pci);
	int dev = fdt_path(&f, "/pcie/dev@0");
	CHECK(dev >= 0 && fdt_parent(&f, dev) == pci);
	/* Parent has 3 address cells: reg entries are not decodable as 1-2 cells. */
	CHECK(fdt_reg(&f, dev, 0, &a, &s) == BV_EIO);
	CHECK(fdt_path(&f, "/nope") == BV_ENODEV);
	CHECK(fdt_getprop(&f, pci, "nope", &len) == NULL);
	int root = fdt_path(&f, "/");
	CHECK(root >= 0 && fdt_parent(&f, root) == BV_ENODEV);
	CHECK(fdt_node_name(&f, root) && fdt_node_name(&f, root)[0] == 0);
}

/* Every query the drivers make, on whatever fdt_open accepted. */
static void walk_all(const uint8_t *b, size_t maxlen)
{
	struct fdt f;
	if (fdt_open(&f, b, maxlen) != BV_OK)
		return;
	int depth = 0, n = -1, guard = 0;
	while ((n = fdt_next_node(&f, n, &depth)) >= 0 && guard++ < 1000) {
		uint32_t len;
		(void)fdt_node_name(&f, n);
		(void)fdt_getprop(&f, n, "reg", &len);
		uint64_t a, s;
		(void)fdt_reg(&f, n, 0, &a, &s);
		(void)fdt_is_compatible(&f, n, "virtio,mmio");
	}
	(void)fdt_bootargs(&f);
	(void)fdt_find_compatible(&f, -1, "pci-host-ecam-generic");
	(void)fdt_path(&f, "/pcie/dev@0");
}

static void test_malformed(void)
{
	build();
	static uint8_t copy[8192];
	struct fdt f;
	CHECK(fdt_open(&f, NULL, 100) == BV_EIO);
	/* Truncated: the caller's bound is shorter than totalsize. */
	for (uint32_t cut = 0; cut < blob_len; cut++) {
		uint8_t *t = malloc(cut ? cut : 1);
		memcpy(t, blob, cut);
		CHECK(fdt_open(&f, t, cut) == BV_EIO);
		walk_all(t, cut);
		free(t);
	}
	/* Truncated and lying: totalsize/size fields shrunk so blocks end early. */
	for (uint32_t cut = 40; cut < blob_len; cut++) {
		uint8_t *t = malloc(cut);
		memcpy(t, blob, cut);
		wr32(t + 4, cut);
		walk_all(t, cut);
		uint32_t ss = cut > 56 ? cut - 56 : 0;
		memcpy(copy, blob, blob_len);
		wr32(copy + 36, ss < nst ? ss : nst);
		walk_all(copy, blob_len);
		free(t);
	}
	/* Corrupted: each byte replaced by a few hostile values. */
	static const uint8_t vals[] = { 0x00, 0xff, 0x7f, 0x03, 0x09, 0x80 };
	for (uint32_t i = 0; i < blob_len; i++)
		for (unsigned k = 0; k < sizeof(vals); k++) {
			memcpy(copy, blob, blob_len);
			copy[i] = vals[k];
			uint8_t *t = malloc(blob_len);   /* exact size so ASan sees overreads */
			memcpy(t, copy, blob_len);
			walk_all(t, blob_len);
			free(t);
		}
	memcpy(copy, blob, blob_len);
	wr32(copy, 0xfeedd00d);
	CHECK(fdt_open(&f, copy, blob_len) == BV_EIO);
	memcpy(copy, blob, blob_len);
	wr32(copy + 20, 16);
	CHECK(fdt_open(&f, copy, blob_len) == BV_EIO);
	memcpy(copy, blob, blob_len);
	wr32(copy + 8, 0xfffffff0);
	CHECK(fdt_open(&f, copy, blob_len) == BV_EIO);
	/* Structure block with no END and an unknown token. */
	memcpy(copy, blob, blob_len);
	wr32(copy + 56, 0x77);
	CHECK(fdt_open(&f, copy, blob_len) == BV_OK);
	int d = 0;
	CHECK(fdt_next_node(&f, -1, &d) == BV_EIO);
	CHECK(fdt_find_compatible(&f, -1, "virtio,mmio") < 0);
}

int main(void)
{
	test_good();
	test_malformed();
	return check_report("test_fdt");
}
