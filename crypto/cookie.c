/* SPDX-License-Identifier: MIT */
#include "crypto/cookie.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "crypto/prim.h"

static void label_key(uint8_t out[static NOISE_HASH_LEN], const char label[static 8],
		      const uint8_t pub[static NOISE_PUBLIC_KEY_LEN])
{
	prim_hash(out, (const uint8_t *)label, 8, pub, NOISE_PUBLIC_KEY_LEN);
}

void cookie_checker_init(struct cookie_checker *c, const uint8_t local_pub[static NOISE_PUBLIC_KEY_LEN])
{
	memset(c, 0, sizeof(*c));
	label_key(c->mac1_key, WG_LABEL_MAC1, local_pub);
	label_key(c->cookie_key, WG_LABEL_COOKIE, local_pub);
}

void cookie_checker_destroy(struct cookie_checker *c)
{
	sodium_memzero(c, sizeof(*c));
}

enum cookie_result cookie_check(const struct cookie_checker *c, const uint8_t *msg, size_t len,
				const uint8_t *src, size_t srclen, uint64_t now)
{
	uint8_t mac[COOKIE_LEN], cookie[COOKIE_LEN];
	enum cookie_result ret = COOKIE_MAC1_INVALID;

	if (len < 2 * COOKIE_LEN)
		return ret;
	prim_mac(mac, c->mac1_key, NOISE_HASH_LEN, msg, len - 2 * COOKIE_LEN);
	if (crypto_verify_16(mac, msg + len - 2 * COOKIE_LEN) != 0)
		goto out;
	ret = COOKIE_MAC1_VALID;
	if (!c->secret_set || now - c->secret_birth > COOKIE_SECRET_MAX_AGE)
		goto out;
	prim_mac(cookie, c->secret, NOISE_HASH_LEN, src, srclen);
	prim_mac(mac, cookie, COOKIE_LEN, msg, len - COOKIE_LEN);
	if (crypto_verify_16(mac, msg + len - COOKIE_LEN) == 0)
		ret = COOKIE_MAC2_VALID;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

void cookie_create_reply(struct cookie_checker *c, const uint8_t *msg, size_t len,
			 uint32_t receiver_index, const uint8_t *src, size_t srclen,
			 uint64_t now, struct msg_cookie_reply *out)
{
	uint8_t cookie[COOKIE_LEN];

	if (!c->secret_set || now - c->secret_birth > COOKIE_SECRET_MAX_AGE) {
		randombytes_buf(c->secret, sizeof(c->secret));
		c->secret_birth = now;
		c->secret_set = true;
	}
	prim_mac(cookie, c->secret, NOISE_HASH_LEN, src, srclen);
	memset(out, 0, sizeof(*out));
	out->type[0] = MSG_COOKIE_REPLY;
	msg_put_le32(out->receiver, receiver_index);
	randombytes_buf(out->nonce, sizeof(out->nonce));
	prim_xaead_encrypt(out->enc_cookie, cookie, COOKIE_LEN, msg + len - 2 * COOKIE_LEN,
			   COOKIE_LEN, out->nonce, c->cookie_key);
	sodium_memzero(cookie, sizeof(cookie));
}

void cookie_maker_init(struct cookie_maker *m, const uint8_t remote_pub[static NOISE_PUBLIC_KEY_LEN])
{
	memset(m, 0, sizeof(*m));
	label_key(m->mac1_key, WG_LABEL_MAC1, remote_pub);
	label_key(m->cookie_key, WG_LABEL_COOKIE, remote_pub);
}

void cookie_maker_destroy(struct cookie_maker *m)
{
	sodium_memzero(m, sizeof(*m));
}

void cookie_add_macs(struct cookie_maker *m, uint8_t *msg, size_t len, uint64_t now)
{
	uint8_t *mac1 = msg + len - 2 * COOKIE_LEN, *mac2 = msg + len - COOKIE_LEN;

	prim_mac(mac1, m->mac1_key, NOISE_HASH_LEN, msg, len - 2 * COOKIE_LEN);
	memcpy(m->last_mac1, mac1, COOKIE_LEN);
	m->have_last_mac1 = true;
	if (m->have_cookie && now - m->cookie_birth <= COOKIE_MAX_AGE)
		prim_mac(mac2, m->cookie, COOKIE_LEN, msg, len - COOKIE_LEN);
	else
		memset(mac2, 0, COOKIE_LEN);
}

int cookie_consume_reply(struct cookie_maker *m, const struct msg_cookie_reply *reply,
			 uint64_t now)
{
	uint8_t cookie[COOKIE_LEN];

	if (!m->have_last_mac1)
		return -EINVAL;
	if (prim_xaead_decrypt(cookie, reply->enc_cookie, sizeof(reply->enc_cookie),
			       m->last_mac1, COOKIE_LEN, reply->nonce, m->cookie_key) != 0)
		return -EBADMSG;
	memcpy(m->cookie, cookie, COOKIE_LEN);
	m->cookie_birth = now;
	m->have_cookie = true;
	sodium_memzero(cookie, sizeof(cookie));
	return 0;
}
