/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard primitives: BLAKE2s (hash, keyed 128-bit MAC), HMAC-BLAKE2s
 * and the HKDF chain KDF1/2/3 (as wireguard-go noise-helpers.go), X25519,
 * ChaCha20-Poly1305 and XChaCha20-Poly1305 (IETF).  BLAKE2s from libb2, the
 * rest from libsodium.  No state, no allocation; sodium_init() must have run.
 */
#ifndef GW_CRYPTO_PRIM_H
#define GW_CRYPTO_PRIM_H

#include <stddef.h>
#include <stdint.h>

enum {
	PRIM_HASH_LEN = 32,
	PRIM_MAC_LEN = 16,
	PRIM_KEY_LEN = 32,
	PRIM_TAG_LEN = 16,
	PRIM_XNONCE_LEN = 24,
	PRIM_BLOCK_LEN = 64, /* BLAKE2s block, the HMAC block size */
};

/* out = BLAKE2s-256(a || b); b may be NULL when blen is 0. */
void prim_hash(uint8_t out[static PRIM_HASH_LEN], const uint8_t *a, size_t alen,
	       const uint8_t *b, size_t blen);
/* out = BLAKE2s-128 keyed with key (1..32 bytes) over in. */
void prim_mac(uint8_t out[static PRIM_MAC_LEN], const uint8_t *key, size_t keylen,
	      const uint8_t *in, size_t len);
/* out = HMAC-BLAKE2s(key, in0 || in1); keys longer than 64 bytes are hashed. */
void prim_hmac(uint8_t out[static PRIM_HASH_LEN], const uint8_t *key, size_t keylen,
	       const uint8_t *in0, size_t len0, const uint8_t *in1, size_t len1);
/* HKDF as WireGuard: prk = HMAC(key, in); t0 = HMAC(prk, 1);
 * t1 = HMAC(prk, t0 || 2); t2 = HMAC(prk, t1 || 3).  Outputs may alias key. */
void prim_kdf1(uint8_t t0[static PRIM_HASH_LEN], const uint8_t *key, size_t keylen,
	       const uint8_t *in, size_t inlen);
void prim_kdf2(uint8_t t0[static PRIM_HASH_LEN], uint8_t t1[static PRIM_HASH_LEN],
	       const uint8_t *key, size_t keylen, const uint8_t *in, size_t inlen);
void prim_kdf3(uint8_t t0[static PRIM_HASH_LEN], uint8_t t1[static PRIM_HASH_LEN],
	       uint8_t t2[static PRIM_HASH_LEN], const uint8_t *key, size_t keylen,
	       const uint8_t *in, size_t inlen);

/* X25519(priv, pub).  Returns 0, or -EINVAL (out zeroed) when the shared
 * point is all zero (low-order public key). */
int prim_dh(uint8_t out[static PRIM_KEY_LEN], const uint8_t priv[static PRIM_KEY_LEN],
	    const uint8_t pub[static PRIM_KEY_LEN]);

/* ChaCha20-Poly1305 IETF, nonce = 4 zero bytes || LE64 counter.
 * encrypt writes len + 16 bytes to dst; dst may equal src. */
void prim_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
		       const uint8_t *ad, size_t adlen, uint64_t counter,
		       const uint8_t key[static PRIM_KEY_LEN]);
/* len includes the tag (>= 16); writes len - 16 bytes.  0 or -EBADMSG. */
int prim_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
		      const uint8_t *ad, size_t adlen, uint64_t counter,
		      const uint8_t key[static PRIM_KEY_LEN]);
/* XChaCha20-Poly1305 IETF with a 24-byte nonce; same conventions. */
void prim_xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			const uint8_t *ad, size_t adlen,
			const uint8_t nonce[static PRIM_XNONCE_LEN],
			const uint8_t key[static PRIM_KEY_LEN]);
int prim_xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
		       const uint8_t *ad, size_t adlen,
		       const uint8_t nonce[static PRIM_XNONCE_LEN],
		       const uint8_t key[static PRIM_KEY_LEN]);

#endif
