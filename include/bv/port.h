/* SPDX-License-Identifier: BSD-2-Clause */
/* The port interface: everything libbarevsock needs from the environment it
 * is embedded in, in one place. A port (this project's arch/<arch>/ for the
 * -kernel images, arch/host/ for native tests, examples/ for a foreign
 * firmware, or yours) supplies the functions below plus one inline header,
 * bv_port_io.h, found on the include path. The library calls nothing else
 * except the compiler's memcpy/memset/memmove/memcmp (and, on 32-bit Arm,
 * libgcc's __aeabi_* helpers); tests/test_lib.py checks that with nm.
 * Non-goals: threads, heap, files, printf (see bv/log.h for the library's own
 * formatter, which ends in bv_port_log).
 *
 * Threading rule: one execution context calls into the library at a time;
 * the library never calls back into the port from anywhere but the call the
 * port made. The one exception is an interrupt handler the library attached
 * (bv_port_irq_*, below), and the port runs those only inside bv_port_idle().
 *
 * ---- functions (link-time) ---- */
#ifndef BV_PORT_H
#define BV_PORT_H

#include <stdint.h>
#include <stddef.h>

/* Monotonic microseconds from any fixed origin. Never goes backwards; it
 * drives the connect/close timers, so ~1 ms resolution is enough. */
uint64_t bv_port_now_us(void);

/* Busy-wait hint inside a polling loop (pause, yield, or nothing). */
void bv_port_relax(void);

/* Halt until an interrupt or until bv_port_now_us() >= deadline_us,
 * whichever is first. May return early, at any time: callers loop. Must
 * return by the deadline even if no interrupt ever comes. A port without
 * interrupts may simply call bv_port_relax() (the library then polls), or
 * sleep on a timer of its own up to the deadline. */
void bv_port_idle(uint64_t deadline_us);

/* Interrupts, used only to wake bv_port_idle(): the library processes
 * nothing in them (it looks at its rings once the idle returns). A port
 * that keeps these rules may implement them:
 *  - handlers run only inside bv_port_idle() (interrupts stay masked, or
 *    are taken and held pending, everywhere else), so they never race the
 *    library's other code;
 *  - the handler acknowledges its device (a level line must be low when it
 *    returns); the port then ends the interrupt at its controller (EOI);
 *  - one handler per line or MSI, no sharing, no nesting.
 * A port without them (or one that must leave the firmware's interrupt
 * controller alone, as a UEFI application does) returns BV_ENOTSUP from
 * bv_port_irq_line and bv_port_irq_msi and never calls a handler: the
 * library then wakes itself at bounded intervals (BV_VSOCK_WAIT_POLL_MS). */
typedef void (*bv_port_irq_fn)(void *ctx);

#define BV_IRQ_EDGE   0u     /* rising edge */
#define BV_IRQ_LEVEL  1u     /* level, active high */
#define BV_IRQ_LOW    2u     /* or'ed in: active low / falling edge */

/* Route wired interrupt `irq` to fn(ctx) and enable it. `irq` is the input
 * number of the platform's interrupt controller as whoever found the device
 * describes it: a GSI on x86 (I/O APIC inputs, ACPI numbering), an INTID on
 * Arm (GIC: SPI n is 32 + n). Returns a handle >= 0, BV_ENOTSUP (no
 * interrupt support, or no such input), BV_ENOBUFS (the port's table is full). */
int bv_port_irq_line(uint32_t irq, unsigned flags, bv_port_irq_fn fn, void *ctx);

/* Allocate a message-signalled interrupt for fn(ctx): the address and data a
 * device writes (PCI MSI-X) to raise it. Returns a handle >= 0, BV_ENOTSUP
 * when the platform (or the port) has no MSI, BV_ENOBUFS. */
int bv_port_irq_msi(bv_port_irq_fn fn, void *ctx, uint64_t *addr, uint32_t *data);

/* Disable a handle for good: a level line that stays asserted although its
 * handler acknowledged the device (a broken or hostile device) would wake
 * the CPU forever. */
void bv_port_irq_off(int handle);

/* The address the device must use to reach CPU memory at p (the "bus" or
 * IOVA address). Every address the library hands a device goes through here:
 * ring addresses and every descriptor. Identity on QEMU's -kernel targets. */
uint64_t bv_port_dma_addr(const void *p);

/* Cache maintenance for devices that do not snoop the CPU's caches.
 * clean: write [p, p+n) back to where the device reads it, before the device
 *   reads memory the CPU wrote (also called for buffers the device will
 *   write, so no dirty line is later evicted on top of the device's data).
 * invalidate: discard cached copies of [p, p+n), before the CPU reads memory
 *   the device wrote.
 * Both round outward to whole cache lines and complete before returning
 * (on Arm: ending with a dsb). No-ops on coherent systems, which every QEMU
 * target is. Buffers the library hands a device start and end on
 * BV_DMA_ALIGN (bv/config.h), so rounding never reaches a neighbour. */
void bv_port_dma_clean(const void *p, size_t n);
void bv_port_dma_invalidate(const void *p, size_t n);

/* The one log hook: n bytes of text, not NUL-terminated, usually one whole
 * line ending in '\n'. The library never calls printf; bv_logf (bv/log.h)
 * formats into a small buffer and ends here. */
void bv_port_log(const char *s, size_t n);

/* ---- bv_port_io.h (inline, supplied by the port) ----
 * Device registers are little-endian on every transport the library speaks;
 * the accessors take and return CPU values, so a big-endian port swaps
 * inside them. Each must be exactly one access of that width (no splitting,
 * merging or elision: use inline asm or volatile), and carries no barrier.
 *
 *   uint8_t  bv_mmio_read8(uintptr_t a);   void bv_mmio_write8(uintptr_t a, uint8_t v);
 *   uint16_t bv_mmio_read16(uintptr_t a);  void bv_mmio_write16(uintptr_t a, uint16_t v);
 *   uint32_t bv_mmio_read32(uintptr_t a);  void bv_mmio_write32(uintptr_t a, uint32_t v);
 *
 * Barriers, as the device observes memory (DMA ordering, Linux's dma_*()):
 *   bv_wmb()     earlier stores to memory the device reads are visible to it
 *                before later ones (descriptors before avail.idx)
 *   bv_rmb()     earlier loads of memory the device writes complete before
 *                later ones (used.idx before the used entry it covers)
 *   bv_mb()      both, and earlier stores before later loads (avail.idx
 *                before reading used.flags)
 * and between memory and device registers (what Linux folds into writel/readl):
 *   bv_io_wmb()  earlier stores to memory reach the device before a later
 *                register write (before a doorbell or queue enable)
 *   bv_io_rmb()  a register read completes before later loads of memory
 *                (an interrupt status, then the ring it announced)
 *
 * Optional, only where the CPU has port I/O (x86; used by the -kernel
 * images' PCI discovery, not by the library): BV_PORT_HAS_PIO defined to 1 and
 *   uint8_t bv_pio_in8(uint16_t port) / bv_pio_in16 / bv_pio_in32
 *   void bv_pio_out8(uint16_t port, uint8_t v) / bv_pio_out16 / bv_pio_out32
 * (port first, value second). */
#include "bv_port_io.h"

#endif
