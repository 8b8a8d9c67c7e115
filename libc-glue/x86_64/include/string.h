/* SPDX-License-Identifier: BSD-2-Clause */
/* The string.h subset barevsock uses on x86_64, where there is no picolibc.
 * gcc emits calls to mem* on its own, so those must exist even if unused. */
#ifndef BV_X86_STRING_H
#define BV_X86_STRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strstr(const char *hay, const char *needle);

#endif
