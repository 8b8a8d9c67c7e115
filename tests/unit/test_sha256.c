/* SPDX-License-Identifier: BSD-2-Clause */
/* apps/fetch's SHA-256 against the FIPS 180-4 / NIST example vectors ("abc",
 * the empty message, the 448- and 896-bit messages, one million 'a'), the
 * padding edges (55, 56 and 64 bytes: the length fits, just misses, a whole
 * block), and the same digests when the data comes in arbitrary pieces. */
#include <string.h>
#define CHECK_MAIN
#include "tests/unit/check.h"
#include "apps/fetch/sha256.h"

static const char *digest_of(const void *p, size_t n, size_t piece)
{
	static char hex[2 * SHA256_DIGEST + 1];
	uint8_t d[SHA256_DIGEST];
	struct sha256 s;
	sha256_init(&s);
	for (size_t off = 0; off < n; off += piece)
		sha256_update(&s, (const uint8_t *)p + off, n - off < piece ? n - off : piece);
	sha256_final(&s, d);
	sha256_hex(d, hex);
	return hex;
}

static void check_vector(const char *what, const void *p, size_t n, const char *want)
{
	static const size_t pieces[] = { (size_t)-1, 1, 3, 55, 63, 64, 65, 1000 };
	for (unsigned i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		size_t piece = pieces[i] == (size_t)-1 ? (n ? n : 1) : pieces[i];
		const char *got = digest_of(p, n, piece);
		if (strcmp(got, want) != 0)
			printf("%s in pieces of %zu: %s, want %s\n", what, piece, got, want);
		CHECK(strcmp(got, want) == 0);
	}
}

static char million[1000000];
static char as[64];

int main(void)
{
	check_vector("abc", "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_vector("empty", "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	check_vector("448-bit", m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
			   "klmnopqrlmnopqrsmnopqrstnopqrstu";
	check_vector("896-bit", m896, strlen(m896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
	memset(million, 'a', sizeof(million));
	CHECK(strcmp(digest_of(million, sizeof(million), 4096),
		     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
	CHECK(strcmp(digest_of(million, sizeof(million), 999983),
		     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
	memset(as, 'a', sizeof(as));
	check_vector("55 x a", as, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	check_vector("56 x a", as, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	check_vector("64 x a", as, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
	return check_report("test_sha256");
}
