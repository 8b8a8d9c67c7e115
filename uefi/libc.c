/* SPDX-License-Identifier: BSD-2-Clause */
/* mem* copies for the UEFI builds (x86_64, aarch64, 32-bit Arm), in plain
 * C: the headers are libc-glue/x86_64/include's, the formatter its printf.c,
 * the comparisons and str* libc-glue/str.c.
 * Copies move a word at a time when both pointers allow it, which matters
 * under TCG where every byte is several host instructions. Plus the 32-bit
 * Arm Windows-ABI 64-bit division helpers clang calls (__rt_udiv64,
 * __rt_sdiv64), since no runtime library comes with the windows targets.
 * Compiled with -fno-builtin so no loop here turns back into a call to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uintptr_t __attribute__((may_alias)) word;
#define WORD_ALIGNED(p) (((uintptr_t)(p) & (sizeof(word) - 1)) == 0)

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (WORD_ALIGNED(d) && WORD_ALIGNED(s)) {
		for (; n >= sizeof(word); n -= sizeof(word), d += sizeof(word), s += sizeof(word))
			*(word *)(void *)d = *(const word *)(const void *)s;
	}
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	if ((uintptr_t)dst - (uintptr_t)src >= n)   /* no harmful overlap */
		return memcpy(dst, src, n);
	/* dst overlaps the tail of src: copy backwards. */
	unsigned char *d = (unsigned char *)dst + n;
	const unsigned char *s = (const unsigned char *)src + n;
	while (n--)
		*--d = *--s;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	if (WORD_ALIGNED(d) && n >= sizeof(word)) {
		word w = (unsigned char)c;
		w |= w << 8;
		w |= w << 16;
		if (sizeof(word) == 8)
			w |= w << 16 << 16;
		for (; n >= sizeof(word); n -= sizeof(word), d += sizeof(word))
			*(word *)(void *)d = w;
	}
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

#if defined(__arm__)
/* Shift-and-subtract: no '/' here, or the compiler would call us. */
static uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t *rem)
{
	uint64_t q = 0, r = 0;

	for (int i = 63; i >= 0; i--) {
		r = r << 1 | ((n >> i) & 1);
		if (r >= d) {
			r -= d;
			q |= 1ull << i;
		}
	}
	*rem = r;
	return q;
}

void uefi_udivmod64(uint64_t n, uint64_t d, uint64_t out[2]);
void uefi_udivmod64(uint64_t n, uint64_t d, uint64_t out[2])
{
	out[0] = udivmod64(n, d, &out[1]);
}

void uefi_sdivmod64(int64_t n, int64_t d, uint64_t out[2]);
void uefi_sdivmod64(int64_t n, int64_t d, uint64_t out[2])
{
	uint64_t un = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
	uint64_t ud = d < 0 ? 0 - (uint64_t)d : (uint64_t)d, r;
	uint64_t q = udivmod64(un, ud, &r);
	/* C truncates toward zero: the remainder takes the dividend's sign. */
	out[0] = (n < 0) != (d < 0) ? 0 - q : q;
	out[1] = n < 0 ? 0 - r : r;
}

/* The Windows-on-Arm helpers take the divisor in r0:r1 and the dividend in
 * r2:r3 (clang has already trapped a zero divisor) and return the quotient
 * in r0:r1 and the remainder in r2:r3. Swap into AAPCS order, pass a
 * 16-byte result slot on the stack, load it back into r0-r3. */
#define UEFI_RT_DIV64(name, helper) \
	__attribute__((naked)) void name(void); \
	__attribute__((naked)) void name(void) \
	{ \
		__asm__ volatile( \
			"push {r4, lr}\n\t" \
			"sub sp, sp, #24\n\t" \
			"mov r12, r0\n\t" \
			"mov r4, r1\n\t" \
			"mov r0, r2\n\t" \
			"mov r1, r3\n\t" \
			"mov r2, r12\n\t" \
			"mov r3, r4\n\t" \
			"add r12, sp, #8\n\t" \
			"str r12, [sp]\n\t" \
			"bl " #helper "\n\t" \
			"ldrd r0, r1, [sp, #8]\n\t" \
			"ldrd r2, r3, [sp, #16]\n\t" \
			"add sp, sp, #24\n\t" \
			"pop {r4, pc}\n\t"); \
	}
UEFI_RT_DIV64(__rt_udiv64, uefi_udivmod64)
UEFI_RT_DIV64(__rt_sdiv64, uefi_sdivmod64)
#endif
