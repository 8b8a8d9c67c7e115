/* SPDX-License-Identifier: BSD-2-Clause */
/* The firmware's arm32 entry on QEMU virt (ARM state, SVC, MMU off). As on
 * aarch64, C needs the MMU (unaligned accesses fault on the strongly-ordered
 * memory it implies when off) and the FPU (gcc may use NEON for copies):
 * stack, FPU on, .bss cleared, a first-level table of 4096 1 MiB sections
 * identity-mapping everything (device memory below 1 GiB, normal write-back
 * shareable memory above), MMU and caches on, then C (Thumb). */

#define SECT_DEVICE  0x00000c16     /* section, B (shared device), XN, AP=full */
#define SECT_NORMAL  0x00011c0e     /* section, C+B, TEX=1 (WB-WA), AP=full, S */

	.syntax unified
	.arm
	.section .text.entry, "ax"
	.globl	fw_entry
fw_entry:
	ldr	sp, =fw_stack_top
	mrc	p15, 0, r0, c1, c0, 2           /* CPACR: cp10, cp11 full access */
	orr	r0, r0, #(0xf << 20)
	mcr	p15, 0, r0, c1, c0, 2
	isb
	mov	r0, #(1 << 30)                  /* FPEXC.EN */
	vmsr	fpexc, r0

	ldr	r0, =__bss_start
	ldr	r1, =__bss_end
	mov	r2, #0
1:	cmp	r0, r1
	strlo	r2, [r0], #4
	blo	1b

	ldr	r0, =fw_l1                      /* 4096 sections */
	mov	r1, #0
2:	cmp	r1, #0x400                      /* below 1 GiB: devices */
	ldrlo	r2, =SECT_DEVICE
	ldrhs	r2, =SECT_NORMAL
	orr	r2, r2, r1, lsl #20
	str	r2, [r0, r1, lsl #2]
	add	r1, r1, #1
	cmp	r1, #0x1000
	bne	2b

	ldr	r0, =fw_l1
	orr	r0, r0, #0x4a                   /* TTBR0: walks inner/outer WB, shareable */
	mcr	p15, 0, r0, c2, c0, 0
	mov	r0, #0
	mcr	p15, 0, r0, c2, c0, 2           /* TTBCR: TTBR0 only, short descriptors */
	ldr	r0, =0x55555555                 /* every domain: client (AP checked) */
	mcr	p15, 0, r0, c3, c0, 0
	mov	r0, #0
	mcr	p15, 0, r0, c8, c7, 0           /* invalidate TLBs */
	dsb
	isb
	mrc	p15, 0, r0, c1, c0, 0
	orr	r0, r0, #1                      /* M */
	orr	r0, r0, #(1 << 2)               /* C */
	orr	r0, r0, #(1 << 12)              /* I */
	bic	r0, r0, #(1 << 1)               /* A off */
	mcr	p15, 0, r0, c1, c0, 0
	isb
	blx	fw_main
3:	wfe
	b	3b
	.ltorg

	.section .bss
	.balign 16384
fw_l1:	.skip	16384
	.balign 16
	.skip	32768
fw_stack_top:
