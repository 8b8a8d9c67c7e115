/* SPDX-License-Identifier: BSD-2-Clause */
/* fetch: what firmware asks a host for before any OS runs, on vsock_rpc.h.
 * Connects to the host (CID 2) on port 5600 with bounded retry (the host
 * service may not listen yet), asks for a named blob, hashes it with SHA-256
 * as it streams in, prints the digest, and has the host confirm it. Exits 0
 * once the host says VERIFIED. Options on the command line (-append, or the
 * UEFI load options): fetch.port=N, fetch.name=NAME.
 * Protocol, every message length-prefixed (vsock_rpc.h):
 *   -> "GET <name>"        <- "OK" then the blob as one message, or "ERR <why>"
 *   -> "SHA256 <hex>"      <- "VERIFIED" or "MISMATCH <host's hex>"
 * Non-goals: several blobs, writing the blob anywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apps/fetch/sha256.h"
#include "bv/arch.h"
#include "bv/err.h"
#include "bv/exit.h"
#include "bv/time.h"
#include "discover/discover.h"  /* vsock_dev_init */
#include "vsock/vsock.h"
#include "vsock/vsock_rpc.h"

#define FETCH_PORT        5600
#define FETCH_NAME        "boot-config"
#define FETCH_TIMEOUT_MS  60000
#define FETCH_NAME_MAX    64

static uint8_t chunk[4096];

/* "key=value" from the command line into buf, or def. */
static const char *option(const char *key, const char *def, char *buf, size_t size)
{
	const char *cl = arch_boot_info()->cmdline;
	size_t klen = strlen(key);
	for (const char *p = cl ? cl : ""; *p; ) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - w) > klen && memcmp(w, key, klen) == 0 && w[klen] == '=') {
			size_t n = (size_t)(p - w) - klen - 1;
			if (n >= size)
				n = size - 1;
			memcpy(buf, w + klen + 1, n);
			buf[n] = '\0';
			return buf;
		}
	}
	return def;
}

static void on_retry(void *ctx, unsigned attempt, int err, uint32_t delay_ms)
{
	(void)ctx;
	printf("fetch: attempt %u: %s, retrying in %u ms\n", attempt, bv_strerror(err), (unsigned)delay_ms);
}

/* The blob: one length-prefixed message, hashed as it streams in. */
static int receive_blob(int h, uint8_t digest[SHA256_DIGEST], uint32_t *size)
{
	struct sha256 s;
	uint32_t len;
	int rc = vsock_rpc_recv_len(h, &len, FETCH_TIMEOUT_MS);
	if (rc <= 0)
		return rc == 0 ? BV_EPROTO : rc;
	sha256_init(&s);
	for (uint32_t left = len; left; ) {
		uint32_t n = left < sizeof(chunk) ? left : (uint32_t)sizeof(chunk);
		rc = vsock_rpc_read_exact(h, chunk, n, FETCH_TIMEOUT_MS);
		if (rc < 0)
			return rc;
		sha256_update(&s, chunk, n);
		left -= n;
	}
	sha256_final(&s, digest);
	*size = len;
	return BV_OK;
}

static int fetch(int h, const char *name)
{
	char msg[128];
	int n = snprintf(msg, sizeof(msg), "GET %s", name);
	int rc = vsock_rpc_call(h, msg, (uint32_t)n, msg, sizeof(msg) - 1, FETCH_TIMEOUT_MS);
	if (rc < 0) {
		printf("fetch: request failed: %s\n", bv_strerror(rc));
		return rc;
	}
	msg[rc] = '\0';
	if (strcmp(msg, "OK") != 0) {
		printf("fetch: host refused %s: %s\n", name, msg);
		return BV_EPROTO;
	}
	uint8_t digest[SHA256_DIGEST];
	char hex[2 * SHA256_DIGEST + 1];
	uint32_t size = 0;
	uint64_t t0 = bv_now_us();
	rc = receive_blob(h, digest, &size);
	if (rc < 0) {
		printf("fetch: receiving %s failed: %s\n", name, bv_strerror(rc));
		return rc;
	}
	sha256_hex(digest, hex);
	printf("fetch: %s: %u bytes in %u ms, sha256 %s\n", name, (unsigned)size,
	       (unsigned)((bv_now_us() - t0) / 1000), hex);

	n = snprintf(msg, sizeof(msg), "SHA256 %s", hex);
	rc = vsock_rpc_call(h, msg, (uint32_t)n, msg, sizeof(msg) - 1, FETCH_TIMEOUT_MS);
	if (rc < 0) {
		printf("fetch: confirmation failed: %s\n", bv_strerror(rc));
		return rc;
	}
	msg[rc] = '\0';
	printf("fetch: host says %s\n", msg);
	return strcmp(msg, "VERIFIED") == 0 ? BV_OK : BV_EIO;
}

int main(void)
{
	char pbuf[16], name[FETCH_NAME_MAX];
	const char *ps = option("fetch.port", NULL, pbuf, sizeof(pbuf));
	uint32_t port = ps ? (uint32_t)strtoul(ps, NULL, 10) : FETCH_PORT;
	const char *nm = option("fetch.name", FETCH_NAME, name, sizeof(name));

	if (vsock_dev_init() < 0)
		return BV_EXIT_FAIL;
	printf("fetch: asking 2:%u for %s\n", (unsigned)port, nm);
	struct vsock_rpc_retry r = { .attempts = 40, .first_delay_ms = 100, .max_delay_ms = 1000,
				     .timeout_ms = FETCH_TIMEOUT_MS, .on_retry = on_retry };
	unsigned attempts;
	int h = vsock_rpc_connect(VSOCK_CID_HOST, port, &r, &attempts);
	if (h < 0) {
		printf("fetch: no connection after %u attempts: %s\n", attempts, bv_strerror(h));
		return BV_EXIT_FAIL;
	}
	printf("fetch: connected on attempt %u\n", attempts);
	int rc = fetch(h, nm);
	vsock_close(h);
	/* Let the close reach the host before leaving. */
	uint64_t end = bv_now_ms() + 200;
	while (bv_now_ms() < end)
		vsock_poll();
	printf("fetch: %s\n", rc == BV_OK ? "ok" : "FAILED");
	return rc == BV_OK ? BV_EXIT_OK : BV_EXIT_FAIL;
}
