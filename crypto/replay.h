/* SPDX-License-Identifier: MIT */
/*
 * Anti-replay window for transport counters: RFC 6479 ring of 64-bit words,
 * 128 words, window 127 * 64 = 8128 (as the kernel on 64-bit and
 * wireguard-go).  Call only after the packet authenticated.
 */
#ifndef GW_CRYPTO_REPLAY_H
#define GW_CRYPTO_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

enum {
	REPLAY_RING_WORDS = 128,
	REPLAY_WINDOW = (REPLAY_RING_WORDS - 1) * 64,
};

struct replay {
	uint64_t last; /* greatest counter accepted */
	uint64_t ring[REPLAY_RING_WORDS];
};

void replay_init(struct replay *r);
/* Accepts counter (and records it) unless it is >= limit, already seen, or
 * older than the window. */
bool replay_check(struct replay *r, uint64_t counter, uint64_t limit);

#endif
