/* SPDX-License-Identifier: MIT */
/*
 * WireGuard wire formats and protocol constants, in one place.
 * Sources: the whitepaper, linux drivers/net/wireguard/messages.h,
 * wireguard-go device/constants.go and noise-protocol.go.
 *
 * Messages are structs of byte arrays (alignment 1, no padding) so a received
 * buffer can be viewed in place; header integers are little-endian, read and
 * written with msg_get_le32/msg_put_le32.
 */
#ifndef GW_CRYPTO_MESSAGES_H
#define GW_CRYPTO_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#define NOISE_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define WG_IDENTIFIER "WireGuard v1 zx2c4 Jason@zx2c4.com"
#define WG_LABEL_MAC1 "mac1----"
#define WG_LABEL_COOKIE "cookie--"

enum msg_type {
	MSG_INITIATION = 1,
	MSG_RESPONSE = 2,
	MSG_COOKIE_REPLY = 3,
	MSG_DATA = 4,
};

enum {
	NOISE_PUBLIC_KEY_LEN = 32,
	NOISE_SYMMETRIC_KEY_LEN = 32,
	NOISE_HASH_LEN = 32,
	NOISE_TAG_LEN = 16,
	NOISE_TIMESTAMP_LEN = 12,
	COOKIE_LEN = 16,
	COOKIE_NONCE_LEN = 24,

	MSG_INITIATION_LEN = 148,
	MSG_RESPONSE_LEN = 92,
	MSG_COOKIE_REPLY_LEN = 64,
	MSG_DATA_HEADER_LEN = 16,
	MSG_DATA_MIN_LEN = MSG_DATA_HEADER_LEN + NOISE_TAG_LEN, /* keepalive */
	MSG_PADDING_MULTIPLE = 16,
};

struct msg_initiation {
	uint8_t type[4]; /* MSG_INITIATION, 0, 0, 0 */
	uint8_t sender[4];
	uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t enc_static[NOISE_PUBLIC_KEY_LEN + NOISE_TAG_LEN];
	uint8_t enc_timestamp[NOISE_TIMESTAMP_LEN + NOISE_TAG_LEN];
	uint8_t mac1[COOKIE_LEN];
	uint8_t mac2[COOKIE_LEN];
};

struct msg_response {
	uint8_t type[4];
	uint8_t sender[4];
	uint8_t receiver[4];
	uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t enc_nothing[NOISE_TAG_LEN];
	uint8_t mac1[COOKIE_LEN];
	uint8_t mac2[COOKIE_LEN];
};

struct msg_cookie_reply {
	uint8_t type[4];
	uint8_t receiver[4];
	uint8_t nonce[COOKIE_NONCE_LEN];
	uint8_t enc_cookie[COOKIE_LEN + NOISE_TAG_LEN];
};

struct msg_data {
	uint8_t type[4];
	uint8_t receiver[4];
	uint8_t counter[8]; /* LE64 */
	/* ciphertext follows: padded payload + tag */
};

_Static_assert(sizeof(struct msg_initiation) == MSG_INITIATION_LEN, "initiation");
_Static_assert(sizeof(struct msg_response) == MSG_RESPONSE_LEN, "response");
_Static_assert(sizeof(struct msg_cookie_reply) == MSG_COOKIE_REPLY_LEN, "cookie");
_Static_assert(sizeof(struct msg_data) == MSG_DATA_HEADER_LEN, "data");

/* Time in nanoseconds, as every `now` in crypto/. */
#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MSEC 1000000ull

/* Limits and timers (whitepaper §6; wireguard-go constants.go). */
#define REKEY_AFTER_MESSAGES (1ull << 60)
/* wireguard-go and the whitepaper: 2^64 - 2^13 - 1; the kernel: 2^64 - 8130.
 * The smaller of the two. */
#define REJECT_AFTER_MESSAGES (UINT64_MAX - 8192ull)
#define REKEY_AFTER_TIME (120 * NSEC_PER_SEC)
#define REJECT_AFTER_TIME (180 * NSEC_PER_SEC)
#define REKEY_ATTEMPT_TIME (90 * NSEC_PER_SEC)
#define REKEY_TIMEOUT (5 * NSEC_PER_SEC)
#define REKEY_TIMEOUT_JITTER_MAX (334 * NSEC_PER_MSEC)
#define KEEPALIVE_TIMEOUT (10 * NSEC_PER_SEC)
#define MAX_TIMER_HANDSHAKES (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT) /* 18 */
#define COOKIE_SECRET_MAX_AGE (120 * NSEC_PER_SEC)
#define COOKIE_MAX_AGE (120 * NSEC_PER_SEC) /* initiator side, as wireguard-go */
#define HANDSHAKE_INITIATION_RATE (NSEC_PER_SEC / 50)

/* Little-endian header integers. */
uint32_t msg_get_le32(const uint8_t p[static 4]);
void msg_put_le32(uint8_t p[static 4], uint32_t v);
uint64_t msg_get_le64(const uint8_t p[static 8]);
void msg_put_le64(uint8_t p[static 8], uint64_t v);
/* The message type of a datagram whose length fits it (exact for handshake
 * messages, >= 32 for data), with bytes 1..3 zero; 0 when it is none. */
enum msg_type msg_classify(const uint8_t *buf, size_t len);

#endif
