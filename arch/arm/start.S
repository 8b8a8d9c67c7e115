/* SPDX-License-Identifier: BSD-2-Clause */
/* arm32 (ARMv7-A) entry: leave HYP for SVC if QEMU started us there, build a
 * 1 MiB-section identity map and turn on the MMU, then hand over to
 * picolibc's crt0 (_start, Thumb). Not here: cache maintenance by set/way
 * (QEMU has no caches to clean), LPAE, SMP. */

/* Section descriptors. Normal: TEX=001 C=1 B=1 (write-back, write-allocate),
 * shareable, AP=11. Device: shareable device (B=1), AP=11, XN so nothing is
 * ever fetched from MMIO. */
#define ARCH_SEC_NORMAL  0x11c0e
#define ARCH_SEC_DEVICE  0x00c16
/* TTBR0 walk attributes: inner WB-WA (IRGN=01), outer WB-WA (RGN=01), shareable. */
#define ARCH_TTBR_ATTR   0x4a
/* The L1 table: 4096 section entries of 1 MiB, the whole 4 GiB. */
#define ARCH_PGT_SIZE    16384

/* Invalidate the data cache lines of [start, end) to the point of coherency
 * (DCIMVAC), then wait for it. The line size comes from CTR.DminLine (log2
 * words). Clobbers t1, t2. */
	.macro arch_dcache_inval start, end, t1, t2
	mrc	p15, 0, \t1, c0, c0, 1    /* CTR */
	ubfx	\t1, \t1, #16, #4
	mov	\t2, #4
	lsl	\t2, \t2, \t1
	sub	\t1, \t2, #1
	bic	\t1, \start, \t1
9:	mcr	p15, 0, \t1, c7, c6, 1    /* DCIMVAC */
	add	\t1, \t1, \t2
	cmp	\t1, \end
	blo	9b
	dsb
	.endm

	.syntax unified
	.arm
	.section .text.arch_entry, "ax"
	.global arch_entry
	.type arch_entry, %function
arch_entry:
	mrs	r4, cpsr
	and	r4, r4, #0x1f
	cmp	r4, #0x1a                  /* HYP */
	bne	1f

	/* HYP: run the guest in SVC so its code is the same on every target.
	 * PL1 must reach the counters and VFP/NEON without trapping, and sees a
	 * zero virtual offset so CNTVCT counts like CNTPCT. */
	mov	r0, #0
	mcr	p15, 4, r0, c1, c1, 0      /* HCR */
	mrc	p15, 4, r0, c14, c1, 0     /* CNTHCTL */
	orr	r0, r0, #3
	mcr	p15, 4, r0, c14, c1, 0
	mov	r0, #0
	mov	r1, #0
	mcrr	p15, 4, r0, r1, c14        /* CNTVOFF */
	ldr	r0, =0x33ff
	mcr	p15, 4, r0, c1, c1, 2      /* HCPTR: cp10/cp11 not trapped */
	ldr	r0, =0x1d3                 /* SVC, ARM state, A/I/F masked */
	msr	spsr_cxsf, r0            /* SPSR_hyp: banked form is UNPREDICTABLE in HYP */
	adr	r0, 1f
	msr	elr_hyp, r0
	isb
	eret

1:	/* PL1. Remember the entry mode in TPIDRPRW (unused by anyone else) so it
	 * survives crt0 setting up .data and .bss: 2 = HYP, 1 = anything else. */
	cmp	r4, #0x1a
	moveq	r4, #2
	movne	r4, #1
	mcr	p15, 0, r4, c13, c0, 4

	/* The identity map is built here rather than linked in: 16 KiB of
	 * section entries that follow a pattern would otherwise sit in the
	 * image's text. It lives in .preserve (see below); all 4096 entries
	 * are written.
	 *
	 * The MMU is off, so these stores go straight to memory, while the
	 * table walker will read the table through the cache (TTBR0's IRGN and
	 * RGN say write-back). Invalidate the lines first, so that no dirty
	 * line left by an earlier boot stage can be written back over the new
	 * table, and again afterwards, so that no line allocated in between (a
	 * speculative fill) shows the walker stale entries. */
	ldr	r0, =arch_pgt
	add	r1, r0, #ARCH_PGT_SIZE
	arch_dcache_inval r0, r1, r2, r3
	/* 0-1 GiB: UART, virtio-mmio, PCI MMIO and ECAM (highmem=off), as
	 * device memory; 1-4 GiB: RAM. Entry i maps MiB i. */
	ldr	r5, =ARCH_SEC_DEVICE
	ldr	r6, =ARCH_SEC_NORMAL
	mov	r2, #0
2:	cmp	r2, #1024
	orrlo	r3, r5, r2, lsl #20
	orrhs	r3, r6, r2, lsl #20
	str	r3, [r0, r2, lsl #2]
	add	r2, r2, #1
	cmp	r2, #4096
	blo	2b
	dsb				/* the stores reach memory first */
	arch_dcache_inval r0, r1, r2, r3

	ldr	r0, =0x55555555            /* every domain: client, AP bits apply */
	mcr	p15, 0, r0, c3, c0, 0      /* DACR */
	mov	r0, #0
	mcr	p15, 0, r0, c2, c0, 2      /* TTBCR: short descriptors, TTBR0 only */
	ldr	r0, =arch_pgt + ARCH_TTBR_ATTR
	mcr	p15, 0, r0, c2, c0, 0      /* TTBR0 */
	isb
	mov	r0, #0
	mcr	p15, 0, r0, c8, c7, 0      /* TLBIALL */
	mcr	p15, 0, r0, c7, c5, 6      /* BPIALL */
	dsb
	isb
	mrc	p15, 0, r0, c1, c0, 0      /* SCTLR */
	orr	r0, r0, #(1 << 0)          /* M */
	orr	r0, r0, #(1 << 2)          /* C */
	orr	r0, r0, #(1 << 12)         /* I */
	bic	r0, r0, #(1 << 1)          /* A: unaligned Normal accesses are fine */
	bic	r0, r0, #(1 << 28)         /* TRE off: TEX/C/B mean what we wrote */
	bic	r0, r0, #(1 << 29)         /* AFE off: AP[0] is a permission bit */
	mcr	p15, 0, r0, c1, c0, 0
	isb
	ldr	r0, =_start
	bx	r0
	.size arch_entry, . - arch_entry
	.ltorg

/* Not in .bss: picolibc's crt0 clears .bss after the MMU is on, which would
 * wipe the table in use. .preserve is RAM that crt0 leaves alone (picolibc.ld
 * places it, NOLOAD, at the start of RAM); arch_entry writes all of it.
 * TTBR0 with TTBCR.N = 0 wants the table 16 KiB aligned. */
	.section .preserve.arch_pgt, "aw", %nobits
	.balign 16384
	.type arch_pgt, %object
arch_pgt:
	.skip	ARCH_PGT_SIZE
	.size arch_pgt, ARCH_PGT_SIZE
