/* SPDX-License-Identifier: BSD-2-Clause */
/* SHA-256 (FIPS 180-4), streaming, for apps/fetch: hash a blob as it
 * arrives without holding it. Non-goals: speed (one block at a time, no
 * SIMD), other SHA-2 sizes, HMAC. */
#ifndef BV_FETCH_SHA256_H
#define BV_FETCH_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST 32

struct sha256 {
	uint32_t h[8];
	uint64_t bytes;          /* message length so far */
	uint8_t block[64];
	unsigned used;           /* bytes waiting in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
/* Pad, finish, write the digest; s must be initialised again before reuse. */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_DIGEST]);
/* The digest as 64 lowercase hex digits and a NUL. */
void sha256_hex(const uint8_t d[SHA256_DIGEST], char out[2 * SHA256_DIGEST + 1]);

#endif
