/* SPDX-License-Identifier: MIT */
#include "crypto/noise.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "crypto/prim.h"

enum { KLEN = NOISE_PUBLIC_KEY_LEN, HLEN = NOISE_HASH_LEN, TAG = NOISE_TAG_LEN };

/* ---- the Noise core ---------------------------------------------------- */

static void mix_hash(struct noise_symmetric *sy, const uint8_t *in, size_t len)
{
	prim_hash(sy->h, sy->h, HLEN, in, len);
}

/* MixKey when the key output is not needed (the "e" token in psk modes). */
static void mix_ck(struct noise_symmetric *sy, const uint8_t *in, size_t len)
{
	prim_kdf1(sy->ck, sy->ck, HLEN, in, len);
}

/* MixKey(DH(priv, pub)) -> k.  0 or -EINVAL. */
static int mix_dh(struct noise_symmetric *sy, uint8_t k[static KLEN], const uint8_t *priv,
		  const uint8_t *pub)
{
	uint8_t dh[KLEN];
	int ret = prim_dh(dh, priv, pub);

	if (ret == 0)
		prim_kdf2(sy->ck, k, sy->ck, HLEN, dh, KLEN);
	sodium_memzero(dh, sizeof(dh));
	return ret;
}

/* MixKey(DH) without using the key (ee, se in message 2). */
static int mix_dh_ck(struct noise_symmetric *sy, const uint8_t *priv, const uint8_t *pub)
{
	uint8_t dh[KLEN];
	int ret = prim_dh(dh, priv, pub);

	if (ret == 0)
		prim_kdf1(sy->ck, sy->ck, HLEN, dh, KLEN);
	sodium_memzero(dh, sizeof(dh));
	return ret;
}

static void encrypt_and_hash(struct noise_symmetric *sy, uint8_t *dst, const uint8_t *src,
			     size_t len, const uint8_t k[static KLEN])
{
	prim_aead_encrypt(dst, src, len, sy->h, HLEN, 0, k);
	mix_hash(sy, dst, len + TAG);
}

static int decrypt_and_hash(struct noise_symmetric *sy, uint8_t *dst, const uint8_t *src,
			    size_t len, const uint8_t k[static KLEN])
{
	if (prim_aead_decrypt(dst, src, len + TAG, sy->h, HLEN, 0, k) != 0)
		return -EBADMSG;
	mix_hash(sy, src, len + TAG);
	return 0;
}

void noise_ik_start(struct noise_symmetric *sy, const uint8_t *prologue, size_t len,
		    const uint8_t responder_pub[static NOISE_PUBLIC_KEY_LEN])
{
	prim_hash(sy->ck, (const uint8_t *)NOISE_CONSTRUCTION,
		  sizeof(NOISE_CONSTRUCTION) - 1, NULL, 0);
	prim_hash(sy->h, sy->ck, HLEN, prologue, len);
	mix_hash(sy, responder_pub, KLEN); /* pre-message: <- s */
}

/* -> e, es, s, ss, payload */
int noise_ik_write1(struct noise_symmetric *sy, uint8_t *out,
		    const uint8_t e_priv[static NOISE_PUBLIC_KEY_LEN],
		    const struct noise_keys *local,
		    const uint8_t remote_static[static NOISE_PUBLIC_KEY_LEN],
		    const uint8_t *payload, size_t len)
{
	uint8_t k[KLEN];
	int ret;

	if (crypto_scalarmult_curve25519_base(out, e_priv) != 0) {
		ret = -EINVAL;
		goto out;
	}
	mix_hash(sy, out, KLEN);
	mix_ck(sy, out, KLEN);
	if ((ret = mix_dh(sy, k, e_priv, remote_static)))
		goto out;
	encrypt_and_hash(sy, out + KLEN, local->pub, KLEN, k);
	if ((ret = mix_dh(sy, k, local->priv, remote_static)))
		goto out;
	encrypt_and_hash(sy, out + 2 * KLEN + TAG, payload, len, k);
out:
	sodium_memzero(k, sizeof(k));
	return ret;
}

int noise_ik_read1(struct noise_symmetric *sy, const uint8_t *in,
		   const struct noise_keys *local,
		   uint8_t remote_e[static NOISE_PUBLIC_KEY_LEN],
		   uint8_t remote_static[static NOISE_PUBLIC_KEY_LEN],
		   uint8_t *payload, size_t len)
{
	uint8_t k[KLEN];
	int ret;

	memcpy(remote_e, in, KLEN);
	mix_hash(sy, remote_e, KLEN);
	mix_ck(sy, remote_e, KLEN);
	if ((ret = mix_dh(sy, k, local->priv, remote_e)))
		goto out;
	if ((ret = decrypt_and_hash(sy, remote_static, in + KLEN, KLEN, k)))
		goto out;
	if ((ret = mix_dh(sy, k, local->priv, remote_static)))
		goto out;
	ret = decrypt_and_hash(sy, payload, in + 2 * KLEN + TAG, len, k);
out:
	sodium_memzero(k, sizeof(k));
	return ret;
}

/* psk: MixKeyAndHash(psk) -> k */
static void mix_psk(struct noise_symmetric *sy, uint8_t k[static KLEN],
		    const uint8_t psk[static NOISE_SYMMETRIC_KEY_LEN])
{
	uint8_t tau[HLEN];

	prim_kdf3(sy->ck, tau, k, sy->ck, HLEN, psk, NOISE_SYMMETRIC_KEY_LEN);
	mix_hash(sy, tau, HLEN);
	sodium_memzero(tau, sizeof(tau));
}

/* <- e, ee, se, psk, payload */
int noise_ik_write2(struct noise_symmetric *sy, uint8_t *out,
		    const uint8_t e_priv[static NOISE_PUBLIC_KEY_LEN],
		    const uint8_t remote_e[static NOISE_PUBLIC_KEY_LEN],
		    const uint8_t remote_static[static NOISE_PUBLIC_KEY_LEN],
		    const uint8_t psk[static NOISE_SYMMETRIC_KEY_LEN],
		    const uint8_t *payload, size_t len)
{
	uint8_t k[KLEN];
	int ret;

	if (crypto_scalarmult_curve25519_base(out, e_priv) != 0) {
		ret = -EINVAL;
		goto out;
	}
	mix_hash(sy, out, KLEN);
	mix_ck(sy, out, KLEN);
	if ((ret = mix_dh_ck(sy, e_priv, remote_e)))
		goto out;
	if ((ret = mix_dh_ck(sy, e_priv, remote_static)))
		goto out;
	mix_psk(sy, k, psk);
	encrypt_and_hash(sy, out + KLEN, payload, len, k);
out:
	sodium_memzero(k, sizeof(k));
	return ret;
}

int noise_ik_read2(struct noise_symmetric *sy, const uint8_t *in,
		   const uint8_t e_priv[static NOISE_PUBLIC_KEY_LEN],
		   const struct noise_keys *local,
		   const uint8_t psk[static NOISE_SYMMETRIC_KEY_LEN],
		   uint8_t *payload, size_t len)
{
	uint8_t k[KLEN];
	int ret;

	mix_hash(sy, in, KLEN);
	mix_ck(sy, in, KLEN);
	if ((ret = mix_dh_ck(sy, e_priv, in)))
		goto out;
	if ((ret = mix_dh_ck(sy, local->priv, in)))
		goto out;
	mix_psk(sy, k, psk);
	ret = decrypt_and_hash(sy, payload, in + KLEN, len, k);
out:
	sodium_memzero(k, sizeof(k));
	return ret;
}

void noise_ik_split(const struct noise_symmetric *sy, uint8_t k1[static NOISE_SYMMETRIC_KEY_LEN],
		    uint8_t k2[static NOISE_SYMMETRIC_KEY_LEN])
{
	prim_kdf2(k1, k2, sy->ck, HLEN, NULL, 0);
}

/* ---- WireGuard --------------------------------------------------------- */

int noise_keys_init(struct noise_keys *keys, const uint8_t priv[static NOISE_PUBLIC_KEY_LEN])
{
	memcpy(keys->priv, priv, KLEN);
	if (crypto_scalarmult_curve25519_base(keys->pub, keys->priv) != 0) {
		sodium_memzero(keys, sizeof(*keys));
		return -EINVAL;
	}
	return 0;
}

void noise_handshake_init(struct noise_handshake *hs,
			  const uint8_t remote_static[static NOISE_PUBLIC_KEY_LEN],
			  const uint8_t *psk)
{
	memset(hs, 0, sizeof(*hs));
	memcpy(hs->remote_static, remote_static, KLEN);
	if (psk)
		memcpy(hs->psk, psk, NOISE_SYMMETRIC_KEY_LEN);
}

void noise_handshake_clear(struct noise_handshake *hs)
{
	hs->state = NOISE_HS_ZEROED;
	hs->local_index = hs->remote_index = 0;
	sodium_memzero(&hs->sy, sizeof(hs->sy));
	sodium_memzero(hs->e_priv, sizeof(hs->e_priv));
	sodium_memzero(hs->remote_e, sizeof(hs->remote_e));
}

void noise_handshake_destroy(struct noise_handshake *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

void noise_tai64n(uint8_t out[static NOISE_TIMESTAMP_LEN], uint64_t wall_ns)
{
	uint64_t secs = 0x400000000000000aull + wall_ns / NSEC_PER_SEC;
	uint32_t nsec = (uint32_t)(wall_ns % NSEC_PER_SEC) & ~(uint32_t)0xffffff;

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(secs >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

static void wg_start(struct noise_symmetric *sy, const uint8_t responder_pub[static KLEN])
{
	noise_ik_start(sy, (const uint8_t *)WG_IDENTIFIER, sizeof(WG_IDENTIFIER) - 1,
		       responder_pub);
}

int noise_create_initiation(struct noise_handshake *hs, const struct noise_keys *local,
			    uint32_t sender_index, uint64_t wall_ns,
			    struct msg_initiation *msg)
{
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	int ret;

	noise_handshake_clear(hs);
	randombytes_buf(hs->e_priv, KLEN);
	noise_tai64n(ts, wall_ns);
	memset(msg, 0, sizeof(*msg));
	msg->type[0] = MSG_INITIATION;
	msg_put_le32(msg->sender, sender_index);
	wg_start(&hs->sy, hs->remote_static);
	ret = noise_ik_write1(&hs->sy, msg->ephemeral, hs->e_priv, local, hs->remote_static,
			      ts, sizeof(ts));
	if (ret) {
		noise_handshake_clear(hs);
		memset(msg, 0, sizeof(*msg));
		goto out;
	}
	hs->local_index = sender_index;
	hs->state = NOISE_HS_INITIATION_CREATED;
out:
	sodium_memzero(ts, sizeof(ts));
	return ret;
}

int noise_consume_initiation(const struct noise_keys *local, const struct msg_initiation *msg,
			     struct noise_initiation *out)
{
	int ret;

	wg_start(&out->sy, local->pub);
	ret = noise_ik_read1(&out->sy, msg->ephemeral, local, out->remote_e,
			     out->remote_static, out->timestamp, NOISE_TIMESTAMP_LEN);
	if (ret) {
		sodium_memzero(out, sizeof(*out));
		return ret;
	}
	out->sender_index = msg_get_le32(msg->sender);
	return 0;
}

int noise_accept_initiation(struct noise_handshake *hs, struct noise_initiation *in,
			    uint64_t now)
{
	int ret = 0;

	if (sodium_memcmp(in->remote_static, hs->remote_static, KLEN) != 0) {
		ret = -EINVAL;
		goto out;
	}
	/* TAI64N is big-endian: byte order is time order */
	if (memcmp(in->timestamp, hs->greatest_timestamp, NOISE_TIMESTAMP_LEN) <= 0) {
		ret = -EALREADY;
		goto out;
	}
	if (hs->initiation_consumed && now - hs->last_initiation_consumed <= HANDSHAKE_INITIATION_RATE) {
		ret = -EBUSY;
		goto out;
	}
	noise_handshake_clear(hs);
	hs->sy = in->sy;
	memcpy(hs->remote_e, in->remote_e, KLEN);
	hs->remote_index = in->sender_index;
	memcpy(hs->greatest_timestamp, in->timestamp, NOISE_TIMESTAMP_LEN);
	hs->last_initiation_consumed = now;
	hs->initiation_consumed = true;
	hs->state = NOISE_HS_INITIATION_CONSUMED;
out:
	sodium_memzero(in, sizeof(*in));
	return ret;
}

int noise_create_response(struct noise_handshake *hs, uint32_t sender_index,
			  struct msg_response *msg)
{
	int ret;

	if (hs->state != NOISE_HS_INITIATION_CONSUMED)
		return -EINVAL;
	randombytes_buf(hs->e_priv, KLEN);
	memset(msg, 0, sizeof(*msg));
	msg->type[0] = MSG_RESPONSE;
	msg_put_le32(msg->sender, sender_index);
	msg_put_le32(msg->receiver, hs->remote_index);
	ret = noise_ik_write2(&hs->sy, msg->ephemeral, hs->e_priv, hs->remote_e,
			      hs->remote_static, hs->psk, NULL, 0);
	if (ret) {
		noise_handshake_clear(hs);
		memset(msg, 0, sizeof(*msg));
		return ret;
	}
	hs->local_index = sender_index;
	hs->state = NOISE_HS_RESPONSE_CREATED;
	return 0;
}

int noise_consume_response(struct noise_handshake *hs, const struct noise_keys *local,
			   const struct msg_response *msg)
{
	struct noise_symmetric sy;
	int ret;

	if (hs->state != NOISE_HS_INITIATION_CREATED ||
	    msg_get_le32(msg->receiver) != hs->local_index)
		return -EINVAL;
	sy = hs->sy;
	ret = noise_ik_read2(&sy, msg->ephemeral, hs->e_priv, local, hs->psk, NULL, 0);
	if (ret)
		goto out;
	hs->sy = sy;
	hs->remote_index = msg_get_le32(msg->sender);
	hs->state = NOISE_HS_RESPONSE_CONSUMED;
out:
	sodium_memzero(&sy, sizeof(sy));
	return ret;
}

int noise_derive_keys(struct noise_handshake *hs, struct noise_session_keys *out)
{
	uint8_t k1[KLEN], k2[KLEN];

	if (hs->state != NOISE_HS_RESPONSE_CREATED && hs->state != NOISE_HS_RESPONSE_CONSUMED)
		return -EINVAL;
	noise_ik_split(&hs->sy, k1, k2);
	out->initiator = hs->state == NOISE_HS_RESPONSE_CONSUMED;
	memcpy(out->send, out->initiator ? k1 : k2, KLEN);
	memcpy(out->recv, out->initiator ? k2 : k1, KLEN);
	out->local_index = hs->local_index;
	out->remote_index = hs->remote_index;
	noise_handshake_clear(hs);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	return 0;
}
