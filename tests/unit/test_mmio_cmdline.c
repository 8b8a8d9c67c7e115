/* SPDX-License-Identifier: BSD-2-Clause */
/* discover/mmio_cmdline.c: Linux's virtio_mmio.device=<size>@<base>:<irq>[:<id>]
 * entries, good ones read as Linux reads them (C-notation numbers, K/M/G
 * size suffixes, optional id), each malformed one reported with what is
 * wrong and the expected form, and a whole command line walked in order. */
#include <string.h>
#define CHECK_MAIN
#include "tests/unit/check.h"
#include "bv/err.h"
#include "bv/port.h"
#include "discover/mmio_cmdline.h"

static char logged[4096];
static size_t nlogged;

void bv_port_log(const char *s, size_t n)
{
	if (nlogged + n < sizeof(logged)) {
		memcpy(logged + nlogged, s, n);
		nlogged += n;
		logged[nlogged] = 0;
	}
}

static void good(const char *s, uint64_t size, uint64_t base, uint32_t irq, int has_id, int32_t id)
{
	struct mmio_cmdline_dev d;
	const char *why = NULL;
	int rc = mmio_cmdline_parse(s, strlen(s), &d, &why);
	if (rc != BV_OK)
		printf("  '%s': %s\n", s, why);
	CHECK_EQ(rc, BV_OK);
	CHECK_EQ(d.size, size);
	CHECK_EQ(d.base, base);
	CHECK_EQ(d.irq, irq);
	CHECK_EQ(d.has_id, has_id);
	CHECK_EQ(d.id, id);
}

static void bad(const char *s, const char *want_why)
{
	struct mmio_cmdline_dev d;
	const char *why = NULL;
	CHECK_EQ(mmio_cmdline_parse(s, strlen(s), &d, &why), BV_EINVAL);
	if (!why || !strstr(why, want_why))
		printf("  '%s': got \"%s\", want \"%s\"\n", s, why ? why : "(null)", want_why);
	CHECK(why && strstr(why, want_why));
}

static struct mmio_cmdline_dev seen[8];
static int nseen;
static void collect(void *ctx, const struct mmio_cmdline_dev *d)
{
	CHECK(ctx == &nseen);
	if (nseen < 8)
		seen[nseen++] = *d;
}

int main(void)
{
	good("512@0xfeb00e00:12", 512, 0xfeb00e00u, 12, 0, 0);       /* what microvm appends */
	good("4K@0xfeb00000:5:3", 4096, 0xfeb00000u, 5, 1, 3);
	good("1k@0x1000:0", 1024, 0x1000, 0, 0, 0);
	good("2M@268435456:33:-1", 2u << 20, 0x10000000u, 33, 1, -1);  /* decimal base */
	good("1G@0x4000000000:1", 1ull << 30, 0x4000000000ull, 1, 0, 0);
	good("0x200@0XFEB00000:4294967295", 0x200, 0xfeb00000u, 4294967295u, 0, 0);
	good("0200@010:1", 128, 8, 1, 0, 0);                            /* octal, as strtoull(.., 0) */
	good("512@0xfeb00e00:12:2147483647", 512, 0xfeb00e00u, 12, 1, 2147483647);

	bad("", "size is missing");
	bad("@0x1000:5", "size is missing");
	bad("4X@0x1000:5", "unknown suffix");
	bad("4KB@0x1000:5", "'@' must follow");
	bad("0@0x1000:5", "size is 0");
	bad("99999999999999999999@0x1000:5", "size is too large");
	bad("17179869184G@0x1000:5", "size is too large");
	bad("512", "'@' must follow");
	bad("512@", "base address after '@' is missing");
	bad("512@zz:5", "base address after '@' is missing");
	bad("512@0x1000", "':' and the interrupt number");
	bad("512@0x1000:", "interrupt number after ':' is missing");
	bad("512@0x1000:0x5", "unexpected text");                       /* irq is decimal */
	bad("512@0x1000:4294967296", "interrupt number is too large");
	bad("512@0x1000:5:", "device id after the second ':' is missing");
	bad("512@0x1000:5:2147483648", "device id is out of range");
	bad("512@0x1000:5:1:2", "unexpected text");
	bad("512@0x10000000000000000:5", "base address is too large");

	/* A whole command line: good entries in order, the bad one reported
	 * once with the form expected, look-alike keys left alone. */
	const char *cmd = "console=ttyS0 virtio_mmio.device=512@0xfeb00e00:12 acpi=off "
			  "virtio_mmio.device=4X@0x1000:5 xvirtio_mmio.device=1K@0x2000:1 "
			  "virtio_mmio.devicex=1K@0x3000:1\tvirtio_mmio.device=1K@0xfeb00c00:11:2";
	nlogged = 0;
	CHECK_EQ(mmio_cmdline_scan(cmd, collect, &nseen), 2);
	CHECK_EQ(nseen, 2);
	CHECK_EQ(seen[0].base, 0xfeb00e00u);
	CHECK_EQ(seen[1].base, 0xfeb00c00u);
	CHECK_EQ(seen[1].size, 1024);
	CHECK(seen[1].has_id && seen[1].id == 2);
	printf("logged: %s", logged);
	CHECK(strstr(logged, "ignoring 'virtio_mmio.device=4X@0x1000:5': the size has an unknown suffix") != NULL);
	CHECK(strstr(logged, "expected virtio_mmio.device=<size>[K|M|G]@<base>:<irq>[:<id>]") != NULL);
	CHECK(strchr(logged, '\n') == strrchr(logged, '\n'));   /* exactly one line */

	nseen = 0;
	CHECK_EQ(mmio_cmdline_scan(NULL, collect, &nseen), 0);
	CHECK_EQ(mmio_cmdline_scan("", collect, &nseen), 0);
	CHECK_EQ(mmio_cmdline_scan("   ", collect, &nseen), 0);
	CHECK_EQ(nseen, 0);
	return check_report("test_mmio_cmdline");
}
