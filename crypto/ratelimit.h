/* SPDX-License-Identifier: MIT */
/*
 * Per-source handshake rate limiter: a token bucket of 20 packets/s with a
 * burst of 5 per source key (wireguard-go ratelimiter.go; the kernel's
 * ratelimiter.c), on injected time.  The key is the caller's choice of
 * address bytes (kernel: the IPv4 address, or the IPv6 /64), at most 16.
 *
 * Bounded: caller-provided storage of nbuckets x RATELIMIT_WAYS entries,
 * indexed by keyed SipHash (random key) so sources cannot aim at a bucket.
 * An entry idle for more than 1 s is free for reuse (its bucket would be
 * full anyway); a new source finding its bucket full of active sources is
 * refused, as the kernel refuses when its table is full.
 */
#ifndef GW_CRYPTO_RATELIMIT_H
#define GW_CRYPTO_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	RATELIMIT_WAYS = 4,
	RATELIMIT_KEY_MAX = 16,
	RATELIMIT_PER_SECOND = 20,
	RATELIMIT_BURST = 5,
};

struct ratelimit_entry {
	uint64_t last;   /* now of the last packet */
	uint64_t tokens; /* in ns of credit */
	uint8_t key[RATELIMIT_KEY_MAX];
	uint8_t keylen;  /* 0: free */
};

struct ratelimit {
	struct ratelimit_entry *entries; /* nbuckets * RATELIMIT_WAYS */
	uint32_t nbuckets;
	uint8_t hash_key[16];
};

/* entries must hold nbuckets * RATELIMIT_WAYS; nbuckets >= 1. */
void ratelimit_init(struct ratelimit *rl, struct ratelimit_entry *entries, uint32_t nbuckets);
/* Whether a packet from this source (keylen >= 1) may pass now; charges it. */
bool ratelimit_allow(struct ratelimit *rl, const uint8_t *key, size_t keylen, uint64_t now);

#endif
