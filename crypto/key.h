/* SPDX-License-Identifier: MIT */
/*
 * WireGuard keys: 32-byte Curve25519 keys and their 44-character base64 text,
 * interchangeable with wg(8).  Decoding is constant time (libsodium) and strict:
 * exactly 44 characters, '=' padding, no non-zero trailing bits.
 */
#ifndef GW_CRYPTO_KEY_H
#define GW_CRYPTO_KEY_H

#include <stddef.h>
#include <stdint.h>

enum {
	KEY_LEN = 32,
	KEY_B64_LEN = 44,  /* without the terminating NUL */
};

/* sodium_init() must have run before the generators. */

/* A new private key: 32 random bytes, clamped as wg genkey does. */
void key_generate_private(uint8_t key[static KEY_LEN]);
/* 32 random bytes, unclamped (preshared keys). */
void key_generate_psk(uint8_t key[static KEY_LEN]);
/* The Curve25519 public key of a private key.  Returns 0 or -EINVAL when the
 * result is the all-zero point. */
int key_public(uint8_t pub[static KEY_LEN], const uint8_t priv[static KEY_LEN]);
/* Writes 44 characters and a NUL. */
void key_to_base64(char out[static KEY_B64_LEN + 1], const uint8_t key[static KEY_LEN]);
/* Decodes exactly 44 base64 characters.  Returns 0 or -EINVAL; on error key
 * is zeroed. */
int key_from_base64(uint8_t key[static KEY_LEN], const char *b64, size_t len);

#endif
