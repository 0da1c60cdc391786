/* SPDX-License-Identifier: MIT */
#include "crypto/prim.h"

#include <blake2.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

void prim_hash(uint8_t out[static PRIM_HASH_LEN], const uint8_t *a, size_t alen,
	       const uint8_t *b, size_t blen)
{
	blake2s_state s;

	blake2s_init(&s, PRIM_HASH_LEN);
	if (alen)
		blake2s_update(&s, a, alen);
	if (blen)
		blake2s_update(&s, b, blen);
	blake2s_final(&s, out, PRIM_HASH_LEN);
	sodium_memzero(&s, sizeof(s));
}

void prim_mac(uint8_t out[static PRIM_MAC_LEN], const uint8_t *key, size_t keylen,
	      const uint8_t *in, size_t len)
{
	blake2s_state s;

	blake2s_init_key(&s, PRIM_MAC_LEN, key, keylen);
	if (len)
		blake2s_update(&s, in, len);
	blake2s_final(&s, out, PRIM_MAC_LEN);
	sodium_memzero(&s, sizeof(s));
}

void prim_hmac(uint8_t out[static PRIM_HASH_LEN], const uint8_t *key, size_t keylen,
	       const uint8_t *in0, size_t len0, const uint8_t *in1, size_t len1)
{
	uint8_t pad[PRIM_BLOCK_LEN] = { 0 }, inner[PRIM_HASH_LEN];
	blake2s_state s;

	if (keylen > PRIM_BLOCK_LEN)
		prim_hash(pad, key, keylen, NULL, 0);
	else if (keylen)
		memcpy(pad, key, keylen);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36;
	blake2s_init(&s, PRIM_HASH_LEN);
	blake2s_update(&s, pad, sizeof(pad));
	if (len0)
		blake2s_update(&s, in0, len0);
	if (len1)
		blake2s_update(&s, in1, len1);
	blake2s_final(&s, inner, sizeof(inner));
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	blake2s_init(&s, PRIM_HASH_LEN);
	blake2s_update(&s, pad, sizeof(pad));
	blake2s_update(&s, inner, sizeof(inner));
	blake2s_final(&s, out, PRIM_HASH_LEN);
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&s, sizeof(s));
}

/* t1 and t2 may be NULL (KDF1, KDF2). */
static void kdf(uint8_t *t0, uint8_t *t1, uint8_t *t2, const uint8_t *key,
		size_t keylen, const uint8_t *in, size_t inlen)
{
	uint8_t prk[PRIM_HASH_LEN], c;

	prim_hmac(prk, key, keylen, in, inlen, NULL, 0);
	c = 1;
	prim_hmac(t0, prk, sizeof(prk), &c, 1, NULL, 0);
	if (t1) {
		c = 2;
		prim_hmac(t1, prk, sizeof(prk), t0, PRIM_HASH_LEN, &c, 1);
	}
	if (t2) {
		c = 3;
		prim_hmac(t2, prk, sizeof(prk), t1, PRIM_HASH_LEN, &c, 1);
	}
	sodium_memzero(prk, sizeof(prk));
}

void prim_kdf1(uint8_t t0[static PRIM_HASH_LEN], const uint8_t *key, size_t keylen,
	       const uint8_t *in, size_t inlen)
{
	kdf(t0, NULL, NULL, key, keylen, in, inlen);
}

void prim_kdf2(uint8_t t0[static PRIM_HASH_LEN], uint8_t t1[static PRIM_HASH_LEN],
	       const uint8_t *key, size_t keylen, const uint8_t *in, size_t inlen)
{
	kdf(t0, t1, NULL, key, keylen, in, inlen);
}

void prim_kdf3(uint8_t t0[static PRIM_HASH_LEN], uint8_t t1[static PRIM_HASH_LEN],
	       uint8_t t2[static PRIM_HASH_LEN], const uint8_t *key, size_t keylen,
	       const uint8_t *in, size_t inlen)
{
	kdf(t0, t1, t2, key, keylen, in, inlen);
}

int prim_dh(uint8_t out[static PRIM_KEY_LEN], const uint8_t priv[static PRIM_KEY_LEN],
	    const uint8_t pub[static PRIM_KEY_LEN])
{
	/* libsodium fails on an all-zero result; check again regardless */
	if (crypto_scalarmult_curve25519(out, priv, pub) != 0 ||
	    sodium_is_zero(out, PRIM_KEY_LEN)) {
		sodium_memzero(out, PRIM_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

static void nonce12(uint8_t n[12], uint64_t counter)
{
	memset(n, 0, 4);
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

void prim_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
		       const uint8_t *ad, size_t adlen, uint64_t counter,
		       const uint8_t key[static PRIM_KEY_LEN])
{
	uint8_t n[12];

	nonce12(n, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad, adlen,
						  NULL, n, key);
}

int prim_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
		      const uint8_t *ad, size_t adlen, uint64_t counter,
		      const uint8_t key[static PRIM_KEY_LEN])
{
	uint8_t n[12];

	if (len < PRIM_TAG_LEN)
		return -EBADMSG;
	nonce12(n, counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len,
						      ad, adlen, n, key) != 0)
		return -EBADMSG;
	return 0;
}

void prim_xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			const uint8_t *ad, size_t adlen,
			const uint8_t nonce[static PRIM_XNONCE_LEN],
			const uint8_t key[static PRIM_KEY_LEN])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad, adlen,
						   NULL, nonce, key);
}

int prim_xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
		       const uint8_t *ad, size_t adlen,
		       const uint8_t nonce[static PRIM_XNONCE_LEN],
		       const uint8_t key[static PRIM_KEY_LEN])
{
	if (len < PRIM_TAG_LEN)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len,
						       ad, adlen, nonce, key) != 0)
		return -EBADMSG;
	return 0;
}
