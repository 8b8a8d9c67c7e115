/* SPDX-License-Identifier: BSD-2-Clause */
/* What this project's -kernel images need from arch/<arch>/ beyond the port
 * (bv/port.h, which every arch/<arch>/ also implements): boot information,
 * the console, and leaving QEMU. Not part of the library: a foreign firmware
 * embedding libbarevsock implements bv/port.h and never sees this file. */
#ifndef BV_ARCH_H
#define BV_ARCH_H

#include <stdint.h>
#include <stddef.h>
#include "bv/port.h"

/* What the boot path learned about the machine. Fields it could not learn are 0. */
struct bv_boot_info {
	const void *fdt;        /* flattened device tree (Arm: start of RAM), or NULL */
	const char *cmdline;    /* kernel command line (x86 PVH, or DT /chosen/bootargs) */
	uint64_t rsdp;          /* ACPI RSDP physical address (x86 PVH), or 0 */
	uint64_t ram_base, ram_size;
	int el;                 /* aarch64/arm: exception level / mode entered in, else 0 */
};

/* Called once by the boot path before main(). */
void arch_init(void);
const struct bv_boot_info *arch_boot_info(void);

/* Console: blocking write of one byte to the platform UART. */
void arch_putc(char c);

/* Leave QEMU with a status the test harness can read back (see bv/exit.h). */
_Noreturn void arch_exit(int status);

#endif
