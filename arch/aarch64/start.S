/* SPDX-License-Identifier: BSD-2-Clause */
/* aarch64 entry: leave EL2 for EL1 if QEMU started us there, turn on the MMU
 * with a static identity map, then hand over to picolibc's crt0 (_start).
 * Not here: caches by set/way (QEMU has none to clean), EL3, SMP. */

/* MAIR_EL1: attr0 Device-nGnRE (MMIO), attr1 Normal write-back RA/WA. */
#define ARCH_MAIR        0xff04
/* Block descriptors. Normal: AttrIndx 1, inner shareable, AF. Device: attr0,
 * AF, never executable (PXN|UXN) so speculation never fetches from MMIO. */
#define ARCH_BLK_NORMAL  0x705
#define ARCH_BLK_DEVICE  0x0060000000000401
/* TCR_EL1: 40-bit VA/PA (T0SZ 24) so the high PCI window fits, 4 KiB
 * granule, walks WB cacheable inner shareable, TTBR1 walks disabled. */
#define ARCH_TCR         ((24) | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 32))

	.section .text.arch_entry, "ax"
	.global arch_entry
	.type arch_entry, %function
arch_entry:
	mrs	x19, CurrentEL
	lsr	x19, x19, #2
	and	x19, x19, #3
	cmp	x19, #2
	b.ne	1f

	/* EL2: run the guest at EL1 so its code is the same on every target.
	 * EL1 must be AArch64, must reach the physical/virtual counter and
	 * FP/SIMD without trapping, and sees a zero virtual offset so
	 * CNTVCT counts like CNTPCT. */
	mov	x0, #(1 << 31)
	msr	hcr_el2, x0
	mrs	x0, cnthctl_el2
	orr	x0, x0, #3
	msr	cnthctl_el2, x0
	msr	cntvoff_el2, xzr
	mov	x0, #0x33ff
	msr	cptr_el2, x0
	ldr	x0, =0x30d00800            /* SCTLR_EL1 RES1 bits, MMU off */
	msr	sctlr_el1, x0
	mov	x0, #0x3c5                 /* EL1h, DAIF masked */
	msr	spsr_el2, x0
	adr	x0, 1f
	msr	elr_el2, x0
	isb
	eret

1:	/* EL1. The entry EL must survive crt0 zeroing .bss and copying .data,
	 * and TPIDR_EL1 is a register nobody else here uses. */
	msr	tpidr_el1, x19

	ldr	x0, =ARCH_MAIR
	msr	mair_el1, x0
	ldr	x0, =ARCH_TCR
	msr	tcr_el1, x0
	adrp	x0, arch_pgt_l0
	msr	ttbr0_el1, x0
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
	mrs	x0, sctlr_el1
	orr	x0, x0, #(1 << 0)          /* M */
	orr	x0, x0, #(1 << 2)          /* C */
	orr	x0, x0, #(1 << 12)         /* I */
	bic	x0, x0, #(1 << 1)          /* A: unaligned Normal accesses are fine */
	msr	sctlr_el1, x0
	isb
	b	_start
	.size arch_entry, . - arch_entry
	.ltorg

/* The identity map lives in read-only data so crt0's .bss clear cannot
 * wipe it under our feet. L0 covers 1 TiB in two 512 GiB halves. */
	.section .rodata.arch_pgt, "a"
	.balign 4096
arch_pgt_l0:
	.quad	arch_pgt_l1_lo + 3
	.quad	arch_pgt_l1_hi + 3
	.fill	510, 8, 0

	.balign 4096
arch_pgt_l1_lo:
	/* 0-1 GiB: UART, virtio-mmio, PCI MMIO window and low ECAM. */
	.quad	ARCH_BLK_DEVICE
	/* 1-4 GiB: RAM (-m up to 3 GiB). Beyond that nothing is mapped, so
	 * speculation never reaches memory that is not there. */
	.quad	ARCH_BLK_NORMAL + (1 << 30)
	.quad	ARCH_BLK_NORMAL + (2 << 30)
	.quad	ARCH_BLK_NORMAL + (3 << 30)
	.fill	252, 8, 0
	/* 256-512 GiB: high ECAM (0x4010000000) and other high device regions. */
	.set	arch_gib, 256
	.rept	256
	.quad	ARCH_BLK_DEVICE + (arch_gib << 30)
	.set	arch_gib, arch_gib + 1
	.endr

	.balign 4096
arch_pgt_l1_hi:
	/* 512 GiB-1 TiB: the high PCI MMIO window. */
	.set	arch_gib, 512
	.rept	512
	.quad	ARCH_BLK_DEVICE + (arch_gib << 30)
	.set	arch_gib, arch_gib + 1
	.endr
