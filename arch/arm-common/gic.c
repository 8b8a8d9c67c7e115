/* SPDX-License-Identifier: BSD-2-Clause */
/* Interrupts on QEMU's Arm "virt" board, only to wake the CPU from WFI: the
 * GIC (v2, or v3 with gic-version=3; told apart by the distributor's
 * PIDR2), the EL1/PL1 virtual timer for the idle deadline, and wired lines
 * (SPIs, PPIs) for devices. IRQs stay masked in PSTATE/CPSR the whole time:
 * WFI wakes on a pending interrupt anyway, and bv_port_idle() then
 * acknowledges at the CPU interface by polling, calls the handler and ends
 * the interrupt. So there are no exception vectors and nothing runs
 * asynchronously. Not here: MSI (GICv2m, ITS), SGIs, SMP, the secure side,
 * interrupt controllers of other boards. */
#include <stdint.h>
#include "bv/arch.h"
#include "bv/err.h"
#include "bv/log.h"
#include "arch/arm-common/arm_irq.h"
#include "arch/arm-common/virt.h"

/* Where QEMU's virt board puts the GIC (hw/arm/virt.c, base_memmap). */
#define GICD_BASE        0x08000000UL
#define GICC_BASE        0x08010000UL   /* v2 CPU interface */
#define GICR_BASE        0x080a0000UL   /* v3 redistributor of CPU 0 */
#define GICR_SGI         0x10000UL      /* its SGI/PPI frame */

#define GICD_CTLR        0x000
#define GICD_IGROUPR     0x080
#define GICD_ISENABLER   0x100
#define GICD_ICENABLER   0x180
#define GICD_IPRIORITYR  0x400
#define GICD_ITARGETSR   0x800
#define GICD_ICFGR       0xc00
#define GICD_IROUTER     0x6000
#define GICD_PIDR2_V3    0xffe8         /* v3/v4: in the 64 KiB distributor frame */
#define GICD_PIDR2_V2    0xfe8          /* v1/v2: in its 4 KiB */
#define GICD_CTLR_RWP    (1u << 31)
#define GICD_CTLR_ARE    (1u << 4)      /* v3, single security state */
#define GICD_CTLR_GRP1   (1u << 1)
#define GICD_CTLR_GRP0   (1u << 0)

#define GICC_CTLR        0x00
#define GICC_PMR         0x04
#define GICC_BPR         0x08
#define GICC_IAR         0x0c
#define GICC_EOIR        0x10

#define GICR_WAKER       0x14
#define GICR_WAKER_SLEEP (1u << 1)
#define GICR_WAKER_ASLEEP (1u << 2)

#define GIC_PRIO         0xa0           /* above the 0xf0 priority mask */
#define GIC_SPURIOUS     1020           /* INTIDs 1020-1023 are special */
#define VTIMER_PPI       27             /* virtual timer: PPI 11 on every virt machine */
#define GIC_SLOTS        8
#define GIC_SERVICE_MAX  64             /* acknowledgements per wake-up, so a line that never drops cannot hold us */
#define QEMU_CNTFRQ      62500000u
#define IDLE_MAX_US      10000000ull    /* one timer programming covers at most 10 s (no overflow) */

struct gic_slot {
	bv_port_irq_fn fn;
	void *ctx;
	uint32_t intid;
};

static int gic_state;          /* 0 not set up, 2 or 3: the GIC version in use, -1 unusable */
static struct gic_slot slots[GIC_SLOTS];
static uint64_t idle_halts, idle_irqs, idle_timer, idle_stray;

static uint32_t rd(uintptr_t a) { return bv_mmio_read32(a); }
static void wr(uintptr_t a, uint32_t v) { bv_mmio_write32(a, v); }

static void dist_wait(void)
{
	for (unsigned i = 0; i < 100000 && (rd(GICD_BASE + GICD_CTLR) & GICD_CTLR_RWP); i++)
		bv_port_relax();
}

/* Configure and enable one interrupt. SPIs in the distributor; for v3, SGIs
 * and PPIs live in CPU 0's redistributor. */
static void gic_enable(uint32_t id, unsigned flags)
{
	int v3 = gic_state == 3;
	uintptr_t base = GICD_BASE;
	if (v3 && id < 32)
		base = GICR_BASE + GICR_SGI;
	uintptr_t cfg = base + GICD_ICFGR + 4 * (id / 16);
	unsigned sh = 2 * (id % 16) + 1;
	if (id >= 32) {      /* PPI trigger modes are fixed on QEMU's GIC */
		uint32_t c = rd(cfg);
		c = (flags & BV_IRQ_LEVEL) ? c & ~(1u << sh) : c | (1u << sh);
		wr(cfg, c);
	}
	uintptr_t pr = base + GICD_IPRIORITYR + (id & ~3u);
	wr(pr, (rd(pr) & ~(0xffu << 8 * (id & 3))) | (uint32_t)GIC_PRIO << 8 * (id & 3));
	if (v3) {
		uintptr_t g = base + GICD_IGROUPR + 4 * (id / 32);
		wr(g, rd(g) | 1u << (id % 32));   /* group 1: acknowledged through ICC_IAR1 */
		if (id >= 32) {
			wr(GICD_BASE + GICD_IROUTER + 8 * id, 0);        /* affinity 0.0.0.0: CPU 0 */
			wr(GICD_BASE + GICD_IROUTER + 8 * id + 4, 0);
		}
	} else if (id >= 32) {
		uintptr_t t = GICD_BASE + GICD_ITARGETSR + (id & ~3u);
		wr(t, (rd(t) & ~(0xffu << 8 * (id & 3))) | 1u << 8 * (id & 3));   /* CPU interface 0 */
	}
	wr(base + GICD_ISENABLER + 4 * (id / 32), 1u << (id % 32));
	if (v3 && id >= 32)
		dist_wait();
}

static void gic_init(void)
{
	if (gic_state)
		return;
	/* v2 first: its distributor is 4 KiB, and reading the v3 offset
	 * beyond it is an external abort. On a v3, that v2 offset is a reserved
	 * register, which reads as zero. */
	uint32_t arch = (rd(GICD_BASE + GICD_PIDR2_V2) >> 4) & 0xf;
	if (arch != 1 && arch != 2)
		arch = (rd(GICD_BASE + GICD_PIDR2_V3) >> 4) & 0xf;
	if (arch == 3 || arch == 4) {
		gic_state = 3;
		wr(GICD_BASE + GICD_CTLR, 0);
		dist_wait();
		wr(GICD_BASE + GICD_CTLR, GICD_CTLR_ARE | GICD_CTLR_GRP1 | GICD_CTLR_GRP0);
		dist_wait();
		/* Wake CPU 0's redistributor, or it forwards nothing. */
		wr(GICR_BASE + GICR_WAKER, rd(GICR_BASE + GICR_WAKER) & ~GICR_WAKER_SLEEP);
		for (unsigned i = 0; i < 100000 && (rd(GICR_BASE + GICR_WAKER) & GICR_WAKER_ASLEEP); i++)
			bv_port_relax();
		arm_icc_enable();
	} else if (arch == 1 || arch == 2) {
		gic_state = 2;
		wr(GICD_BASE + GICD_CTLR, 1);
		wr(GICC_BASE + GICC_PMR, 0xf0);
		wr(GICC_BASE + GICC_BPR, 0);
		wr(GICC_BASE + GICC_CTLR, 1);
	} else {
		gic_state = -1;     /* not the GIC we know: no interrupts, idle polls */
		bv_logf("arm: no GICv2/v3 at 0x%lx (PIDR2 arch %u): polling instead of halting\n",
		       (unsigned long)GICD_BASE, (unsigned)arch);
		return;
	}
	gic_enable(VTIMER_PPI, BV_IRQ_LEVEL);
	bv_logf("arm: gic v%d, wake-ups by the virtual timer (intid %d) and device lines\n",
	       gic_state, VTIMER_PPI);
}

static uint32_t gic_ack(void)
{
	return gic_state == 3 ? arm_icc_iar1() & 0xffffff : rd(GICC_BASE + GICC_IAR) & 0x3ff;
}

static void gic_eoi(uint32_t id)
{
	if (gic_state == 3)
		arm_icc_eoir1(id);
	else
		wr(GICC_BASE + GICC_EOIR, id);
}

/* Take every pending interrupt: handlers acknowledge their devices (a level
 * line drops), then the GIC is told we are done. */
static void gic_service(void)
{
	for (unsigned n = 0; n < GIC_SERVICE_MAX; n++) {
		uint32_t id = gic_ack();
		if (id >= GIC_SPURIOUS && id < 1024)
			return;
		struct gic_slot *s = 0;
		for (unsigned i = 0; i < GIC_SLOTS && !s; i++)
			if (slots[i].fn && slots[i].intid == id)
				s = &slots[i];
		if (s) {
			idle_irqs++;
			s->fn(s->ctx);
		} else if (id == VTIMER_PPI) {
			idle_timer++;
		} else {
			idle_stray++;
		}
		gic_eoi(id);
	}
}

void bv_port_idle(uint64_t deadline_us)
{
	gic_init();
	uint64_t now = bv_port_now_us();
	if (now >= deadline_us)
		return;
	if (gic_state < 0) {
		bv_port_relax();       /* no interrupt controller: return early, callers poll */
		return;
	}
	uint64_t us = deadline_us - now;
	if (us > IDLE_MAX_US)
		us = IDLE_MAX_US;
	uint64_t f = arm_counter_freq() ? arm_counter_freq() : QEMU_CNTFRQ;
	arm_vtimer_arm(arm_counter() + us * f / 1000000u + 1);
	idle_halts++;
	arm_wfi();
	arm_vtimer_stop();
	gic_service();
}

int bv_port_irq_line(uint32_t irq, unsigned flags, bv_port_irq_fn fn, void *ctx)
{
	gic_init();
	if (gic_state < 0 || irq < 16 || irq >= GIC_SPURIOUS || irq == VTIMER_PPI || !fn)
		return BV_ENOTSUP;
	for (int i = 0; i < GIC_SLOTS; i++) {
		if (slots[i].fn)
			continue;
		slots[i].fn = fn;
		slots[i].ctx = ctx;
		slots[i].intid = irq;
		/* The GIC has no polarity control: active-low lines are inverted
		 * before they reach it, so level means level here. */
		gic_enable(irq, flags);
		return i;
	}
	return BV_ENOBUFS;
}

int bv_port_irq_msi(bv_port_irq_fn fn, void *ctx, uint64_t *addr, uint32_t *data)
{
	(void)fn; (void)ctx; (void)addr; (void)data;
	return BV_ENOTSUP;   /* no GICv2m/ITS support: PCI devices use INTx */
}

void bv_port_irq_off(int h)
{
	if (h < 0 || h >= GIC_SLOTS || !slots[h].fn)
		return;
	uint32_t id = slots[h].intid;
	uintptr_t base = gic_state == 3 && id < 32 ? GICR_BASE + GICR_SGI : GICD_BASE;
	wr(base + GICD_ICENABLER + 4 * (id / 32), 1u << (id % 32));
	slots[h].fn = 0;
}
