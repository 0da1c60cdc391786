/* SPDX-License-Identifier: MIT */
/* crypto/index: random unique indices, lookup, replace, remove (against a
 * naive list, with a printed seed). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/index.h"

static void test_basic(void **state)
{
	struct index_entry slots[8];
	struct index_table t;
	int objs[8];
	uint32_t idx[8];

	(void)state;
	index_table_init(&t, slots, 8);
	for (int i = 0; i < 6; i++)
		assert_int_equal(index_table_add(&t, &objs[i], (uint32_t)i, &idx[i]), 0);
	assert_int_equal(index_table_add(&t, &objs[6], 6, &idx[6]), -ENOSPC);
	for (int i = 0; i < 6; i++) {
		const struct index_entry *e = index_table_lookup(&t, idx[i]);

		assert_non_null(e);
		assert_ptr_equal(e->ptr, &objs[i]);
		assert_int_equal(e->kind, i);
	}
	assert_int_equal(index_table_replace(&t, idx[2], &objs[7], 9), 0);
	assert_ptr_equal(index_table_lookup(&t, idx[2])->ptr, &objs[7]);
	index_table_remove(&t, idx[2]);
	assert_null(index_table_lookup(&t, idx[2]));
	assert_int_equal(index_table_replace(&t, idx[2], &objs[7], 9), -ENOENT);
	for (int i = 0; i < 6; i++)
		if (i != 2)
			assert_non_null(index_table_lookup(&t, idx[i]));
}

/* Random adds/removes in a small table (many collisions) against a list. */
static void test_random(void **state)
{
	enum { N = 64, OPS = 200000 };
	struct index_entry slots[N];
	struct index_table t;
	uint32_t live[N];
	int nlive = 0;
	unsigned seed = (unsigned)randombytes_random();

	(void)state;
	printf("seed %u\n", seed);
	srand(seed);
	index_table_init(&t, slots, N);
	for (int op = 0; op < OPS; op++) {
		if (nlive < 48 && (rand() % 2 || nlive == 0)) {
			uint32_t idx;

			assert_int_equal(index_table_add(&t, &live[nlive], 1, &idx), 0);
			for (int k = 0; k < nlive; k++)
				assert_int_not_equal(live[k], idx);
			live[nlive++] = idx;
		} else {
			int k = rand() % nlive;

			index_table_remove(&t, live[k]);
			assert_null(index_table_lookup(&t, live[k]));
			live[k] = live[--nlive];
		}
		assert_int_equal(t.count, nlive);
		if (op % 97 == 0)
			for (int k = 0; k < nlive; k++) {
				const struct index_entry *e = index_table_lookup(&t, live[k]);

				assert_non_null(e);
				assert_int_equal(e->index, live[k]);
			}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_random),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
