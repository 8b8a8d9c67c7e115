/* aarch64 arch layer on QEMU virt: boot info, PL011 console, semihosting
 * exit, generic-timer clock. The MMU and EL2 exit are done earlier, in
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
static uint64_t arch_cnt0, arch_cntfrq;

static uint32_t arch_be32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t arch_counter(void)
{
	uint64_t v;
	/* isb keeps the read from being hoisted above earlier instructions,
	 * so a loop that polls the clock really sees time move. */
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v) :: "memory");
	return v;
}

void arch_init(void)
{
	uint64_t el;

	__asm__ volatile("mrs %0, tpidr_el1" : "=r"(el));   /* saved by start.S */
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(arch_cntfrq));
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
	/* Semihosting SYS_EXIT with the AArch64 two-word block:
	 * ADP_Stopped_ApplicationExit and the status QEMU exits with. */
	static volatile uint64_t block[2];

	block[0] = 0x20026;
	block[1] = (uint64_t)(int64_t)status;
	register uint64_t w0 __asm__("x0") = 0x18;
	register volatile uint64_t *x1 __asm__("x1") = block;
	__asm__ volatile("hlt #0xf000" :: "r"(w0), "r"(x1) : "memory");
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
