/* SPDX-License-Identifier: MIT */
#include "crypto/session.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "crypto/noise.h"
#include "crypto/prim.h"

void session_init(struct session *s)
{
	memset(s, 0, sizeof(*s));
}

/* Wipes kp, recording its index. */
static void drop(struct keypair *kp, uint32_t dropped[static 3], int *n)
{
	if (kp->valid)
		dropped[(*n)++] = kp->local_index;
	sodium_memzero(kp, sizeof(*kp));
}

/* dst <- src (dst must be dropped or empty), src wiped. */
static void move(struct keypair *dst, struct keypair *src)
{
	*dst = *src;
	sodium_memzero(src, sizeof(*src));
}

int session_clear(struct session *s, uint32_t dropped[static 3])
{
	int n = 0;

	drop(&s->current, dropped, &n);
	drop(&s->previous, dropped, &n);
	drop(&s->next, dropped, &n);
	return n;
}

int session_install(struct session *s, const struct noise_session_keys *keys, uint64_t now,
		    uint32_t dropped[static 3])
{
	struct keypair kp = { 0 };
	int n = 0;

	kp.valid = true;
	kp.initiator = keys->initiator;
	kp.local_index = keys->local_index;
	kp.remote_index = keys->remote_index;
	kp.birth = now;
	memcpy(kp.send_key, keys->send, sizeof(kp.send_key));
	memcpy(kp.recv_key, keys->recv, sizeof(kp.recv_key));
	replay_init(&kp.replay);

	if (keys->initiator) {
		drop(&s->previous, dropped, &n);
		if (s->next.valid) {
			/* an unconfirmed next is newer than current */
			move(&s->previous, &s->next);
			drop(&s->current, dropped, &n);
		} else {
			move(&s->previous, &s->current);
		}
		move(&s->current, &kp);
	} else {
		drop(&s->next, dropped, &n);
		move(&s->next, &kp);
		drop(&s->previous, dropped, &n);
	}
	return n;
}

struct keypair *session_find(struct session *s, uint32_t local_index)
{
	if (s->current.valid && s->current.local_index == local_index)
		return &s->current;
	if (s->next.valid && s->next.local_index == local_index)
		return &s->next;
	if (s->previous.valid && s->previous.local_index == local_index)
		return &s->previous;
	return NULL;
}

static bool usable(const struct keypair *kp, uint64_t now)
{
	return kp->valid && now - kp->birth < REJECT_AFTER_TIME;
}

bool session_can_send(const struct session *s, uint64_t now)
{
	return usable(&s->current, now) && s->current.send_counter < REJECT_AFTER_MESSAGES;
}

size_t session_data_len(size_t len, size_t mtu)
{
	size_t padded = (len + MSG_PADDING_MULTIPLE - 1) & ~(size_t)(MSG_PADDING_MULTIPLE - 1);

	if (padded > mtu)
		padded = mtu > len ? mtu : len;
	return MSG_DATA_HEADER_LEN + padded + NOISE_TAG_LEN;
}

int session_seal_begin(struct session *s, uint64_t now, const uint8_t *payload, size_t len,
		       size_t mtu, uint8_t *out, size_t *outlen, unsigned *flags,
		       struct session_seal *seal)
{
	struct keypair *kp = &s->current;
	struct msg_data *hdr = (struct msg_data *)out;
	size_t total = session_data_len(len, mtu);
	size_t padded = total - MSG_DATA_HEADER_LEN - NOISE_TAG_LEN;

	*flags = 0;
	if (!session_can_send(s, now))
		return -ENOKEY;
	seal->counter = kp->send_counter++;
	memcpy(seal->key, kp->send_key, sizeof(seal->key));
	memset(hdr, 0, sizeof(*hdr));
	hdr->type[0] = MSG_DATA;
	msg_put_le32(hdr->receiver, kp->remote_index);
	msg_put_le64(hdr->counter, seal->counter);
	if (len)
		memmove(out + MSG_DATA_HEADER_LEN, payload, len);
	memset(out + MSG_DATA_HEADER_LEN + len, 0, padded - len);
	*outlen = total;
	if (kp->send_counter > REKEY_AFTER_MESSAGES ||
	    (kp->initiator && now - kp->birth > REKEY_AFTER_TIME))
		*flags |= SESSION_WANT_REKEY;
	return 0;
}

void session_seal(struct session_seal *seal, uint8_t *out, size_t outlen)
{
	size_t padded = outlen - MSG_DATA_HEADER_LEN - NOISE_TAG_LEN;

	prim_aead_encrypt(out + MSG_DATA_HEADER_LEN, out + MSG_DATA_HEADER_LEN, padded, NULL, 0,
			  seal->counter, seal->key);
	sodium_memzero(seal->key, sizeof(seal->key));
}

int session_encrypt(struct session *s, uint64_t now, const uint8_t *payload, size_t len,
		    size_t mtu, uint8_t *out, size_t *outlen, unsigned *flags)
{
	struct session_seal seal;
	int ret = session_seal_begin(s, now, payload, len, mtu, out, outlen, flags, &seal);

	if (!ret)
		session_seal(&seal, out, *outlen);
	return ret;
}

int session_open_begin(struct session *s, uint64_t now, const uint8_t *msg, size_t len,
		       struct session_open *op)
{
	const struct msg_data *hdr = (const struct msg_data *)msg;
	struct keypair *kp;

	if (len < MSG_DATA_MIN_LEN)
		return -EBADMSG;
	kp = session_find(s, msg_get_le32(hdr->receiver));
	if (!kp)
		return -ENOKEY;
	op->counter = msg_get_le64(hdr->counter);
	if (!usable(kp, now) || op->counter >= REJECT_AFTER_MESSAGES)
		return -EKEYEXPIRED;
	op->local_index = kp->local_index;
	op->birth = kp->birth;
	memcpy(op->key, kp->recv_key, sizeof(op->key));
	return 0;
}

int session_open_crypt(struct session_open *op, const uint8_t *msg, size_t len, uint8_t *out)
{
	int ret = prim_aead_decrypt(out, msg + MSG_DATA_HEADER_LEN, len - MSG_DATA_HEADER_LEN,
				    NULL, 0, op->counter, op->key);

	sodium_memzero(op->key, sizeof(op->key));
	return ret ? -EBADMSG : 0;
}

int session_open_end(struct session *s, uint64_t now, const struct session_open *op, size_t len,
		     struct session_rx *rx)
{
	struct keypair *kp = session_find(s, op->local_index);

	*rx = (struct session_rx){ 0 };
	/* the keypair may have gone meanwhile (a handshake, a removal) */
	if (!kp || kp->birth != op->birth)
		return -ENOKEY;
	if (!usable(kp, now))
		return -EKEYEXPIRED;
	if (!replay_check(&kp->replay, op->counter, REJECT_AFTER_MESSAGES))
		return -EALREADY;
	rx->len = len - MSG_DATA_MIN_LEN;
	if (rx->len == 0)
		rx->flags |= SESSION_KEEPALIVE;
	if (kp == &s->next) {
		uint32_t dropped[3];
		int n = 0;

		drop(&s->previous, dropped, &n);
		move(&s->previous, &s->current);
		move(&s->current, &s->next);
		kp = &s->current;
		rx->flags |= SESSION_CONFIRMED;
		if (n) {
			rx->flags |= SESSION_DROPPED;
			rx->dropped_index = dropped[0];
		}
	}
	if (kp == &s->current && kp->initiator &&
	    now - kp->birth > REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT)
		rx->flags |= SESSION_REKEY_RECV;
	return 0;
}

int session_decrypt(struct session *s, uint64_t now, const uint8_t *msg, size_t len,
		    uint8_t *out, struct session_rx *rx)
{
	struct session_open op;
	int ret;

	*rx = (struct session_rx){ 0 };
	ret = session_open_begin(s, now, msg, len, &op);
	if (!ret)
		ret = session_open_crypt(&op, msg, len, out);
	if (!ret)
		ret = session_open_end(s, now, &op, len, rx);
	return ret;
}
