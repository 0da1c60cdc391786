/* SPDX-License-Identifier: MIT */
/*
 * gw/keep: the state file's checks (keep_verify) — a good file passes; every
 * truncation, every flipped byte, another version, another key's file, a
 * forged public key and a file from the future are refused, each with its
 * reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "gw/keep.h"

#define SEC 1000000000ULL
#define WALL (1800000000ULL * SEC)

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/* A file of body[blen] for (priv, pub) written at wall, version v. */
static size_t mkfile(uint8_t *out, const uint8_t *priv, const uint8_t *pub, uint32_t v,
		     uint64_t wall, const uint8_t *body, size_t blen)
{
	memcpy(out, "gw-keep\n", 8);
	put_le(out + 8, v, 4);
	memcpy(out + 12, pub, 32);
	put_le(out + 44, wall, 8);
	put_le(out + 52, blen, 8);
	memcpy(out + KEEP_HDR_LEN, body, blen);
	keep_mac(out, KEEP_HDR_LEN + blen, priv, out + KEEP_HDR_LEN + blen);
	return KEEP_HDR_LEN + blen + KEEP_MAC_LEN;
}

static uint8_t priv[32], pub[32], priv2[32], pub2[32];

static int keys(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(priv, sizeof(priv));
	randombytes_buf(priv2, sizeof(priv2));
	crypto_scalarmult_base(pub, priv);
	crypto_scalarmult_base(pub2, priv2);
	return 0;
}

static int verify(const uint8_t *f, size_t len, const char **why)
{
	const uint8_t *body;
	size_t blen;
	uint64_t written;

	*why = NULL;
	return keep_verify(f, len, priv, pub, WALL, &body, &blen, &written, why);
}

static void test_good(void **state)
{
	uint8_t body[100], f[256];
	const uint8_t *b;
	size_t blen, len;
	uint64_t written;
	const char *why = NULL;

	(void)state;
	for (unsigned i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)i;
	len = mkfile(f, priv, pub, KEEP_VERSION, WALL - 5 * SEC, body, sizeof(body));
	assert_int_equal(keep_verify(f, len, priv, pub, WALL, &b, &blen, &written, &why), 0);
	assert_ptr_equal(b, f + KEEP_HDR_LEN);
	assert_int_equal(blen, sizeof(body));
	assert_true(written == WALL - 5 * SEC);
	/* an empty body is a file too */
	len = mkfile(f, priv, pub, KEEP_VERSION, WALL, body, 0);
	assert_int_equal(verify(f, len, &why), 0);
}

static void test_spoiled(void **state)
{
	uint8_t body[100] = { 1, 2, 3 }, f[256], g[256];
	size_t len = mkfile(f, priv, pub, KEEP_VERSION, WALL, body, sizeof(body));
	const char *why;

	(void)state;
	for (size_t n = 0; n < len; n++) {
		assert_int_equal(verify(f, n, &why), -EINVAL);
		assert_non_null(why);
	}
	assert_int_equal(verify(f, 59, &why), -EINVAL);
	assert_string_equal(why, "truncated");
	assert_int_equal(verify(f, len - 1, &why), -EINVAL);
	assert_string_equal(why, "truncated");
	for (size_t i = 0; i < len; i++) {
		memcpy(g, f, len);
		g[i] ^= 0x01;
		assert_int_equal(verify(g, len, &why), -EINVAL);
	}
	memcpy(g, f, len);
	g[len] = 0;
	assert_int_equal(verify(g, len + 1, &why), -EINVAL);
	assert_string_equal(why, "longer than its header says");
	g[0] = 'x';
	assert_int_equal(verify(g, len, &why), -EINVAL);
	assert_string_equal(why, "not a gw state file");
	len = mkfile(g, priv, pub, KEEP_VERSION + 1, WALL, body, sizeof(body));
	assert_int_equal(verify(g, len, &why), -EINVAL);
	assert_string_equal(why, "written by another version of gw (file format version differs)");
	/* another config's file, and one claiming our public key */
	len = mkfile(g, priv2, pub2, KEEP_VERSION, WALL, body, sizeof(body));
	assert_int_equal(verify(g, len, &why), -EINVAL);
	assert_string_equal(why, "written for another PrivateKey");
	len = mkfile(g, priv2, pub, KEEP_VERSION, WALL, body, sizeof(body));
	assert_int_equal(verify(g, len, &why), -EINVAL);
	assert_string_equal(why, "bad checksum");
	/* from the future: a clock set back */
	len = mkfile(g, priv, pub, KEEP_VERSION, WALL + 61 * SEC, body, sizeof(body));
	assert_int_equal(verify(g, len, &why), -EINVAL);
	assert_string_equal(why, "written in the future (the clock went back)");
	len = mkfile(g, priv, pub, KEEP_VERSION, WALL + 59 * SEC, body, sizeof(body));
	assert_int_equal(verify(g, len, &why), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_spoiled),
	};

	return cmocka_run_group_tests(tests, keys, NULL);
}
