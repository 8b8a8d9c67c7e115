/* SPDX-License-Identifier: BSD-2-Clause */
/* mem* copies for the x86_64 image (the comparisons and str* are in
 * libc-glue/str.c). They use rep movsb/stosb: short code, and fast on CPUs
 * with ERMS (and under TCG, which runs them as one helper call), and gcc
 * cannot turn them back into a call to the function being defined. */
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	void *d = dst;
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) :: "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	if ((uintptr_t)dst - (uintptr_t)src >= n)   /* no harmful overlap */
		return memcpy(dst, src, n);
	/* dst overlaps the tail of src: copy backwards. */
	void *d = (char *)dst + n - 1;
	const void *s = (const char *)src + n - 1;
	__asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}
