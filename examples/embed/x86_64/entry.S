/* SPDX-License-Identifier: BSD-2-Clause */
/* The firmware's x86_64 entry. QEMU's PVH loader starts us in 32-bit
 * protected mode with paging off; the page tables are static data (the low
 * 4 GiB identity-mapped with 2 MiB pages, built by the assembler), so all the
 * 32-bit code does is switch them on, enter long mode and jump to C. */

	.section .note.Xen, "a", @note
	.balign 4
	.long	4, 8, 18                /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz	"Xen"
	.balign 4
	.quad	fw_entry32              /* QEMU reads it as 64 bits */

	.section .text.entry, "ax"
	.code32
	.globl	fw_entry32
fw_entry32:
	cli
	movl	$fw_pml4, %eax
	movl	%eax, %cr3
	movl	$0x20, %eax             /* CR4.PAE */
	movl	%eax, %cr4
	movl	$0xc0000080, %ecx       /* EFER */
	rdmsr
	orl	$0x100, %eax            /* LME */
	wrmsr
	movl	$0x80000011, %eax       /* CR0: PG | ET | PE */
	movl	%eax, %cr0
	lgdt	fw_gdtr
	ljmp	$8, $fw_entry64

	.code64
fw_entry64:
	movl	$16, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	leaq	fw_stack_top(%rip), %rsp
	leaq	__bss_start(%rip), %rdi
	leaq	__bss_end(%rip), %rcx
	subq	%rdi, %rcx
	xorl	%eax, %eax
	rep stosb
	call	fw_main
1:	hlt
	jmp	1b

	.section .rodata
	.balign 8
fw_gdt:
	.quad	0
	.quad	0x00209a0000000000      /* 8: 64-bit code */
	.quad	0x0000920000000000      /* 16: data */
fw_gdtr:
	.word	fw_gdtr - fw_gdt - 1
	.long	fw_gdt

	.section .data.pagetables, "aw"
	.balign 4096
fw_pml4:
	.quad	fw_pdpt + 3
	.fill	511, 8, 0
fw_pdpt:
	.quad	fw_pd + 3, fw_pd + 0x1003, fw_pd + 0x2003, fw_pd + 0x3003
	.fill	508, 8, 0
fw_pd:
	.set	fw_addr, 0
	.rept	2048
	.quad	fw_addr + 0x83          /* present, writable, 2 MiB */
	.set	fw_addr, fw_addr + 0x200000
	.endr

	.section .bss
	.balign 16
	.skip	32768
fw_stack_top:
