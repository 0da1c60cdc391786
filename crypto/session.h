/* SPDX-License-Identifier: MIT */
/*
 * Transport keypairs of one peer and the data messages they protect.
 *
 * Slots (wireguard-go keypairs; kernel noise_keypairs):
 *   current  - used to send; the initiator's new keypair goes here at once
 *   previous - still accepted for receiving after a rotation
 *   next     - the responder's new keypair, unconfirmed: it may not send on
 *              it until a data packet arrived on it (key confirmation), which
 *              promotes it to current (previous <- current).
 * A keypair is refused after REJECT_AFTER_TIME or REJECT_AFTER_MESSAGES.
 * Keypairs are values: slots are copied on rotation (sources wiped), so the
 * caller's index table should point at the peer and pick the slot with
 * session_find(); dropped local indices are handed back for removal.
 *
 * Data message: type 4 || receiver || LE64 counter || AEAD(key, nonce =
 * 0^32 || LE64 counter, payload zero-padded to 16 (capped at the MTU)).
 */
#ifndef GW_CRYPTO_SESSION_H
#define GW_CRYPTO_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/messages.h"
#include "crypto/replay.h"

struct noise_session_keys;

struct keypair {
	bool valid;
	bool initiator;
	uint32_t local_index, remote_index;
	uint64_t birth;        /* now at installation */
	uint64_t send_counter; /* next counter to send */
	uint8_t send_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t recv_key[NOISE_SYMMETRIC_KEY_LEN];
	struct replay replay;
};

struct session {
	struct keypair current, previous, next;
};

/* Flags returned by encrypt/decrypt for the caller's timers. */
enum session_flags {
	SESSION_WANT_REKEY = 1 << 0, /* initiator: time or message count to rekey */
	SESSION_CONFIRMED = 1 << 1,  /* next was promoted to current by this packet */
	SESSION_KEEPALIVE = 1 << 2,  /* the packet was a keepalive (empty) */
	SESSION_REKEY_RECV = 1 << 3, /* initiator: current older than 165 s on receive */
	SESSION_DROPPED = 1 << 4,    /* promotion dropped a keypair: dropped_index */
};

/* What session_decrypt found. */
struct session_rx {
	size_t len;             /* plaintext bytes written, padding included */
	unsigned flags;         /* enum session_flags */
	uint32_t dropped_index; /* with SESSION_DROPPED: remove from the index table */
};

void session_init(struct session *s);
/* Wipes all keypairs; writes their local indices to dropped[] (up to 3) and
 * returns how many. */
int session_clear(struct session *s, uint32_t dropped[static 3]);
/* Installs keys from noise_derive_keys (initiator: current; responder: next).
 * Returns the number of local indices dropped (written to dropped[]). */
int session_install(struct session *s, const struct noise_session_keys *keys, uint64_t now,
		    uint32_t dropped[static 3]);
/* The keypair with this local index, or NULL. */
struct keypair *session_find(struct session *s, uint32_t local_index);
/* Whether current can send now. */
bool session_can_send(const struct session *s, uint64_t now);

/* Size of the data message for a payload of len bytes under mtu. */
size_t session_data_len(size_t len, size_t mtu);
/* Encrypts payload (len may be 0: keepalive) into out, which must hold
 * session_data_len(len, mtu) bytes; *outlen set.  0, or -ENOKEY (no usable
 * current keypair: expired, exhausted or none).  *flags: SESSION_WANT_REKEY. */
int session_encrypt(struct session *s, uint64_t now, const uint8_t *payload, size_t len,
		    size_t mtu, uint8_t *out, size_t *outlen, unsigned *flags);
/*
 * Opening a data message in three steps, so that the AEAD can run while the
 * session is another thread's: begin (the session: find the keypair, check
 * its limits, copy its receive key), crypt (no session: the AEAD with the
 * copy, which is wiped), end (the session again: the same keypair still
 * there and usable, the replay window, key confirmation).
 */
struct session_open {
	uint32_t local_index;
	uint64_t birth;		/* tells the keypair from a later one with its index */
	uint64_t counter;
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
};
/* 0, -EBADMSG (too short), -ENOKEY (unknown index) or -EKEYEXPIRED; on 0
 * op holds a key: session_open_crypt wipes it. */
int session_open_begin(struct session *s, uint64_t now, const uint8_t *msg, size_t len,
		       struct session_open *op);
/* Decrypts msg's payload into out (len - 32 bytes).  0 or -EBADMSG. */
int session_open_crypt(struct session_open *op, const uint8_t *msg, size_t len, uint8_t *out);
/* 0, -ENOKEY (the keypair went), -EKEYEXPIRED or -EALREADY (replayed); rx
 * as session_decrypt's. */
int session_open_end(struct session *s, uint64_t now, const struct session_open *op, size_t len,
		     struct session_rx *rx);
/*
 * session_encrypt in two steps, for the same reason: begin (the session:
 * the counter taken, the header and the padded payload written to out, the
 * send key copied to seal), then session_seal (no session: the AEAD in
 * place, the copy wiped) before the message leaves.
 */
struct session_seal {
	uint64_t counter;
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
};
int session_seal_begin(struct session *s, uint64_t now, const uint8_t *payload, size_t len,
		       size_t mtu, uint8_t *out, size_t *outlen, unsigned *flags,
		       struct session_seal *seal);
/* out, outlen: the message session_seal_begin wrote. */
void session_seal(struct session_seal *seal, uint8_t *out, size_t outlen);
/* Decrypts a data message (classified MSG_DATA) into out (len - 32 bytes,
 * padding included: the caller trims by the inner IP length).  0, -ENOKEY
 * (unknown index), -EKEYEXPIRED, -EBADMSG or -EALREADY (replayed). */
int session_decrypt(struct session *s, uint64_t now, const uint8_t *msg, size_t len,
		    uint8_t *out, struct session_rx *rx);

#endif
