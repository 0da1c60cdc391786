/* SPDX-License-Identifier: MIT */
/* Seeded randomness for property tests: splitmix64, and a seed from
 * GW_TEST_SEED (else the clock) that is printed so a failure can be rerun. */
#ifndef GW_TESTS_UTIL_RNG_H
#define GW_TESTS_UTIL_RNG_H

#include <stddef.h>
#include <stdint.h>

struct rng {
	uint64_t s;
};

uint64_t rnd64(struct rng *r);
/* [0, n) */
uint32_t rnd(struct rng *r, uint32_t n);
/* [lo, hi] */
uint32_t rnd_in(struct rng *r, uint32_t lo, uint32_t hi);
void rnd_bytes(struct rng *r, uint8_t *b, size_t n);
/* GW_TEST_SEED if set, else time-based; printed with cmocka's print_message. */
uint64_t test_seed(void);

#endif
