/* SPDX-License-Identifier: MIT */
/*
 * Per-peer protocol timers (whitepaper §6.5; wireguard-go device/timers.go)
 * as deadlines plus a pure tick.  Time is `now` in ns; a deadline of 0 is
 * disarmed.  The caller feeds events, arms one event-loop timer from
 * timers_next_deadline() and performs the actions timers_tick() returns.
 *
 * Timers and their rules:
 *   retransmit     REKEY_TIMEOUT + jitter after an initiation is sent; on
 *                  expiry retry (TIMER_SEND_INITIATION) until more than
 *                  MAX_TIMER_HANDSHAKES retries, then give up
 *                  (TIMER_GIVE_UP: drop queued packets) and arm zero_keys.
 *                  Stopped by handshake_complete.
 *   keepalive      KEEPALIVE_TIMEOUT after data is received, unless already
 *                  armed (then once more after it fires); stopped by any
 *                  authenticated packet sent.  Expiry: TIMER_SEND_KEEPALIVE.
 *   new_handshake  KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter after data is
 *                  sent, unless armed; stopped by any authenticated packet
 *                  received.  Expiry: TIMER_SEND_INITIATION (a new one).
 *   zero_keys      3 * REJECT_AFTER_TIME after a session is derived (or after
 *                  giving up).  Expiry: TIMER_ZERO_KEYS.
 *   persistent     the configured interval after any authenticated packet
 *                  traversed (sent or received); 0 disables.  Expiry:
 *                  TIMER_SEND_KEEPALIVE.
 * Initiations are also rate limited: at most one per REKEY_TIMEOUT
 * (timers_initiation_begin).
 *
 * Jitter is drawn up to REKEY_TIMEOUT_JITTER_MAX from a per-peer generator
 * seeded once from randombytes (it only spreads handshakes apart, as the
 * kernel's get_random_u32_below does; a getrandom() per data packet sent
 * after one received cost a syscall per wake-up), unless fixed_jitter is
 * set (tests).
 */
#ifndef GW_CRYPTO_TIMERS_H
#define GW_CRYPTO_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

enum timer_action {
	TIMER_SEND_INITIATION = 1 << 0,
	TIMER_SEND_KEEPALIVE = 1 << 1,
	TIMER_GIVE_UP = 1 << 2,
	TIMER_ZERO_KEYS = 1 << 3,
};

struct timers {
	uint64_t retransmit, keepalive, new_handshake, zero_keys, persistent; /* deadlines */
	uint64_t persistent_interval; /* ns, 0 = off */
	uint64_t last_initiation_sent;
	bool initiation_sent;         /* last_initiation_sent is set */
	bool need_another_keepalive;
	bool sent_last_minute_handshake;
	unsigned handshake_attempts;
	uint64_t last_handshake;      /* now of the last completed handshake */
	bool fixed_jitter;            /* tests: use jitter instead of random */
	uint64_t jitter;
	uint64_t rng;                 /* splitmix64 state for the jitter */
};

void timers_init(struct timers *t, uint64_t persistent_interval);
/* Before sending an initiation: false if one was sent less than
 * REKEY_TIMEOUT ago (do not send).  retry: the retransmit timer asked (keeps
 * the attempt count); otherwise the count restarts.  On true the retransmit
 * timer is armed. */
bool timers_initiation_begin(struct timers *t, uint64_t now, bool retry);
void timers_data_sent(struct timers *t, uint64_t now);
void timers_data_received(struct timers *t, uint64_t now);
void timers_any_authenticated_packet_sent(struct timers *t, uint64_t now);
void timers_any_authenticated_packet_received(struct timers *t, uint64_t now);
void timers_any_authenticated_packet_traversal(struct timers *t, uint64_t now);
void timers_handshake_complete(struct timers *t, uint64_t now);
void timers_session_derived(struct timers *t, uint64_t now);
/* The initiator's receive-side rekey at 165 s (SESSION_REKEY_RECV): true
 * once per handshake. */
bool timers_want_last_minute_handshake(struct timers *t);
/* Zeroing keys stops everything but the persistent keepalive. */
void timers_stop(struct timers *t);
/* Fires every timer due at now; returns enum timer_action bits. */
unsigned timers_tick(struct timers *t, uint64_t now);
/* Earliest armed deadline, or 0 when none. */
uint64_t timers_next_deadline(const struct timers *t);

#endif
