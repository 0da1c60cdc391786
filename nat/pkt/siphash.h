/* SPDX-License-Identifier: MIT */
/*
 * SipHash-1-3 of two (or n) 64-bit words, for the keyed hash tables of conntrack and
 * reassembly (seeded per instance against collision floods), and splitmix64
 * to stretch a seed into keys.  Like nat/pkt/be.h, bodies live here: the hash
 * runs for every packet and must inline into its callers.
 */
#ifndef GW_PKT_SIPHASH_H
#define GW_PKT_SIPHASH_H

#include <stdint.h>

static inline uint64_t siphash_rotl64(uint64_t x, unsigned b)
{
	return x << b | x >> (64 - b);
}

#define SIPHASH_ROUND do { \
	v0 += v1; v1 = siphash_rotl64(v1, 13); v1 ^= v0; v0 = siphash_rotl64(v0, 32); \
	v2 += v3; v3 = siphash_rotl64(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = siphash_rotl64(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = siphash_rotl64(v1, 17); v1 ^= v2; v2 = siphash_rotl64(v2, 32); \
} while (0)

static inline uint32_t siphash13_2u64(uint64_t a, uint64_t b, uint64_t k0, uint64_t k1)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	const uint64_t last = (uint64_t)16 << 56;

	v3 ^= a; SIPHASH_ROUND; v0 ^= a;
	v3 ^= b; SIPHASH_ROUND; v0 ^= b;
	v3 ^= last; SIPHASH_ROUND; v0 ^= last;
	v2 ^= 0xff;
	SIPHASH_ROUND; SIPHASH_ROUND; SIPHASH_ROUND;
	return (uint32_t)(v0 ^ v1 ^ v2 ^ v3);
}

/* The same over n 64-bit words (IPv6 tuples: five). */
static inline uint32_t siphash13_u64s(const uint64_t *w, unsigned n, uint64_t k0, uint64_t k1)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	const uint64_t last = (uint64_t)(n * 8) << 56;

	for (unsigned i = 0; i < n; i++) {
		v3 ^= w[i]; SIPHASH_ROUND; v0 ^= w[i];
	}
	v3 ^= last; SIPHASH_ROUND; v0 ^= last;
	v2 ^= 0xff;
	SIPHASH_ROUND; SIPHASH_ROUND; SIPHASH_ROUND;
	return (uint32_t)(v0 ^ v1 ^ v2 ^ v3);
}

#undef SIPHASH_ROUND

static inline uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ z >> 27) * 0x94d049bb133111ebULL;
	return z ^ z >> 31;
}

#endif
