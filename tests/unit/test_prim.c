/* SPDX-License-Identifier: MIT */
/* crypto/prim: known answers for BLAKE2s, HMAC/HKDF, X25519 and the AEADs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/prim.h"

static size_t hex(uint8_t *out, size_t cap, const char *s)
{
	size_t len;

	assert_int_equal(sodium_hex2bin(out, cap, s, strlen(s), NULL, &len, NULL), 0);
	return len;
}

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
	uint8_t w[512];

	assert_int_equal(hex(w, sizeof(w), want), n);
	assert_memory_equal(got, w, n);
}

static void test_blake2s_kat(void **state)
{
	uint8_t out[32], key[32], in[1] = { 0 };

	(void)state;
	/* 1: RFC 7693 Appendix B */
	prim_hash(out, (const uint8_t *)"abc", 3, NULL, 0);
	assert_hex(out, 32, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
	/* 2: split input hashes the same */
	prim_hash(out, (const uint8_t *)"a", 1, (const uint8_t *)"bc", 2);
	assert_hex(out, 32, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
	/* 3, 4: WireGuard's Ci = HASH(construction), Hi = HASH(Ci || identifier)
	 * (values as published in rustyguard's CONSTRUCTION_HASH/IDENTIFIER_HASH) */
	static const uint8_t ci[32] = { 96, 226, 109, 174, 243, 39, 239, 192, 46, 195, 53,
		226, 160, 37, 210, 208, 22, 235, 66, 6, 248, 114, 119, 245, 45, 56, 209, 152,
		139, 120, 205, 54 };
	static const uint8_t hi[32] = { 34, 17, 179, 97, 8, 26, 197, 102, 105, 18, 67, 219,
		69, 138, 213, 50, 45, 156, 108, 102, 34, 147, 232, 183, 14, 225, 156, 101,
		186, 7, 158, 243 };
	prim_hash(out, (const uint8_t *)"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", 37, NULL, 0);
	assert_memory_equal(out, ci, 32);
	prim_hash(out, out, 32, (const uint8_t *)"WireGuard v1 zx2c4 Jason@zx2c4.com", 34);
	assert_memory_equal(out, hi, 32);
	/* 5: keyed MAC differs from the unkeyed hash and depends on the key */
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	uint8_t m1[16], m2[16];
	prim_mac(m1, key, 32, in, 1);
	key[0] ^= 1;
	prim_mac(m2, key, 32, in, 1);
	assert_memory_not_equal(m1, m2, 16);
}

/* wireguard-go device/kdf_test.go */
static const struct {
	const char *key, *input, *t0, *t1, *t2;
} kdf_kat[] = {
	/* 1 */ { "746573742d6b6579", "746573742d696e707574",
		  "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
		  "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
		  "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24" },
	/* 2 */ { "776972656775617264", "776972656775617264",
		  "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
		  "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
		  "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160" },
	/* 3 */ { "", "",
		  "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
		  "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
		  "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e" },
};

static void test_kdf_kat(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(kdf_kat) / sizeof(kdf_kat[0]); i++) {
		uint8_t key[64], in[64], t0[32], t1[32], t2[32];
		size_t kl = hex(key, sizeof(key), kdf_kat[i].key);
		size_t il = hex(in, sizeof(in), kdf_kat[i].input);

		prim_kdf3(t0, t1, t2, key, kl, in, il);
		assert_hex(t0, 32, kdf_kat[i].t0);
		assert_hex(t1, 32, kdf_kat[i].t1);
		assert_hex(t2, 32, kdf_kat[i].t2);
		memset(t0, 0, 32), memset(t1, 0, 32);
		prim_kdf2(t0, t1, key, kl, in, il);
		assert_hex(t0, 32, kdf_kat[i].t0);
		assert_hex(t1, 32, kdf_kat[i].t1);
		memset(t0, 0, 32);
		prim_kdf1(t0, key, kl, in, il);
		assert_hex(t0, 32, kdf_kat[i].t0);
		/* output aliasing the key, as noise.c does with the chaining key */
		if (kl == 32) {
			prim_kdf1(key, key, kl, in, il);
			assert_hex(key, 32, kdf_kat[i].t0);
		}
	}
}

static void test_hmac_long_key(void **state)
{
	uint8_t key[100], hk[32], a[32], b[32];

	(void)state;
	memset(key, 0x42, sizeof(key));
	prim_hash(hk, key, sizeof(key), NULL, 0);
	prim_hmac(a, key, sizeof(key), (const uint8_t *)"x", 1, NULL, 0);
	prim_hmac(b, hk, sizeof(hk), (const uint8_t *)"x", 1, NULL, 0);
	assert_memory_equal(a, b, 32);
}

/* RFC 7748 §5.2 and §6.1 */
static const struct {
	const char *scalar, *u, *out;
} x25519_kat[] = {
	/* 1 */ { "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
		  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
	/* 2 */ { "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
		  "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
		  "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742" },
	/* 3 */ { "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
		  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
		  "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742" },
};

/* Low-order points (the kernel netns.sh list): DH must fail. */
static const char *low_order[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void test_x25519(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(x25519_kat) / sizeof(x25519_kat[0]); i++) {
		uint8_t s[32], u[32], out[32];

		hex(s, 32, x25519_kat[i].scalar);
		hex(u, 32, x25519_kat[i].u);
		assert_int_equal(prim_dh(out, s, u), 0);
		assert_hex(out, 32, x25519_kat[i].out);
	}
	for (size_t i = 0; i < sizeof(low_order) / sizeof(low_order[0]); i++) {
		uint8_t s[32], u[32], out[32], zero[32] = { 0 };

		randombytes_buf(s, 32);
		hex(u, 32, low_order[i]);
		memset(out, 0xaa, 32);
		if (prim_dh(out, s, u) != -EINVAL)
			fail_msg("low-order point %zu accepted", i + 1);
		assert_memory_equal(out, zero, 32);
	}
}

static const char sunscreen[] = "Ladies and Gentlemen of the class of '99: If I could "
	"offer you only one tip for the future, sunscreen would be it.";

/* RFC 8439 §2.8.2 through libsodium with the RFC's nonce, then prim_aead
 * against the same construction with WireGuard's nonce layout. */
static void test_aead(void **state)
{
	uint8_t key[32], nonce[12], ad[12], ct[200], pt[200], n2[12] = { 0 };
	size_t len = strlen(sunscreen);
	unsigned long long clen;

	(void)state;
	hex(key, 32, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
	hex(nonce, 12, "070000004041424344454647");
	hex(ad, 12, "50515253c0c1c2c3c4c5c6c7");
	crypto_aead_chacha20poly1305_ietf_encrypt(ct, &clen, (const uint8_t *)sunscreen,
						  len, ad, 12, NULL, nonce, key);
	assert_int_equal(clen, len + 16);
	assert_hex(ct, len + 16,
		   "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
		   "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
		   "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
		   "3ff4def08e4b7a9de576d26586cec64b6116"
		   "1ae10b594f09e26a7e902ecbd0600691");

	/* counter 0x0102030405060708 -> nonce 00000000 0807060504030201 */
	uint64_t ctr = 0x0102030405060708ull;
	uint8_t want[200];
	hex(n2 + 4, 8, "0807060504030201");
	crypto_aead_chacha20poly1305_ietf_encrypt(want, NULL, (const uint8_t *)sunscreen,
						  len, ad, 12, NULL, n2, key);
	prim_aead_encrypt(ct, (const uint8_t *)sunscreen, len, ad, 12, ctr, key);
	assert_memory_equal(ct, want, len + 16);
	assert_int_equal(prim_aead_decrypt(pt, ct, len + 16, ad, 12, ctr, key), 0);
	assert_memory_equal(pt, sunscreen, len);
	/* wrong counter, wrong ad, short, flipped tag: rejected */
	assert_int_equal(prim_aead_decrypt(pt, ct, len + 16, ad, 12, ctr + 1, key), -EBADMSG);
	assert_int_equal(prim_aead_decrypt(pt, ct, len + 16, ad, 11, ctr, key), -EBADMSG);
	assert_int_equal(prim_aead_decrypt(pt, ct, 15, ad, 12, ctr, key), -EBADMSG);
	ct[len + 15] ^= 0x80;
	assert_int_equal(prim_aead_decrypt(pt, ct, len + 16, ad, 12, ctr, key), -EBADMSG);
	/* in place, empty payload */
	memcpy(pt, sunscreen, len);
	prim_aead_encrypt(pt, pt, len, NULL, 0, 7, key);
	assert_int_equal(prim_aead_decrypt(pt, pt, len + 16, NULL, 0, 7, key), 0);
	assert_memory_equal(pt, sunscreen, len);
	prim_aead_encrypt(ct, NULL, 0, NULL, 0, 0, key);
	assert_int_equal(prim_aead_decrypt(pt, ct, 16, NULL, 0, 0, key), 0);
}

/* draft-irtf-cfrg-xchacha-03 §A.3.1 */
static void test_xaead(void **state)
{
	uint8_t key[32], nonce[24], ad[12], ct[200], pt[200];
	size_t len = strlen(sunscreen);

	(void)state;
	hex(key, 32, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
	hex(nonce, 24, "404142434445464748494a4b4c4d4e4f5051525354555657");
	hex(ad, 12, "50515253c0c1c2c3c4c5c6c7");
	prim_xaead_encrypt(ct, (const uint8_t *)sunscreen, len, ad, 12, nonce, key);
	assert_hex(ct, len + 16,
		   "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
		   "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
		   "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
		   "21f9664c97637da9768812f615c68b13b52e"
		   "c0875924c1c7987947deafd8780acf49");
	assert_int_equal(prim_xaead_decrypt(pt, ct, len + 16, ad, 12, nonce, key), 0);
	assert_memory_equal(pt, sunscreen, len);
	nonce[23] ^= 1;
	assert_int_equal(prim_xaead_decrypt(pt, ct, len + 16, ad, 12, nonce, key), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blake2s_kat),
		cmocka_unit_test(test_kdf_kat),
		cmocka_unit_test(test_hmac_long_key),
		cmocka_unit_test(test_x25519),
		cmocka_unit_test(test_aead),
		cmocka_unit_test(test_xaead),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
