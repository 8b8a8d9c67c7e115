/* SPDX-License-Identifier: BSD-2-Clause */
/* x86_64 interrupts, only to wake the CPU from HLT: an IDT (exceptions
 * panic, a few vectors for the local APIC timer, MSIs and I/O APIC lines),
 * the local APIC in xAPIC mode with its timer one-shot, the I/O APICs that
 * ACPI's MADT lists (or the usual one at 0xfec00000), and the legacy 8259s
 * masked for good. Interrupts are enabled only inside bv_port_idle()
 * ("sti; hlt; cli"), so a handler never races the code it interrupted.
 * Not here: x2APIC, SMP, NMI handling, ISA interrupt source overrides (no
 * device we drive raises an ISA IRQ), the hypervisor's paravirt clocks. */
#include <stdint.h>
#include "bv/arch.h"
#include "bv/err.h"
#include "bv/exit.h"
#include "bv/log.h"
#include "arch/x86_64/x86_irq.h"

#define X86_IRQ_VECTORS   16      /* 0x20 .. 0x2f; keep in sync with irq_entry.S */
#define X86_VEC_BASE      0x20
#define X86_VEC_TIMER     X86_VEC_BASE   /* slot 0: the LAPIC timer */
#define X86_VEC_SPURIOUS  0xff

/* Local APIC registers (xAPIC, memory-mapped). */
#define MSR_APIC_BASE     0x1b
#define APIC_BASE_ENABLE  (1u << 11)
#define LAPIC_ID          0x020
#define LAPIC_TPR         0x080
#define LAPIC_EOI         0x0b0
#define LAPIC_SVR         0x0f0
#define LAPIC_SVR_ENABLE  0x100
#define LAPIC_LVT_TIMER   0x320
#define LAPIC_LVT_LINT0   0x350
#define LAPIC_LVT_ERROR   0x370
#define LAPIC_TIMER_INIT  0x380
#define LAPIC_TIMER_CUR   0x390
#define LAPIC_TIMER_DIV   0x3e0
#define LAPIC_DIV_16      0x3
#define LAPIC_LVT_MASKED  (1u << 16)

/* I/O APIC: an index register and a data window. */
#define IOAPIC_DEFAULT    0xfec00000u
#define IOAPIC_REGSEL     0x00
#define IOAPIC_WIN        0x10
#define IOAPIC_REG_VER    0x01
#define IOAPIC_REDTBL(n)  (0x10 + 2 * (n))
#define IOAPIC_LEVEL      (1u << 15)
#define IOAPIC_LOW        (1u << 13)
#define IOAPIC_MASKED     (1u << 16)
#define X86_MAX_IOAPICS   4

/* MSI address for physical destination APIC `id`, fixed delivery, edge. */
#define MSI_ADDR_BASE     0xfee00000u

#define X86_APIC_CAL_US   1000u   /* one calibration sample of the APIC timer */
#define X86_APIC_CAL_SAMPLES 5

struct x86_frame {
	uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(sizeof(struct x86_frame) == 128, "frame layout matches irq_entry.S");

struct x86_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));
_Static_assert(sizeof(struct x86_gate) == 16, "IDT gates are 16 bytes");

struct x86_slot {
	bv_port_irq_fn fn;
	void *ctx;
	int ioapic;              /* index of the I/O APIC for a line, -1 for MSI/timer */
	uint8_t pin;
};

extern const uint64_t x86_irq_stubs[];

static struct x86_gate idt[256] __attribute__((aligned(16)));
static struct x86_slot slots[X86_IRQ_VECTORS];
static uintptr_t lapic;
static uint32_t apic_id;
static uint64_t apic_ticks_per_ms;
static struct { uintptr_t base; uint32_t gsi_base, pins; } ioapics[X86_MAX_IOAPICS];
static unsigned n_ioapics;
static int irq_state;            /* 0 not set up, 1 ready */
static uint8_t acpi_seen;        /* the MADT was found and read */

/* Counters for tests and messages. */
static struct x86_irq_stats xstats;

static uint32_t lapic_rd(unsigned r) { return bv_mmio_read32(lapic + r); }
static void lapic_wr(unsigned r, uint32_t v) { bv_mmio_write32(lapic + r, v); }

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static uint32_t ioapic_rd(unsigned i, unsigned r)
{
	bv_mmio_write32(ioapics[i].base + IOAPIC_REGSEL, r);
	return bv_mmio_read32(ioapics[i].base + IOAPIC_WIN);
}

static void ioapic_wr(unsigned i, unsigned r, uint32_t v)
{
	bv_mmio_write32(ioapics[i].base + IOAPIC_REGSEL, r);
	bv_mmio_write32(ioapics[i].base + IOAPIC_WIN, v);
}

static void ioapic_add(uint64_t base, uint32_t gsi_base)
{
	if (n_ioapics == X86_MAX_IOAPICS || base > 0xffffffffu)
		return;
	ioapics[n_ioapics].base = (uintptr_t)base;
	ioapics[n_ioapics].gsi_base = gsi_base;
	ioapics[n_ioapics].pins = ((ioapic_rd(n_ioapics, IOAPIC_REG_VER) >> 16) & 0xff) + 1;
	n_ioapics++;
}

/* ---- ACPI: just enough to find the I/O APICs in the MADT ---- */

static int acpi_sum_ok(const uint8_t *p, uint32_t n)
{
	uint8_t s = 0;
	for (uint32_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s == 0;
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Tables live in low memory on every machine we boot; anything claiming to
 * be above 4 GiB (outside our identity map) or absurdly long is ignored. */
static const uint8_t *acpi_table(uint64_t pa)
{
	if (pa == 0 || pa >= 0xfffff000u)
		return 0;
	const uint8_t *t = (const uint8_t *)(uintptr_t)pa;
	uint32_t len = rd32(t + 4);
	if (len < 36 || len > 0x100000 || pa + len > 0xffffffffu || !acpi_sum_ok(t, len))
		return 0;
	return t;
}

static void acpi_read_madt(uint64_t rsdp_pa)
{
	if (rsdp_pa == 0 || rsdp_pa >= 0xfffff000u)
		return;
	const uint8_t *rsdp = (const uint8_t *)(uintptr_t)rsdp_pa;
	static const char sig[8] = "RSD PTR ";
	for (int i = 0; i < 8; i++)
		if (rsdp[i] != (uint8_t)sig[i])
			return;
	if (!acpi_sum_ok(rsdp, 20))
		return;
	int xsdt = rsdp[15] >= 2 && rd64(rsdp + 24) != 0;
	const uint8_t *root = acpi_table(xsdt ? rd64(rsdp + 24) : rd32(rsdp + 16));
	if (!root)
		return;
	unsigned esz = xsdt ? 8 : 4;
	uint32_t len = rd32(root + 4);
	for (uint32_t o = 36; o + esz <= len; o += esz) {
		const uint8_t *t = acpi_table(xsdt ? rd64(root + o) : rd32(root + o));
		if (!t || t[0] != 'A' || t[1] != 'P' || t[2] != 'I' || t[3] != 'C')
			continue;
		uint32_t tl = rd32(t + 4);
		for (uint32_t e = 44; e + 2 <= tl && t[e + 1] >= 2 && e + t[e + 1] <= tl; e += t[e + 1]) {
			if (t[e] == 1 && t[e + 1] >= 12)      /* I/O APIC */
				ioapic_add(rd32(t + e + 4), rd32(t + e + 8));
		}
		acpi_seen = 1;
		return;
	}
}

/* ---- set-up ---- */

static void idt_set(unsigned vec, uint64_t handler)
{
	struct x86_gate *g = &idt[vec];
	g->off_lo = (uint16_t)handler;
	g->sel = 0x08;                 /* start.S's 64-bit code segment */
	g->ist = 0;
	g->type = 0x8e;                /* present, DPL 0, interrupt gate (IF cleared) */
	g->off_mid = (uint16_t)(handler >> 16);
	g->off_hi = (uint32_t)(handler >> 32);
	g->zero = 0;
}

static void pic_mask_all(void)
{
	/* The 8259s would deliver through LINT0 with vectors the firmware chose
	 * (SeaBIOS: 8-15, on top of the CPU exceptions). Mask every input;
	 * writes to a machine without them (microvm, pic=off) go nowhere. */
	bv_pio_out8(0x21, 0xff);
	bv_pio_out8(0xa1, 0xff);
}

/* APIC timer ticks per millisecond of the port's clock. Each sample pairs a
 * clock read with a count read; a vCPU descheduled between the two (TCG on a
 * loaded host) spoils that sample, so take the median of a few. */
static uint64_t apic_sample(void)
{
	lapic_wr(LAPIC_TIMER_INIT, 0xffffffffu);
	uint64_t t0 = bv_port_now_us();
	uint32_t c0 = lapic_rd(LAPIC_TIMER_CUR);
	uint64_t t1;
	do {
		bv_port_relax();
		t1 = bv_port_now_us();
	} while (t1 - t0 < X86_APIC_CAL_US);
	uint32_t c1 = lapic_rd(LAPIC_TIMER_CUR);
	lapic_wr(LAPIC_TIMER_INIT, 0);
	return (uint64_t)(c0 - c1) * 1000u / (t1 - t0);
}

static void apic_timer_calibrate(void)
{
	uint64_t v[X86_APIC_CAL_SAMPLES];
	lapic_wr(LAPIC_TIMER_DIV, LAPIC_DIV_16);
	lapic_wr(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | X86_VEC_TIMER);
	for (unsigned i = 0; i < X86_APIC_CAL_SAMPLES; i++) {
		uint64_t x = apic_sample();
		unsigned j = i;
		for (; j > 0 && v[j - 1] > x; j--)   /* insertion sort */
			v[j] = v[j - 1];
		v[j] = x;
	}
	apic_ticks_per_ms = v[X86_APIC_CAL_SAMPLES / 2];
	if (apic_ticks_per_ms == 0)
		apic_ticks_per_ms = 1;   /* a timer that does not count: wake early, never divide by 0 */
	lapic_wr(LAPIC_LVT_TIMER, X86_VEC_TIMER);   /* one-shot, unmasked */
}

static void x86_irq_init(void)
{
	if (irq_state)
		return;
	irq_state = 1;
	for (unsigned v = 0; v < 32; v++)
		idt_set(v, x86_irq_stubs[v]);
	for (unsigned i = 0; i < X86_IRQ_VECTORS; i++)
		idt_set(X86_VEC_BASE + i, x86_irq_stubs[32 + i]);
	idt_set(X86_VEC_SPURIOUS, x86_irq_stubs[32 + X86_IRQ_VECTORS]);
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = {
		sizeof(idt) - 1, (uint64_t)(uintptr_t)idt
	};
	__asm__ volatile("lidt %0" :: "m"(idtr) : "memory");

	pic_mask_all();
	uint64_t base = rdmsr(MSR_APIC_BASE);
	if (!(base & APIC_BASE_ENABLE))
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
	lapic = (uintptr_t)(base & 0xfffff000u);
	apic_id = lapic_rd(LAPIC_ID) >> 24;
	lapic_wr(LAPIC_TPR, 0);
	lapic_wr(LAPIC_LVT_LINT0, LAPIC_LVT_MASKED);
	lapic_wr(LAPIC_LVT_ERROR, LAPIC_LVT_MASKED);
	lapic_wr(LAPIC_SVR, LAPIC_SVR_ENABLE | X86_VEC_SPURIOUS);
	apic_timer_calibrate();
	slots[0].ioapic = -1;

	const struct bv_boot_info *bi = arch_boot_info();
	acpi_read_madt(bi ? bi->rsdp : 0);
	if (n_ioapics == 0)
		ioapic_add(IOAPIC_DEFAULT, 0);   /* no ACPI (microvm acpi=off): the one there always is */
	bv_logf("x86: local apic %u, timer %llu ticks/ms, %u i/o apic(s)%s\n", (unsigned)apic_id,
	       (unsigned long long)apic_ticks_per_ms, n_ioapics, acpi_seen ? " (acpi madt)" : "");
}

/* ---- the interrupt path ---- */

void x86_irq_dispatch(struct x86_frame *f);
void x86_irq_dispatch(struct x86_frame *f)
{
	if (f->vector < 32) {
		uint64_t cr2;
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		bv_panic("CPU exception %llu, error 0x%llx at rip 0x%llx (cr2 0x%llx, rsp 0x%llx)",
			 (unsigned long long)f->vector, (unsigned long long)f->error,
			 (unsigned long long)f->rip, (unsigned long long)cr2, (unsigned long long)f->rsp);
	}
	if (f->vector == X86_VEC_SPURIOUS) {
		xstats.spurious++;     /* no EOI for the spurious vector */
		return;
	}
	unsigned i = (unsigned)f->vector - X86_VEC_BASE;
	if (i == 0)
		xstats.timer++;
	else if (i < X86_IRQ_VECTORS && slots[i].fn) {
		xstats.device++;
		slots[i].fn(slots[i].ctx);
	} else {
		xstats.stray++;
	}
	/* Also ends a level-triggered I/O APIC interrupt (the EOI is broadcast),
	 * after the handler lowered the line. */
	lapic_wr(LAPIC_EOI, 0);
}

void bv_port_idle(uint64_t deadline_us)
{
	x86_irq_init();
	uint64_t now = bv_port_now_us();
	if (now >= deadline_us)
		return;
	uint64_t ticks = (deadline_us - now) * apic_ticks_per_ms / 1000u + 1;
	lapic_wr(LAPIC_TIMER_INIT, ticks > 0xffffffffu ? 0xffffffffu : (uint32_t)ticks);
	xstats.halts++;
	/* sti holds interrupts off for one more instruction, so one that is
	 * already pending is taken in the hlt and wakes it: none is lost
	 * between the check and the halt. */
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	lapic_wr(LAPIC_TIMER_INIT, 0);
}

static int slot_alloc(bv_port_irq_fn fn, void *ctx)
{
	x86_irq_init();
	if (!fn)
		return BV_EINVAL;
	for (int i = 1; i < X86_IRQ_VECTORS; i++) {
		if (!slots[i].fn) {
			slots[i].fn = fn;
			slots[i].ctx = ctx;
			slots[i].ioapic = -1;
			return i;
		}
	}
	return BV_ENOBUFS;
}

int bv_port_irq_line(uint32_t irq, unsigned flags, bv_port_irq_fn fn, void *ctx)
{
	x86_irq_init();
	for (unsigned a = 0; a < n_ioapics; a++) {
		if (irq < ioapics[a].gsi_base || irq - ioapics[a].gsi_base >= ioapics[a].pins)
			continue;
		int s = slot_alloc(fn, ctx);
		if (s < 0)
			return s;
		uint8_t pin = (uint8_t)(irq - ioapics[a].gsi_base);
		slots[s].ioapic = (int)a;
		slots[s].pin = pin;
		uint32_t lo = (uint32_t)(X86_VEC_BASE + s);
		if (flags & BV_IRQ_LEVEL)
			lo |= IOAPIC_LEVEL;
		if (flags & BV_IRQ_LOW)
			lo |= IOAPIC_LOW;
		ioapic_wr(a, IOAPIC_REDTBL(pin) + 1, apic_id << 24);   /* physical destination */
		ioapic_wr(a, IOAPIC_REDTBL(pin), lo);
		return s;
	}
	return BV_ENOTSUP;
}

int bv_port_irq_msi(bv_port_irq_fn fn, void *ctx, uint64_t *addr, uint32_t *data)
{
	int s = slot_alloc(fn, ctx);
	if (s < 0)
		return s;
	*addr = MSI_ADDR_BASE | (uint64_t)(apic_id & 0xff) << 12;
	*data = (uint32_t)(X86_VEC_BASE + s);   /* fixed delivery, edge */
	return s;
}

void bv_port_irq_off(int h)
{
	if (h <= 0 || h >= X86_IRQ_VECTORS || !slots[h].fn)
		return;
	if (slots[h].ioapic >= 0) {
		unsigned a = (unsigned)slots[h].ioapic;
		ioapic_wr(a, IOAPIC_REDTBL(slots[h].pin),
			  ioapic_rd(a, IOAPIC_REDTBL(slots[h].pin)) | IOAPIC_MASKED);
	}
	/* An MSI cannot be masked here (that is the device's table): dropping
	 * the handler turns its deliveries into counted strays. */
	slots[h].fn = 0;
}

uint32_t x86_microvm_mmio_gsi(unsigned slot)
{
	x86_irq_init();
	if (n_ioapics > 1)
		return 24 + slot;
	return (acpi_seen ? 16u : 5u) + slot;
}

void x86_irq_stats(struct x86_irq_stats *out)
{
	*out = xstats;
}
