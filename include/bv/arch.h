/* SPDX-License-Identifier: BSD-2-Clause */
/* The one interface between portable code and an architecture.
 * Each arch/<arch>/ implements the functions below and provides
 * arch/<arch>/include/arch_io.h with the inline barriers and MMIO accessors.
 * Not here: anything device-specific (that lives in drivers/). */
#ifndef BV_ARCH_H
#define BV_ARCH_H

#include <stdint.h>
#include <stddef.h>
#include "arch_io.h"   /* bv_mb/bv_rmb/bv_wmb, mmio_read/write{8,16,32} */

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

/* Monotonic clock, microseconds since boot. Never goes backwards. */
uint64_t arch_now_us(void);

/* Hint to the CPU that we are in a polling loop. */
void arch_relax(void);

#endif
