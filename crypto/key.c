/* SPDX-License-Identifier: MIT */
#include "crypto/key.h"

#include <errno.h>
#include <sodium.h>
#include <stddef.h>

void key_generate_private(uint8_t key[static KEY_LEN])
{
	randombytes_buf(key, KEY_LEN);
	/* RFC 7748 §5 clamping, as wg genkey stores it */
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

void key_generate_psk(uint8_t key[static KEY_LEN])
{
	randombytes_buf(key, KEY_LEN);
}

int key_public(uint8_t pub[static KEY_LEN], const uint8_t priv[static KEY_LEN])
{
	/* libsodium clamps the scalar itself and fails on the zero point */
	return crypto_scalarmult_curve25519_base(pub, priv) ? -EINVAL : 0;
}

void key_to_base64(char out[static KEY_B64_LEN + 1], const uint8_t key[static KEY_LEN])
{
	sodium_bin2base64(out, KEY_B64_LEN + 1, key, KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

int key_from_base64(uint8_t key[static KEY_LEN], const char *b64, size_t len)
{
	size_t bin_len = 0;
	const char *end = NULL;

	if (len != KEY_B64_LEN || b64[KEY_B64_LEN - 1] != '=')
		goto bad;
	if (sodium_base642bin(key, KEY_LEN, b64, len, NULL, &bin_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		goto bad;
	if (bin_len != KEY_LEN || end != b64 + len)
		goto bad;
	return 0;
bad:
	sodium_memzero(key, KEY_LEN);
	return -EINVAL;
}
