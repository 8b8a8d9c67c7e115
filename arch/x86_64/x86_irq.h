/* SPDX-License-Identifier: BSD-2-Clause */
/* What arch/x86_64/irq.c tells the rest of the x86 image beyond the port
 * hooks (bv/port_irq.h): counters for tests, and the one machine fact the
 * microvm virtio-mmio probe needs. Private to the x86_64 image. */
#ifndef BV_X86_IRQ_H
#define BV_X86_IRQ_H

#include <stdint.h>

struct x86_irq_stats {
	uint64_t halts;      /* HLTs entered by bv_port_idle */
	uint64_t timer;      /* LAPIC timer interrupts (the idle deadline) */
	uint64_t device;     /* interrupts with a handler (MSI or I/O APIC line) */
	uint64_t spurious;   /* APIC spurious vector */
	uint64_t stray;      /* a vector nobody owns (an MSI after bv_port_irq_off) */
};
void x86_irq_stats(struct x86_irq_stats *out);

/* The GSI of QEMU microvm's virtio-mmio slot n (0xfeb00000 + 512 n) when no
 * command line says it: 24 + n with its second I/O APIC (ACPI on, the
 * default), 16 + n with ACPI and one I/O APIC, 5 + n without ACPI
 * (hw/i386/microvm.c, microvm_devices_init). */
uint32_t x86_microvm_mmio_gsi(unsigned slot);

#endif
