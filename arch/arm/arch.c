/* arm32 arch layer on QEMU virt: boot info, PL011 console, semihosting
 * exit, generic-timer clock. The MMU and HYP exit are done earlier, in
 * start.S. Not here: interrupts (we poll), multiple CPUs. */
#include <stdint.h>
#include "bv/arch.h"
#include "libc-glue/picolibc/glue.h"

#define ARCH_RAM_BASE   0x40000000UL
#define ARCH_PL011      0x09000000UL
#define ARCH_PL011_DR   0x00
#define ARCH_PL011_FR   0x18
#define ARCH_FR_RXFE    (1u << 4)
#define ARCH_FR_TXFF    (1u << 5)
#define ARCH_FDT_MAGIC  0xd00dfeedu

static struct bv_boot_info arch_bi;
static uint64_t arch_cnt0;
static uint32_t arch_cntfrq;

static uint32_t arch_be32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t arch_counter(void)
{
	uint32_t lo, hi;
	/* isb keeps the read from being hoisted above earlier instructions,
	 * so a loop that polls the clock really sees time move. */
	__asm__ volatile("isb; mrrc p15, 1, %0, %1, c14" : "=r"(lo), "=r"(hi) :: "memory");
	return (uint64_t)hi << 32 | lo;
}

void arch_init(void)
{
	uint32_t el;

	__asm__ volatile("mrc p15, 0, %0, c13, c0, 4" : "=r"(el));   /* TPIDRPRW, from start.S */
	__asm__ volatile("mrc p15, 0, %0, c14, c0, 0" : "=r"(arch_cntfrq));
	if (arch_cntfrq == 0)
		arch_cntfrq = 62500000;   /* QEMU's value; never divide by zero */
	arch_cnt0 = arch_counter();

	arch_bi.el = (int)el;
	arch_bi.ram_base = ARCH_RAM_BASE;
	if (arch_be32((const void *)ARCH_RAM_BASE) == ARCH_FDT_MAGIC)
		arch_bi.fdt = (const void *)ARCH_RAM_BASE;
}

const struct bv_boot_info *arch_boot_info(void)
{
	return &arch_bi;
}

void arch_putc(char c)
{
	while (mmio_read32(ARCH_PL011 + ARCH_PL011_FR) & ARCH_FR_TXFF)
		arch_relax();
	mmio_write32(ARCH_PL011 + ARCH_PL011_DR, (uint8_t)c);
}

int arch_getc(void)
{
	while (mmio_read32(ARCH_PL011 + ARCH_PL011_FR) & ARCH_FR_RXFE)
		arch_relax();
	return (int)(mmio_read32(ARCH_PL011 + ARCH_PL011_DR) & 0xff);
}

_Noreturn void arch_exit(int status)
{
	/* Semihosting SYS_EXIT_EXTENDED: plain SYS_EXIT on A32 cannot carry a
	 * status. Block = ADP_Stopped_ApplicationExit, status. */
	static volatile uint32_t block[2];

	block[0] = 0x20026;
	block[1] = (uint32_t)status;
	register uint32_t r0 __asm__("r0") = 0x20;
	register volatile uint32_t *r1 __asm__("r1") = block;
#ifdef __thumb__
	__asm__ volatile("svc 0xab" : "+r"(r0) : "r"(r1) : "memory");
#else
	__asm__ volatile("svc 0x123456" : "+r"(r0) : "r"(r1) : "memory");
#endif
	for (;;)
		__asm__ volatile("wfi");
}

uint64_t arch_now_us(void)
{
	uint64_t ticks = arch_counter() - arch_cnt0;

	/* Split the division so ticks * 1e6 cannot overflow. */
	return ticks / arch_cntfrq * 1000000u + ticks % arch_cntfrq * 1000000u / arch_cntfrq;
}

void arch_relax(void)
{
	__asm__ volatile("yield" ::: "memory");
}
