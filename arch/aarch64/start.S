/* SPDX-License-Identifier: BSD-2-Clause */
/* aarch64 entry: leave EL2 for EL1 if QEMU started us there, build an
 * identity map and turn on the MMU, then hand over to picolibc's crt0 (_start).
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
/* The tables: one L0 page, then two L1 pages (arch_pgt below). */
#define ARCH_PGT_L1      4096
#define ARCH_PGT_SIZE    (3 * 4096)

/* Invalidate the data cache lines of [start, end) to the point of coherency,
 * then wait for it. The line size comes from CTR_EL0.DminLine (log2 words).
 * Clobbers t1, t2. */
	.macro arch_dcache_inval start, end, t1, t2
	mrs	\t1, ctr_el0
	ubfx	\t1, \t1, #16, #4
	mov	\t2, #4
	lsl	\t2, \t2, \t1
	sub	\t1, \t2, #1
	bic	\t1, \start, \t1
9:	dc	ivac, \t1
	add	\t1, \t1, \t2
	cmp	\t1, \end
	b.lo	9b
	dsb	sy
	.endm

/* L1 entries first..last-1 (x1 = arch_pgt_l1): 1 GiB blocks, identity
 * mapped, with the attributes in attr. Clobbers x3, x6. */
	.macro arch_map_gib first, last, attr
	mov	x3, #\first
9:	lsl	x6, x3, #30
	orr	x6, x6, \attr
	str	x6, [x1, x3, lsl #3]
	add	x3, x3, #1
	cmp	x3, #\last
	b.lo	9b
	.endm

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

	/* The identity map is built here rather than linked in: 12 KiB of
	 * tables, mostly repeated block descriptors and zeros, would otherwise
	 * sit in the image's text. It lives in .preserve (see below), so every
	 * entry is written, zeros included.
	 *
	 * The MMU is off, so these stores go straight to memory, while the
	 * table walker will read the tables through the cache (TCR IRGN0/ORGN0
	 * are write-back). Invalidate the lines first, so that no dirty line
	 * left by an earlier boot stage can be written back over the new
	 * tables, and again afterwards, so that no line allocated in between
	 * (a speculative fill) shows the walker stale entries. */
	adrp	x0, arch_pgt_l0
	add	x1, x0, #ARCH_PGT_SIZE
	arch_dcache_inval x0, x1, x2, x3
	mov	x2, x0
2:	stp	xzr, xzr, [x2], #16
	cmp	x2, x1
	b.lo	2b
	/* L0: two tables of 1 GiB blocks, for 0-512 GiB and 512 GiB-1 TiB,
	 * back to back, so GiB g's entry is at arch_pgt_l1 + 8 * g. */
	add	x1, x0, #ARCH_PGT_L1
	orr	x2, x1, #3                 /* table descriptor */
	str	x2, [x0]
	add	x2, x2, #4096
	str	x2, [x0, #8]
	ldr	x4, =ARCH_BLK_DEVICE
	mov	x5, #ARCH_BLK_NORMAL
	/* 0-1 GiB: UART, virtio-mmio, PCI MMIO window and low ECAM. */
	arch_map_gib 0, 1, x4
	/* 1-4 GiB: RAM (-m up to 3 GiB). Beyond that nothing is mapped up to
	 * 256 GiB, so speculation never reaches memory that is not there. */
	arch_map_gib 1, 4, x5
	/* 256-512 GiB: high ECAM (0x4010000000) and other high device
	 * regions; 512 GiB-1 TiB: the high PCI MMIO window. */
	arch_map_gib 256, 1024, x4
	dsb	sy                         /* the stores reach memory first */
	add	x1, x0, #ARCH_PGT_SIZE
	arch_dcache_inval x0, x1, x2, x3

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

/* Not in .bss: picolibc's crt0 clears .bss after the MMU is on, which would
 * wipe the tables in use. .preserve is RAM that crt0 leaves alone (picolibc.ld
 * places it, NOLOAD, at the start of RAM); arch_entry writes all of it.
 * L0 covers 1 TiB in two 512 GiB halves; each L1 maps 512 GiB in 1 GiB
 * blocks. */
	.section .preserve.arch_pgt, "aw", %nobits
	.balign 4096
	.type arch_pgt_l0, %object
arch_pgt_l0:
	.skip	4096
	.size arch_pgt_l0, 4096
	.type arch_pgt_l1, %object
arch_pgt_l1:
	.skip	2 * 4096
	.size arch_pgt_l1, 2 * 4096
