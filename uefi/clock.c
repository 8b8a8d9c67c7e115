/* SPDX-License-Identifier: BSD-2-Clause */
/* Time for the UEFI platform. Arm: the architected generic timer (CNTVCT at
 * CNTFRQ), which ArmVirtQemu itself runs on. x86_64: the TSC, calibrated
 * once against the firmware's Stall() (OVMF times Stall with the ACPI PM
 * timer), since the firmware owns the PIT and the local APIC timer.
 * bv_port_idle is a bounded wait on a firmware timer event: the firmware
 * halts the CPU until its next timer tick (EDK2's timer drivers tick every
 * 10 ms by default), so waits shorter than that spin instead. Non-goals: wall-clock
 * time (GetTime), device interrupts (we poll). */
#include <stdint.h>
#include <stdio.h>
#include "bv/err.h"
#include "bv/port.h"
#include "uefi/uefi.h"

#define CLOCK_CAL_US       20000u   /* calibration span (x86) */
#define IDLE_MIN_US        10000u   /* shorter waits spin: below one firmware tick */
#define IDLE_MAX_US        100000u  /* longest single wait: stay responsive to the app */

static uint64_t ticks0, ticks_per_ms;
static efi_event idle_timer;

static uint64_t read_ticks(void)
{
#if defined(__x86_64__)
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return (uint64_t)hi << 32 | lo;
#elif defined(__aarch64__)
	uint64_t v;
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v) :: "memory");
	return v;
#else
	uint32_t lo, hi;
	__asm__ volatile("isb; mrrc p15, 1, %0, %1, c14" : "=r"(lo), "=r"(hi) :: "memory");
	return (uint64_t)hi << 32 | lo;
#endif
}

static uint64_t counter_hz(void)
{
#if defined(__aarch64__)
	uint64_t f;
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
	return f;
#elif defined(__arm__)
	uint32_t f;
	__asm__ volatile("mrc p15, 0, %0, c14, c0, 0" : "=r"(f));
	return f;
#else
	return 0;
#endif
}

void uefi_clock_init(void)
{
	uint64_t hz = counter_hz();
	if (hz) {
		ticks_per_ms = hz / 1000;
	} else {
		uint64_t t0 = read_ticks();
		uefi_bs->stall(CLOCK_CAL_US);
		ticks_per_ms = (read_ticks() - t0) / (CLOCK_CAL_US / 1000);
	}
	if (ticks_per_ms == 0) {
		printf("uefi: the clock did not advance across Stall(); assuming 1 GHz\n");
		ticks_per_ms = 1000000;
	}
	ticks0 = read_ticks();
	if (uefi_bs->create_event(EFI_EVT_TIMER, 0, NULL, NULL, &idle_timer) != EFI_SUCCESS)
		idle_timer = NULL;
}

uint64_t bv_port_now_us(void)
{
	uint64_t t = read_ticks() - ticks0;
	/* Split so t * 1000 cannot overflow. */
	return t / ticks_per_ms * 1000u + t % ticks_per_ms * 1000u / ticks_per_ms;
}

void bv_port_relax(void)
{
#if defined(__x86_64__)
	__asm__ volatile("pause" ::: "memory");
#else
	__asm__ volatile("yield" ::: "memory");
#endif
}

void bv_port_idle(uint64_t deadline_us)
{
	uint64_t now = bv_port_now_us();
	if (!idle_timer || deadline_us < now + IDLE_MIN_US) {
		bv_port_relax();
		return;
	}
	uint64_t wait = deadline_us - now;
	if (wait > IDLE_MAX_US)
		wait = IDLE_MAX_US;
	efi_uintn idx;
	if (uefi_bs->set_timer(idle_timer, EFI_TIMER_RELATIVE, wait * 10) == EFI_SUCCESS)
		uefi_bs->wait_for_event(1, &idle_timer, &idx);
}

/* The firmware owns the interrupt controller, and a UEFI application must
 * leave its IDT, APIC and GIC alone: no device interrupts here. The library
 * then wakes itself every BV_VSOCK_WAIT_POLL_MS through bv_port_idle above. */
int bv_port_irq_line(uint32_t irq, unsigned flags, bv_port_irq_fn fn, void *ctx)
{
	(void)irq; (void)flags; (void)fn; (void)ctx;
	return BV_ENOTSUP;
}

int bv_port_irq_msi(bv_port_irq_fn fn, void *ctx, uint64_t *addr, uint32_t *data)
{
	(void)fn; (void)ctx; (void)addr; (void)data;
	return BV_ENOTSUP;
}

void bv_port_irq_off(int handle)
{
	(void)handle;
}
