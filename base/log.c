/* SPDX-License-Identifier: BSD-2-Clause */
/* bv_logf and bv_snprintf (bv/log.h): one formatting loop, two sinks (a
 * chunk buffer flushed to bv_port_log, or the caller's buffer). Part of the
 * library, so it calls nothing but the port. */
#include <stdarg.h>
#include <stdint.h>
#include "bv/log.h"
#include "bv/port.h"

struct sink {
	char *buf;
	size_t size, len;       /* len counts every character produced */
	int to_log;             /* buf is a BV_LOG_CHUNK chunk flushed to the port */
};

static void put(struct sink *s, char c)
{
	if (s->to_log) {
		if (s->len == BV_LOG_CHUNK) {
			bv_port_log(s->buf, s->len);
			s->len = 0;
		}
		s->buf[s->len++] = c;
		return;
	}
	if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

static void pad(struct sink *s, char c, int n)
{
	while (n-- > 0)
		put(s, c);
}

/* Unsigned value in base 10 or 16, with width and '0'/'-' handling. */
static void number(struct sink *s, unsigned long long v, unsigned base, int upper,
		   int neg, int width, int zero, int left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	int len = n + neg;
	if (!left && !zero)
		pad(s, ' ', width - len);
	if (neg)
		put(s, '-');
	if (!left && zero)
		pad(s, '0', width - len);
	while (n)
		put(s, tmp[--n]);
	if (left)
		pad(s, ' ', width - len);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(s, *fmt);
			continue;
		}
		fmt++;
		int zero = 0, left = 0, width = 0, lng = 0;
		for (;; fmt++) {
			if (*fmt == '0') zero = 1;
			else if (*fmt == '-') left = 1;
			else break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == 'z') {
			lng = sizeof(size_t) > sizeof(unsigned) ? 2 : 0;
			fmt++;
		} else {
			while (*fmt == 'l' && lng < 2) {
				lng++;
				fmt++;
			}
		}
		switch (*fmt) {
		case 'd': case 'i': {
			long long v = lng == 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
			unsigned long long m = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
			number(s, m, 10, 0, v < 0, width, zero, left);
			break;
		}
		case 'u': case 'x': case 'X': {
			unsigned long long v = lng == 2 ? va_arg(ap, unsigned long long) :
				lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			number(s, v, *fmt == 'u' ? 10 : 16, *fmt == 'X', 0, width, zero, left);
			break;
		}
		case 'p':
			put(s, '0');
			put(s, 'x');
			number(s, (uintptr_t)va_arg(ap, void *), 16, 0, 0, width > 2 ? width - 2 : 0, zero, left);
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);
			if (!left)
				pad(s, ' ', width - 1);
			put(s, c);
			if (left)
				pad(s, ' ', width - 1);
			break;
		}
		case 's': {
			const char *str = va_arg(ap, const char *);
			int n = 0;
			if (!str)
				str = "(null)";
			/* Count only as far as the padding needs: a plain counting
			 * loop is one gcc turns into a call to strlen, which the
			 * library must not need. */
			if (!left) {
				while (n < width && str[n])
					n++;
				pad(s, ' ', width - n);
			}
			for (n = 0; str[n]; n++)
				put(s, str[n]);
			if (left)
				pad(s, ' ', width - n);
			break;
		}
		case '%':
			put(s, '%');
			break;
		default:
			/* Unsupported: say so visibly, and resynchronise after it. */
			put(s, '%');
			put(s, '?');
			if (!*fmt)
				return;
			break;
		}
	}
}

void bv_vlogf(const char *fmt, va_list ap)
{
	char chunk[BV_LOG_CHUNK];
	struct sink s = { .buf = chunk, .size = sizeof(chunk), .to_log = 1 };
	format(&s, fmt, ap);
	if (s.len)
		bv_port_log(chunk, s.len);
}

void bv_logf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bv_vlogf(fmt, ap);
	va_end(ap);
}

int bv_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = { .buf = buf, .size = size };
	format(&s, fmt, ap);
	if (size)
		buf[s.len < size ? s.len : size - 1] = 0;
	return (int)s.len;
}

int bv_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = bv_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
