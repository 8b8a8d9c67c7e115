/* SPDX-License-Identifier: BSD-2-Clause */
/* x86_64 interrupt and exception entry: one small stub per vector we use
 * (the 32 exceptions, X86_IRQ_VECTORS device/timer vectors from 0x20, and the
 * APIC spurious vector 0xff), all funnelling into x86_irq_dispatch() with a
 * frame pointer. Interrupts are only ever enabled inside bv_port_idle(), so
 * the stubs run on the one stack with no IST and no nesting.
 * Not here: the IDT itself and what each vector means (irq.c). */

#define X86_IRQ_VECTORS 16   /* keep in sync with irq.c */

	.altmacro
	.text
/* Exceptions that push an error code: 8, 10-14, 17, 21, 29, 30. The others
 * and every interrupt push a zero so the frame has one shape. */
	.macro stubref n
	.quad	x86_stub_\n
	.endm

	.macro stub n, has_err
	.p2align 3
x86_stub_\n:
	.if \has_err == 0
	pushq	$0
	.endif
	pushq	$\n
	jmp	x86_irq_common
	.endm

	.irp n, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
	stub \n, 0
	.endr
	.irp n, 8,10,11,12,13,14,17,21,29,30
	stub \n, 1
	.endr
	.set v, 32
	.rept X86_IRQ_VECTORS
	stub %v, 0
	.set v, v + 1
	.endr
	stub 255, 0

x86_irq_common:
	/* The callee-saved registers survive the C call on their own. */
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	/* 5 CPU words + vector + error + 9 registers = 128 bytes on top of a
	 * 16-byte aligned stack (the CPU aligns it in long mode): aligned. */
	movq	%rsp, %rdi
	cld
	call	x86_irq_dispatch
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rax
	addq	$16, %rsp              /* vector and error code */
	iretq

/* Stub address per vector 0-31, then 32 .. 32 + X86_IRQ_VECTORS - 1, then 255. */
	.section .rodata
	.p2align 3
	.globl x86_irq_stubs
x86_irq_stubs:
	.set v, 0
	.rept 32 + X86_IRQ_VECTORS
	stubref %v
	.set v, v + 1
	.endr
	stubref 255
