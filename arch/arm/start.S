/* SPDX-License-Identifier: BSD-2-Clause */
/* arm32 (ARMv7-A) entry: leave HYP for SVC if QEMU started us there, turn on
 * the MMU with a static 1 MiB-section identity map, then hand over to
 * picolibc's crt0 (_start, Thumb). Not here: cache maintenance by set/way
 * (QEMU has no caches to clean), LPAE, SMP. */

/* Section descriptors. Normal: TEX=001 C=1 B=1 (write-back, write-allocate),
 * shareable, AP=11. Device: shareable device (B=1), AP=11, XN so nothing is
 * ever fetched from MMIO. */
#define ARCH_SEC_NORMAL  0x11c0e
#define ARCH_SEC_DEVICE  0x00c16
/* TTBR0 walk attributes: inner WB-WA (IRGN=01), outer WB-WA (RGN=01), shareable. */
#define ARCH_TTBR_ATTR   0x4a

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

/* In read-only data so crt0's .bss clear cannot wipe it under our feet.
 * 0-1 GiB: UART, virtio-mmio, PCI MMIO and ECAM (highmem=off); 1-4 GiB: RAM. */
	.section .rodata.arch_pgt, "a"
	.balign 16384
arch_pgt:
	.set	arch_mib, 0
	.rept	1024
	.word	ARCH_SEC_DEVICE + (arch_mib << 20)
	.set	arch_mib, arch_mib + 1
	.endr
	.rept	3072
	.word	ARCH_SEC_NORMAL + (arch_mib << 20)
	.set	arch_mib, arch_mib + 1
	.endr
