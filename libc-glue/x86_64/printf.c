/* SPDX-License-Identifier: BSD-2-Clause */
/* A compact printf family for the x86_64 image and the UEFI builds (uefi/): %d %i %u %x %X %o %p %s %c %%
 * with flags '-' and '0', width, precision (strings and integers), and the
 * length modifiers hh h l ll z j t. No floating point: nothing in the guest
 * prints one. Output goes through one sink so printf and snprintf share it. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "bv/arch.h"

struct fmt_sink {
	char *buf;      /* NULL: the console */
	size_t size, len;
};

static void sink_put(struct fmt_sink *s, char c)
{
	if (!s->buf)
		arch_putc(c);
	else if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

static void sink_pad(struct fmt_sink *s, char c, int n)
{
	while (n-- > 0)
		sink_put(s, c);
}

/* One integer conversion: digits of v in base, sign/prefix, then padding. */
static void fmt_int(struct fmt_sink *s, uint64_t v, int neg, unsigned base, int upper,
		    int width, int prec, int left, int zero, const char *prefix)
{
	char digits[24];
	int n = 0;
	const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	do {
		digits[n++] = set[v % base];
		v /= base;
	} while (v);
	if (prec == 0 && n == 1 && digits[0] == '0')
		n = 0;   /* "%.0d" of zero prints nothing, as C says */
	int body = (prec > n ? prec : n) + (neg ? 1 : 0) + (int)strlen(prefix);
	if (!left && !(zero && prec < 0))
		sink_pad(s, ' ', width - body);
	if (neg)
		sink_put(s, '-');
	for (; *prefix; prefix++)
		sink_put(s, *prefix);
	if (!left && zero && prec < 0)
		sink_pad(s, '0', width - body);
	sink_pad(s, '0', prec - n);
	while (n)
		sink_put(s, digits[--n]);
	if (left)
		sink_pad(s, ' ', width - body);
}

static int fmt_run(struct fmt_sink *s, const char *f, va_list ap)
{
	for (; *f; f++) {
		if (*f != '%') {
			sink_put(s, *f);
			continue;
		}
		int left = 0, zero = 0, width = 0, prec = -1, lng = 0;
		for (f++; *f == '-' || *f == '0'; f++)
			*f == '-' ? (left = 1) : (zero = 1);
		if (*f == '*') {
			width = va_arg(ap, int);
			if (width < 0)
				left = 1, width = -width;
			f++;
		}
		for (; *f >= '0' && *f <= '9'; f++)
			width = width * 10 + (*f - '0');
		if (*f == '.') {
			prec = 0;
			if (*++f == '*') {
				prec = va_arg(ap, int);
				f++;
			}
			for (; *f >= '0' && *f <= '9'; f++)
				prec = prec * 10 + (*f - '0');
		}
		/* lng: -2 hh, -1 h, 0 int, 1 a 64-bit argument. Whether l, z and t
		 * are 64 bits depends on the data model (LP64 here, LLP64 and
		 * ILP32 in the UEFI builds that share this file). */
		for (;; f++) {
			if (*f == 'h')
				lng--;
			else if (*f == 'l' && f[1] == 'l')
				lng = 1, f++;
			else if (*f == 'l')
				lng = sizeof(long) == 8;
			else if (*f == 'z' || *f == 't')
				lng = sizeof(size_t) == 8;
			else if (*f == 'j')
				lng = 1;
			else
				break;
		}
		uint64_t u;
		int64_t i;
		switch (*f) {
		case 'd': case 'i':
			i = lng > 0 ? va_arg(ap, int64_t) : va_arg(ap, int);
			if (lng == -1) i = (short)i;
			if (lng <= -2) i = (signed char)i;
			fmt_int(s, i < 0 ? 0 - (uint64_t)i : (uint64_t)i, i < 0, 10, 0, width, prec, left, zero, "");
			break;
		case 'u': case 'x': case 'X': case 'o':
			u = lng > 0 ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			if (lng == -1) u = (unsigned short)u;
			if (lng <= -2) u = (unsigned char)u;
			fmt_int(s, u, 0, *f == 'u' ? 10 : *f == 'o' ? 8 : 16, *f == 'X',
				width, prec, left, zero, "");
			break;
		case 'p':
			fmt_int(s, (uintptr_t)va_arg(ap, void *), 0, 16, 0, width, prec, left, 0, "0x");
			break;
		case 'c':
			if (!left) sink_pad(s, ' ', width - 1);
			sink_put(s, (char)va_arg(ap, int));
			if (left) sink_pad(s, ' ', width - 1);
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			int n = 0;
			while (str[n] && (prec < 0 || n < prec))
				n++;
			if (!left) sink_pad(s, ' ', width - n);
			for (int k = 0; k < n; k++)
				sink_put(s, str[k]);
			if (left) sink_pad(s, ' ', width - n);
			break;
		}
		case '%':
			sink_put(s, '%');
			break;
		default:   /* unknown conversion: show it rather than eat arguments */
			sink_put(s, '%');
			if (!*f)
				return (int)s->len;
			sink_put(s, *f);
			break;
		}
	}
	return (int)s->len;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	static char none[1];
	struct fmt_sink s = { size ? buf : none, size ? size : 1, 0 };
	int n = fmt_run(&s, fmt, ap);

	s.buf[s.len < s.size ? s.len : s.size - 1] = '\0';
	return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int vprintf(const char *fmt, va_list ap)
{
	struct fmt_sink s = { NULL, 0, 0 };
	return fmt_run(&s, fmt, ap);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int putchar(int c)
{
	arch_putc((char)c);
	return (unsigned char)c;
}

int puts(const char *s)
{
	while (*s)
		arch_putc(*s++);
	arch_putc('\n');
	return 0;
}
