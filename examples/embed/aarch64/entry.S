/* SPDX-License-Identifier: BSD-2-Clause */
/* The firmware's aarch64 entry on QEMU virt (EL1, MMU off). C code needs the
 * MMU on (with it off every access is Device memory, where unaligned
 * accesses fault) and FP/SIMD enabled (gcc may use it for copies), so:
 * stack, FP on, .bss cleared, a 4-entry level-1 table identity-mapping
 * the low 4 GiB in 1 GiB blocks (the first GiB, UART and virtio-mmio,
 * as device memory; RAM from 1 GiB as normal cacheable memory), MMU and
 * caches on, then C. */

#define MAIR        0xff04                                 /* attr0 Device-nGnRE, attr1 Normal WB */
#define TCR         (32 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23))   /* 4 GiB, 4K, WB walks, no TTBR1 */
#define BLK_DEVICE  0x0060000000000401                     /* attr0, AF, UXN|PXN */
#define BLK_NORMAL  0x705                                  /* attr1, inner shareable, AF */

	.section .text.entry, "ax"
	.globl	fw_entry
fw_entry:
	ldr	x0, =fw_stack_top
	mov	sp, x0
	mov	x0, #(3 << 20)                  /* CPACR_EL1.FPEN: no FP/SIMD traps */
	msr	cpacr_el1, x0
	isb
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
1:	cmp	x0, x1
	b.hs	2f
	str	xzr, [x0], #8
	b	1b
2:	ldr	x0, =MAIR
	msr	mair_el1, x0
	ldr	x0, =TCR
	msr	tcr_el1, x0
	adr	x0, fw_l1
	msr	ttbr0_el1, x0
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
	mrs	x0, sctlr_el1
	orr	x0, x0, #1                      /* M */
	orr	x0, x0, #(1 << 2)               /* C */
	orr	x0, x0, #(1 << 12)              /* I */
	bic	x0, x0, #(1 << 1)               /* A off: unaligned normal accesses are fine */
	msr	sctlr_el1, x0
	isb
	bl	fw_main
3:	wfe
	b	3b
	.ltorg

	.section .rodata.fw_l1, "a"
	.balign 4096
fw_l1:
	.quad	BLK_DEVICE
	.quad	BLK_NORMAL + (1 << 30)
	.quad	BLK_NORMAL + (2 << 30)
	.quad	BLK_NORMAL + (3 << 30)

	.section .bss
	.balign 16
	.skip	32768
fw_stack_top:
