/* SPDX-License-Identifier: MIT */
/* crypto/replay: the kernel's selftest/counter.c sequence (as ported in
 * wireguard-go replay/replay_test.go) and its bulk tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "crypto/replay.h"

#define LIMIT (UINT64_MAX - 16) /* (1 << 64) - (1 << 4) - 1 in the Go port */
#define T_LIM ((uint64_t)REPLAY_WINDOW + 1)

static const struct {
	uint64_t n;
	bool ok;
} seq[] = {
	/*  1 */ { 0, true },
	/*  2 */ { 1, true },
	/*  3 */ { 1, false },
	/*  4 */ { 9, true },
	/*  5 */ { 8, true },
	/*  6 */ { 7, true },
	/*  7 */ { 7, false },
	/*  8 */ { T_LIM, true },
	/*  9 */ { T_LIM - 1, true },
	/* 10 */ { T_LIM - 1, false },
	/* 11 */ { T_LIM - 2, true },
	/* 12 */ { 2, true },
	/* 13 */ { 2, false },
	/* 14 */ { T_LIM + 16, true },
	/* 15 */ { 3, false },
	/* 16 */ { T_LIM + 16, false },
	/* 17 */ { T_LIM * 4, true },
	/* 18 */ { T_LIM * 4 - (T_LIM - 1), true },
	/* 19 */ { 10, false },
	/* 20 */ { T_LIM * 4 - T_LIM, false },
	/* 21 */ { T_LIM * 4 - (T_LIM + 1), false },
	/* 22 */ { T_LIM * 4 - (T_LIM - 2), true },
	/* 23 */ { T_LIM * 4 + 1 - T_LIM, false },
	/* 24 */ { 0, false },
	/* 25 */ { LIMIT, false },
	/* 26 */ { LIMIT - 1, true },
	/* 27 */ { LIMIT, false },
	/* 28 */ { LIMIT - 1, false },
	/* 29 */ { LIMIT - 2, true },
	/* 30 */ { LIMIT + 1, false },
	/* 31 */ { LIMIT + 2, false },
	/* 32 */ { LIMIT - 2, false },
	/* 33 */ { LIMIT - 3, true },
	/* 34 */ { 0, false },
};

static void test_sequence(void **state)
{
	struct replay r;

	(void)state;
	replay_init(&r);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		if (replay_check(&r, seq[i].n, LIMIT) != seq[i].ok)
			fail_msg("step %zu: counter %llu", i + 1, (unsigned long long)seq[i].n);
}

#define T(n, want) assert_int_equal(replay_check(&r, (n), LIMIT), (want))

static void test_bulk(void **state)
{
	struct replay r;
	const uint64_t W = REPLAY_WINDOW;

	(void)state;
	replay_init(&r); /* 1 */
	for (uint64_t i = 1; i <= W; i++)
		T(i, true);
	T(0, true);
	T(0, false);
	replay_init(&r); /* 2 */
	for (uint64_t i = 2; i <= W + 1; i++)
		T(i, true);
	T(1, true);
	T(0, false);
	replay_init(&r); /* 3 */
	for (uint64_t i = W + 1; i > 0; i--)
		T(i, true);
	replay_init(&r); /* 4 */
	for (uint64_t i = W + 2; i > 1; i--)
		T(i, true);
	T(0, false);
	replay_init(&r); /* 5 */
	for (uint64_t i = W; i > 0; i--)
		T(i, true);
	T(W + 1, true);
	T(0, false);
	replay_init(&r); /* 6 */
	for (uint64_t i = W; i > 0; i--)
		T(i, true);
	T(0, true);
	T(W + 1, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_bulk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
