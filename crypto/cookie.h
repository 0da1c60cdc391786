/* SPDX-License-Identifier: MIT */
/*
 * mac1, mac2 and cookie replies (whitepaper §5.4.4, §5.4.7; wireguard-go
 * device/cookie.go).
 *
 * Responder side, one struct cookie_checker per device: mac1 is always
 * checked (keyed with HASH("mac1----" || our public key)); when the caller
 * says it is under load, a message without a valid mac2 is answered with a
 * cookie reply instead of being processed.  The cookie is BLAKE2s-128 keyed
 * with a random secret (renewed when older than 120 s) over the sender's
 * source address bytes (the caller's choice: IP bytes followed by the port).
 *
 * Initiator side, one struct cookie_maker per peer: adds mac1 and, while it
 * holds a cookie younger than 120 s, mac2; remembers the last mac1 sent to
 * authenticate a cookie reply (XChaCha20-Poly1305, AAD = that mac1).
 */
#ifndef GW_CRYPTO_COOKIE_H
#define GW_CRYPTO_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/messages.h"

struct cookie_checker {
	uint8_t mac1_key[NOISE_HASH_LEN];
	uint8_t cookie_key[NOISE_HASH_LEN];
	uint8_t secret[NOISE_HASH_LEN];
	uint64_t secret_birth; /* now when secret was drawn */
	bool secret_set;
};

struct cookie_maker {
	uint8_t mac1_key[NOISE_HASH_LEN];
	uint8_t cookie_key[NOISE_HASH_LEN];
	uint8_t cookie[COOKIE_LEN];
	uint64_t cookie_birth;
	bool have_cookie;
	uint8_t last_mac1[COOKIE_LEN];
	bool have_last_mac1;
};

enum cookie_result {
	COOKIE_MAC1_INVALID, /* drop */
	COOKIE_MAC1_VALID,   /* mac1 good, mac2 missing or stale */
	COOKIE_MAC2_VALID,   /* both good: may pass even under load */
};

/* Keys derived from our static public key. */
void cookie_checker_init(struct cookie_checker *c, const uint8_t local_pub[static NOISE_PUBLIC_KEY_LEN]);
void cookie_checker_destroy(struct cookie_checker *c);
/* Checks mac1 and mac2 of a handshake message (initiation or response, len
 * exact).  src: the sender's address bytes for the cookie. */
enum cookie_result cookie_check(const struct cookie_checker *c, const uint8_t *msg, size_t len,
				const uint8_t *src, size_t srclen, uint64_t now);
/* A cookie reply to msg (whose mac1 was valid), for the sender index in it.
 * Renews the secret if needed. */
void cookie_create_reply(struct cookie_checker *c, const uint8_t *msg, size_t len,
			 uint32_t receiver_index, const uint8_t *src, size_t srclen,
			 uint64_t now, struct msg_cookie_reply *out);

/* Keys derived from the peer's static public key. */
void cookie_maker_init(struct cookie_maker *m, const uint8_t remote_pub[static NOISE_PUBLIC_KEY_LEN]);
void cookie_maker_destroy(struct cookie_maker *m);
/* Fills mac1 and mac2 (the last 32 bytes) of an outgoing handshake message. */
void cookie_add_macs(struct cookie_maker *m, uint8_t *msg, size_t len, uint64_t now);
/* Takes the cookie from a reply to our last message.  0, -EINVAL (nothing
 * sent to answer) or -EBADMSG. */
int cookie_consume_reply(struct cookie_maker *m, const struct msg_cookie_reply *reply,
			 uint64_t now);

#endif
