/* SPDX-License-Identifier: BSD-2-Clause */
/* x86_64 entry through QEMU's PVH boot path: 32-bit protected mode, paging
 * off, %ebx = physical address of the hvm_start_info. We zero .bss, identity
 * map the low 4 GiB with 2 MiB pages (RAM, the PCI hole, microvm's mmio
 * slots), enter long mode and call C. Not here: SMP, interrupts, SSE state. */

#define CR0_PE     (1 << 0)
#define CR0_PG     (1 << 31)
#define CR4_PAE    (1 << 5)
#define MSR_EFER   0xc0000080
#define EFER_LME   (1 << 8)
#define PTE_P_W    0x003          /* present, writable */
#define PTE_PS     0x080          /* 2 MiB page in a page-directory entry */

/* PVH ELF note: QEMU finds the 32-bit entry point here. Its loader reads the
 * descriptor as a 64-bit value aligned to the note's p_align, which must be 4. */
	.section .note.Xen, "a", @note
	.p2align 2
	.long 4                      /* namesz: "Xen\0" */
	.long 8                      /* descsz */
	.long 18                     /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.p2align 2
	.quad arch_entry32

	.section .text.boot, "ax"
	.code32
	.globl arch_entry32
arch_entry32:
	cli
	cld
	/* .bss holds the stack and the page tables, so zero it before using
	 * either; %ebp keeps the start_info pointer across the rep stosb. */
	movl %ebx, %ebp
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb
	movl %ebp, arch_pvh_start_info

	/* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 512 x 2 MiB. */
	movl $arch_pdpt, %eax
	orl $PTE_P_W, %eax
	movl %eax, arch_pml4
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $12, %eax
	addl $arch_pd, %eax
	orl $PTE_P_W, %eax
	movl %eax, arch_pdpt(,%ecx,8)
	incl %ecx
	cmpl $4, %ecx
	jne 1b
	xorl %ecx, %ecx
2:	movl %ecx, %eax
	shll $21, %eax
	orl $(PTE_P_W | PTE_PS), %eax
	movl %eax, arch_pd(,%ecx,8)
	movl %ecx, %eax               /* high half of the physical address */
	shrl $11, %eax
	movl %eax, arch_pd+4(,%ecx,8)
	incl %ecx
	cmpl $2048, %ecx
	jne 2b

	movl $arch_pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
	lgdt arch_gdt_ptr
	ljmp $0x08, $arch_entry64

	.code64
arch_entry64:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	leaq arch_stack_top(%rip), %rsp
	xorl %ebp, %ebp
	call bv_crt_start             /* libc-glue: arch_init, main, exit */
3:	hlt
	jmp 3b

	.section .rodata
	.p2align 3
arch_gdt:
	.quad 0
	.quad 0x00af9a000000ffff     /* 0x08: 64-bit code, ring 0 */
	.quad 0x00cf92000000ffff     /* 0x10: data, ring 0 */
arch_gdt_end:
arch_gdt_ptr:
	.word arch_gdt_end - arch_gdt - 1
	.long arch_gdt

	.section .bss
	.p2align 12
arch_pml4:	.skip 4096
arch_pdpt:	.skip 4096
arch_pd:	.skip 4 * 4096
	.p2align 4
arch_stack:	.skip 65536
arch_stack_top:
	.p2align 2
	.globl arch_pvh_start_info
arch_pvh_start_info:	.skip 4
