/* SPDX-License-Identifier: MIT */
/* crypto/ratelimit: the kernel selftest sequence, independence of sources,
 * boundedness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/messages.h"
#include "crypto/ratelimit.h"

/* linux drivers/net/wireguard/selftest/ratelimiter.c expected_results */
static const struct {
	bool result;
	unsigned msec_before;
} expected[] = {
	/* 1..5 */ { true, 0 }, { true, 0 }, { true, 0 }, { true, 0 }, { true, 0 },
	/* 6 */ { false, 0 },
	/* 7 */ { true, 1000 / 20 },
	/* 8 */ { false, 0 },
	/* 9 */ { true, 1000 / 20 * 2 },
	/* 10 */ { true, 0 },
	/* 11 */ { false, 0 },
};

static void test_selftest_sequence(void **state)
{
	struct ratelimit_entry e[16 * RATELIMIT_WAYS];
	struct ratelimit rl;
	uint64_t now = 123456789;

	(void)state;
	ratelimit_init(&rl, e, 16);
	for (int src = 0; src < 10; src++) {
		uint8_t key[4] = { 192, 168, 1, (uint8_t)src };

		/* sources interleave: each sees the full sequence */
		for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
			now += expected[i].msec_before * NSEC_PER_MSEC;
			if (ratelimit_allow(&rl, key, 4, now) != expected[i].result)
				fail_msg("source %d step %zu", src, i + 1);
		}
		now += 2 * NSEC_PER_SEC;
	}
}

static void test_sources_independent(void **state)
{
	struct ratelimit_entry e[64 * RATELIMIT_WAYS];
	struct ratelimit rl;
	uint8_t a[16] = { 0x20, 0x01 }, b[16] = { 0x20, 0x02 };

	(void)state;
	ratelimit_init(&rl, e, 64);
	for (int i = 0; i < 5; i++)
		assert_true(ratelimit_allow(&rl, a, 16, 0));
	assert_false(ratelimit_allow(&rl, a, 16, 0));
	for (int i = 0; i < 5; i++)
		assert_true(ratelimit_allow(&rl, b, 16, 0));
	/* a steady 20/s passes forever */
	uint64_t now = NSEC_PER_SEC;
	for (int i = 0; i < 1000; i++, now += NSEC_PER_SEC / 20)
		assert_true(ratelimit_allow(&rl, a, 16, now));
	/* 40/s: about half pass */
	int passed = 0;
	for (int i = 0; i < 1000; i++, now += NSEC_PER_SEC / 40)
		passed += ratelimit_allow(&rl, a, 16, now);
	assert_in_range(passed, 495, 510);
}

static void test_bounded(void **state)
{
	struct ratelimit_entry e[1 * RATELIMIT_WAYS];
	struct ratelimit rl;
	uint8_t key[4] = { 10, 0, 0, 0 };

	(void)state;
	ratelimit_init(&rl, e, 1);
	for (int i = 0; i < RATELIMIT_WAYS; i++) {
		key[3] = (uint8_t)i;
		assert_true(ratelimit_allow(&rl, key, 4, 0));
	}
	key[3] = 99;
	assert_false(ratelimit_allow(&rl, key, 4, 0)); /* table full of active sources */
	assert_true(ratelimit_allow(&rl, key, 4, NSEC_PER_SEC + 1)); /* idle ones reused */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selftest_sequence),
		cmocka_unit_test(test_sources_independent),
		cmocka_unit_test(test_bounded),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
