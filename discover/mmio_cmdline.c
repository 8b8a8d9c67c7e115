/* SPDX-License-Identifier: BSD-2-Clause */
/* virtio_mmio.device= parsing (see mmio_cmdline.h): strict, so a typo is
 * reported instead of probing a wrong address. Bounded by the entry's
 * length; no libc. */
#include "bv/err.h"
#include "bv/log.h"
#include "discover/mmio_cmdline.h"

/* An unsigned number in C notation at s[*i..len). BV_OK or BV_EINVAL. */
static int number(const char *s, size_t len, size_t *i, uint64_t *out, const char **why, const char *what_missing,
		  const char *what_big)
{
	unsigned base = 10;
	size_t p = *i;
	if (p + 1 < len && s[p] == '0' && (s[p + 1] == 'x' || s[p + 1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p < len && s[p] == '0') {
		base = 8;
	}
	size_t first = p;
	uint64_t v = 0;
	for (; p < len; p++) {
		unsigned d;
		char c = s[p];
		if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
		else break;
		if (d >= base)
			break;
		if (v > (UINT64_MAX - d) / base) {
			*why = what_big;
			return BV_EINVAL;
		}
		v = v * base + d;
	}
	if (p == first) {
		*why = what_missing;
		return BV_EINVAL;
	}
	*i = p;
	*out = v;
	return BV_OK;
}

int mmio_cmdline_parse(const char *s, size_t len, struct mmio_cmdline_dev *out, const char **why)
{
	size_t i = 0;
	uint64_t v;
	*out = (struct mmio_cmdline_dev){ 0 };
	if (number(s, len, &i, &out->size, why, "the size is missing or not a number",
		   "the size is too large") < 0)
		return BV_EINVAL;
	if (i < len && s[i] != '@') {
		unsigned shift;
		switch (s[i]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default:
			*why = "the size has an unknown suffix (K, M or G are allowed)";
			return BV_EINVAL;
		}
		if (out->size > UINT64_MAX >> shift) {
			*why = "the size is too large";
			return BV_EINVAL;
		}
		out->size <<= shift;
		i++;
	}
	if (out->size == 0) {
		*why = "the size is 0";
		return BV_EINVAL;
	}
	if (i >= len || s[i] != '@') {
		*why = "'@' must follow the size";
		return BV_EINVAL;
	}
	i++;
	if (number(s, len, &i, &out->base, why, "the base address after '@' is missing or not a number",
		   "the base address is too large") < 0)
		return BV_EINVAL;
	if (i >= len || s[i] != ':') {
		*why = "':' and the interrupt number must follow the base address";
		return BV_EINVAL;
	}
	i++;
	/* irq and id are plain decimal in Linux's parser (%u, %d). */
	size_t first = i;
	v = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX) {
			*why = "the interrupt number is too large";
			return BV_EINVAL;
		}
	}
	if (i == first) {
		*why = "the interrupt number after ':' is missing or not a decimal number";
		return BV_EINVAL;
	}
	out->irq = (uint32_t)v;
	if (i < len && s[i] == ':') {
		i++;
		int neg = i < len && s[i] == '-';
		i += (size_t)neg;
		first = i;
		v = 0;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			v = v * 10 + (uint64_t)(s[i] - '0');
			if (v > (uint64_t)INT32_MAX + neg) {
				*why = "the device id is out of range";
				return BV_EINVAL;
			}
		}
		if (i == first) {
			*why = "the device id after the second ':' is missing or not a decimal number";
			return BV_EINVAL;
		}
		out->has_id = 1;
		out->id = neg ? (int32_t)(0 - v) : (int32_t)v;
	}
	if (i != len) {
		*why = "unexpected text after the entry";
		return BV_EINVAL;
	}
	return BV_OK;
}

int mmio_cmdline_scan(const char *c, void (*fn)(void *ctx, const struct mmio_cmdline_dev *dev), void *ctx)
{
	static const char key[] = MMIO_CMDLINE_KEY;
	const size_t klen = sizeof(key) - 1;
	int good = 0;
	if (!c)
		return 0;
	for (size_t i = 0; c[i];) {
		while (c[i] == ' ' || c[i] == '\t')
			i++;
		size_t start = i;
		while (c[i] && c[i] != ' ' && c[i] != '\t')
			i++;
		size_t wlen = i - start;
		const char *w = c + start;
		size_t k = 0;
		while (k < klen && k < wlen && w[k] == key[k])
			k++;
		if (k != klen)
			continue;       /* some other parameter */
		struct mmio_cmdline_dev dev;
		const char *why = "";
		if (mmio_cmdline_parse(w + klen, wlen - klen, &dev, &why) < 0) {
			/* The word, bounded: a command line can be long. */
			int shown = wlen > 80 ? 80 : (int)wlen;
			char text[81];
			for (int j = 0; j < shown; j++)
				text[j] = w[j];
			text[shown] = 0;
			bv_logf("discover: ignoring '%s%s': %s; expected %s\n", text, wlen > 80 ? "..." : "",
				why, MMIO_CMDLINE_FORM);
			continue;
		}
		fn(ctx, &dev);
		good++;
	}
	return good;
}
