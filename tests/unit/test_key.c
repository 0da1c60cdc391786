/* SPDX-License-Identifier: MIT */
/* crypto/key: base64 text of keys and public key derivation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/key.h"

static void hex(uint8_t *out, const char *s, size_t n)
{
	size_t len;

	assert_int_equal(sodium_hex2bin(out, n, s, strlen(s), NULL, &len, NULL), 0);
	assert_int_equal(len, n);
}

/* RFC 7748 §6.1: Alice's and Bob's key pairs. */
static const struct {
	const char *priv, *pub;
} x25519_kat[] = {
	/* 1 */ { "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
		  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" },
	/* 2 */ { "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
		  "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f" },
};

static void test_public_kat(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(x25519_kat) / sizeof(x25519_kat[0]); i++) {
		uint8_t priv[KEY_LEN], pub[KEY_LEN], want[KEY_LEN];

		hex(priv, x25519_kat[i].priv, KEY_LEN);
		hex(want, x25519_kat[i].pub, KEY_LEN);
		assert_int_equal(key_public(pub, priv), 0);
		assert_memory_equal(pub, want, KEY_LEN);
	}
}

static void test_base64_known(void **state)
{
	uint8_t key[KEY_LEN];
	char b64[KEY_B64_LEN + 1];

	(void)state;
	for (int i = 0; i < KEY_LEN; i++)
		key[i] = (uint8_t)i;
	key_to_base64(b64, key);
	assert_string_equal(b64, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	memset(key, 0xaa, sizeof(key));
	assert_int_equal(key_from_base64(key, b64, strlen(b64)), 0);
	for (int i = 0; i < KEY_LEN; i++)
		assert_int_equal(key[i], i);
}

static void test_base64_roundtrip(void **state)
{
	(void)state;
	for (int n = 0; n < 1000; n++) {
		uint8_t key[KEY_LEN], back[KEY_LEN];
		char b64[KEY_B64_LEN + 1];

		randombytes_buf(key, sizeof(key));
		key_to_base64(b64, key);
		assert_int_equal(strlen(b64), KEY_B64_LEN);
		assert_int_equal(key_from_base64(back, b64, KEY_B64_LEN), 0);
		assert_memory_equal(key, back, KEY_LEN);
	}
}

/* Rule table: text;OK|FAIL. */
static const struct {
	const char *text;
	int ok;
} b64_cases[] = {
	/* 1 */ { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1 },
	/* 2 */ { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", 0 },   /* no padding */
	/* 3 */ { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==", 0 }, /* 45 chars */
	/* 4 */ { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", 0 },  /* trailing bits */
	/* 5 */ { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=", 0 },  /* bad char */
	/* 6 */ { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd Hh=", 0 },  /* space */
	/* 7 */ { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh-=", 0 },  /* urlsafe */
	/* 8 */ { "", 0 },
	/* 9 */ { "============================================", 0 },
};

static void test_base64_strict(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		uint8_t key[KEY_LEN];
		int ret = key_from_base64(key, b64_cases[i].text, strlen(b64_cases[i].text));

		uint8_t zero[KEY_LEN] = { 0 };

		if (ret != (b64_cases[i].ok ? 0 : -EINVAL))
			fail_msg("case %zu: got %d", i + 1, ret);
		if (!b64_cases[i].ok)
			assert_memory_equal(key, zero, KEY_LEN);
	}
}

static void test_generate_clamped(void **state)
{
	(void)state;
	for (int n = 0; n < 100; n++) {
		uint8_t key[KEY_LEN], pub[KEY_LEN];

		key_generate_private(key);
		assert_int_equal(key[0] & 7, 0);
		assert_int_equal(key[31] & 0xc0, 0x40);
		assert_int_equal(key_public(pub, key), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_public_kat),
		cmocka_unit_test(test_base64_known),
		cmocka_unit_test(test_base64_roundtrip),
		cmocka_unit_test(test_base64_strict),
		cmocka_unit_test(test_generate_clamped),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
