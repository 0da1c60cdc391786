/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s with the
 * WireGuard identifier as prologue, TAI64N timestamps, replay and flood
 * protection of initiations, and the split into transport keys.
 *
 * Handshake states (per peer, struct noise_handshake):
 *   ZEROED --create_initiation--> INITIATION_CREATED --consume_response--> RESPONSE_CONSUMED
 *   ZEROED --accept_initiation--> INITIATION_CONSUMED --create_response--> RESPONSE_CREATED
 *   RESPONSE_* --derive_keys--> ZEROED (ephemeral state wiped)
 * A new initiation, created or accepted, restarts from any state.
 *
 * Pure: the ephemeral keys come from randombytes_buf; times are passed in
 * (now: monotonic ns for the flood limit; wall_ns: Unix time in ns for the
 * TAI64N timestamp).  mac1/mac2 are left zero here; cookie.c fills and checks
 * them.  Sender indices are chosen by the caller (index.h).
 */
#ifndef GW_CRYPTO_NOISE_H
#define GW_CRYPTO_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/messages.h"

/* Noise symmetric state (without k/n: each key is used exactly once). */
struct noise_symmetric {
	uint8_t ck[NOISE_HASH_LEN];
	uint8_t h[NOISE_HASH_LEN];
};

/* A static identity: private key and its public key. */
struct noise_keys {
	uint8_t priv[NOISE_PUBLIC_KEY_LEN];
	uint8_t pub[NOISE_PUBLIC_KEY_LEN];
};

enum noise_hs_state {
	NOISE_HS_ZEROED,
	NOISE_HS_INITIATION_CREATED,
	NOISE_HS_INITIATION_CONSUMED,
	NOISE_HS_RESPONSE_CREATED,
	NOISE_HS_RESPONSE_CONSUMED,
};

struct noise_handshake {
	enum noise_hs_state state;
	uint32_t local_index;  /* our sender index of the handshake in flight */
	uint32_t remote_index; /* the peer's sender index */
	struct noise_symmetric sy;
	uint8_t e_priv[NOISE_PUBLIC_KEY_LEN];   /* our ephemeral */
	uint8_t remote_e[NOISE_PUBLIC_KEY_LEN]; /* theirs */
	/* configuration, kept across handshakes */
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t psk[NOISE_SYMMETRIC_KEY_LEN];
	/* replay and flood state of accepted initiations (in memory only) */
	uint8_t greatest_timestamp[NOISE_TIMESTAMP_LEN];
	uint64_t last_initiation_consumed; /* now of the last accepted one */
	bool initiation_consumed;          /* last_initiation_consumed is set */
};

/* The result of reading an initiation, before the peer is known. */
struct noise_initiation {
	struct noise_symmetric sy;
	uint32_t sender_index;
	uint8_t remote_e[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t timestamp[NOISE_TIMESTAMP_LEN];
};

/* Session keys from a completed handshake. */
struct noise_session_keys {
	uint8_t send[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t recv[NOISE_SYMMETRIC_KEY_LEN];
	uint32_t local_index, remote_index;
	bool initiator;
};

/* Derives pub from priv.  0 or -EINVAL (low-order result). */
int noise_keys_init(struct noise_keys *keys, const uint8_t priv[static NOISE_PUBLIC_KEY_LEN]);
/* Sets up a peer's handshake: remote static key and psk (NULL: all zero). */
void noise_handshake_init(struct noise_handshake *hs,
			  const uint8_t remote_static[static NOISE_PUBLIC_KEY_LEN],
			  const uint8_t *psk);
/* Wipes the ephemeral state (back to ZEROED); keeps configuration and the
 * replay state. */
void noise_handshake_clear(struct noise_handshake *hs);
/* Wipes everything. */
void noise_handshake_destroy(struct noise_handshake *hs);

/* TAI64N of a Unix time in ns, the nanoseconds masked to a 2^24 ns grid. */
void noise_tai64n(uint8_t out[static NOISE_TIMESTAMP_LEN], uint64_t wall_ns);

/* Initiator: writes message 1 with mac1/mac2 zero.  0 or -EINVAL. */
int noise_create_initiation(struct noise_handshake *hs, const struct noise_keys *local,
			    uint32_t sender_index, uint64_t wall_ns,
			    struct msg_initiation *msg);
/* Responder, step 1: decrypts message 1 (assumed classified and mac1-checked)
 * into *out, identifying the initiator's static key.  0, -EINVAL (low-order
 * point) or -EBADMSG.  *out holds secrets: pass it to accept or wipe it. */
int noise_consume_initiation(const struct noise_keys *local, const struct msg_initiation *msg,
			     struct noise_initiation *out);
/* Responder, step 2, for the peer whose remote_static matched: replay
 * (timestamp not greater: -EALREADY) and flood (< 1/50 s since the last
 * accepted one: -EBUSY) checks, then the handshake takes the state.
 * -EINVAL when the static key is not this peer's.  *in is wiped always. */
int noise_accept_initiation(struct noise_handshake *hs, struct noise_initiation *in,
			    uint64_t now);
/* Responder: message 2 for an accepted initiation.  0 or -EINVAL. */
int noise_create_response(struct noise_handshake *hs, uint32_t sender_index,
			  struct msg_response *msg);
/* Initiator: reads message 2 (the caller found hs by its receiver index).
 * 0, -EINVAL (wrong state/index, low-order point) or -EBADMSG; on error hs
 * is unchanged. */
int noise_consume_response(struct noise_handshake *hs, const struct noise_keys *local,
			   const struct msg_response *msg);
/* After RESPONSE_CREATED or RESPONSE_CONSUMED: the transport keys; the
 * handshake is cleared.  0 or -EINVAL. */
int noise_derive_keys(struct noise_handshake *hs, struct noise_session_keys *out);

/*
 * The generic IKpsk2 core the functions above are built on: any prologue
 * and payload length, ephemeral keys passed in.  Public for the Noise test
 * vectors (cacophony).  Message 1 is e(32) || enc s(48) || enc payload
 * (len + 16); message 2 is e(32) || enc payload (len + 16).  On error the
 * symmetric state is garbage: work on a copy.
 */
void noise_ik_start(struct noise_symmetric *sy, const uint8_t *prologue, size_t len,
		    const uint8_t responder_pub[static NOISE_PUBLIC_KEY_LEN]);
int noise_ik_write1(struct noise_symmetric *sy, uint8_t *out,
		    const uint8_t e_priv[static NOISE_PUBLIC_KEY_LEN],
		    const struct noise_keys *local,
		    const uint8_t remote_static[static NOISE_PUBLIC_KEY_LEN],
		    const uint8_t *payload, size_t len);
int noise_ik_read1(struct noise_symmetric *sy, const uint8_t *in,
		   const struct noise_keys *local,
		   uint8_t remote_e[static NOISE_PUBLIC_KEY_LEN],
		   uint8_t remote_static[static NOISE_PUBLIC_KEY_LEN],
		   uint8_t *payload, size_t len);
int noise_ik_write2(struct noise_symmetric *sy, uint8_t *out,
		    const uint8_t e_priv[static NOISE_PUBLIC_KEY_LEN],
		    const uint8_t remote_e[static NOISE_PUBLIC_KEY_LEN],
		    const uint8_t remote_static[static NOISE_PUBLIC_KEY_LEN],
		    const uint8_t psk[static NOISE_SYMMETRIC_KEY_LEN],
		    const uint8_t *payload, size_t len);
int noise_ik_read2(struct noise_symmetric *sy, const uint8_t *in,
		   const uint8_t e_priv[static NOISE_PUBLIC_KEY_LEN],
		   const struct noise_keys *local,
		   const uint8_t psk[static NOISE_SYMMETRIC_KEY_LEN],
		   uint8_t *payload, size_t len);
/* k1: initiator to responder, k2: responder to initiator. */
void noise_ik_split(const struct noise_symmetric *sy, uint8_t k1[static NOISE_SYMMETRIC_KEY_LEN],
		    uint8_t k2[static NOISE_SYMMETRIC_KEY_LEN]);

#endif
