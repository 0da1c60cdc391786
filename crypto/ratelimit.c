/* SPDX-License-Identifier: MIT */
#include "crypto/ratelimit.h"

#include <sodium.h>
#include <string.h>

#include "crypto/messages.h"

#define PACKET_COST (NSEC_PER_SEC / RATELIMIT_PER_SECOND)
#define MAX_TOKENS (PACKET_COST * RATELIMIT_BURST)
#define IDLE_FREE NSEC_PER_SEC

void ratelimit_init(struct ratelimit *rl, struct ratelimit_entry *entries, uint32_t nbuckets)
{
	rl->entries = entries;
	rl->nbuckets = nbuckets;
	memset(entries, 0, sizeof(*entries) * nbuckets * RATELIMIT_WAYS);
	randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
}

bool ratelimit_allow(struct ratelimit *rl, const uint8_t *key, size_t keylen, uint64_t now)
{
	uint8_t h[crypto_shorthash_siphash24_BYTES];
	struct ratelimit_entry *b, *free_e = NULL;
	uint64_t hv = 0;

	if (keylen > RATELIMIT_KEY_MAX)
		keylen = RATELIMIT_KEY_MAX;
	crypto_shorthash_siphash24(h, key, keylen, rl->hash_key);
	for (int i = 0; i < 8; i++)
		hv |= (uint64_t)h[i] << (8 * i);
	b = &rl->entries[(hv % rl->nbuckets) * RATELIMIT_WAYS];
	for (int w = 0; w < RATELIMIT_WAYS; w++) {
		struct ratelimit_entry *e = &b[w];

		if (e->keylen == keylen && memcmp(e->key, key, keylen) == 0) {
			uint64_t t = e->tokens + (now - e->last);

			e->last = now;
			e->tokens = t > MAX_TOKENS ? MAX_TOKENS : t;
			if (e->tokens >= PACKET_COST) { /* >=: the kernel's, 5 packets of burst */
				e->tokens -= PACKET_COST;
				return true;
			}
			return false;
		}
		if (!free_e && (!e->keylen || now - e->last > IDLE_FREE))
			free_e = e;
	}
	if (!free_e)
		return false;
	memcpy(free_e->key, key, keylen);
	free_e->keylen = (uint8_t)keylen;
	free_e->last = now;
	free_e->tokens = MAX_TOKENS - PACKET_COST;
	return true;
}
